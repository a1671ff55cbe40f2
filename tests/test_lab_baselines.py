"""Default ``compare`` settings fit small real tables as well as a plain scikit-learn baseline.

Before batch size and epoch budget followed the data size, iris trained one step per epoch and
reached 0.826 accuracy, still improving at its last epoch. Here every bundled scikit-learn table
runs through :func:`~losskit.lab.compare.run_compare` with default options (advisor candidates,
the MLP) and the winner's test metric is held against the baseline fitted on the same training
rows and scored on the same test rows: a standardised ``LogisticRegression`` (accuracy, at most
0.02 below) or ``HistGradientBoostingRegressor`` (MAE, at most 5% above), both with defaults.

The comparison is averaged over three seeded splits (``--seed 0, 1, 2``): one test row is 0.012
of breast cancer's 86 test rows and 0.043 of iris' 23, so a single split cannot resolve 0.02.
Measured with the old weight decay (1e-4, no regularisation): breast cancer 0.035, 0.035 and 0.000
below the baseline; with the default 1.0: 0.023, 0.012 and 0.000 (mean 0.012).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from losskit.lab.compare import CompareOptions, run_compare
from losskit.lab.train import TrainConfig

# table -> loader; every table is held to 0.02 accuracy / 5% MAE, averaged over SEEDS
TABLES = {"iris": load_iris, "wine": load_wine, "breast_cancer": load_breast_cancer, "diabetes": load_diabetes}
SEEDS = (0, 1, 2)


def _lab_and_baseline(frame, seed: int) -> tuple[str, float, float, bool]:
    """(task, the lab winner's test metric, the baseline's on the same rows, every fit converged)."""
    result = run_compare(frame, CompareOptions(target="target", bootstrap=20, train=TrainConfig(seed=seed)))
    fold, test = result.plan.folds[0], result.plan.test
    x, y = frame.drop(columns="target").to_numpy(), frame["target"].to_numpy()
    converged = all(f["converged"] for r in result.results for f in r.fits)
    if result.table.task == "regression":
        baseline = HistGradientBoostingRegressor(random_state=0).fit(x[fold.train], y[fold.train])
        reference = float(np.mean(np.abs(baseline.predict(x[test]) - y[test])))
        return "regression", result.winner.test_metrics["mae"], reference, converged
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(x[fold.train], y[fold.train])
    reference = float(np.mean(model.predict(x[test]) == y[test]))
    return "classification", result.winner.test_metrics["accuracy"], reference, converged


@pytest.mark.parametrize("name", sorted(TABLES))
def test_default_settings_match_a_plain_sklearn_baseline(name):
    frame = TABLES[name](as_frame=True).frame
    runs = [_lab_and_baseline(frame, seed) for seed in SEEDS]
    lab, reference = np.mean([r[1] for r in runs]), np.mean([r[2] for r in runs])
    if runs[0][0] == "regression":
        assert lab <= 1.05 * reference, runs
    else:
        assert lab >= reference - 0.02, runs
    assert all(r[3] for r in runs)


def test_iris_trains_many_steps_per_epoch_and_runs_past_forty_epochs():
    frame = load_iris(as_frame=True).frame
    result = run_compare(frame, CompareOptions(target="target", losses="cross_entropy", bootstrap=10))
    settings = result.options.train
    assert settings.batch_size == 16 and settings.epochs == 400  # 105 training rows: 7 steps an epoch
    assert result.results[0].fits[0]["best_epoch"] > 40  # the old budget stopped while improving


def test_still_improving_at_the_budget_trains_on_up_to_the_cap_and_is_flagged_if_still_improving():
    frame = load_iris(as_frame=True).frame
    capped = TrainConfig(epochs=3, max_epochs=6, batch_size=64, lr=1e-4)  # far too little to converge
    fit = run_compare(frame, CompareOptions(target="target", losses="cross_entropy", bootstrap=10, train=capped))
    facts = fit.results[0].fits[0]
    assert facts["epochs_run"] == 6 and facts["best_epoch"] == 6  # past the budget of 3, up to the cap
    assert facts["converged"] is False and facts["epoch_cap"] == 6
    roomy = TrainConfig(epochs=3, max_epochs=2000, batch_size=16, lr=3e-2)
    fit = run_compare(frame, CompareOptions(target="target", losses="cross_entropy", bootstrap=10, train=roomy))
    facts = fit.results[0].fits[0]
    assert 3 < facts["epochs_run"] < 2000 and facts["converged"] is True  # extended, then stopped early
