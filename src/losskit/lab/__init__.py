"""The lab: compare candidate losses on a table, report, model card, drift checks, distributed runs.

Command line: ``losskit compare``, ``losskit drift``, ``losskit predict``, ``losskit demo``
(:mod:`losskit.lab.cli`).
From Python::

    from losskit.lab import CompareOptions, run_compare, write_outputs
    result = run_compare(frame, CompareOptions(target="churned"))
    write_outputs(result, "lab-out")

Modules: :mod:`~losskit.lab.data` (read, clean, preprocess), :mod:`~losskit.lab.splits`,
:mod:`~losskit.lab.candidates` (``--losses``), :mod:`~losskit.lab.models` and
:mod:`~losskit.lab.gbdt_models`, :mod:`~losskit.lab.train` (the loop),
:mod:`~losskit.lab.distributed`, :mod:`~losskit.lab.scoring` (metric, threshold, bootstrap),
:mod:`~losskit.lab.compare` (the pipeline), :mod:`~losskit.lab.results` (what it found),
:mod:`~losskit.lab.report`, :mod:`~losskit.lab.card`, :mod:`~losskit.lab.outputs`,
:mod:`~losskit.lab.drift`, :mod:`~losskit.lab.predict` (``load_run``), :mod:`~losskit.lab.demo`.
Names are imported on first use, so ``import losskit.lab`` stays cheap for the command line.
"""

from __future__ import annotations

import importlib
from typing import Any

from losskit._optional import guard_submodules, requires_extra

guard_submodules("losskit.lab", "lab")  # `import losskit.lab.drift` on a core install: one line naming the extra

_EXPORTS = {
    "CompareOptions": "losskit.lab.compare",
    "LabResult": "losskit.lab.results",
    "run_compare": "losskit.lab.compare",
    "TrainConfig": "losskit.lab.train",
    "ModelCard": "losskit.lab.card",
    "write_outputs": "losskit.lab.outputs",
    "render_report": "losskit.lab.report",
    "check_drift": "losskit.lab.drift",
    "load_run": "losskit.lab.predict",
    "run_demo": "losskit.lab.demo",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        with requires_extra("lab", "losskit.lab"):
            return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'losskit.lab' has no attribute {name!r}")
