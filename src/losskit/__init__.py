"""losskit: pick, apply, check and ship the right training loss.

The functional losses (``losskit.functional``) are re-exported here; modules live in
``losskit.nn``. Tools have their own packages: ``losskit.fused``, ``losskit.gbdt``,
``losskit.evaluate``, ``losskit.advisor``, ``losskit.auditor`` and ``losskit.lab``.
"""

from losskit import imbalance, nn
from losskit._errors import LossInputError
from losskit._reduction import all_reduce_num_items, count_items
from losskit._validation import set_validation, validation, validation_enabled
from losskit.advisor import advise
from losskit.auditor import audit, check
from losskit.functional import *  # noqa: F403
from losskit.functional import __all__ as _functional_all
from losskit.functional.crf import crf_decode
from losskit.multitask import MultiTaskLoss

__version__ = "0.1.0"

__all__ = [
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
    "crf_decode",
    *_functional_all,
]
