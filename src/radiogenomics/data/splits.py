"""Deterministic splits: pure functions of (labels, n_folds, fold, seed), shared by every model family."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split


@dataclass(frozen=True)
class FoldSplit:
    """Positional indices into the trait cohort for one outer fold."""

    fit: np.ndarray  # training patients the model is fit on
    val: np.ndarray  # inner validation patients (early stopping, checkpoint choice)
    test: np.ndarray  # held-out fold: scored once

    @property
    def train(self) -> np.ndarray:
        """All training-fold patients (fit + inner validation)."""
        return np.sort(np.concatenate([self.fit, self.val]))


def _check_labels(labels: np.ndarray, n_folds: int) -> None:
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        raise ValueError(f"only one class ({classes.tolist()}) present: nothing to classify")
    if counts.min() < n_folds:
        small = {int(c): int(n) for c, n in zip(classes, counts, strict=True) if n < n_folds}
        raise ValueError(
            f"class(es) {small} have fewer patients than n_folds={n_folds}; "
            "lower n_folds or merge classes"
        )


def outer_fold(
    labels: np.ndarray, n_folds: int, fold: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified, shuffled K-fold: (train, test) positional indices of outer fold ``fold``."""
    labels = np.asarray(labels)
    if not 0 <= fold < n_folds:
        raise ValueError(f"fold={fold} is outside 0..{n_folds - 1}")
    _check_labels(labels, n_folds)
    skf = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    train, test = list(skf.split(np.zeros(len(labels)), labels))[fold]
    return train, test


def inner_validation(
    labels: np.ndarray, train: np.ndarray, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Carve a stratified validation split out of the training indices: (fit, val)."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    y = np.asarray(labels)[train]
    n_classes = len(np.unique(y))
    n_val = max(int(round(val_fraction * len(train))), n_classes)
    fit, val = train_test_split(train, test_size=n_val, stratify=y, random_state=seed)
    return np.sort(fit), np.sort(val)


def make_fold_split(
    labels: np.ndarray, n_folds: int, fold: int, split_seed: int, val_fraction: float
) -> FoldSplit:
    """Outer fold plus its inner validation split; the inner seed depends on (split_seed, fold)."""
    train, test = outer_fold(labels, n_folds, fold, split_seed)
    inner_seed = int(np.random.SeedSequence([split_seed, fold]).generate_state(1)[0])
    fit, val = inner_validation(labels, train, val_fraction, inner_seed)
    return FoldSplit(fit=fit, val=val, test=np.sort(test))
