"""In-fold autoencoder pretraining (pretrain.patients=fit...): the fold's fit patients only, one
cache entry per fold; and every new option off leaves a fold's network exactly as before."""

import json

import numpy as np
import pytest
import torch
from omegaconf import open_dict

from radiogenomics.data.cohort import load_cohort, trait_cohort
from radiogenomics.data.splits import make_fold_split
from radiogenomics.data.traits import TraitSpec
from radiogenomics.tasks import pretrain as pretrain_task
from radiogenomics.tasks.finetune import fit_network


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _setup(cfg):
    cohort = load_cohort(cfg.data, cfg.paths.cache_dir)
    tc = trait_cohort(cohort, TraitSpec.from_config(cfg.trait))
    return cohort, tc


def _fit(cfg, cohort, tc, split, out):
    cfg.paths.output_dir = str(out)
    cfg.callbacks.model_checkpoint.dirpath = str(out / "checkpoints")
    return fit_network(cfg, cohort, tc, split)


def test_in_fold_pretraining_sees_only_the_fit_patients(make_cfg, tmp_path, monkeypatch):
    cfg = make_cfg(
        "pretrain.patients=fit",
        "model.transfer_layers=1",
        "model.freeze_layers=0",
        "trainer.max_epochs=2",
        "pretrain.max_epochs=1",
    )
    with open_dict(cfg):
        cfg.paths.cache_dir = str(tmp_path / "cache")  # a fresh cache: the autoencoder is fit
    cohort, tc = _setup(cfg)
    split = make_fold_split(tc.y, 5, 0, 425, 0.2)
    fit_ids = [tc.patient_ids[i] for i in split.fit]
    seen = []
    real = pretrain_task.fit_autoencoder

    def spy(cfg_, X, work_dir):
        seen.append(X.copy())
        return real(cfg_, X, work_dir)

    monkeypatch.setattr(pretrain_task, "fit_autoencoder", spy)
    _fit(cfg, cohort, tc, split, tmp_path / "a")
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0], cohort.expression.loc[fit_ids].to_numpy(np.float32))
    (record,) = (tmp_path / "cache" / "autoencoders").glob("ae-*.json")
    assert json.loads(record.read_text())["patients"] == fit_ids  # never val or held-out ids
    # fit+unlabelled adds the expression-only patients, still no inner-validation or test patient
    with open_dict(cfg):
        cfg.pretrain.patients = "fit+unlabelled"
    patients = pretrain_task.pretraining_patients(cfg, cohort, set(tc.patient_ids), fit_ids)
    assert patients == fit_ids + cohort.pretrain_patients
    others = {tc.patient_ids[i] for i in np.r_[split.val, split.test]}
    assert not others & set(patients)


def test_each_fold_gets_its_own_cache_entry(make_cfg, tmp_path, monkeypatch):
    cfg = make_cfg("pretrain.patients=fit", "model.transfer_layers=1", "pretrain.max_epochs=1")
    with open_dict(cfg):
        cfg.paths.cache_dir = str(tmp_path / "cache")
    cohort, tc = _setup(cfg)
    calls = []
    real = pretrain_task.fit_autoencoder
    monkeypatch.setattr(pretrain_task, "fit_autoencoder", lambda *a: calls.append(1) or real(*a))
    paths = []
    for fold in (0, 1, 0):
        split = make_fold_split(tc.y, 5, fold, 425, 0.2)
        fit_ids = [tc.patient_ids[i] for i in split.fit]
        paths.append(pretrain_task.load_or_pretrain(cfg, cohort, set(tc.patient_ids), fit_ids)[1])
    assert paths[0] != paths[1] and paths[2] == paths[0] and len(calls) == 2  # fold 0 reused
    unlabelled = make_cfg()  # the default entry's key does not carry the new options
    plain = pretrain_task.encoder_key(unlabelled, cohort, cohort.pretrain_patients)
    with open_dict(unlabelled):
        del unlabelled.pretrain.patients, unlabelled.pretrain.corruption
    assert pretrain_task.encoder_key(unlabelled, cohort, cohort.pretrain_patients) == plain


def test_every_option_off_trains_the_network_as_before(make_cfg, tmp_path):
    """The new keys at their defaults vs a config without them (main's): the same network."""
    cfg = make_cfg("trainer.max_epochs=3")
    cohort, tc = _setup(cfg)
    split = make_fold_split(tc.y, 5, 0, 425, 0.2)
    a = _fit(cfg, cohort, tc, split, tmp_path / "a")
    old = cfg.copy()
    with open_dict(old):
        for key in ("mixup", "label_smoothing", "swa"):
            del old.model[key]
        del old.pretrain.patients, old.pretrain.corruption
    b = _fit(old, cohort, tc, split, tmp_path / "b")
    assert np.array_equal(a.test_probs, b.test_probs) and a.best_epoch == b.best_epoch
    for key, value in a.model.state_dict().items():
        assert torch.equal(value, b.model.state_dict()[key]), key
