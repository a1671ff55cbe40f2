"""``report.html``: one self-contained page (inline SVG figures and CSS, no script, no network).

Sections: the recommendation and why, the comparison table (test metric with its paired
bootstrap interval), loss curves (each candidate's own loss and the common reference loss),
PR and ROC curves and a reliability diagram (binary), a reliability diagram of the top-label
confidence (multi-class), predicted-vs-actual and a binned calibration plot (regression) or
NDCG@k for k = 1 to 10 and the distribution of per-query NDCG@10 (ranking), and the data and split
facts. Curves with many points are thinned to at most 400 points. Every number comes from the
stored :class:`~losskit.lab.results.LabResult` (computed once in scoring); this module only renders.
The table wraps within the page (no sideways scrolling) and every axis has at most five major
ticks in a compact number format, so tick labels do not overlap (checked in a browser by
``tests/test_lab_report_browser.py``).
"""

from __future__ import annotations

import html
import io
from typing import Any

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from losskit._format import number as _fmt
from losskit.catalog import TARGET_TRANSFORMS
from losskit.lab.results import LabResult

__all__ = ["recommendation", "render_report"]

_MAX_POINTS = 400


def recommendation(result: LabResult) -> list[str]:
    """The recommendation and why, as sentences (used by the report, the card and the console)."""
    m, w = result.metric, result.winner
    head = (
        f"Train with {w.candidate.label}: test {m.label} = {_fmt(w.value)} (95% interval {_fmt(w.interval[0])} to "
        f"{_fmt(w.interval[1])})"
    )
    if len(result.results) == 1:
        lines = [f"{head}, the only candidate trained: nothing was compared."]
    else:
        lines = [
            f"{head}, the best of {len(result.results)} candidates; it is best in {w.win_rate:.0%} of "
            f"{result.options.bootstrap} paired bootstrap resamples of the test set."
        ]
    if result.positive_class is not None:
        lines.append(f"The positive class (the scores are its probability) is {result.positive_class!r}.")
    runner = result.runner_up
    if runner is not None:
        lines.append(f"Runner-up: {runner.candidate.label} at {_fmt(runner.value)} (best in {runner.win_rate:.0%}).")
        if w.win_rate < 0.8:
            lines.append(
                "The margin is within resampling noise (the winner is best in fewer than 80% of resamples): "
                "prefer the simpler loss if that matters more, or collect more test data."
            )
    lines += _strategies(result)
    lines += _transforms(result)
    advised = next((r for r in result.results if r.candidate.origin == "advisor"), None)
    if advised is w and len(result.results) == 1:
        pass  # one candidate confirms nothing
    elif advised is w:
        lines.append("This is the advisor's recommendation for this target, and the data confirm it.")
    elif advised is not None:
        lines.append(
            f"The advisor recommended {advised.candidate.label} ({m.label} {_fmt(advised.value)}, best in "
            f"{advised.win_rate:.0%}); on this data {w.candidate.label} did better, so the evidence overrides the rule."
        )
    lines += [f"Why {w.candidate.name}: {r}" for r in w.candidate.reasons]
    unconverged = [r.candidate.label for r in result.results if not r.converged]
    if unconverged:
        lines.append(
            f"Not converged: {', '.join(unconverged)} still improved at the last epoch allowed "
            f"({_budget(result)}); a larger budget would train them further."
        )
    if w.threshold is not None:
        target = m.label if m.needs_threshold else f"F1 ({m.label} itself does not depend on a threshold)"
        lines.append(f"Decision threshold {_fmt(w.threshold)} was tuned on validation for {target}.")
        if w.metrics_at_half is not None:
            lines.append(_threshold_effect(w.metrics_at_half, w.test_metrics))
    return lines


def _strategy(cand: Any) -> str:
    """How a candidate answers class imbalance: resampling, weighting in the loss, focal or neither."""
    if cand.resample:
        return f"{cand.resample}sampling"
    if {"pos_weight", "weight"} & set(cand.frozen or cand.options):
        return "class weights"
    return "focal loss" if "focal" in cand.name else "plain loss"


def _strategies(result: LabResult) -> list[str]:
    """When resampling was among the candidates: the best test value of each imbalance strategy and
    which strategy won (resampled candidates train on resampled training rows only; their scores
    are corrected back to the true prior)."""
    if not any(r.candidate.resample for r in result.results):
        return []
    best: dict[str, Any] = {}
    for r in result.results:
        kind = _strategy(r.candidate)
        if kind not in best or result.metric.better(r.value, best[kind].value):
            best[kind] = r
    won = _strategy(result.winner.candidate)
    parts = ", ".join(f"{kind} {_fmt(r.value)} ({r.candidate.label})" for kind, r in best.items())
    return [f"Imbalance strategy that won: {won}. Best test {result.metric.label} of each: {parts}."]


def _transforms(result: LabResult) -> list[str]:
    """How candidates trained on a transformed target were scored: the inverse, in target units."""
    out = []
    for r in result.results:
        t = r.candidate.target_transform
        if t:
            inverse = TARGET_TRANSFORMS[t][1]
            out.append(
                f"{r.candidate.label} trained on {t}({result.table.target}); its test scores are {inverse} of its "
                f"prediction, in {result.table.target}'s own units like every other candidate's."
            )
    return out


def _budget(result: LabResult) -> str:
    t = result.options.train
    if result.options.model in ("xgboost", "lightgbm"):
        return f"{t.rounds} boosting rounds"
    return f"budget {t.epochs} epochs, extended up to {t.max_epochs} while improving"


def _threshold_effect(at_half: dict[str, float], tuned: dict[str, float]) -> str:
    """What the tuned threshold buys over the default 0.5, from the winner's stored test metrics."""
    return (
        f"At the default threshold 0.5 the winner's test F1 would be {_fmt(at_half['f1'])} (recall "
        f"{_fmt(at_half['recall'])}, precision {_fmt(at_half['precision'])}); at the tuned threshold it is "
        f"{_fmt(tuned['f1'])} (recall {_fmt(tuned['recall'])}, precision {_fmt(tuned['precision'])})."
    )


def _compact(value: float, _pos: object = None) -> str:
    """Tick label: at most 3 significant digits, thousands as k / M (``12500 -> 12.5k``)."""
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


def _ticks(fig: Figure) -> None:
    for ax in fig.axes:
        for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
            if scale == "linear":
                axis.set_major_locator(MaxNLocator(nbins=5))
                axis.set_major_formatter(FuncFormatter(_compact))
            elif scale == "log":  # labelled majors only; within one decade a few steps inside it
                lo, hi = axis.get_view_interval()
                subs = (1.0, 1.2, 1.5, 2.0, 3.0, 5.0, 7.0) if 0 < lo and hi < 10 * lo else (1.0,)
                axis.set_major_locator(LogLocator(subs=subs, numticks=6))
                axis.set_major_formatter(FuncFormatter(_compact))
                axis.set_minor_formatter(NullFormatter())


def _svg(fig: Figure) -> str:
    _ticks(fig)
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    return text[text.index("<svg") :]


def _thin(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    n = len(arrays[0])
    if n <= _MAX_POINTS:
        return arrays
    idx = np.unique(np.linspace(0, n - 1, _MAX_POINTS).astype(int))
    return tuple(a[idx] for a in arrays)


def _figure(ncols: int = 1, width: float = 5.0, height: float = 3.6) -> tuple[Figure, Any]:
    fig = Figure(figsize=(width * ncols, height))
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, axes


def _loss_curves(result: LabResult) -> str:
    fig, (own, ref) = _figure(2)
    for i, r in enumerate(result.results):
        rows = [h for h in r.history if h["fold"] == 0]
        ep = [h["epoch"] for h in rows]
        color = f"C{i}"
        scale = rows[0]["val_loss"] or 1.0
        own.plot(ep, [h["train_loss"] / scale for h in rows], "--", color=color, alpha=0.7)
        own.plot(ep, [h["val_loss"] / scale for h in rows], "-", color=color, label=r.candidate.label)
        ref.plot(ep, [h["train_ref"] for h in rows], "--", color=color, alpha=0.7)
        ref.plot(ep, [h["val_ref"] for h in rows], "-", color=color, label=r.candidate.label)
    own.set(title="own loss (relative to epoch 1 val); -- train, — val", xlabel="epoch", ylabel="loss / first val loss")
    ref_name = {"regression": "MSE", "ranking": "RankNet pair loss"}.get(result.table.task, "log-loss")
    ref.set(title=f"common reference: {ref_name}; -- train, — val", xlabel="epoch", ylabel=ref_name)
    if result.table.task == "regression":
        ref.set_yscale("log")
    own.legend(fontsize=7)
    return _svg(fig)


def _binary_curves(result: LabResult) -> list[tuple[str, str]]:
    from sklearn.metrics import precision_recall_curve, roc_curve

    from losskit.evaluate import calibration

    y = result.y_test
    fig_pr, (pr,) = _figure()
    fig_roc, (roc,) = _figure()
    fig_cal, (cal,) = _figure()
    cal.plot([0, 1], [0, 1], ":", color="grey")
    roc.plot([0, 1], [0, 1], ":", color="grey")
    pr.axhline(y.mean(), ls=":", color="grey")
    for i, r in enumerate(result.results):
        label = r.candidate.label
        p, rc, _ = precision_recall_curve(y, r.test_scores)
        rc, p = _thin(rc, p)
        pr.plot(rc, p, color=f"C{i}", label=f"{label} (AP {_fmt(r.test_metrics.get('average_precision'), 3)})")
        fpr, tpr, _ = roc_curve(y, r.test_scores)
        fpr, tpr = _thin(fpr, tpr)
        roc.plot(fpr, tpr, color=f"C{i}", label=f"{label} (AUC {_fmt(r.test_metrics.get('roc_auc'), 3)})")
        c = calibration(y, r.test_scores, n_bins=10, strategy="quantile")
        ok = ~np.isnan(c.prob_true)
        cal.plot(c.prob_pred[ok], c.prob_true[ok], "o-", color=f"C{i}", label=f"{label} (ECE {_fmt(c.ece, 3)})")
    pr.set(title="precision-recall (test)", xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
    roc.set(title="ROC (test)", xlabel="false positive rate", ylabel="true positive rate")
    cal.set(title="calibration (test, quantile bins)", xlabel="mean predicted probability", ylabel="observed rate")
    for ax in (pr, roc, cal):
        ax.legend(fontsize=7)
    return [("Precision-recall curves", _svg(fig_pr)), ("ROC curves", _svg(fig_roc)), ("Calibration", _svg(fig_cal))]


def _multiclass_curves(result: LabResult) -> list[tuple[str, str]]:
    from losskit.evaluate import calibration

    fig, (cal,) = _figure()
    cal.plot([0, 1], [0, 1], ":", color="grey")
    for i, r in enumerate(result.results):
        c = calibration(result.y_test, r.test_scores, n_bins=10)
        ok = ~np.isnan(c.prob_true)
        cal.plot(
            c.prob_pred[ok], c.prob_true[ok], "o-", color=f"C{i}", label=f"{r.candidate.label} (ECE {_fmt(c.ece, 3)})"
        )
    cal.set(title="top-label calibration (test)", xlabel="confidence", ylabel="accuracy")
    cal.legend(fontsize=7)
    return [("Calibration", _svg(fig))]


def _regression_curves(result: LabResult) -> list[tuple[str, str]]:
    y = result.y_test
    n = len(result.results)
    fig, axes = _figure(n, width=3.6, height=3.4)
    preds = np.concatenate([r.test_scores for r in result.results])
    lo, hi = np.percentile(np.concatenate([y, preds]), [2, 98])  # robust axes: outliers would squash the plot
    pad = 0.05 * (hi - lo or 1.0)
    lo, hi = lo - pad, hi + pad
    rng = np.random.default_rng(0)
    pick = rng.choice(len(y), size=min(len(y), 2000), replace=False)
    for i, (ax, r) in enumerate(zip(axes, result.results, strict=True)):
        ax.scatter(y[pick], r.test_scores[pick], s=4, alpha=0.4, color=f"C{i}")
        ax.plot([lo, hi], [lo, hi], ":", color="grey")
        outside = int(np.sum((y < lo) | (y > hi) | (r.test_scores < lo) | (r.test_scores > hi)))
        ax.set(
            title=f"{r.candidate.label}\n({outside} test points outside the axes)",
            xlabel="actual",
            ylabel="predicted",
            xlim=(lo, hi),
            ylim=(lo, hi),
        )
        ax.title.set_fontsize(8)
    fig_cal, (cal,) = _figure()
    cal.plot([lo, hi], [lo, hi], ":", color="grey")
    for i, r in enumerate(result.results):
        edges = np.unique(np.percentile(r.test_scores, np.linspace(0, 100, 11)))
        bins = np.clip(np.searchsorted(edges[1:-1], r.test_scores, side="right"), 0, len(edges) - 2)
        used = np.unique(bins)
        pred = [r.test_scores[bins == b].mean() for b in used]
        actual = [np.median(y[bins == b]) for b in used]
        cal.plot(pred, actual, "o-", color=f"C{i}", label=r.candidate.label)
    cal.set(
        title="calibration: median actual per prediction decile",
        xlabel="mean prediction",
        ylabel="median actual",
        xlim=(lo, hi),
        ylim=(lo, hi),
    )
    cal.legend(fontsize=7)
    return [("Predicted vs actual (test)", _svg(fig)), ("Calibration", _svg(fig_cal))]


def _ranking_curves(result: LabResult) -> list[tuple[str, str]]:
    fig, (at_k,) = _figure()
    fig_q, (spread,) = _figure()
    for i, r in enumerate(result.results):
        curve = r.curves["ndcg_at_k"]
        at_k.plot(np.arange(1, len(curve) + 1), curve, "o-", color=f"C{i}", label=r.candidate.label)
    at_k.set(title="NDCG@k (test queries)", xlabel="k", ylabel="NDCG@k")
    at_k.legend(fontsize=7)
    for i, r in enumerate(result.results):  # empirical CDF: lower curves have fewer poorly ranked queries
        values = np.sort(r.curves["ndcg@10_per_query"])
        spread.step(
            values, np.arange(1, len(values) + 1) / len(values), where="post", color=f"C{i}", label=r.candidate.label
        )
    spread.set(
        title="per test query: share with NDCG@10 at most x",
        xlabel="NDCG@10",
        ylabel="share of queries",
        ylim=(0, 1.02),
    )
    spread.legend(fontsize=7)
    return [("NDCG at each cut-off", _svg(fig)), ("Per-query NDCG@10", _svg(fig_q))]


_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:0.85em;width:100%}
th,td{border:1px solid #ccc;padding:3px 5px;text-align:right;vertical-align:top}
th{background:#f3f3f3;font-weight:600}td.l,th.l{text-align:left}tr.win{background:#e8f6e8;font-weight:600}
td code{overflow-wrap:anywhere}small{color:#555;font-weight:normal}.nc{color:#a33;font-weight:600}
figure{margin:1.5em 0}figure svg{max-width:100%;height:auto}figcaption{font-weight:600;margin-bottom:0.4em}
.rec{background:#f6f8fa;border-left:4px solid #2a7;padding:0.6em 1em}.warn{color:#8a5a00}
"""

# metric key -> column header (short, so the table fits the page)
_COLUMNS = {
    "binary": {
        "average_precision": "AP",
        "roc_auc": "ROC AUC",
        "f1": "F1",
        "precision": "precision",
        "recall": "recall",
        "log_loss": "log-loss",
    },
    "multiclass": {"accuracy": "accuracy", "macro_f1": "macro F1", "log_loss": "log-loss"},
    "ordinal": {"mae": "level MAE", "qwk": "QWK", "accuracy": "accuracy"},
    "regression": {"mae": "MAE", "rmse": "RMSE", "median_absolute_error": "median AE", "r2": "R²"},
    "ranking": {"ndcg@10": "NDCG@10", "ndcg@5": "NDCG@5", "map@10": "MAP@10", "mrr": "MRR"},
}


def _table(result: LabResult) -> str:
    m, task = result.metric, result.table.task
    columns = _COLUMNS[task]
    binary = task == "binary"
    head = [
        '<th class="l">loss <small>(origin)</small></th>',
        f"<th>test {html.escape(m.label)} <small>(95% interval)</small></th>",
        "<th>best in</th>",
        *(["<th>threshold</th>"] if binary else []),
        *[f"<th>{html.escape(h)}</th>" for h in columns.values()],
        "<th>val ref loss</th>",
        f"<th>{'rounds' if result.options.model in ('xgboost', 'lightgbm') else 'epochs'} (best)</th>",
        "<th>s</th>",
    ]
    rows = []
    for r in result.results:
        last = [h for h in r.history if h["fold"] == 0]
        best_epoch = r.fits[0]["best_epoch"]
        ref = next((h["val_ref"] for h in last if h["epoch"] == best_epoch), float("nan"))
        flag = "" if r.converged else '<br><span class="nc">not converged</span>'
        name = f"<code>{html.escape(r.candidate.label)}</code> <small>({r.candidate.origin})</small>"
        cells = [
            f'<td class="l">{name}{flag}</td>',
            f"<td>{_fmt(r.value)}<br><small>{_fmt(r.interval[0])} to {_fmt(r.interval[1])}</small></td>",
            f"<td>{r.win_rate:.0%}</td>",
            *([f"<td>{_fmt(r.threshold, 3)}</td>"] if binary else []),
            *[f"<td>{_fmt(r.test_metrics.get(k))}</td>" for k in columns],
            f"<td>{_fmt(ref)}</td>",
            f"<td>{len(last)} ({best_epoch})</td>",
            f"<td>{_fmt(sum(f.get('seconds', 0.0) for f in r.fits), 3)}</td>",
        ]
        cls = ' class="win"' if r is result.winner else ""
        rows.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return f'<table id="comparison"><tr>{"".join(head)}</tr>{"".join(rows)}</table>'


def _queries(result: LabResult) -> list[str]:
    counts = result.query_counts
    if counts is None:
        return []
    group = html.escape(str(result.table.group))
    return [
        f"<li>query groups (<code>{group}</code>): train {counts['train']}, validation {counts['val']}, test "
        f"{counts['test']}; every split holds whole groups, and the bootstrap resamples test queries</li>"
    ]


def render_report(result: LabResult) -> str:
    """The whole HTML page as a string."""
    t = result.table
    with rc_context({"svg.fonttype": "none", "font.size": 8, "axes.grid": True, "grid.alpha": 0.3}):
        figures = [("Loss curves", _loss_curves(result))]
        figures += {
            "binary": _binary_curves,
            "multiclass": _multiclass_curves,
            "ordinal": _multiclass_curves,
            "regression": _regression_curves,
            "ranking": _ranking_curves,
        }[t.task](result)
    sizes = result.plan.sizes
    advice = result.advice or {}
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>losskit compare: {html.escape(t.target)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Which loss for <code>{html.escape(t.target)}</code>?</h1>",
        f"<p>{t.task} task, {len(t.y)} rows from <code>{html.escape(t.source or 'memory')}</code>; model "
        f"<b>{result.options.model}</b>; winner chosen by test <b>{result.metric.label}</b>"
        + (
            f"; positive class <b>{html.escape(repr(result.positive_class))}</b>"
            if result.positive_class is not None
            else ""
        )
        + ".</p>",
        '<h2>Recommendation</h2><div class="rec">',
        *[f"<p>{html.escape(s)}</p>" for s in recommendation(result)],
        "</div>",
    ]
    if advice.get("warnings"):
        parts.append("<h3>Advisor warnings</h3><ul>")
        parts += [f'<li class="warn">{html.escape(w)}</li>' for w in advice["warnings"]]
        parts.append("</ul>")
    parts += ["<h2>Comparison (test set)</h2>", _table(result)]
    for i, (title, svg) in enumerate(figures):
        parts.append(f'<figure class="plot" id="plot-{i}"><figcaption>{html.escape(title)}</figcaption>{svg}</figure>')
    imputed = ", ".join(f"{html.escape(k)}: {v}" for k, v in result.imputed.items()) or "none"
    parts += [
        "<h2>Data</h2><ul>",
        f"<li>fingerprint <code>{t.fingerprint[:16]}</code>; {t.features.shape[1]} feature columns -> "
        f"{result.n_inputs} model inputs</li>",
        f"<li>rows dropped for a missing target: {t.dropped_rows}</li>",
        f"<li>missing values imputed (training rows): {imputed}</li>",
        f"<li>splits: train {sizes['train']}, validation {sizes['val']}, test {sizes['test']}"
        + (f", {sizes['folds']} folds" if sizes["folds"] > 1 else "")
        + "</li>",
        *_queries(result),
        f"<li>finished in {result.seconds:.1f} s</li></ul>",
        "</body></html>",
    ]
    return "\n".join(parts)
