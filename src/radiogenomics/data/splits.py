"""Deterministic splits: pure functions of (labels, n_folds, fold, seed[, bootstrap replicate]).

Every model family calls ``make_fold_split`` with the same arguments and so sees the same patients.

A continuous target (float labels) is stratified on quantile bins of its values
(:func:`strata`): the outer folds on equal-count bins of every patient's value, each bin holding at
least ``n_folds`` patients (at most ``MAX_BINS`` bins), so every fold spans the target's range; the
inner validation split, the cross-fitted ensemble's folds and a bootstrap's resampling on bins of
the training patients' values. The bins are a pure function of the values, so every model family
still gets identical indices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split

from radiogenomics.data.traits import TraitSpec
from radiogenomics.errors import DataError

MIN_FIT_PER_CLASS = 2  # patients of each class the model is fitted on
MAX_BINS = 10  # quantile bins a continuous target is stratified on, at most


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


def is_continuous(labels: np.ndarray) -> bool:
    """True for a continuous target (float values), whose folds are stratified on quantile bins."""
    return np.asarray(labels).dtype.kind == "f"


def quantile_bins(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Equal-count bin (0..n_bins-1) of each value by its rank (ties in order of position)."""
    values = np.asarray(values, dtype=np.float64)
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[np.argsort(values, kind="stable")] = np.arange(len(values))
    return ranks * max(1, int(n_bins)) // max(1, len(values))


def strata(labels: np.ndarray, per_bin: int) -> np.ndarray:
    """What a split is stratified on: class labels as they are; a continuous target's quantile
    bins (at most ``MAX_BINS``, each of at least ``per_bin`` patients when there are enough)."""
    labels = np.asarray(labels)
    if not is_continuous(labels):
        return labels
    return quantile_bins(labels, max(1, min(MAX_BINS, len(labels) // max(1, int(per_bin)))))


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
    if is_continuous(labels):
        if len(labels) < 2 * n_folds:
            raise DataError(
                f"{len(labels)} patients are too few for n_folds={n_folds} (a continuous "
                "target needs at least 2 * n_folds); lower n_folds"
            )
        labels = strata(labels, n_folds)
    else:
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
    n_val = int(round(val_fraction * len(train)))
    labels = np.asarray(labels)
    if is_continuous(labels):  # bins of the training patients' values: >= 1 per bin in val
        stratum = np.full(len(labels), -1)
        per_bin = max(MIN_FIT_PER_CLASS + 1, -(-len(train) // max(1, n_val)))
        stratum[train] = strata(labels[train], per_bin)
        labels = stratum
    y = labels[train]
    classes, counts = np.unique(y, return_counts=True)
    per_class = ", ".join(f"class {c}: {n}" for c, n in zip(classes, counts, strict=True))
    where = f"of the {len(train)} training patients ({per_class})"
    if n_val < len(classes):
        raise DataError(
            f"val_fraction={val_fraction}: the inner validation set would hold {n_val} {where}, "
            f"fewer than one patient per class ({len(classes)} classes): its AUROC, which picks "
            "the epoch, would be meaningless; raise val_fraction (e.g. 0.15)"
        )
    try:
        fit, val = train_test_split(train, test_size=n_val, stratify=y, random_state=seed)
    except ValueError:  # fewer fit patients than classes
        raise DataError(
            f"val_fraction={val_fraction}: the fit set would hold {len(train) - n_val} {where}, "
            f"fewer than {MIN_FIT_PER_CLASS} per class; lower val_fraction (e.g. 0.15)"
        ) from None
    n_fit = [int((np.asarray(labels)[fit] == c).sum()) for c in classes]
    n_inner = [int((np.asarray(labels)[val] == c).sum()) for c in classes]
    if min(n_fit) < MIN_FIT_PER_CLASS:
        worst = classes[int(np.argmin(n_fit))]
        raise DataError(
            f"val_fraction={val_fraction}: the fit set would hold {len(train) - n_val} {where}, "
            f"{min(n_fit)} of class {worst} (at least {MIN_FIT_PER_CLASS} per class needed); "
            "lower val_fraction (e.g. 0.15)"
        )
    if min(n_inner) < 1:
        worst = classes[int(np.argmin(n_inner))]
        raise DataError(
            f"val_fraction={val_fraction}: the inner validation set would hold {n_val} {where}, "
            f"none of class {worst}; raise val_fraction (e.g. 0.15)"
        )
    return np.sort(fit), np.sort(val)


def _seed(*keys: int) -> int:
    """A 32-bit seed derived from integer keys (independent streams per key tuple)."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1)[0])


def stratified_resample(
    labels: np.ndarray, idx: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Draw ``idx`` with replacement within each class: class counts kept, so every class stays present."""
    y = strata(np.asarray(labels)[idx], MIN_FIT_PER_CLASS)
    draws = [rng.choice(idx[y == k], size=int((y == k).sum()), replace=True) for k in np.unique(y)]
    return np.sort(np.concatenate(draws))


def repeat_split_seed(split_seed: int, repeat: int | None) -> int:
    """The outer split seed of CV repeat ``repeat`` (``repeats=R``): ``split_seed + repeat``.

    Repeat 0 (and ``None``) is ``split_seed`` itself, so the first repeat of a repeated CV is the
    single-repeat CV, fold for fold.
    """
    return int(split_seed) + int(repeat or 0)


def stratification_labels(y: np.ndarray, spec: TraitSpec) -> np.ndarray:
    """The labels the splits stratify on: ``y``, or for an ordinal trait with a binary cut its
    binary classes ``y >= binary_cut``, so the ordinal and the binary network of one trait are
    scored on the same folds (a paired comparison at the paper's cut)."""
    y = np.asarray(y)
    if not spec.is_ordinal or spec.binary_cut is None:
        return y
    return (y >= spec.binary_cut).astype(y.dtype)


def make_fold_split(
    labels: np.ndarray,
    n_folds: int,
    fold: int,
    split_seed: int,
    val_fraction: float,
    bootstrap: int | None = None,
) -> FoldSplit:
    """Outer fold plus its inner validation split; the inner seed depends on (split_seed, fold).

    ``bootstrap=None`` is plain stratified CV. Replicate ``b`` draws its own stratified K-fold
    split (seeded by ``split_seed`` and ``b``), carves the inner validation split from the
    training folds, then resamples fit, validation and held-out indices with replacement within
    each class. Patients never cross parts (resampling happens after the split), indices repeat
    within a part, and each class stays present in every part.
    """
    if bootstrap is None:
        train, test = outer_fold(labels, n_folds, fold, split_seed)
        fit, val = inner_validation(labels, train, val_fraction, _seed(split_seed, fold))
        return FoldSplit(fit=fit, val=val, test=np.sort(test))
    if bootstrap < 0:
        raise ValueError(
            f"bootstrap replicate must be >= 0 (or null for plain CV), got {bootstrap}"
        )
    train, test = outer_fold(labels, n_folds, fold, _seed(split_seed, bootstrap))
    fit, val = inner_validation(labels, train, val_fraction, _seed(split_seed, bootstrap, fold))
    rng = np.random.default_rng(_seed(split_seed, bootstrap, fold, 1))
    return FoldSplit(
        fit=stratified_resample(labels, fit, rng),
        val=stratified_resample(labels, val, rng),
        test=stratified_resample(labels, test, rng),
    )


# seed stream of the cross-fitted ensemble's inner folds (model.member_split=kfold)
MEMBER_STREAM = 0x6B666F6C


def member_folds(
    labels: np.ndarray, train: np.ndarray, k: int, split_seed: int, fold: int, bootstrap=None
) -> np.ndarray:
    """Inner fold (0..k-1) of each entry of ``train``: k stratified folds of the training patients.

    Member j of a cross-fitted ensemble trains on every fold but j and is early-stopped on fold j.
    Folds are drawn over distinct patients (a bootstrap's repeated index stays in one fold), seeded
    by (split_seed[, bootstrap], fold). Held-out patients are not in ``train`` and get no fold.
    """
    train = np.asarray(train)
    unique = np.unique(train)
    y = strata(np.asarray(labels)[unique], k)
    _, counts = np.unique(y, return_counts=True)
    if k < 2 or counts.min() < k:
        raise DataError(
            f"model.member_split=kfold with model.ensemble={k} needs >= {max(k, 2)} training "
            f"patients of every class, but this fold's smallest class has {counts.min()}; lower "
            "model.ensemble"
        )
    keys = (
        (split_seed, fold, MEMBER_STREAM)
        if bootstrap is None
        else (split_seed, bootstrap, fold, MEMBER_STREAM)
    )
    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=_seed(*keys))
    of_patient = np.empty(len(unique), dtype=np.int64)
    for j, (_, part) in enumerate(skf.split(np.zeros(len(unique)), y)):
        of_patient[part] = j
    return of_patient[np.searchsorted(unique, train)]


# seed stream of the permutation-null labels, apart from the split and bootstrap streams
NULL_STREAM = 0x6E756C6C


def null_labels(labels: np.ndarray, split: FoldSplit, split_seed: int, null_id: int) -> np.ndarray:
    """Labels of permutation-null model ``null_id``: training labels permuted, held-out untouched.

    One permutation of the trait cohort per (``split_seed``, ``null_id``) gives every training
    patient (fit + inner validation) the label of another patient; the held-out fold keeps its
    real labels, so the null model is scored and interpreted against the same held-out labels as
    the real one. The permutation is shared by all folds of one ``null_id`` (it does not depend on
    the fold), so the folds of a null replicate share their training labels as the real folds do:
    a statistic pooled over folds then has the same between-fold dependence in the real model and
    in its nulls. The split itself (``split``) is the real one. A permutation that empties a class
    of the fit or validation patients is redrawn (deterministically).
    """
    labels = np.asarray(labels)
    if null_id < 0:
        raise ValueError(
            f"null_permutation must be >= 0 (or null for the real model), got {null_id}"
        )
    classes = np.unique(labels)
    for attempt in range(100):
        rng = np.random.default_rng(_seed(split_seed, NULL_STREAM, null_id, attempt))
        permuted = labels.copy()
        train = split.train
        permuted[train] = labels[rng.permutation(len(labels))][train]
        if is_continuous(labels) or all(
            set(np.unique(permuted[part])) == set(classes) for part in (split.fit, split.val)
        ):
            return permuted
    raise ValueError("could not draw null labels with every class in the fit and val parts")
