"""How the lab writes a number in text: one rule for the report, card, console and drift check.

``number`` gives ``digits`` significant digits for floats (Python or NumPy), the plain integer for
integers, ``n/a`` for a missing or non-finite value and a bracketed list for sequences, so a NumPy
scalar never shows up as ``np.float64(...)``. ``option_value`` writes a loss option for a table
cell: long lists are summarised by their length.

Example:
    >>> import numpy as np
    >>> number(np.float64(0.123456)), number(3), number(None), number(float("nan"))
    ('0.1235', '3', 'n/a', 'n/a')
    >>> number([np.float32(0.5), 2.0], digits=3), option_value(list(range(10)))
    ('[0.5, 2]', '[10 values]')
"""

from __future__ import annotations

import math
import numbers
from typing import Any

__all__ = ["number", "option_value"]

_LIST_LIMIT = 6


def number(value: Any, digits: int = 4) -> str:
    """``value`` as text: ``digits`` significant digits for reals, ``n/a`` when missing or non-finite."""
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
    """A loss option for a table cell: numbers as ``number`` writes them, lists longer than six by count."""
    if isinstance(value, (list, tuple)) and len(value) > _LIST_LIMIT:
        return f"[{len(value)} values]"
    return number(value)
