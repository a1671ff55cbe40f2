"""losskit: pick, apply, check and ship the right training loss.

The functional losses (``losskit.functional``, with its helpers such as ``crf_decode`` and
``pad_lists``) are re-exported here; modules live in ``losskit.nn``. Tools have their own
packages: ``losskit.fused``, ``losskit.gbdt``, ``losskit.evaluate``, ``losskit.advisor``,
``losskit.auditor`` and ``losskit.lab``.
"""

from losskit import functional, imbalance, nn
from losskit._errors import LossInputError
from losskit._reduction import all_reduce_num_items, count_items
from losskit._validation import set_validation, validation, validation_enabled
from losskit.advisor import advise
from losskit.auditor import audit, check
from losskit.functional import *  # noqa: F403
from losskit.multitask import MultiTaskLoss

__version__ = "0.1.0"

__all__: list[str] = [
    "LossInputError",
    "MultiTaskLoss",
    "all_reduce_num_items",
    "count_items",
    "set_validation",
    "validation",
    "validation_enabled",
    "imbalance",
    "nn",
    "advise",
    "audit",
    "check",
]
__all__ += functional.__all__
