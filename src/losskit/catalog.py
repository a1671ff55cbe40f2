"""The catalog: one description of every loss, which every tool reads.

Each :class:`LossEntry` says what a loss is (its function in :mod:`losskit.functional`, its
module class in :mod:`losskit.nn`, its family and kind), what it serves (tasks from
:data:`losskit.tasks.TASKS`), what it is also called (aliases), which options it takes (type,
default, range, whether the value may be derived from the training labels), how it maps to a
:mod:`losskit.gbdt` objective and whether the lab can train it. The advisor's rows, the lab's
candidates and ``--losses`` parsing, the GBDT mapping and ``losskit.check``'s loss families all
read it; nothing else lists losses.

Importing this module imports no torch: the function and module class are looked up when asked.

Adding a loss is: the function (listed in its family module's ``__all__``), its entry here, its
case in ``tests/cases_*.py``. Its :mod:`losskit.nn` class is generated from the entry (only modules
that own state, such as ``ArcFace``'s class centres, are written out); ``tests/test_catalog.py``
fails when one of the three is missing or they disagree.

Example:
    >>> from losskit import catalog
    >>> catalog.lookup("focal", task="multiclass").name
    'focal_loss'
    >>> catalog.lookup("huber").option("delta").default
    1.0
    >>> [c.entry.name for c in catalog.parse_losses("mse:target=log1p,huber:delta=2", "regression")]
    ['mse_loss', 'huber_loss']
"""

from __future__ import annotations

import difflib
import importlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from losskit._errors import LossInputError
from losskit._format import option_value

__all__ = [
    "ENTRIES",
    "REQUIRED",
    "TARGET_TRANSFORMS",
    "GbdtObjective",
    "LossChoice",
    "LossEntry",
    "Option",
    "entries",
    "gbdt_objective",
    "lookup",
    "names",
    "parse_losses",
    "trainable",
]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: The default of an option that has none (``pinball_loss``'s ``quantiles``).
REQUIRED: Any = _Required()


@dataclass(frozen=True)
class Option:
    """One keyword option of a loss.

    Attributes:
        name: the keyword.
        type: ``"float"``, ``"int"``, ``"bool"``, ``"str"``, ``"tensor"`` (class or per-label
            weights), ``"floats"`` (a sequence of numbers), ``"float|tensor"`` or ``"group"`` (a
            ``torch.distributed`` process group).
        default: the function's default (:data:`REQUIRED` when it has none).
        low, high: the allowed range of a number (``None``: unbounded on that side).
        low_open, high_open: whether the bound itself is excluded.
        choices: the allowed strings of a ``"str"`` option.
        from_data: names of values computed from the training labels (``"balanced"``): the
            lab resolves them with :mod:`losskit.imbalance` on each training split.
        per_call: passed at call time (per-sample weights, group ids), so the ``nn`` module
            takes it in ``forward`` rather than in ``__init__``.
        doc: one line on what it does.
    """

    name: str
    type: str
    default: Any = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()
    from_data: tuple[str, ...] = ()
    per_call: bool = False
    doc: str = ""

    def range_text(self) -> str:
        """The allowed values in words (``"in (0, inf)"``, ``"one of 'a', 'b'"``)."""
        if self.choices:
            return "one of " + ", ".join(map(repr, self.choices))
        if self.low is None and self.high is None:
            return f"a {self.type}"
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        left = "(" if self.low_open or self.low is None else "["
        right = ")" if self.high_open or self.high is None else "]"
        return f"in {left}{lo}, {hi}{right}"

    def check(self, value: Any, where: str) -> Any:
        """``value`` converted to this option's type; :class:`LossInputError` when it does not fit."""
        if isinstance(value, str) and value in self.from_data:
            return value
        if hasattr(value, "tolist"):  # a tensor or an array: its numbers
            value = value.tolist()
        if self.type in ("tensor", "float|tensor", "floats") and isinstance(value, list | tuple):
            for v in value:
                self._number(v, where)
            return [float(v) for v in value]
        if self.type == "floats":
            return [self._number(value, where)]
        if self.type == "bool":
            if not isinstance(value, bool):
                raise LossInputError(where, "true or false", repr(value))
            return value
        if self.type == "str":
            if value not in self.choices:
                raise LossInputError(where, self.range_text(), repr(value))
            return value
        if value is None and self.default is None:
            return None
        if self.type == "tensor":
            expected = "a list of numbers" + (f" or one of {self.from_data}" if self.from_data else "")
            raise LossInputError(where, expected, repr(value))
        number = self._number(value, where)
        if self.type == "int":
            if number != int(number):
                raise LossInputError(where, "an integer", repr(value))
            return int(number)
        return number

    def _number(self, value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            extra = f" or one of {self.from_data}" if self.from_data else ""
            raise LossInputError(where, f"a number {self.range_text()}{extra}", repr(value))
        x = float(value)
        too_low = self.low is not None and (x < self.low or (self.low_open and x == self.low))
        too_high = self.high is not None and (x > self.high or (self.high_open and x == self.high))
        if math.isnan(x) or too_low or too_high:
            raise LossInputError(where, f"a number {self.range_text()}", repr(value))
        return x


@dataclass(frozen=True)
class GbdtObjective:
    """How a loss maps to a :mod:`losskit.gbdt` objective.

    Attributes:
        factory: the function in :mod:`losskit.gbdt` building the objective.
        options: loss option -> objective argument (``"beta" -> "delta"`` for smooth L1).
        fixed: arguments always passed (``quantile=0.5`` for the absolute error).
        classes: whether the factory takes the number of classes first.
        note: how the objective relates to the loss when it is not the same per-row loss.
    """

    factory: str
    options: tuple[tuple[str, str], ...] = ()
    fixed: tuple[tuple[str, Any], ...] = ()
    classes: bool = False
    note: str = ""


@dataclass(frozen=True)
class LossEntry:
    """One loss.

    Attributes:
        name: the function's name in :mod:`losskit.functional` (and at the package root).
        module: the module class's name in :mod:`losskit.nn`.
        family: the :mod:`losskit.functional` family it belongs to (``"regression"``, ``"classification"``,
            ``"sequence"``, ``"boxes"``, ``"embedding"``, ``"ranking"``, ``"fused"``, ``"segmentation"``,
            ``"multilabel"``, ``"distillation"``, ``"crf"``, ``"counts"``, ``"ordinal"``, ``"listwise"``).
        kind: what the loss reads from its input, for the lint: ``"softmax"`` (logits over classes),
            ``"sigmoid"`` (one logit per label), ``"squared"``, ``"robust"``, ``"quantile"``
            (values scored against a numeric target), ``"ctc"``, ``"box"``, ``"embedding"``,
            ``"ranking"``, ``"fused"`` (hidden states and a weight matrix), ``"region"`` (dense logits
            scored by overlap with a mask), ``"distillation"`` (student and teacher logits), ``"crf"``
            (emission scores of tag sequences), ``"log_rate"`` (a log-mean scored against a
            non-negative target), ``"ordinal"`` (``K - 1`` threshold logits).
        tasks: the tasks it serves (:data:`losskit.tasks.TASKS`).
        inputs: the function's positional data arguments, in order.
        options: its keyword options (``reduction`` and ``num_items`` are common to all and not listed).
        aliases: other names it is known by (lower case); the module's lower-cased name is one too.
        module_extra: ``__init__`` arguments of the module that the function does not take
            (ArcFace's ``embedding_dim``: the module owns the class centres the function receives).
        gbdt: its gradient-boosting objective, if any.
        trainable: whether ``losskit compare`` can train it (one output per row, a table target).
        reference: the paper or library it follows.
    """

    name: str
    module: str
    family: str
    kind: str
    tasks: tuple[str, ...]
    inputs: tuple[str, ...] = ("input", "target")
    options: tuple[Option, ...] = ()
    aliases: tuple[str, ...] = ()
    module_extra: tuple[str, ...] = ()
    gbdt: GbdtObjective | None = None
    trainable: bool = False
    reference: str = ""

    def function(self) -> Callable[..., Any]:
        """The function in :mod:`losskit.functional` (imported on first use)."""
        return getattr(importlib.import_module("losskit.functional"), self.name)

    def module_class(self) -> type:
        """The module class in :mod:`losskit.nn` (imported, or generated from this entry, on first use)."""
        return importlib.import_module("losskit._faces").module_class(self)

    def option(self, name: str) -> Option:
        """The option called ``name``; :class:`LossInputError` with close matches when there is none."""
        for opt in self.options:
            if opt.name == name:
                return opt
        names = [o.name for o in self.options]
        raise LossInputError(f"{self.name} option", _expected(names, name, "an option of"), repr(name))

    def check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Every option known and within its range (values converted, data-derived names kept)."""
        return {k: self.option(k).check(v, f"{self.name} option {k}") for k, v in options.items()}

    @property
    def names(self) -> tuple[str, ...]:
        """Every name it answers to, normalised: its own, its aliases and its module's."""
        return (self.name, *self.aliases, self.module.lower())


def _expected(known: list[str], name: str, what: str) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
    shown = ", ".join(sorted(known)) if len(known) <= 12 else f"{len(known)} names, see losskit.catalog"
    return f"{what} {shown}{hint}" if known else f"{what} nothing: it takes no options"


# --------------------------------------------------------------------------------------
# Shared option descriptions
# --------------------------------------------------------------------------------------

_SAMPLE_WEIGHT = Option("weight", "tensor", None, low=0.0, per_call=True, doc="per-sample weights")
_LABEL_SMOOTHING = Option(
    "label_smoothing", "float", 0.0, low=0.0, high=1.0, high_open=True, doc="mix the target with the uniform one"
)
_GAMMA = Option("gamma", "float", 2.0, low=0.0, doc="focusing: down-weights easy examples by (1 - p_t)^gamma")
_IGNORE = Option("ignore_index", "int", -100, doc="target value that is left out")
_CLASS_WEIGHT = Option(
    "weight",
    "tensor",
    None,
    low=0.0,
    from_data=("balanced", "inverse", "effective_number"),
    doc="one weight per class",
)
_POS_WEIGHT = Option(
    "pos_weight", "tensor", None, low=0.0, low_open=True, from_data=("balanced",), doc="weight of the positives"
)
_EPS = Option("eps", "float", 1e-7, low=0.0, low_open=True, doc="added to every division")
_MARGIN_FREE = Option("margin", "float", 1.0, low=0.0, doc="distance margin")
_DISTANCE = Option("distance", "str", "euclidean", choices=("euclidean", "squared_euclidean", "cosine"))
_SEG_WEIGHT = Option("weight", "tensor", None, low=0.0, doc="one weight per class")
_SMOOTH = Option("smooth", "float", 0.0, low=0.0, doc="added to numerator and denominator of each ratio")
_SEG_CLASSES = Option("classes", "str", "present", choices=("present", "all"), doc="which (image, class) pairs count")
_SEG_BATCH = Option("batch", "bool", False, doc="one statistic per class over the whole batch")


def _tversky_alpha(default: float) -> Option:
    return Option("alpha", "float", default, low=0.0, doc="weight of the false positives")


def _tversky_beta(default: float) -> Option:
    return Option("beta", "float", default, low=0.0, doc="weight of the false negatives")


def _regression(name: str, module: str, kind: str, *aliases: str, options: tuple[Option, ...] = (), **kw: Any):
    return LossEntry(
        name,
        module,
        "regression",
        kind,
        kw.pop("tasks", ("regression",)),
        options=(*options, _SAMPLE_WEIGHT),
        aliases=aliases,
        trainable=True,
        **kw,
    )


ENTRIES: tuple[LossEntry, ...] = (
    # --- regression ------------------------------------------------------------------
    _regression(
        "mse_loss", "MSELoss", "squared", "mse", "l2", "squared", "squared_error", gbdt=GbdtObjective("squared")
    ),
    _regression(
        "mae_loss",
        "MAELoss",
        "robust",
        "mae",
        "l1",
        "l1_loss",
        "l1loss",
        "absolute_error",
        gbdt=GbdtObjective(
            "pinball", fixed=(("quantile", 0.5),), note="the pinball loss at 0.5: half the absolute error"
        ),
    ),
    _regression(
        "huber_loss",
        "HuberLoss",
        "robust",
        "huber",
        options=(Option("delta", "float", 1.0, low=0.0, low_open=True, doc="where quadratic turns linear"),),
        gbdt=GbdtObjective("huber", options=(("delta", "delta"),)),
        reference="Huber 1964",
    ),
    _regression(
        "smooth_l1_loss",
        "SmoothL1Loss",
        "robust",
        "smooth_l1",
        options=(Option("beta", "float", 1.0, low=0.0, doc="where quadratic turns linear (0: the L1 loss)"),),
        gbdt=GbdtObjective("huber", options=(("beta", "delta"),), note="Huber with delta = beta, divided by beta"),
    ),
    _regression("log_cosh_loss", "LogCoshLoss", "robust", "log_cosh", "logcosh"),
    _regression(
        "pinball_loss",
        "PinballLoss",
        "quantile",
        "pinball",
        "quantile",
        "quantile_loss",
        tasks=("quantile", "regression"),
        options=(
            Option(
                "quantiles",
                "floats",
                REQUIRED,
                low=0.0,
                high=1.0,
                low_open=True,
                high_open=True,
                doc="levels in (0, 1)",
            ),
            Option("monotone", "bool", False, doc="sort the outputs so that quantiles never cross"),
        ),
        gbdt=GbdtObjective("pinball", options=(("quantiles", "quantile"),), note="one quantile per model"),
        reference="Koenker and Bassett 1978",
    ),
    # --- classification ----------------------------------------------------------------
    LossEntry(
        "binary_cross_entropy_with_logits",
        "BCEWithLogitsLoss",
        "classification",
        "sigmoid",
        ("binary", "multilabel"),
        options=(
            Option("weight", "tensor", None, low=0.0, doc="per-element weights"),
            _POS_WEIGHT,
            _LABEL_SMOOTHING,
        ),
        aliases=("bce", "bce_with_logits", "log_loss", "logistic", "binary_cross_entropy_logits"),
        gbdt=GbdtObjective("logistic", options=(("pos_weight", "pos_weight"), ("label_smoothing", "label_smoothing"))),
        trainable=True,
    ),
    LossEntry(
        "cross_entropy",
        "CrossEntropyLoss",
        "classification",
        "softmax",
        ("multiclass", "ordinal"),
        options=(
            _CLASS_WEIGHT,
            Option("sample_weight", "tensor", None, low=0.0, per_call=True, doc="per-sample weights"),
            _IGNORE,
            _LABEL_SMOOTHING,
        ),
        aliases=("ce", "log_loss", "softmax", "softmax_cross_entropy", "categorical_cross_entropy"),
        gbdt=GbdtObjective(
            "softmax", options=(("weight", "class_weight"), ("label_smoothing", "label_smoothing")), classes=True
        ),
        trainable=True,
    ),
    LossEntry(
        "binary_focal_loss",
        "BinaryFocalLoss",
        "classification",
        "sigmoid",
        ("binary", "multilabel"),
        options=(
            _GAMMA,
            Option(
                "alpha", "float", None, low=0.0, high=1.0, doc="weight of the positives, 1 - alpha of the negatives"
            ),
            _POS_WEIGHT,
            Option("weight", "tensor", None, low=0.0, doc="per-element weights"),
            _LABEL_SMOOTHING,
        ),
        aliases=("focal", "binary_focal", "sigmoid_focal_loss", "sigmoid_focal"),
        gbdt=GbdtObjective("focal", options=(("gamma", "gamma"), ("alpha", "alpha"))),
        trainable=True,
        reference="Lin et al. 2017, Focal Loss for Dense Object Detection",
    ),
    LossEntry(
        "focal_loss",
        "FocalLoss",
        "classification",
        "softmax",
        ("multiclass",),
        options=(
            _GAMMA,
            Option("alpha", "float|tensor", None, low=0.0, doc="one weight for all classes, or one per class"),
            _CLASS_WEIGHT,
            Option("sample_weight", "tensor", None, low=0.0, per_call=True, doc="per-sample weights"),
            _IGNORE,
            _LABEL_SMOOTHING,
        ),
        aliases=("focal", "softmax_focal", "multiclass_focal"),
        gbdt=GbdtObjective("softmax_focal", options=(("gamma", "gamma"), ("alpha", "alpha")), classes=True),
        trainable=True,
        reference="Lin et al. 2017, Focal Loss for Dense Object Detection",
    ),
    # --- sequences -------------------------------------------------------------------------
    LossEntry(
        "ctc_loss",
        "CTCLoss",
        "sequence",
        "ctc",
        ("sequence",),
        inputs=("log_probs", "targets", "input_lengths", "target_lengths"),
        options=(
            Option("blank", "int", 0, low=0.0, doc="index of the blank symbol"),
            Option("zero_infinity", "bool", False, doc="zero the infinite losses of infeasible alignments"),
        ),
        aliases=("ctc",),
        reference="Graves et al. 2006",
    ),
    # --- boxes -------------------------------------------------------------------------------
    *(
        LossEntry(
            name,
            module,
            "boxes",
            "box",
            ("detection",),
            inputs=("boxes1", "boxes2"),
            options=(_EPS,),
            aliases=(name.removesuffix("_loss"),),
            reference=ref,
        )
        for name, module, ref in (
            ("iou_loss", "IoULoss", "Yu et al. 2016, UnitBox"),
            ("giou_loss", "GIoULoss", "Rezatofighi et al. 2019"),
            ("diou_loss", "DIoULoss", "Zheng et al. 2020"),
            ("ciou_loss", "CIoULoss", "Zheng et al. 2020"),
        )
    ),
    # --- metric learning ---------------------------------------------------------------------
    LossEntry(
        "triplet_margin_loss",
        "TripletMarginLoss",
        "embedding",
        "embedding",
        ("embedding",),
        inputs=("anchor", "positive", "negative"),
        options=(
            _MARGIN_FREE,
            Option("p", "float", 2.0, low=0.0, low_open=True, doc="norm degree of the distance"),
            Option("eps", "float", 1e-6, low=0.0, doc="added inside the norm"),
            Option("swap", "bool", False, doc="distance swap (Balntas et al. 2016)"),
        ),
        aliases=("triplet_margin",),
    ),
    LossEntry(
        "triplet_loss",
        "TripletLoss",
        "embedding",
        "embedding",
        ("embedding",),
        inputs=("input", "target"),
        options=(
            Option("margin", "float", 0.2, low=0.0, doc="distance margin"),
            Option("mining", "str", "batch_hard", choices=("batch_hard", "batch_all", "semi_hard")),
            _DISTANCE,
            Option("soft_margin", "bool", False, doc="softplus instead of the hinge"),
        ),
        aliases=("triplet", "batch_hard_triplet"),
        reference="Hermans et al. 2017",
    ),
    LossEntry(
        "contrastive_loss",
        "ContrastiveLoss",
        "embedding",
        "embedding",
        ("embedding",),
        inputs=("input1", "input2", "target"),
        options=(_MARGIN_FREE, _DISTANCE),
        aliases=("contrastive",),
        reference="Hadsell et al. 2006",
    ),
    LossEntry(
        "info_nce",
        "InfoNCELoss",
        "embedding",
        "embedding",
        ("embedding",),
        inputs=("query", "key"),
        options=(
            Option("temperature", "float|tensor", 0.07, low=0.0, low_open=True, doc="softmax temperature"),
            Option("symmetric", "bool", False, doc="average both directions (CLIP)"),
            Option("gather", "bool", False, doc="score local queries against keys of every rank"),
            Option("normalize", "bool", True, doc="L2-normalise query and key"),
        ),
        aliases=("infonce", "clip", "info_nce_loss"),
        module_extra=("learn_temperature",),
        reference="van den Oord et al. 2018; Radford et al. 2021",
    ),
    LossEntry(
        "ntxent",
        "NTXentLoss",
        "embedding",
        "embedding",
        ("embedding",),
        inputs=("z",),
        options=(Option("temperature", "float|tensor", 0.1, low=0.0, low_open=True, doc="softmax temperature"),),
        aliases=("nt_xent", "simclr"),
        reference="Chen et al. 2020, SimCLR",
    ),
    LossEntry(
        "arcface_loss",
        "ArcFace",
        "embedding",
        "embedding",
        ("embedding",),
        inputs=("input", "centers", "target"),
        options=(
            Option("scale", "float", 64.0, low=0.0, low_open=True, doc="logit scale"),
            Option("margin", "float", 0.5, low=0.0, doc="additive angular margin"),
            Option("easy_margin", "bool", False, doc="apply the margin only where cos(theta) > 0"),
        ),
        aliases=("arcface",),
        module_extra=("embedding_dim", "num_classes"),
        reference="Deng et al. 2019",
    ),
    LossEntry(
        "cosface_loss",
        "CosFace",
        "embedding",
        "embedding",
        ("embedding",),
        inputs=("input", "centers", "target"),
        options=(
            Option("scale", "float", 64.0, low=0.0, low_open=True, doc="logit scale"),
            Option("margin", "float", 0.35, low=0.0, doc="additive cosine margin"),
        ),
        aliases=("cosface",),
        module_extra=("embedding_dim", "num_classes"),
        reference="Wang et al. 2018",
    ),
    # --- fused large-vocabulary ------------------------------------------------------------
    LossEntry(
        "linear_cross_entropy",
        "LinearCrossEntropyLoss",
        "fused",
        "fused",
        ("multiclass", "sequence"),
        inputs=("input", "linear_weight", "target"),
        options=(
            Option("linear_bias", "tensor", None, per_call=True, doc="bias of the output layer"),
            _IGNORE,
            _LABEL_SMOOTHING,
            Option("z_loss", "float", 0.0, low=0.0, doc="weight of log(Z)^2"),
            Option("softcap", "float", None, low=0.0, low_open=True, doc="tanh soft-capping of the logits"),
            Option("chunk_size", "int", None, low=1.0, doc="tokens per chunk"),
            Option("impl", "str", "auto", choices=("auto", "torch", "triton")),
            Option(
                "process_group",
                "group",
                None,
                per_call=True,
                doc="torch.distributed group over which linear_weight is sharded by vocabulary rows",
            ),
        ),
        aliases=("fused_cross_entropy", "linear_ce"),
    ),
    # --- ranking -----------------------------------------------------------------------------
    LossEntry(
        "margin_ranking_loss",
        "MarginRankingLoss",
        "ranking",
        "ranking",
        ("ranking",),
        inputs=("input1", "input2", "target"),
        options=(Option("margin", "float", 0.0, doc="required score gap"),),
        aliases=("margin_ranking",),
    ),
    LossEntry(
        "pairwise_logistic_loss",
        "PairwiseLogisticLoss",
        "ranking",
        "ranking",
        ("ranking",),
        inputs=("input", "target"),
        options=(
            Option("group", "tensor", None, per_call=True, doc="query id of each item"),
            Option("sigma", "float", 1.0, low=0.0, low_open=True, doc="steepness of the pair logistic"),
        ),
        aliases=("ranknet", "pairwise_logistic"),
        trainable=True,  # one score per row; the lab forms the pairs within each query group
        reference="Burges et al. 2005, RankNet",
    ),
    # --- counts and positive targets (log link: the input is a log-mean) ----------------------
    *(
        LossEntry(
            name,
            module,
            "counts",
            "log_rate",
            ("regression",),
            options=(
                *extra,
                Option("offset", "tensor", None, per_call=True, doc="log-exposure added to the input"),
                _SAMPLE_WEIGHT,
            ),
            aliases=aliases,
            gbdt=GbdtObjective(
                name.removesuffix("_loss"),
                options=tuple((o.name, o.name) for o in extra),
                note="half the deviance, as XGBoost's and LightGBM's built-in objectives",
            ),
            trainable=True,  # the lab's model outputs the log-mean and predicts exp(output)
            reference=ref,
        )
        for name, module, aliases, extra, ref in (
            ("poisson_loss", "PoissonLoss", ("poisson", "poisson_deviance"), (), "McCullagh and Nelder 1989"),
            (
                "tweedie_loss",
                "TweedieLoss",
                ("tweedie", "tweedie_deviance"),
                (
                    Option(
                        "power",
                        "float",
                        1.5,
                        low=1.0,
                        high=2.0,
                        low_open=True,
                        high_open=True,
                        doc="variance power: Var = phi mu^p",
                    ),
                ),
                "Jorgensen 1987",
            ),
            ("gamma_loss", "GammaLoss", ("gamma", "gamma_deviance"), (), "McCullagh and Nelder 1989"),
        )
    ),
    # --- ordinal levels (K - 1 threshold logits) -----------------------------------------------
    LossEntry(
        "coral_loss",
        "CoralLoss",
        "ordinal",
        "ordinal",
        ("ordinal",),
        options=(Option("task_weight", "tensor", None, low=0.0, doc="importance of each threshold"), _SAMPLE_WEIGHT),
        aliases=("coral",),
        reference="Cao, Mirjalili and Raschka 2020, CORAL",
    ),
    LossEntry(
        "corn_loss",
        "CornLoss",
        "ordinal",
        "ordinal",
        ("ordinal",),
        options=(_SAMPLE_WEIGHT,),
        aliases=("corn",),
        trainable=True,  # K - 1 outputs; the lab scores the level probabilities they imply
        reference="Shi, Cao and Raschka 2023, CORN",
    ),
    # --- ranked lists (padded (N, L) with a validity mask) --------------------------------------
    *(
        LossEntry(
            name,
            module,
            "listwise",
            "ranking",
            ("ranking",),
            options=(
                *extra,
                Option("mask", "tensor", None, per_call=True, doc="True at real entries, False at padding"),
                Option("weight", "tensor", None, low=0.0, per_call=True, doc="per-list weights"),
            ),
            aliases=aliases,
            trainable=True,  # one score per row; the lab pads each batch's query groups into lists
            reference=ref,
        )
        for name, module, aliases, extra, ref in (
            ("listnet_loss", "ListNetLoss", ("listnet",), (), "Cao et al. 2007, ListNet"),
            ("listmle_loss", "ListMLELoss", ("listmle",), (), "Xia et al. 2008, ListMLE"),
            (
                "lambda_loss",
                "LambdaLoss",
                ("lambdaloss", "lambda", "ndcg_loss2++"),
                (
                    Option("weighting", "str", "ndcg2++", choices=("ndcg2++", "ndcg2", "lambdarank")),
                    Option("mu", "float", 10.0, low=0.0, doc="weight of the NDCG-Loss2 term in ndcg2++"),
                    Option("sigma", "float", 1.0, low=0.0, low_open=True, doc="steepness of the pair logistic"),
                ),
                "Wang et al. 2018, The LambdaLoss Framework",
            ),
            (
                "approx_ndcg_loss",
                "ApproxNDCGLoss",
                ("approx_ndcg", "approxndcg"),
                (Option("temperature", "float", 1.0, low=0.0, low_open=True, doc="smoothness of the ranks"),),
                "Qin, Liu and Li 2010, ApproxNDCG",
            ),
        )
    ),
    # --- segmentation ------------------------------------------------------------------------
    *(
        LossEntry(
            name,
            module,
            "segmentation",
            "region",
            ("segmentation",),
            options=(
                *extra,
                _SEG_WEIGHT,
                _IGNORE,
                *((_SMOOTH,) if smooth else ()),
                *((_SEG_CLASSES,) if classes else ()),
                _SEG_BATCH,
            ),
            aliases=aliases,
            reference=ref,
        )
        for name, module, extra, smooth, classes, aliases, ref in (
            ("dice_loss", "DiceLoss", (), True, True, ("dice", "soft_dice"), "Milletari et al. 2016, V-Net"),
            (
                "tversky_loss",
                "TverskyLoss",
                (_tversky_alpha(0.5), _tversky_beta(0.5)),
                True,
                True,
                ("tversky",),
                "Salehi et al. 2017",
            ),
            (
                "focal_tversky_loss",
                "FocalTverskyLoss",
                (
                    _tversky_alpha(0.3),
                    _tversky_beta(0.7),
                    Option("gamma", "float", 0.75, low=0.0, low_open=True, doc="exponent of 1 - TI"),
                ),
                True,
                True,
                ("focal_tversky",),
                "Abraham and Khan 2019",
            ),
            (
                "lovasz_softmax_loss",
                "LovaszSoftmaxLoss",
                (),
                False,
                True,
                ("lovasz_softmax", "lovasz"),
                "Berman et al. 2018, The Lovasz-Softmax loss",
            ),
            (
                "lovasz_hinge_loss",
                "LovaszHingeLoss",
                (),
                False,
                False,
                ("lovasz_hinge",),
                "Berman et al. 2018, The Lovasz-Softmax loss",
            ),
            (
                "dice_ce_loss",
                "DiceCELoss",
                (
                    Option("lambda_dice", "float", 1.0, low=0.0, doc="weight of the Dice term"),
                    Option("lambda_ce", "float", 1.0, low=0.0, doc="weight of the cross-entropy term"),
                ),
                True,
                True,
                ("dice_ce", "dicece", "dice_cross_entropy"),
                "Isensee et al. 2021, nnU-Net (Dice + CE)",
            ),
        )
    ),
    # --- multi-label -------------------------------------------------------------------------
    LossEntry(
        "asymmetric_loss",
        "AsymmetricLoss",
        "multilabel",
        "sigmoid",
        ("multilabel", "binary"),
        options=(
            Option("gamma_pos", "float", 0.0, low=0.0, doc="focusing exponent of the positives"),
            Option("gamma_neg", "float", 4.0, low=0.0, doc="focusing exponent of the negatives"),
            Option("clip", "float", 0.05, low=0.0, high=1.0, high_open=True, doc="probability margin for negatives"),
            Option("weight", "tensor", None, low=0.0, doc="per-element weights"),
        ),
        aliases=("asl", "asymmetric"),
        reference="Ridnik et al. 2021, Asymmetric Loss For Multi-Label Classification",
    ),
    LossEntry(
        "poly_loss",
        "PolyLoss",
        "multilabel",
        "softmax",
        ("multiclass",),
        options=(
            Option("epsilon", "float", 1.0, low=-1.0, doc="coefficient of (1 - p_t)^(gamma + 1)"),
            Option("gamma", "float", 0.0, low=0.0, doc="focal exponent (0: Poly-1 cross-entropy)"),
            Option("alpha", "float|tensor", None, low=0.0, doc="focal alpha (only with gamma > 0)"),
            _CLASS_WEIGHT,
            Option("sample_weight", "tensor", None, low=0.0, per_call=True, doc="per-sample weights"),
            _IGNORE,
            _LABEL_SMOOTHING,
        ),
        aliases=("poly", "poly1", "polyloss"),
        reference="Leng et al. 2022, PolyLoss",
    ),
    # --- distillation ------------------------------------------------------------------------
    LossEntry(
        "distillation_loss",
        "DistillationLoss",
        "distillation",
        "distillation",
        ("multiclass", "sequence"),
        inputs=("student_logits", "teacher_logits"),
        options=(
            Option("temperature", "float", 1.0, low=0.0, low_open=True, doc="softmax temperature T"),
            Option("alpha", "float", 0.5, low=0.0, high=1.0, doc="weight of the T^2 KL term (with target)"),
            Option("target", "tensor", None, per_call=True, doc="hard labels for the cross-entropy term"),
            _IGNORE,
        ),
        aliases=("distillation", "kd", "knowledge_distillation"),
        reference="Hinton et al. 2015, Distilling the Knowledge in a Neural Network",
    ),
    # --- structured outputs ------------------------------------------------------------------
    LossEntry(
        "crf_loss",
        "CRF",
        "crf",
        "crf",
        ("sequence",),
        inputs=("input", "target", "transitions"),
        options=(
            Option("start_transitions", "tensor", None, per_call=True, doc="scores of the first tag"),
            Option("end_transitions", "tensor", None, per_call=True, doc="scores of the last tag"),
            Option("mask", "tensor", None, per_call=True, doc="real steps, a prefix of ones per row"),
        ),
        aliases=("crf", "linear_chain_crf"),
        module_extra=("num_tags",),
        reference="Lafferty et al. 2001",
    ),
)

_BY_NAME: dict[str, LossEntry] = {e.name: e for e in ENTRIES}
_BY_ALIAS: dict[str, list[LossEntry]] = {}
for _entry in ENTRIES:
    for _alias in _entry.names:
        _BY_ALIAS.setdefault(_alias, []).append(_entry)


def _normal(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def names() -> frozenset[str]:
    """The canonical names of every entry."""
    return frozenset(_BY_NAME)


def entries(*, task: str | None = None, trainable: bool | None = None) -> list[LossEntry]:
    """Entries in catalog order, optionally only those serving ``task`` / the lab can train."""
    return [e for e in ENTRIES if (task is None or task in e.tasks) and (trainable is None or e.trainable == trainable)]


def trainable(task: str) -> list[LossEntry]:
    """The entries the lab trains for ``task``."""
    return entries(task=task, trainable=True)


def lookup(name: str, *, task: str | None = None, argument: str = "loss") -> LossEntry:
    """The entry called ``name`` (its name, an alias or its module's name; case-insensitive).

    With ``task``, only entries serving that task count (``"focal"`` is ``binary_focal_loss`` for
    a binary task and ``focal_loss`` for a multi-class one).

    Raises:
        LossInputError: an unknown name (with the closest known names), a name that needs a
            task to decide, or an entry that does not serve ``task``.
    """
    key = _normal(name)
    found = _BY_ALIAS.get(key, [])
    if task is not None:
        found = [e for e in found if task in e.tasks]
    if len(found) == 1:
        return found[0]
    pool = entries(task=task)
    known = sorted({n for e in pool for n in (e.name, *e.aliases)})
    if len(found) > 1:
        names = " or ".join(e.name for e in found)
        raise LossInputError(argument, f"a name with one meaning ({key!r} is {names}: give the task)", repr(name))
    what = f"a loss for a {task} task:" if task else "a loss in losskit.catalog:"
    raise LossInputError(argument, _expected(known, key, what), repr(name))


# --------------------------------------------------------------------------------------
# Target transforms and ``--losses`` parsing
# --------------------------------------------------------------------------------------

#: Target transforms a regression candidate may train on: name -> (forward, inverse, domain).
#: Predictions are mapped back with the inverse (``expm1`` of the prediction), so metrics are
#: in the target's own units; for a log target that back-transform estimates the conditional
#: median rather than the mean.
TARGET_TRANSFORMS: dict[str, tuple[str, str, str]] = {
    "log1p": ("log1p", "expm1", "targets > -1 (a non-negative target is the usual case)"),
}


@dataclass
class LossChoice:
    """A loss with its options, as chosen by a user (``--losses``) or the advisor.

    Attributes:
        entry: the catalog entry.
        options: keyword options (data-derived names such as ``"balanced"`` not yet resolved).
        target_transform: train on ``transform(target)`` (a key of :data:`TARGET_TRANSFORMS`), or None.
        resample: ``"under"`` / ``"over"``: randomly resample the training rows to balanced
            classes, then correct the scores back to the true prior; None: train on the rows as they are.
        reason: why it is a choice, in words.
    """

    entry: LossEntry
    options: dict[str, Any] = field(default_factory=dict)
    target_transform: str | None = None
    resample: str | None = None
    reason: str = ""

    @property
    def name(self) -> str:
        return self.entry.name

    def label(self, options: Mapping[str, Any] | None = None) -> str:
        """``name(key=value, ...)`` plus the transform and resampling: ``mse_loss on log1p(y)``,
        ``binary_cross_entropy_with_logits + undersampling``."""
        shown = self.options if options is None else options
        text = self.entry.name
        if shown:
            text += "(" + ", ".join(f"{k}={option_value(v)}" for k, v in shown.items()) + ")"
        if self.target_transform:
            text += f" on {self.target_transform}(y)"
        if self.resample:
            text += f" + {self.resample}sampling"
        return text

    def key(self) -> tuple[Any, ...]:
        """Identity for removing duplicates: name, options, transform, resampling."""
        opts = tuple(sorted((k, repr(v)) for k, v in self.options.items()))
        return self.entry.name, opts, self.target_transform, self.resample

    def __str__(self) -> str:
        return self.label() + (f": {self.reason}" if self.reason else "")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: loss, options, target_transform, resample, reason."""
        return {
            "loss": self.entry.name,
            "options": {k: _plain(v) for k, v in self.options.items()},
            "target_transform": self.target_transform,
            "resample": self.resample,
            "reason": self.reason,
        }


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def _value(text: str) -> Any:
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    if ";" in text:  # a list, e.g. quantiles=0.1;0.5;0.9
        return [_value(t) for t in text.split(";") if t.strip()]
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text.strip()


#: Keys of a ``--losses`` item that are not loss options.
_SPECIAL = ("target", "resample")
_RESAMPLING = ("under", "over")


def _special(choice: LossChoice, key: str, value: Any, task: str, argument: str) -> None:
    if key == "target":
        if value not in TARGET_TRANSFORMS:
            raise LossInputError(f"{argument} {choice.name}:target", f"one of {sorted(TARGET_TRANSFORMS)}", repr(value))
        if task != "regression":
            raise LossInputError(f"{argument} {choice.name}:target", "a target transform only for regression", task)
        choice.target_transform = value
    else:
        if value not in _RESAMPLING:
            raise LossInputError(f"{argument} {choice.name}:resample", f"one of {_RESAMPLING}", repr(value))
        if task not in ("binary", "multiclass"):
            raise LossInputError(f"{argument} {choice.name}:resample", "resampling only for classification", task)
        choice.resample = value


def parse_losses(spec: str, task: str, *, argument: str = "losses") -> list[LossChoice]:
    """Parse a loss list such as ``"mse:target=log1p,huber:delta=2"`` into checked choices.

    Syntax: comma-separated items ``name[:key=value]``; an item holding ``=`` but no ``:``
    continues the options of the previous name (``focal:gamma=1,alpha=0.25``). Names are
    catalog names or aliases for ``task``. Values are numbers, ``true``/``false``, ``none``,
    ``;``-separated lists or strings; each is checked against the option's type and range.
    Two keys are not loss options: ``target=log1p`` (train on the transformed target,
    regression only) and ``resample=under|over`` (classification only). Duplicates are
    removed, order kept.

    Raises:
        LossInputError: bad syntax, an unknown name or option (with close matches), a value out
            of range; the error names ``argument``.
    """
    items: list[tuple[LossChoice, list[tuple[str, str]]]] = []
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        if "=" in item and ":" not in item:
            if not items:
                raise LossInputError(argument, "name[:key=value,...],...", repr(spec))
            key, _, val = item.partition("=")
            items[-1][1].append((key.strip(), val))
            continue
        name, _, first = item.partition(":")
        choice = LossChoice(lookup(name, task=task, argument=argument))
        pairs: list[tuple[str, str]] = []
        if first:
            key, eq, val = first.partition("=")
            if not eq:
                raise LossInputError(argument, "options written as key=value", repr(item))
            pairs.append((key.strip(), val))
        items.append((choice, pairs))
    if not items:
        raise LossInputError(argument, "at least one loss name", repr(spec))
    out: dict[tuple[Any, ...], LossChoice] = {}
    for choice, pairs in items:
        for key, text in pairs:
            value = _value(text)
            if key in _SPECIAL:
                _special(choice, key, value, task, argument)
            else:
                where = f"{argument} {choice.name}:{key}"
                opt = choice.entry.option(key) if key in [o.name for o in choice.entry.options] else None
                if opt is None:
                    known = [o.name for o in choice.entry.options if not o.per_call] + list(_SPECIAL)
                    raise LossInputError(where, _expected(known, key, "an option of"), repr(key))
                choice.options[key] = opt.check(value, where)
        out.setdefault(choice.key(), choice)
    return list(out.values())


def gbdt_objective(entry: LossEntry, options: Mapping[str, Any], n_classes: int) -> Any:
    """The :mod:`losskit.gbdt` objective of ``entry`` with resolved ``options``.

    Raises:
        LossInputError: the loss has no GBDT objective, or an option the objective does not take.
    """
    if entry.gbdt is None:
        names = [e.name for e in ENTRIES if e.gbdt is not None]
        raise LossInputError("loss", f"a loss with a GBDT objective ({', '.join(names)})", repr(entry.name))
    spec = entry.gbdt
    mapping = dict(spec.options)
    unknown = sorted(set(options) - set(mapping))
    if unknown:
        raise LossInputError(f"{entry.name} options", "options its GBDT objective supports", unknown)
    kwargs = dict(spec.fixed)
    for key, value in options.items():
        if isinstance(value, list | tuple) and entry.option(key).type == "floats":
            if len(value) != 1:
                raise LossInputError(f"{entry.name} option {key}", "a single value (one model output)", value)
            value = value[0]
        kwargs[mapping[key]] = value
    factory = getattr(importlib.import_module("losskit.gbdt"), spec.factory)
    return factory(n_classes, **kwargs) if spec.classes else factory(**kwargs)
