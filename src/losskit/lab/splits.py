"""Seeded train / validation / test splits and K-fold plans (stratified for classification; by
query group for ranking tables, so that no group is ever split)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import GroupShuffleSplit, KFold, StratifiedKFold, train_test_split

from losskit._errors import LossInputError

__all__ = ["Fold", "SplitPlan", "plan_splits"]


@dataclass
class Fold:
    """Row indices of one training run: fit on ``train``, early-stop and tune on ``val``."""

    train: np.ndarray
    val: np.ndarray


@dataclass
class SplitPlan:
    """A held-out ``test`` set and one fold (plain split) or ``K`` folds (``--cv K``) of the rest."""

    test: np.ndarray
    folds: list[Fold]

    @property
    def sizes(self) -> dict[str, int]:
        first = self.folds[0]
        return {"train": len(first.train), "val": len(first.val), "test": len(self.test), "folds": len(self.folds)}


def _split(idx: np.ndarray, y: np.ndarray, size: float, stratify: bool, seed: int) -> tuple[np.ndarray, np.ndarray]:
    try:
        a, b = train_test_split(idx, test_size=size, random_state=seed, stratify=y[idx] if stratify else None)
    except ValueError as exc:  # too few rows of a class to stratify
        raise LossInputError(
            "frame", "enough rows of every class to split (at least 2 per class and split)", str(exc)
        ) from exc
    return np.sort(a), np.sort(b)


def plan_splits(
    y: np.ndarray,
    *,
    classification: bool,
    val_size: float = 0.15,
    test_size: float = 0.15,
    cv: int | None = None,
    seed: int = 0,
    groups: np.ndarray | None = None,
) -> SplitPlan:
    """Hold out ``test_size`` of the rows for testing, then split the rest into train and validation.

    With ``cv=K`` the non-test rows are cut into ``K`` folds instead; each fold is the validation
    set of one training run. Classification splits are stratified by class. With ``groups`` (the
    query ids of a ranking table) whole groups are split: ``test_size`` and ``val_size`` are shares
    of the groups (scikit-learn's ``GroupShuffleSplit``; for ``cv`` the groups are shuffled with the seed
    and dealt round-robin into ``K`` folds).
    """
    for name, value in (("val_size", val_size), ("test_size", test_size)):
        if not 0.0 < value < 0.5:
            raise LossInputError(name, "a fraction in (0, 0.5)", value)
    if cv is not None and cv < 2:
        raise LossInputError("cv", "an integer >= 2", cv)
    if groups is not None:
        return _group_plan(groups, val_size, test_size, cv, seed)
    idx = np.arange(len(y))
    rest, test = _split(idx, y, test_size, classification, seed)
    if cv is None:
        train, val = _split(rest, y, val_size / (1.0 - test_size), classification, seed + 1)
        return SplitPlan(test=test, folds=[Fold(train=train, val=val)])
    splitter = (StratifiedKFold if classification else KFold)(n_splits=cv, shuffle=True, random_state=seed + 1)
    try:
        folds = [Fold(train=rest[a], val=rest[b]) for a, b in splitter.split(rest, y[rest])]
    except ValueError as exc:
        raise LossInputError("cv", f"at most the size of the smallest class ({cv} folds asked)", str(exc)) from exc
    return SplitPlan(test=test, folds=folds)


def _group_split(idx: np.ndarray, groups: np.ndarray, size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = next(GroupShuffleSplit(n_splits=1, test_size=size, random_state=seed).split(idx, groups=groups[idx]))
    return np.sort(idx[a]), np.sort(idx[b])


def _group_plan(groups: np.ndarray, val_size: float, test_size: float, cv: int | None, seed: int) -> SplitPlan:
    n_groups = len(np.unique(groups))
    need = 3 if cv is None else cv + 1
    if n_groups < need or round(n_groups * test_size) < 1 or (cv is None and round(n_groups * val_size) < 1):
        raise LossInputError(
            "frame", f"enough query groups to split by group (at least {need}, and 1 per split)", f"{n_groups} groups"
        )
    rest, test = _group_split(np.arange(len(groups)), groups, test_size, seed)
    if cv is None:
        train, val = _group_split(rest, groups, val_size / (1.0 - test_size), seed + 1)
        return SplitPlan(test=test, folds=[Fold(train=train, val=val)])
    ids = np.random.default_rng(seed + 1).permutation(np.unique(groups[rest]))
    fold_of = np.empty(int(groups.max()) + 1, dtype=np.int64)
    fold_of[ids] = np.arange(len(ids)) % cv
    row_fold = fold_of[groups[rest]]
    return SplitPlan(test=test, folds=[Fold(train=rest[row_fold != k], val=rest[row_fold == k]) for k in range(cv)])
