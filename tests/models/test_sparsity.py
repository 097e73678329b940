"""Issue 18's options for p >> n: input gene filter (fit patients only), first-layer penalty,
batched ensembles (tests/models/test_ensemble.py); all off by default, leaving the default network (and its weights) unchanged."""

import numpy as np
import pytest
import pytorch_lightning as pl
import torch

from radiogenomics.data.datamodules import TraitDataModule
from radiogenomics.data.splits import make_fold_split
from radiogenomics.errors import ConfigError
from radiogenomics.models.classifier import (
    ClassifierModule,
    first_layer_penalty,
    gene_filter_mask,
)
from radiogenomics.tasks.validation import validate_config


def _data(n=60, n_genes=40, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.standard_normal((n, n_genes)).astype(np.float32)
    X[:, :5] += y[:, None] * 2.0  # five informative genes
    X[:, 30] *= 10.0  # one high-variance, uninformative gene
    return X, y


def _train(module, dm, epochs=3):
    pl.seed_everything(0, verbose=False)
    trainer = pl.Trainer(
        max_epochs=epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        num_sanity_val_steps=0,
    )
    trainer.fit(module, dm)
    return module


def test_gene_filters_rank_by_variance_or_anova():
    X, y = _data()
    assert np.flatnonzero(gene_filter_mask("variance", 1, X)).tolist() == [30]
    anova = gene_filter_mask("anova", 5, X, y)
    assert anova.sum() == 5 and set(np.flatnonzero(anova)) == set(range(5))
    assert gene_filter_mask("anova", 10_000, X, y).all()  # top_k >= genes: keep every gene
    with pytest.raises(ValueError, match="needs the fit patients' labels"):
        gene_filter_mask("anova", 5, X)


def test_gene_mask_is_fit_on_fit_patients_only(make_cfg):
    from radiogenomics.data.cohort import TraitCohort
    from radiogenomics.tasks.finetune import fit_gene_mask, network_options

    X, y = _data()
    split = make_fold_split(y, 5, 0, 0, 0.2)
    cfg = make_cfg("model.gene_filter.method=anova", "model.gene_filter.top_k=5")
    masks = []
    for scramble in (False, True):
        X2, y2 = X.copy(), y.copy()
        if scramble:  # inner-validation and held-out patients: any values, any labels
            held = np.concatenate([split.val, split.test])
            X2[held] = np.random.default_rng(1).standard_normal((len(held), X.shape[1]))
            y2[held] = 1 - y2[held]
        tc = TraitCohort.__new__(TraitCohort)
        tc.X, tc.y = X2, y2
        dm = TraitDataModule(X2, y2, split, batch_size=8)
        masks.append(fit_gene_mask(network_options(cfg), tc, split, dm))
    np.testing.assert_array_equal(masks[0], masks[1])


def test_masked_genes_have_zero_weights_and_no_influence():
    X, y = _data()
    split = make_fold_split(y, 5, 0, 0, 0.2)
    dm = TraitDataModule(X, y, split, batch_size=8)
    module = ClassifierModule(
        40, 2, [8, 4], input_mask=True, penalty="group_lasso", penalty_weight=1e-3
    )
    mask = gene_filter_mask("anova", 5, dm.x["fit"].numpy(), dm.y["fit"].numpy())
    module.set_input_mask(mask)
    _train(module, dm).eval()
    weight = module.blocks[0].linear.weight.detach()
    assert torch.count_nonzero(weight[:, ~mask]) == 0  # the masking kernels read weights alone
    x = dm.x["test"].clone()
    noisy = x.clone()
    noisy[:, ~torch.from_numpy(mask)] = 100.0
    torch.testing.assert_close(module(x), module(noisy))


def test_penalties_and_defaults():
    w = torch.tensor([[3.0, 0.0], [4.0, -1.0]])
    assert first_layer_penalty(w, "l1").item() == 8.0
    assert first_layer_penalty(w, "group_lasso").item() == 6.0  # ||(3,4)|| + ||(0,-1)||
    default = ClassifierModule(40, 2, [8, 4])
    assert "gene_mask" not in default.state_dict()  # default networks' weights files unchanged
    with pytest.raises(ValueError, match="trainable first layer"):
        ClassifierModule(40, 2, [8, 4], freeze_layers=1, penalty_weight=0.1)


def test_l1_penalty_shrinks_the_first_layer():
    X, y = _data()
    split = make_fold_split(y, 5, 0, 0, 0.2)
    norms = []
    for weight in (0.0, 0.05):
        pl.seed_everything(0, verbose=False)
        module = ClassifierModule(40, 2, [8, 4], penalty_weight=weight, optimizer={"lr": 0.01})
        dm = TraitDataModule(X, y, split, batch_size=8)
        norms.append(_train(module, dm, epochs=5).blocks[0].linear.weight.abs().sum().item())
    assert norms[1] < 0.7 * norms[0], norms


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.gene_filter.method=top"], "model.gene_filter.method=top is not one of"),
        (["model.gene_filter.method=anova", "model.gene_filter.top_k=0"], "top_k=0"),
        (["model.penalty.kind=l3"], "model.penalty.kind=l3"),
        (["model.penalty.weight=-1"], "model.penalty.weight=-1"),
        (["model.penalty.weight=0.1"], "freezes it"),  # default freeze_layers=1
        (["model.ensemble=0"], "model.ensemble=0"),
    ],
)
def test_bad_options_are_clear_config_errors(make_cfg, overrides, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(make_cfg(*overrides))


def test_good_options_pass_validation(make_cfg):
    validate_config(
        make_cfg(
            "model.ensemble=3",
            "model.freeze_layers=0",
            "model.penalty.weight=1e-4",
            "model.gene_filter.method=variance",
        )
    )
