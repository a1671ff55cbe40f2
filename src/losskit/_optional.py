"""Optional dependencies: which extra installs each optional package, and a one-line error naming it.

The core needs only torch and numpy. A package of losskit that needs more imports it inside
``with requires_extra("eval", "losskit.evaluate"):``, so that on a core install the import fails
with ``losskit.evaluate needs the optional package 'sklearn': pip install 'losskit[eval]'``
instead of a bare ``No module named 'sklearn'``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["EXTRAS", "extra_error", "requires_extra"]

# The extra that installs each optional top-level module (pyproject.toml); a module that several
# extras install maps to the one the command-line tools need.
EXTRAS = {
    "pandas": "lab",
    "pyarrow": "lab",
    "rich": "lab",
    "matplotlib": "lab",
    "joblib": "lab",
    "sklearn": "lab",
    "scipy": "lab",
    "torchmetrics": "lab",
    "xgboost": "gbdt",
    "lightgbm": "gbdt",
    "mlflow": "track",
    "tensorboard": "track",
    "sacrebleu": "bleu",
    "triton": "triton",
}


def extra_error(exc: ModuleNotFoundError, who: str, extra: str | None = None) -> ModuleNotFoundError | None:
    """``who needs the optional package 'x': pip install 'losskit[extra]'``, or ``None`` for another module."""
    top = (exc.name or "").partition(".")[0]
    if top not in EXTRAS:
        return None
    return ModuleNotFoundError(
        f"{who} needs the optional package {top!r}: pip install 'losskit[{extra or EXTRAS[top]}]'", name=exc.name
    )


@contextmanager
def requires_extra(extra: str, who: str) -> Iterator[None]:
    """Imports in the block that miss an optional package raise an error naming ``extra``."""
    try:
        yield
    except ModuleNotFoundError as exc:
        error = None if "pip install 'losskit[" in str(exc) else extra_error(exc, who, extra)
        if error is None:
            raise
        raise error from None
