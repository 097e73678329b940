"""The held-out fold is scored once and never influences training, early stopping or scaling."""

import numpy as np

from radiogenomics.data.cohort import load_cohort, trait_cohort
from radiogenomics.data.datamodules import TraitDataModule
from radiogenomics.data.splits import make_fold_split
from radiogenomics.data.traits import TraitSpec
from radiogenomics.tasks.finetune import fit_network


def _fit(cfg, tc, cohort, split, out):
    cfg.paths.output_dir = str(out)
    cfg.callbacks.model_checkpoint.dirpath = str(out / "checkpoints")
    return fit_network(cfg, cohort, tc, split)


def test_held_out_fold_does_not_influence_training(make_cfg, tmp_path):
    cfg = make_cfg("model.transfer_layers=1", "model.freeze_layers=1")
    cohort = load_cohort(cfg.data, cfg.paths.cache_dir)
    tc = trait_cohort(cohort, TraitSpec.from_config(cfg.trait))
    split = make_fold_split(tc.y, 5, 0, 425, 0.2)
    a = _fit(cfg, tc, cohort, split, tmp_path / "a")

    # scramble the held-out patients' expression and labels: nothing before scoring may change
    rng = np.random.default_rng(0)
    tc.X = tc.X.copy()
    tc.X[split.test] = rng.normal(50, 30, size=tc.X[split.test].shape).astype(np.float32)
    tc.y = tc.y.copy()
    tc.y[split.test] = 1 - tc.y[split.test]
    b = _fit(cfg, tc, cohort, split, tmp_path / "b")

    assert a.best_epoch == b.best_epoch and a.epochs_run == b.epochs_run
    assert a.val_auroc == b.val_auroc
    for key, value in a.model.state_dict().items():
        assert np.array_equal(value.numpy(), b.model.state_dict()[key].numpy()), key
    assert not np.allclose(a.test_probs, b.test_probs)  # the scrambled fold was scored


def test_scaler_is_fit_on_training_patients_only():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 6)).astype(np.float32)
    y = np.r_[np.zeros(25, int), np.ones(25, int)]
    split = make_fold_split(y, 5, 1, 0, 0.2)
    dm = TraitDataModule(X, y, split, batch_size=8)
    np.testing.assert_allclose(dm.scaler.mean, X[split.fit].mean(0), rtol=1e-5, atol=1e-6)
    X2 = X.copy()
    X2[split.test] += 100.0
    dm2 = TraitDataModule(X2, y, split, batch_size=8)
    np.testing.assert_array_equal(dm.scaler.mean, dm2.scaler.mean)
    np.testing.assert_array_equal(dm.scaler.std, dm2.scaler.std)
