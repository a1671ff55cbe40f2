"""``losskit demo``: advise, compare and report on two built-in problems (no download).

* ``binary``: a generated imbalanced problem (scikit-learn ``make_classification``, about 1%
  positives, 0.2% of labels replaced at random) judged by PR-AUC;
* ``regression``: scikit-learn's bundled diabetes data with 5% of the targets corrupted (set to
  ten times a large value), judged by MAE.

Each writes a full ``compare`` output directory; ``index.html`` links both reports.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console

from losskit._cliutil import piped_width
from losskit.lab.compare import CompareOptions, run_compare
from losskit.lab.console import Progress, print_summary
from losskit.lab.outputs import write_outputs
from losskit.lab.report import recommendation
from losskit.lab.results import LabResult
from losskit.lab.train import TrainConfig

__all__ = ["demo_tables", "run_demo"]


def demo_tables(seed: int = 0) -> dict[str, pd.DataFrame]:
    """The two demo tables: ``binary`` (target ``fraud``) and ``regression`` (target ``progression``)."""
    from sklearn.datasets import load_diabetes, make_classification

    x, y = make_classification(
        n_samples=20000,
        n_features=16,
        n_informative=6,
        n_redundant=2,
        weights=[0.99],
        flip_y=0.002,
        class_sep=1.0,
        random_state=seed,
    )
    binary = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])])
    binary["channel"] = np.where(x[:, 0] > 0.5, "web", np.where(x[:, 1] > 0, "app", "store"))
    binary.loc[binary.sample(frac=0.02, random_state=seed).index, "x3"] = np.nan
    binary["fraud"] = y

    data = load_diabetes(as_frame=True)
    regression = data.frame.rename(columns={"target": "progression"})
    rng = np.random.default_rng(seed)
    bad = rng.choice(len(regression), size=int(0.05 * len(regression)), replace=False)
    regression.loc[bad, "progression"] = regression["progression"].max() * 10.0  # data-entry errors
    return {"binary": binary, "regression": regression}


_SETTINGS = {
    "binary": ("fraud", TrainConfig(epochs=30, batch_size=256, lr=2e-3, patience=8, hidden=(32, 32))),
    "regression": ("progression", TrainConfig(epochs=80, batch_size=32, lr=5e-3, patience=10, hidden=(32,))),
}


def run_demo(out: Path, *, quiet: bool = False) -> dict[str, LabResult]:
    """Run both problems into ``out/binary`` and ``out/regression``; write ``out/index.html``."""
    from losskit.advisor import advise

    console = Console(width=piped_width())
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, LabResult] = {}
    for name, frame in demo_tables().items():
        target, config = _SETTINGS[name]
        frame.to_csv(out / f"{name}.csv", index=False)
        if not quiet:
            console.rule(f"{name}: losskit advise")
            console.print(advise(frame[target].to_numpy(), task=name))
            console.rule(f"{name}: losskit compare {name}.csv --target {target}")
        with Progress(enabled=not quiet) as progress:
            result = run_compare(
                frame,
                CompareOptions(target=target, task=name, train=config),
                source=str(out / f"{name}.csv"),
                progress=progress.update,
            )
        paths = write_outputs(result, out / name, overwrite=True)
        print_summary(result, paths, quiet=quiet)
        results[name] = result
    index = out / "index.html"
    index.write_text(_index(results))
    console.print(f"demo report: {index.resolve()}", highlight=False, soft_wrap=True)
    return results


def _index(results: dict[str, LabResult]) -> str:
    items = []
    for name, result in results.items():
        sentences = "".join(f"<p>{html.escape(s)}</p>" for s in recommendation(result)[:3])
        items.append(f'<h2><a href="{name}/report.html">{name}: {html.escape(result.table.target)}</a></h2>{sentences}')
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>losskit demo</title>'
        "<style>body{font-family:system-ui,sans-serif;max-width:900px;margin:2em auto}</style></head><body>"
        "<h1>losskit demo</h1>" + "".join(items) + "</body></html>"
    )
