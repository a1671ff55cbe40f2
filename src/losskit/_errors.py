"""The one exception type losskit raises for bad input."""

from __future__ import annotations

__all__ = ["LossInputError"]


class LossInputError(ValueError):
    """Raised when an argument has the wrong shape, dtype, range or value.

    The message always names the argument, what was expected and what was given,
    in the form ``Expected argument `name` to be <expected>, but got <actual>.``
    It subclasses :class:`ValueError`, so ``except ValueError`` keeps working.
    """

    def __init__(self, name: str, expected: str, actual: object) -> None:
        self.argument = name
        self.expected = expected
        self.actual = actual
        super().__init__(f"Expected argument `{name}` to be {expected}, but got {actual}.")
