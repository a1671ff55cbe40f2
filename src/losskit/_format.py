"""How losskit writes a number in text: one rule for loss labels, the lab's report, card and console,
and the drift check.

``number`` gives ``digits`` significant digits for reals (Python, NumPy or a 0-d tensor), the plain
integer for integers, ``n/a`` for a missing or non-finite value and a bracketed list for sequences,
so a NumPy scalar never shows up as ``np.float64(...)``. ``option_value`` writes a loss option
(``focal_loss(gamma=2)``): ``None`` as ``None`` and lists longer than six by their length.

Example:
    >>> import numpy as np
    >>> number(np.float64(0.123456)), number(3), number(None), number(float("nan"))
    ('0.1235', '3', 'n/a', 'n/a')
    >>> number([np.float32(0.5), 2.0], digits=3), option_value(list(range(10))), option_value(None)
    ('[0.5, 2]', '[10 values]', 'None')
"""

from __future__ import annotations

import math
import numbers
from typing import Any

__all__ = ["number", "option_value"]

_LIST_LIMIT = 6


def _plain(value: Any) -> Any:
    """NumPy scalars and arrays, tensors -> Python numbers and lists."""
    return value.tolist() if hasattr(value, "tolist") and not isinstance(value, (str, bytes)) else value


def number(value: Any, digits: int = 4) -> str:
    """``value`` as text: ``digits`` significant digits for reals, ``n/a`` when missing or non-finite."""
    value = _plain(value)
    if value is None:
        return "n/a"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(number(v, digits) for v in value) + "]"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        v = float(value)
        return f"{v:.{digits}g}" if math.isfinite(v) else "n/a"
    return str(value)


def option_value(value: Any) -> str:
    """A loss option: numbers as :func:`number` writes them, ``None`` as ``None``, long lists by count."""
    value = _plain(value)
    if value is None:
        return "None"
    if isinstance(value, (list, tuple)):
        if len(value) > _LIST_LIMIT:
            return f"[{len(value)} values]"
        return "[" + ", ".join(option_value(v) for v in value) + "]"
    return number(value)
