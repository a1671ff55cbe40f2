"""Pure loss functions, one module per family. The source of truth for every loss."""

from losskit.functional.boxes import ciou_loss, diou_loss, giou_loss, iou_loss
from losskit.functional.classification import (
    binary_cross_entropy_with_logits,
    binary_focal_loss,
    cross_entropy,
    focal_loss,
)
from losskit.functional.embedding import (
    arcface_loss,
    contrastive_loss,
    cosface_loss,
    info_nce,
    ntxent,
    triplet_loss,
    triplet_margin_loss,
)
from losskit.functional.fused import linear_cross_entropy
from losskit.functional.ranking import margin_ranking_loss, pairwise_logistic_loss
from losskit.functional.regression import (
    huber_loss,
    log_cosh_loss,
    mae_loss,
    mse_loss,
    pinball_loss,
    smooth_l1_loss,
)
from losskit.functional.sequence import ctc_loss

__all__ = [
    # regression
    "mse_loss",
    "mae_loss",
    "huber_loss",
    "smooth_l1_loss",
    "log_cosh_loss",
    "pinball_loss",
    # classification
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "binary_focal_loss",
    "focal_loss",
    # sequences
    "ctc_loss",
    # boxes
    "iou_loss",
    "giou_loss",
    "diou_loss",
    "ciou_loss",
    # metric learning
    "triplet_margin_loss",
    "triplet_loss",
    "contrastive_loss",
    "info_nce",
    "ntxent",
    "arcface_loss",
    "cosface_loss",
    # fused large-vocabulary
    "linear_cross_entropy",
    # ranking
    "margin_ranking_loss",
    "pairwise_logistic_loss",
]

# segmentation, multi-label, distillation and structured outputs
from losskit.functional.crf import crf_loss
from losskit.functional.distillation import distillation_loss
from losskit.functional.multilabel import asymmetric_loss, poly_loss
from losskit.functional.segmentation import (
    dice_ce_loss,
    dice_loss,
    focal_tversky_loss,
    lovasz_hinge_loss,
    lovasz_softmax_loss,
    tversky_loss,
)

__all__ += [
    # segmentation
    "dice_loss",
    "tversky_loss",
    "focal_tversky_loss",
    "lovasz_softmax_loss",
    "lovasz_hinge_loss",
    "dice_ce_loss",
    # multi-label
    "asymmetric_loss",
    "poly_loss",
    # distillation
    "distillation_loss",
    # structured outputs (crf_decode, not a loss, is exported by the package root)
    "crf_loss",
]
