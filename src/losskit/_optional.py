"""Optional dependencies: which extra installs each optional package, and a one-line error naming it.

The core needs only torch and numpy. A package of losskit that needs more imports it inside
``with requires_extra("eval", "losskit.evaluate"):``, so that on a core install the import fails
with ``losskit.evaluate needs the optional package 'sklearn': pip install 'losskit[eval]'``
instead of a bare ``No module named 'sklearn'``. A package that imports its modules lazily (the
lab, so that the command line starts fast) calls :func:`guard_submodules` instead: importing any
of its modules directly (``import losskit.lab.drift``) then fails the same way.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any

__all__ = ["EXTRAS", "extra_error", "guard_submodules", "requires_extra"]

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


class _ExtraLoader(importlib.abc.Loader):
    """Runs a module under :func:`requires_extra`; everything else goes to the real loader."""

    def __init__(self, loader: Any, extra: str, who: str) -> None:
        self._loader, self._extra, self._who = loader, extra, who

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        with requires_extra(self._extra, self._who):
            self._loader.exec_module(module)

    def __getattr__(self, name: str) -> Any:  # get_source, get_resource_reader ... of the real loader
        return getattr(self._loader, name)


class _ExtraFinder(importlib.abc.MetaPathFinder):
    def __init__(self, package: str, extra: str) -> None:
        self.package, self.extra = package, extra

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(self.package + "."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = _ExtraLoader(spec.loader, self.extra, self.package)
        return spec


def guard_submodules(package: str, extra: str) -> None:
    """Every module under ``package`` that misses an optional package raises an error naming ``extra``.

    Call it from the package's ``__init__``, which always runs before any of its modules.
    """
    if not any(isinstance(f, _ExtraFinder) and f.package == package for f in sys.meta_path):
        sys.meta_path.insert(0, _ExtraFinder(package, extra))
