"""Counts, ordinal levels and ranked lists: does the matching loss beat the plain baseline?

One command: ``python benchmarks/bench_targets.py`` (5 seeds; ``--quick`` for 2). Synthetic data
with a known generating process, a held-out test split per seed, and the task's own metric:

* counts (over-dispersed, negative binomial around a log-linear mean): LightGBM with
  ``gbdt.poisson()`` against the squared error on the raw counts; test mean Poisson deviance and
  MAE of the predicted mean.
* ordinal levels (a latent linear score cut at 5 thresholds into 6 levels, logistic noise): a
  linear model trained with ``corn_loss`` / ``coral_loss`` against ``cross_entropy``; test MAE on
  the level index and quadratic weighted kappa.
* ranked lists (queries of 20 documents, relevance 0..4 from a noisy linear score): a linear
  scorer trained with each listwise loss against RankNet's ``pairwise_logistic_loss``; test
  NDCG@10 (gains 2^y - 1).

Prints one Markdown table per family: mean over seeds and the paired difference to the baseline
with its standard error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import torch  # noqa: E402

import losskit  # noqa: E402
from losskit import evaluate, gbdt  # noqa: E402


def _counts(seed: int) -> dict[str, dict[str, float]]:
    import lightgbm as lgb

    rng = np.random.default_rng(seed)
    n = 6000
    X = rng.normal(size=(n, 8))
    mu = np.exp(0.3 + 0.6 * X[:, 0] - 0.4 * X[:, 1] + 0.3 * X[:, 2] * X[:, 3])
    y = rng.poisson(mu * rng.gamma(2.0, 0.5, n)).astype(float)  # variance / mean > 1
    tr, te = slice(0, 4000), slice(4000, n)
    params = {"num_leaves": 15, "learning_rate": 0.05, "num_threads": 1, "verbose": -1, "seed": seed}
    out = {}
    for name, obj in (("poisson", gbdt.poisson()), ("squared", gbdt.squared())):
        start = obj.init_score(y[tr])
        ds = lgb.Dataset(X[tr], label=y[tr], init_score=gbdt.start_margin(start, 4000))
        model = lgb.train({**params, "objective": obj.lightgbm}, ds, 300)
        pred = np.maximum(gbdt.predict(obj, model, X[te], init_score=start), 1e-6)
        out[name] = {
            "poisson_deviance": evaluate.poisson_deviance(y[te], pred),
            "mae": float(np.abs(y[te] - pred).mean()),
        }
    return out


def _ordinal(seed: int) -> dict[str, dict[str, float]]:
    gen = torch.Generator().manual_seed(seed)
    n, d, k = 3000, 10, 6
    X = torch.randn(n, d, generator=gen)
    latent = X @ torch.randn(d, generator=gen) / d**0.5 * 2.0
    noise = torch.log(torch.rand(n, generator=gen)) - torch.log(torch.rand(n, generator=gen))  # logistic
    y = torch.bucketize(latent + 0.5 * noise, torch.tensor([-1.5, -0.6, 0.0, 0.6, 1.5]))
    tr, te = slice(0, 2000), slice(2000, n)
    out = {}
    for name in ("corn", "coral", "cross_entropy"):
        torch.manual_seed(seed)
        if name == "coral":  # CORAL's head: one weight vector, one bias per threshold
            w = torch.nn.Linear(d, 1, bias=False)
            b = torch.nn.Parameter(torch.zeros(k - 1))
            params = [*w.parameters(), b]

            def model(x, w=w, b=b):
                return w(x) + b
        else:
            lin = torch.nn.Linear(d, k if name == "cross_entropy" else k - 1)
            params, model = list(lin.parameters()), lin
        opt = torch.optim.Adam(params, lr=0.05)
        for _ in range(200):
            opt.zero_grad()
            logits = model(X[tr])
            if name == "corn":
                loss = losskit.corn_loss(logits, y[tr])
            elif name == "coral":
                loss = losskit.coral_loss(logits, y[tr])
            else:
                loss = losskit.cross_entropy(logits, y[tr])
            loss.backward()
            opt.step()
        with torch.no_grad():
            logits = model(X[te])
        pred = {
            "corn": losskit.corn_predict,
            "coral": losskit.coral_predict,
            "cross_entropy": lambda z: z.argmax(1),
        }[name](logits)
        out[name] = {
            "mae": evaluate.level_mae(y[te], pred),
            "qwk": evaluate.quadratic_weighted_kappa(y[te], pred, num_levels=k),
        }
    return out


def _ranking(seed: int) -> dict[str, dict[str, float]]:
    gen = torch.Generator().manual_seed(seed)
    q, length, d = 300, 20, 12
    X = torch.randn(q, length, d, generator=gen)
    w_true = torch.randn(d, generator=gen)
    score = X @ w_true / d**0.5 + 0.5 * torch.randn(q, length, generator=gen)
    rel = torch.bucketize(score, torch.tensor([0.0, 0.8, 1.4, 2.0])).double()
    lengths = torch.randint(8, length + 1, (q,), generator=gen)
    mask = torch.arange(length)[None, :] < lengths[:, None]
    tr, te = slice(0, 200), slice(200, q)
    losses = {
        "listnet": losskit.listnet_loss,
        "listmle": losskit.listmle_loss,
        "lambda (ndcg2++)": losskit.lambda_loss,
        "approx_ndcg": losskit.approx_ndcg_loss,
        "ranknet (pairwise)": None,
    }
    out = {}
    for name, fn in losses.items():
        torch.manual_seed(seed)
        lin = torch.nn.Linear(d, 1)
        opt = torch.optim.Adam(lin.parameters(), lr=0.05)
        for _ in range(150):
            opt.zero_grad()
            s = lin(X[tr]).squeeze(-1)
            if fn is None:
                flat_s, flat_r = s[mask[tr]], rel[tr][mask[tr]]
                group = torch.arange(200)[:, None].expand(200, length)[mask[tr]]
                loss = losskit.pairwise_logistic_loss(flat_s, flat_r, group=group)
            else:
                loss = fn(s, rel[tr], mask=mask[tr])
            loss.backward()
            opt.step()
        with torch.no_grad():
            s = lin(X[te]).squeeze(-1)
        out[name] = {"ndcg@10": evaluate.ndcg_at_k(rel[te], s, k=10, mask=mask[te])}
    return out


def _table(title: str, runs: list[dict[str, dict[str, float]]], baseline: str) -> str:
    names = list(runs[0])
    metrics = list(runs[0][baseline])
    lines = [f"### {title}", "", "| loss | " + " | ".join(f"{m} (mean)" for m in metrics) + " | "]
    lines[-1] += " | ".join(f"{m} vs {baseline} (paired mean ± s.e.)" for m in metrics) + " |"
    lines.append("|---" * (1 + 2 * len(metrics)) + "|")
    for name in names:
        cells = [name]
        for m in metrics:
            cells.append(f"{np.mean([r[name][m] for r in runs]):.4f}")
        for m in metrics:
            diff = np.array([r[name][m] - r[baseline][m] for r in runs])
            se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan")
            cells.append("baseline" if name == baseline else f"{diff.mean():+.4f} ± {se:.4f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds instead of 5")
    parser.add_argument("--seeds", type=int, default=None)
    args = parser.parse_args()
    seeds = range(args.seeds or (2 if args.quick else 5))
    torch.set_num_threads(1)
    print(_table("Counts (LightGBM, 300 rounds)", [_counts(s) for s in seeds], "squared"))
    print(_table("Ordinal levels (linear model, 6 levels)", [_ordinal(s) for s in seeds], "cross_entropy"))
    print(_table("Ranked lists (linear scorer, NDCG@10)", [_ranking(s) for s in seeds], "ranknet (pairwise)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
