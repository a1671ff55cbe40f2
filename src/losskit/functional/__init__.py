"""Pure loss functions, one module per family. The source of truth for every loss.

Each family module (``losskit.functional.<family>``, the catalog entry's ``family``) lists its
public names in its own ``__all__``; this package re-exports them all, so a new loss is exported
by adding it to its family's ``__all__``. Besides the losses that includes a few helpers:
``crf_decode``, ``PaddedLists``, ``pad_lists``, ``coral_predict`` and ``corn_predict``.
"""

from losskit.functional import (
    boxes,
    classification,
    counts,
    crf,
    distillation,
    embedding,
    fused,
    listwise,
    multilabel,
    ordinal,
    ranking,
    regression,
    segmentation,
    sequence,
)
from losskit.functional.boxes import *  # noqa: F403
from losskit.functional.classification import *  # noqa: F403
from losskit.functional.counts import *  # noqa: F403
from losskit.functional.crf import *  # noqa: F403
from losskit.functional.distillation import *  # noqa: F403
from losskit.functional.embedding import *  # noqa: F403
from losskit.functional.fused import *  # noqa: F403
from losskit.functional.listwise import *  # noqa: F403
from losskit.functional.multilabel import *  # noqa: F403
from losskit.functional.ordinal import *  # noqa: F403
from losskit.functional.ranking import *  # noqa: F403
from losskit.functional.regression import *  # noqa: F403
from losskit.functional.segmentation import *  # noqa: F403
from losskit.functional.sequence import *  # noqa: F403

__all__: list[str] = []
__all__ += boxes.__all__
__all__ += classification.__all__
__all__ += counts.__all__
__all__ += crf.__all__
__all__ += distillation.__all__
__all__ += embedding.__all__
__all__ += fused.__all__
__all__ += listwise.__all__
__all__ += multilabel.__all__
__all__ += ordinal.__all__
__all__ += ranking.__all__
__all__ += regression.__all__
__all__ += segmentation.__all__
__all__ += sequence.__all__
