"""Optional dependencies: which extra installs each optional package, and a one-line error naming it.

The core needs only torch and numpy. A package of losskit that needs more imports it inside
``with requires_extra("eval", "losskit.evaluate"):``, so that on a core install the import fails
with ``losskit.evaluate needs the optional package 'sklearn': pip install 'losskit[eval]'``
instead of a bare ``No module named 'sklearn'``. A package whose ``__init__`` imports nothing
optional (``losskit.lab``, so that the command line stays cheap) calls
:func:`name_extras_of_submodules` instead: its submodules imported directly
(``import losskit.lab.compare``) then name the extra in the same words.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any

__all__ = ["EXTRAS", "already_worded", "extra_error", "name_extras_of_submodules", "requires_extra"]

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


def already_worded(exc: ModuleNotFoundError) -> bool:
    """Whether ``exc`` already names the extra in its final words (a caller keeps it as it is);
    the words of a directly imported submodule (:func:`name_extras_of_submodules`) are not final:
    ``losskit.lab.run_compare`` says ``losskit.lab needs ...``, a command ``this command needs ...``."""
    return "pip install 'losskit[" in str(exc) and not getattr(exc, "from_submodule", False)


@contextmanager
def requires_extra(extra: str, who: str) -> Iterator[None]:
    """Imports in the block that miss an optional package raise an error naming ``extra``."""
    try:
        yield
    except ModuleNotFoundError as exc:
        error = None if already_worded(exc) else extra_error(exc, who, extra)
        if error is None:
            raise
        raise error from None


class _NamingLoader(importlib.abc.Loader):
    """Runs a module through its own loader; a missing optional package is reworded to name the
    extra that installs it (every other attribute is the wrapped loader's: source, code, ...)."""

    def __init__(self, loader: Any, name: str) -> None:
        self._loader, self._name = loader, name

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        try:
            self._loader.exec_module(module)
        except ModuleNotFoundError as exc:
            error = None if already_worded(exc) else extra_error(exc, self._name)
            if error is None:
                raise
            error.from_submodule = True  # type: ignore[attr-defined]  # a caller may say it in its own words
            raise error from None

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._loader, attr)


class _SubmoduleFinder(importlib.abc.MetaPathFinder):
    def __init__(self, package: str) -> None:
        self.prefix = package + "."

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not name.startswith(self.prefix):
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _NamingLoader(spec.loader, name)
        return spec


def name_extras_of_submodules(package: str) -> None:
    """Submodules of ``package`` imported directly name the extra of a missing optional package:
    ``losskit.lab.compare needs the optional package 'pandas': pip install 'losskit[lab]'``.
    Call it once, in the package's ``__init__``."""
    if not any(isinstance(f, _SubmoduleFinder) and f.prefix == package + "." for f in sys.meta_path):
        sys.meta_path.insert(0, _SubmoduleFinder(package))
