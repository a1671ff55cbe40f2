"""Building blocks of the metric-learning losses: distances and in-batch triplet miners.

The losses themselves live in :mod:`losskit.functional.embedding`; they compose a distance
from :mod:`losskit.embedding.distances` with a miner from :mod:`losskit.embedding.miners`.
"""

from losskit.embedding.distances import DISTANCES, paired_distance, pairwise_distance_matrix
from losskit.embedding.miners import (
    batch_all_triplet_losses,
    batch_hard_triplets,
    label_masks,
    semi_hard_triplets,
)

__all__ = [
    "DISTANCES",
    "batch_all_triplet_losses",
    "batch_hard_triplets",
    "label_masks",
    "paired_distance",
    "pairwise_distance_matrix",
    "semi_hard_triplets",
]
