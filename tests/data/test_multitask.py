"""The multi-task cohort (missing labels kept per trait) and its stratified folds."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import StratifiedKFold

from radiogenomics.data.cohort import Cohort
from radiogenomics.data.multitask import (
    MISSING,
    multitask_cohort,
    multitask_split,
    strata,
    trait_part,
)
from radiogenomics.data.traits import TraitSpec


def _spec(name: str) -> TraitSpec:
    return TraitSpec.from_config(
        {
            "name": name,
            "column": name,
            "positive_class": "high",
            "drop": ["n/a"],
            "classes": [{"name": "low", "values": ["lo"]}, {"name": "high", "values": ["hi"]}],
        }
    )


def _cohort(n: int = 60, seed: int = 0) -> Cohort:
    rng = np.random.default_rng(seed)
    ids = [f"P{i:03d}" for i in range(n)]
    expression = pd.DataFrame(
        rng.normal(size=(n + 5, 4)).astype(np.float32),
        index=[*ids, *[f"U{i}" for i in range(5)]],
        columns=[f"g{j}" for j in range(4)],
    )
    labels = pd.DataFrame(index=pd.Index(ids, name="patient_id"))
    labels["a"] = rng.choice(["lo", "hi"], n)
    labels["b"] = rng.choice(["lo", "hi"], n)
    labels.loc[ids[:10], "a"] = np.nan  # 10 patients without trait a
    labels.loc[ids[10:15], "b"] = "n/a"  # 5 dropped values of trait b
    labels.loc[ids[:3], "b"] = np.nan  # 3 patients with neither label: not in the cohort
    return Cohort(
        expression=expression, labels=labels, expression_file="x", label_files=[], digest="d"
    )


def test_patients_with_any_label_are_in_the_cohort_with_missing_labels_marked():
    mt = multitask_cohort(_cohort(), [_spec("a"), _spec("b")], n_folds=3)
    assert mt.names == ["a", "b"] and mt.Y.shape == (57, 2)
    assert "P000" not in mt.patient_ids and "P003" in mt.patient_ids  # no label at all: out
    assert (mt.Y[:, 0] == MISSING).sum() == 7 and (mt.Y[:, 1] == MISSING).sum() == 5
    assert ((mt.Y != MISSING).sum(axis=1) >= 1).all()
    assert not any(p.startswith("U") for p in mt.patient_ids)  # expression-only patients


def test_trait_part_keeps_the_folds_held_out_patients_of_the_trait():
    mt = multitask_cohort(_cohort(), [_spec("a"), _spec("b")], n_folds=3)
    split = multitask_split(mt.Y, mt.names, "combination", 3, 1, 425, 0.15)
    assert not set(split.fit) & set(split.val) and not set(split.train) & set(split.test)
    for t in range(2):
        tc, part = trait_part(mt, t, split)
        assert (tc.y != MISSING).all() and len(tc.y) == (mt.Y[:, t] != MISSING).sum()
        held_out = {tc.patient_ids[i] for i in part.test}
        expected = {mt.patient_ids[i] for i in split.test if mt.Y[i, t] != MISSING}
        assert held_out == expected
        assert len(part.fit) + len(part.val) + len(part.test) == len(tc.y)


def test_rare_combinations_fall_back_to_their_leading_traits():
    rng = np.random.default_rng(1)
    Y = rng.integers(-1, 2, size=(80, 6))  # 3**6 combinations: almost all unique
    labels = strata(Y, [f"t{i}" for i in range(6)], "combination", 10)
    _, counts = np.unique(labels, return_counts=True)
    assert counts.min() >= 10
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "least populated class" warning
        list(StratifiedKFold(10, shuffle=True, random_state=0).split(Y, labels))
    # patients sharing a stratum share their first trait's label when that stratum allows it
    first = {int(s): set(Y[labels == s, 0]) for s in np.unique(labels)}
    assert sum(len(v) == 1 for v in first.values()) >= len(first) - 1


def test_one_named_trait_stratifies_with_missing_as_its_own_stratum():
    Y = np.array([[0, 1]] * 20 + [[1, 0]] * 20 + [[MISSING, 0]] * 20)
    labels = strata(Y, ["a", "b"], "a", 10)
    assert len(np.unique(labels)) == 3
    split = multitask_split(Y, ["a", "b"], "a", 10, 0, 7, 0.15)
    assert sorted(Y[split.test, 0].tolist()) == [-1, -1, 0, 0, 1, 1]
    with pytest.raises(ValueError, match="multitask.stratify='c'"):
        strata(Y, ["a", "b"], "c", 10)


def test_split_is_a_pure_function_of_its_arguments():
    mt = multitask_cohort(_cohort(), [_spec("a"), _spec("b")], n_folds=3)
    one = multitask_split(mt.Y, mt.names, "combination", 3, 2, 5, 0.2)
    two = multitask_split(mt.Y, mt.names, "combination", 3, 2, 5, 0.2)
    assert all(np.array_equal(getattr(one, k), getattr(two, k)) for k in ("fit", "val", "test"))
    tests = [multitask_split(mt.Y, mt.names, "combination", 3, f, 5, 0.2).test for f in range(3)]
    assert sorted(np.concatenate(tests).tolist()) == list(range(len(mt.Y)))
