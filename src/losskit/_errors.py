"""The exception types losskit raises: bad input to the library, and bad use of the command line."""

from __future__ import annotations

__all__ = ["CLIError", "LossInputError"]


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


class CLIError(Exception):
    """A user error on the command line, already worded in flags: one line on stderr, exit status 2.

    Raised only by the command-line layer (``losskit.cli`` and the ``cli`` modules of the tool
    packages); library code raises :class:`LossInputError` naming its own arguments.
    """
