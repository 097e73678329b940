import numpy as np
import pytest

from radiogenomics.data.splits import inner_validation, make_fold_split, outer_fold


@pytest.fixture
def labels():
    rng = np.random.default_rng(1)
    return rng.permutation(np.r_[np.zeros(97, int), np.ones(60, int), np.full(18, 2)])


def test_outer_folds_partition_and_stratify(labels):
    tests = [outer_fold(labels, 10, f, 425)[1] for f in range(10)]
    joined = np.concatenate(tests)
    assert len(joined) == len(labels) and len(np.unique(joined)) == len(labels)
    for f, test in enumerate(tests):
        train = outer_fold(labels, 10, f, 425)[0]
        assert not set(train) & set(test)
        for k in range(3):
            expected = (labels == k).sum() / 10
            assert abs((labels[test] == k).sum() - expected) <= 1


def test_splits_are_deterministic_and_seeded(labels):
    a = make_fold_split(labels, 10, 3, 425, 0.15)
    b = make_fold_split(labels, 10, 3, 425, 0.15)
    c = make_fold_split(labels, 10, 3, 7, 0.15)
    for part in ("fit", "val", "test"):
        np.testing.assert_array_equal(getattr(a, part), getattr(b, part))
    assert not np.array_equal(a.test, c.test)


def test_inner_validation_is_inside_training_folds(labels):
    for fold in range(10):
        s = make_fold_split(labels, 10, fold, 425, 0.15)
        assert not set(s.val) & set(s.test)
        assert not set(s.fit) & set(s.test)
        assert not set(s.fit) & set(s.val)
        np.testing.assert_array_equal(s.train, np.sort(outer_fold(labels, 10, fold, 425)[0]))
        assert set(np.unique(labels[s.val])) == {0, 1, 2}  # stratified: every class validated


def test_inner_validation_fraction(labels):
    train = np.arange(100)
    fit, val = inner_validation(labels, train, 0.2, 0)
    assert len(val) == 20 and len(fit) == 80


def test_too_few_patients_per_class_is_a_clear_error():
    y = np.r_[np.zeros(30, int), np.ones(5, int)]
    with pytest.raises(ValueError, match="fewer patients than n_folds=10"):
        outer_fold(y, 10, 0, 425)


def test_single_class_is_a_clear_error():
    with pytest.raises(ValueError, match="only one class"):
        outer_fold(np.zeros(40, int), 10, 0, 425)


def test_continuous_target_is_stratified_on_quantile_bins():
    from radiogenomics.data.splits import make_fold_split, member_folds, strata

    y = np.random.default_rng(0).lognormal(size=60)
    assert np.bincount(strata(y, 5)).tolist() == [6] * 10  # equal-count bins
    tests = []
    for fold in range(3):
        split = make_fold_split(y, 3, fold, 0, 0.2)
        again = make_fold_split(y.copy(), 3, fold, 0, 0.2)  # a pure function of the values
        for part in ("fit", "val", "test"):
            assert np.array_equal(getattr(again, part), getattr(split, part))
        assert not set(split.val) & set(split.fit) and len(split.val) == 8
        bins = strata(y, 3)  # every fold's test part spans every quantile bin of the target
        assert set(bins[split.test]) == set(bins)
        tests.append(split.test)
    assert sorted(np.concatenate(tests).tolist()) == list(range(60))
    folds = member_folds(y, make_fold_split(y, 3, 0, 0, 0.2).train, 4, 0, 0)
    assert np.bincount(folds).min() >= 9
