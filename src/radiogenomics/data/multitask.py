"""The multi-task cohort: one label column per trait, missing labels kept, and its folds.

A patient belongs to the multi-task cohort when it has expression and a usable label for at least
one of the traits; a trait it is not annotated for is ``MISSING`` (-1) in its row of ``Y``. Outer
folds are stratified on one trait (its missing labels a stratum of their own) or on the
combination of every trait's label (:func:`strata`); each trait's share of a fold is that fold
restricted to the trait's labelled patients (:func:`trait_part`), so every trait's job sees the
same held-out patients as the network that serves all of them.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split

from radiogenomics.data.cohort import Cohort, TraitCohort, trait_cohort
from radiogenomics.data.splits import FoldSplit, _seed
from radiogenomics.data.traits import TraitSpec, class_counts
from radiogenomics.errors import DataError

MISSING = -1  # a trait's label of a patient not annotated for it
COMBINATION = "combination"  # multitask.stratify: every trait's label at once


@dataclass
class MultiTaskCohort:
    """Patients with expression and at least one trait's label: ``Y`` is (patients, traits)."""

    X: np.ndarray  # patients x genes, float32, unscaled
    Y: np.ndarray  # int64 class index per trait, MISSING where the patient has no label
    patient_ids: list[str]
    genes: list[str]
    specs: list[TraitSpec]  # resolved, in the order of Y's columns
    report: dict = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """Trait names in column order."""
        return [s.name for s in self.specs]


def multitask_cohort(
    cohort: Cohort, specs: list[TraitSpec], n_folds: int | None = None
) -> MultiTaskCohort:
    """Union of the traits' cohorts; every trait must pass its single-trait checks on its own."""
    per_trait = [trait_cohort(cohort, spec, n_folds=n_folds) for spec in specs]
    for tc in per_trait:
        if tc.spec.kind != "categorical":
            raise DataError(
                f"trait {tc.spec.name!r} is {tc.spec.kind}: the multi-task network has "
                "categorical heads only (binary or multiclass)"
            )
    labelled = {p for tc in per_trait for p in tc.patient_ids}
    ids = [p for p in cohort.expression.index if p in labelled]  # expression order
    row = {p: i for i, p in enumerate(ids)}
    Y = np.full((len(ids), len(specs)), MISSING, dtype=np.int64)
    for t, tc in enumerate(per_trait):
        Y[[row[p] for p in tc.patient_ids], t] = tc.y
    report = {
        "n_patients": len(ids),
        "traits": {
            tc.spec.name: {
                "n_patients": len(tc.patient_ids),
                "class_counts": tc.report["class_counts"],
            }
            for tc in per_trait
        },
        "n_labels_per_patient": {
            str(k): int(v) for k, v in sorted(Counter((Y != MISSING).sum(axis=1)).items())
        },
    }
    return MultiTaskCohort(
        X=cohort.expression.loc[ids].to_numpy(np.float32),
        Y=Y,
        patient_ids=ids,
        genes=cohort.genes,
        specs=[tc.spec for tc in per_trait],
        report=report,
    )


def strata(Y: np.ndarray, names: list[str], stratify: str, min_size: int) -> np.ndarray:
    """Stratum id per patient: one trait's label (missing its own stratum) or the combination.

    ``combination``: the key is every trait's label, in trait order. A key held by fewer than
    ``min_size`` patients is shortened (its last trait dropped) for those patients until its
    stratum, among the patients not yet placed, has ``min_size``; what is left at the empty key
    forms one stratum, merged into the largest if it is still too small. So rare combinations
    fall back to their leading traits' combination and never break StratifiedKFold.
    """
    Y = np.asarray(Y)
    if stratify != COMBINATION:
        if stratify not in names:
            raise ValueError(f"multitask.stratify={stratify!r}: not one of {names} or combination")
        return _merge_small(Y[:, names.index(stratify)], min_size)
    label = np.full(len(Y), -1, dtype=np.int64)
    open_rows = np.arange(len(Y))
    codes: dict[tuple, int] = {}
    for depth in range(Y.shape[1], 0, -1):
        keys = [tuple(int(v) for v in Y[i, :depth]) for i in open_rows]
        counts = Counter(keys)
        placed = np.array([counts[k] >= min_size for k in keys], dtype=bool)
        for i, key, ok in zip(open_rows, keys, placed, strict=True):
            if ok:
                label[i] = codes.setdefault((depth, *key), len(codes))
        open_rows = open_rows[~placed]
    if len(open_rows):
        label[open_rows] = len(codes)
    return _merge_small(label, min_size)


def _merge_small(label: np.ndarray, min_size: int) -> np.ndarray:
    """Strata smaller than ``min_size`` joined into the largest stratum (ids renumbered)."""
    values, counts = np.unique(label, return_counts=True)
    small = values[counts < min_size]
    if len(small) and len(values) > len(small):
        label = np.where(np.isin(label, small), values[np.argmax(counts)], label)
    return np.unique(label, return_inverse=True)[1].ravel()


def multitask_split(
    Y: np.ndarray,
    names: list[str],
    stratify: str,
    n_folds: int,
    fold: int,
    split_seed: int,
    val_fraction: float,
) -> FoldSplit:
    """Outer fold ``fold`` stratified on :func:`strata`, and its inner validation split.

    The inner split is stratified on the strata of the training patients (at least
    ``ceil(1 / val_fraction)`` patients each, so every stratum can give one to validation),
    falling back to the first trait's labels, then to no stratification, if that is impossible.
    """
    if not 0 <= fold < n_folds:
        raise ValueError(f"fold={fold} is outside 0..{n_folds - 1}")
    if len(Y) < n_folds:
        raise DataError(
            f"the multi-task cohort has {len(Y)} patients, fewer than n_folds={n_folds}"
        )
    outer = strata(Y, names, stratify, n_folds)
    skf = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=split_seed)
    train, test = list(skf.split(np.zeros(len(Y)), outer))[fold]
    n_val = int(round(val_fraction * len(train)))
    inner_min = max(2, math.ceil(1 / val_fraction))
    seed = _seed(split_seed, fold)
    for labels in (
        strata(Y[train], names, stratify, inner_min),
        strata(Y[train], names, names[0], inner_min),
        None,
    ):
        try:
            fit, val = train_test_split(train, test_size=n_val, stratify=labels, random_state=seed)
            break
        except ValueError:
            continue
    return FoldSplit(fit=np.sort(fit), val=np.sort(val), test=np.sort(test))


def trait_part(mt: MultiTaskCohort, t: int, split: FoldSplit) -> tuple[TraitCohort, FoldSplit]:
    """Trait ``t``'s labelled patients as a trait cohort, and the fold restricted to them."""
    labelled = np.flatnonzero(mt.Y[:, t] != MISSING)
    position = np.full(len(mt.Y), -1, dtype=np.int64)
    position[labelled] = np.arange(len(labelled))

    def keep(idx: np.ndarray) -> np.ndarray:
        return np.sort(position[idx[mt.Y[idx, t] != MISSING]])

    spec = mt.specs[t]
    y = mt.Y[labelled, t]
    tc = TraitCohort(
        X=mt.X[labelled],
        y=y,
        patient_ids=[mt.patient_ids[i] for i in labelled],
        genes=mt.genes,
        spec=spec,
        report={
            "trait": spec.name,
            "n_patients": len(labelled),
            "class_counts": class_counts(y, spec),
        },
    )
    return tc, FoldSplit(fit=keep(split.fit), val=keep(split.val), test=keep(split.test))
