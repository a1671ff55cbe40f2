"""A core install (torch and numpy only): every package and lab module that needs an extra fails
with one line naming it (``pip install 'losskit[lab]'``), never a bare ``No module named ...``.
The optional packages are blocked in a child process (``sys.modules[name] = None``), so the test
runs in the full development environment; `make test-core` checks the commands in a real core venv."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from losskit._optional import EXTRAS

SRC = Path(__file__).resolve().parents[1] / "src"

_CHILD = r"""
import importlib, json, pkgutil, sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None  # import of name halted: ModuleNotFoundError, as on a core install
import numpy as np
import losskit, losskit.lab

def attempt(label, fn):
    try:
        fn()
        return [label, "works"]
    except Exception as exc:
        return [label, f"{type(exc).__name__}: {exc}"]

out = [attempt(f"import losskit.lab.{m.name}", lambda m=m: importlib.import_module(f"losskit.lab.{m.name}"))
       for m in pkgutil.iter_modules(losskit.lab.__path__)]
out += [attempt(f"import {p}", lambda p=p: importlib.import_module(p))
        for p in ("losskit.evaluate", "losskit.gbdt", "losskit.integrations.transformers")]
out.append(attempt("losskit.advise(continuous)", lambda: losskit.advise(np.random.default_rng(0).lognormal(size=200))))
out += [attempt(f"losskit.lab.{n}", lambda n=n: getattr(losskit.lab, n)) for n in losskit.lab.__all__]
print(json.dumps(out))
"""


def _run_blocked(names: list[str]) -> list[list[str]]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, ",".join(names)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_without_the_extras_every_module_names_the_extra_in_one_line() -> None:
    results = _run_blocked([*EXTRAS, "transformers"])
    bad = [
        (label, outcome)
        for label, outcome in results
        if outcome != "works" and ("\n" in outcome or "pip install 'losskit[" not in outcome)
    ]
    assert bad == []
    # the modules that need pandas, matplotlib, rich, joblib or scikit-learn do fail (the test can fail)
    failed = {label for label, outcome in results if outcome != "works"}
    assert {"import losskit.lab.compare", "import losskit.lab.report", "import losskit.evaluate"} <= failed
    assert "losskit.advise(continuous)" in failed


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_a_tree_model_without_its_library_names_the_gbdt_extra(library: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from losskit.lab import gbdt_models

    monkeypatch.setitem(sys.modules, library, None)
    train = gbdt_models._xgboost if library == "xgboost" else gbdt_models._lightgbm
    with pytest.raises(ModuleNotFoundError, match=rf"^the lab's {library} model needs .*'losskit\[gbdt\]'$"):
        train(*[None] * 8)
