"""Copy the per-epoch log to an experiment tracker (TensorBoard or MLflow) when installed.

Both write under the run's output folder: ``tensorboard/`` with one log folder per candidate,
and ``mlflow.db`` (an MLflow SQLite tracking store, ``mlflow ui --backend-store-uri
sqlite:///OUT/mlflow.db``) unless ``MLFLOW_TRACKING_URI`` names another store, which is used then.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from losskit._errors import LossInputError
from losskit.lab.results import LabResult

__all__ = ["check_available", "log_history"]

_PACKAGES = {"tensorboard": "tensorboard", "mlflow": "mlflow"}


def check_available(tracker: str) -> None:
    """Raise a one-line error before any training when the tracker's package is missing."""
    package = _PACKAGES[tracker]
    if importlib.util.find_spec(package) is None:
        raise LossInputError("tracker", f"{package} installed (pip install 'losskit[track]')", repr(tracker))


def log_history(tracker: str, result: LabResult, out: Path) -> None:
    """One run per candidate with its options as parameters and every logged number per epoch, under ``out``."""
    if tracker == "tensorboard":
        from torch.utils.tensorboard import SummaryWriter

        for i, r in enumerate(result.results):
            with SummaryWriter(log_dir=str(out / "tensorboard" / f"{i}_{r.candidate.name}")) as writer:
                writer.add_text("loss", r.candidate.label)
                for row in r.history:
                    for key, value in row.items():
                        if key not in ("epoch", "fold"):
                            writer.add_scalar(f"fold{int(row['fold'])}/{key}", value, int(row["epoch"]))
        return
    import mlflow

    if not os.environ.get("MLFLOW_TRACKING_URI"):
        mlflow.set_tracking_uri(f"sqlite:///{(out / 'mlflow.db').absolute()}")
    for r in result.results:
        with mlflow.start_run(run_name=r.candidate.label):
            mlflow.log_params({"loss": r.candidate.name, **{k: str(v) for k, v in r.candidate.frozen.items()}})
            for row in r.history:
                metrics = {f"fold{int(row['fold'])}_{k}": v for k, v in row.items() if k not in ("epoch", "fold")}
                mlflow.log_metrics(metrics, step=int(row["epoch"]))
            mlflow.log_metric(f"test_{result.metric.label}", r.value)
