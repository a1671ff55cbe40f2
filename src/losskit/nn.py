"""Thin ``torch.nn.Module`` faces of the functional losses.

Each module stores its options at construction and calls the one functional definition in
``forward``; there is no second implementation of any loss here. Call-time keyword
arguments (``num_items=...``, a per-batch ``weight=...``) are passed through.

The faces are generated from the catalog (:data:`losskit.catalog.ENTRIES`): the first access to
``losskit.nn.MSELoss`` builds the class (the module-level ``__getattr__``, PEP 562) and keeps it
here, so pickling, ``torch.save(module)`` and ``copy.deepcopy`` find the same class again. Its
``__init__`` takes the entry's options that are not passed per call (keyword-only, with the
function's defaults and annotations) plus ``reduction``; tensor options are buffers. Written out
by hand are only the modules that do more than store options: :class:`PinballLoss` (quantiles
become a float64 buffer, given positionally), :class:`InfoNCELoss` (an optional learnable
temperature), :class:`ArcFace` and :class:`CosFace` (their own class centres) and :class:`CRF`
(its own transition scores). Static type checkers see a generated face as
``type[_FunctionalLoss]``, the return type of ``__getattr__``.

Example:
    >>> import torch
    >>> from losskit import nn
    >>> loss = nn.HuberLoss(delta=0.5)
    >>> loss
    HuberLoss(delta=0.5, reduction='mean')
    >>> float(loss(torch.tensor([0.0, 2.0]), torch.tensor([0.0, 0.0])))
    0.4375
    >>> nn.HuberLoss(delt=0.5)
    Traceback (most recent call last):
    ...
    TypeError: HuberLoss(): got an unexpected keyword argument 'delt'
"""

from __future__ import annotations

import difflib

from losskit import _faces, catalog
from losskit._faces import CRF as CRF  # the written-out modules, re-exported
from losskit._faces import ArcFace as ArcFace
from losskit._faces import CosFace as CosFace
from losskit._faces import InfoNCELoss as InfoNCELoss
from losskit._faces import PinballLoss as PinballLoss
from losskit._faces import _FunctionalLoss

#: Every module class: one per catalog entry, generated unless written out.
__all__ = [entry.module for entry in catalog.ENTRIES]

_ENTRIES = {entry.module: entry for entry in catalog.ENTRIES}


def __getattr__(name: str) -> type[_FunctionalLoss]:
    """The generated module class ``name`` (built on first use, then kept in this module)."""
    entry = _ENTRIES.get(name)
    if entry is None:
        close = difflib.get_close_matches(name, __all__, n=3)
        hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}{hint}")
    cls = globals()[name] = _faces.face(entry)
    return cls


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
