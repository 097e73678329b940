"""Bootstrap replicates: deterministic, stratified resampling, each class held out, no leakage."""

import numpy as np
import pytest

from radiogenomics.data.datamodules import TraitDataModule
from radiogenomics.data.splits import make_fold_split, outer_fold


@pytest.fixture
def labels():
    rng = np.random.default_rng(3)
    return rng.permutation(np.r_[np.zeros(90, int), np.ones(60, int), np.full(25, 2)])


def test_plain_cv_is_unchanged_by_the_new_argument(labels):
    a = make_fold_split(labels, 10, 4, 425, 0.15)
    b = make_fold_split(labels, 10, 4, 425, 0.15, bootstrap=None)
    np.testing.assert_array_equal(a.test, np.sort(outer_fold(labels, 10, 4, 425)[1]))
    for part in ("fit", "val", "test"):
        np.testing.assert_array_equal(getattr(a, part), getattr(b, part))


def test_replicates_are_deterministic_and_distinct(labels):
    a = make_fold_split(labels, 10, 2, 425, 0.15, bootstrap=7)
    b = make_fold_split(labels, 10, 2, 425, 0.15, bootstrap=7)
    for part in ("fit", "val", "test"):
        np.testing.assert_array_equal(getattr(a, part), getattr(b, part))
    others = [make_fold_split(labels, 10, 2, 425, 0.15, bootstrap=k).test for k in (0, 1, 8)]
    assert all(not np.array_equal(a.test, o) for o in others)
    plain = make_fold_split(labels, 10, 2, 425, 0.15)
    assert not np.array_equal(np.unique(a.test), plain.test)  # a new split, not just a resample


@pytest.mark.parametrize("bootstrap", [0, 1, 5])
def test_resampling_keeps_classes_and_parts_disjoint(labels, bootstrap):
    held_out = []
    for fold in range(10):
        s = make_fold_split(labels, 10, fold, 425, 0.15, bootstrap=bootstrap)
        plain_test = np.sort(outer_fold(labels, 10, fold, 425)[1])
        for part in (s.fit, s.val, s.test):
            assert set(np.unique(labels[part])) == {0, 1, 2}  # every class present
        assert not set(s.test) & set(s.fit) and not set(s.test) & set(s.val)
        assert not set(s.fit) & set(s.val)
        # resampling with replacement within class: repeated patients, class counts kept
        unique_test = np.unique(s.test)
        assert len(unique_test) < len(s.test) or len(s.test) < 5
        assert len(s.test) == len(plain_test)
        held_out.append(unique_test)
    # the replicate's own outer folds partition... only up to resampling: held-out sets disjoint
    joined = np.concatenate(held_out)
    assert len(joined) == len(np.unique(joined))


def test_negative_replicate_is_an_error(labels):
    with pytest.raises(ValueError, match="bootstrap"):
        make_fold_split(labels, 10, 0, 425, 0.15, bootstrap=-1)


def test_datamodule_accepts_repeated_patients(labels):
    s = make_fold_split(labels, 5, 0, 425, 0.15, bootstrap=3)
    X = np.random.default_rng(0).normal(size=(len(labels), 7)).astype(np.float32)
    dm = TraitDataModule(X, labels, s, batch_size=8)
    assert len(dm.x["test"]) == len(s.test) and len(dm.patient_ids["fit"]) == len(s.fit)
    assert sum(len(b[0]) for b in dm.train_dataloader()) >= len(s.fit) - 1
    assert dm.class_weights().shape == (3,)
