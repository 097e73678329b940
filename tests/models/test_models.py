import numpy as np
import pytest
import pytorch_lightning as pl
import torch

from radiogenomics.data.datamodules import TraitDataModule
from radiogenomics.data.splits import make_fold_split
from radiogenomics.models.autoencoder import AutoencoderModule
from radiogenomics.models.blocks import SAME_FOREACH
from radiogenomics.models.classifier import ClassifierModule


def _trained_encoder(n_genes=40, dims=(16, 8, 4)) -> AutoencoderModule:
    ae = AutoencoderModule(n_genes=n_genes, hidden_dims=list(dims))
    ae.train()
    with torch.no_grad():  # move BatchNorm running statistics away from their defaults
        for _ in range(3):
            ae(torch.randn(32, n_genes) * 2 + 1)
    return ae.eval()


def _data(n=60, n_genes=40, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.standard_normal((n, n_genes)).astype(np.float32)
    X[:, :5] += y[:, None] * 1.5
    return X, y


def test_transfer_copies_weights_and_batchnorm_statistics():
    ae = _trained_encoder()
    clf = ClassifierModule(n_genes=40, n_classes=2, hidden_dims=[16, 8, 4])
    clf.load_encoder(ae.encoder, 2)
    for i in range(2):
        for key, value in ae.encoder[i].state_dict().items():
            torch.testing.assert_close(clf.blocks[i].state_dict()[key], value, rtol=0, atol=0)
    # the third layer was not transferred
    assert not torch.equal(clf.blocks[2].linear.weight, ae.encoder[2].linear.weight)


def test_transfer_with_mismatched_sizes_is_a_clear_error():
    ae = _trained_encoder(dims=(16, 8, 4))
    clf = ClassifierModule(n_genes=40, n_classes=2, hidden_dims=[20, 8, 4])
    with pytest.raises(ValueError, match="cannot transfer layer 1"):
        clf.load_encoder(ae.encoder, 1)


def test_frozen_layers_and_their_batchnorm_do_not_change_during_training():
    X, y = _data()
    ae = _trained_encoder()
    clf = ClassifierModule(
        n_genes=40, n_classes=2, hidden_dims=[16, 8, 4], freeze_layers=2, dropout=0.2
    )
    clf.load_encoder(ae.encoder, 3)
    before = {k: v.clone() for k, v in clf.state_dict().items()}
    split = make_fold_split(y, 5, 0, 0, 0.2)
    dm = TraitDataModule(X, y, split, batch_size=8)
    pl.seed_everything(0, verbose=False)
    trainer = pl.Trainer(
        max_epochs=4,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
    )
    trainer.fit(clf, dm)
    after = clf.state_dict()
    for key, value in before.items():
        frozen = key.startswith(("blocks.0.", "blocks.1."))
        if key.endswith("num_batches_tracked"):
            continue
        if frozen:
            assert torch.equal(after[key], value), f"frozen {key} changed"
        elif key.startswith("blocks.2.") or key.startswith("head."):
            assert not torch.equal(after[key], value), f"trainable {key} did not change"
    assert not clf.blocks[0].training and not clf.blocks[1].training
    clf.train()  # Lightning calls .train() after validation: frozen blocks must stay in eval
    assert not clf.blocks[0].norm.training and clf.blocks[2].norm.training


def test_multiclass_head_and_balanced_loss():
    clf = ClassifierModule(n_genes=10, n_classes=4, hidden_dims=[8], class_weights=[1, 2, 3, 4])
    logits = clf(torch.randn(5, 10))
    assert logits.shape == (5, 4)
    probs = clf.probabilities(logits)
    torch.testing.assert_close(probs.sum(1), torch.ones(5))
    y = torch.tensor([0, 1, 2, 3, 3])
    expected = torch.nn.functional.cross_entropy(logits, y, weight=torch.tensor([1.0, 2, 3, 4]))
    torch.testing.assert_close(clf.loss(logits, y), expected)


def test_binary_loss_weights_each_patient_by_its_class():
    clf = ClassifierModule(n_genes=10, n_classes=2, hidden_dims=[8], class_weights=[0.5, 2.0])
    logits, y = torch.tensor([0.3, -1.0, 2.0]), torch.tensor([0, 1, 1])
    per = torch.nn.functional.binary_cross_entropy_with_logits(logits, y.float(), reduction="none")
    torch.testing.assert_close(clf.loss(logits, y), (per * torch.tensor([0.5, 2.0, 2.0])).mean())


def test_freeze_more_than_transfer_is_rejected(make_cfg):
    from radiogenomics.data.cohort import load_cohort, trait_cohort
    from radiogenomics.data.traits import TraitSpec
    from radiogenomics.tasks.finetune import fit_network

    cfg = make_cfg("model.transfer_layers=1", "model.freeze_layers=2")
    cohort = load_cohort(cfg.data, cfg.paths.cache_dir)
    tc = trait_cohort(cohort, TraitSpec.from_config(cfg.trait))
    split = make_fold_split(tc.y, 3, 0, 0, 0.2)
    with pytest.raises(ValueError, match="freeze_layers=2 exceeds"):
        fit_network(cfg, cohort, tc, split)


@pytest.mark.parametrize("name", SAME_FOREACH)
def test_multi_tensor_optimizer_steps_give_the_per_tensor_loop_weights(name):
    """build_optimizer's foreach default (one kernel over all parameters) trains the same weights,
    bit for bit, as the per-tensor loop (foreach: false), ensembles and weight decay included."""
    settings = {"name": name, "lr": 0.01, "weight_decay": 0.001}
    x, y = torch.randn(16, 50), torch.randint(0, 2, (16,))
    weights = []
    for foreach in (True, False):
        torch.manual_seed(0)
        options = {**settings, "foreach": foreach}
        module = ClassifierModule(50, 2, [8, 4], dropout=0.2, ensemble=3, optimizer=options)
        start = torch.cat([p.detach().flatten().clone() for p in module.parameters()])
        optimizer = module.configure_optimizers()
        assert optimizer.defaults["foreach"] is foreach
        for _ in range(5):
            optimizer.zero_grad()
            module.member_loss(module.member_logits(x), y).backward()
            optimizer.step()
        weights.append(torch.cat([p.detach().flatten() for p in module.parameters()]))
        assert not torch.equal(weights[-1], start)  # the steps moved the weights
    torch.testing.assert_close(weights[0], weights[1], rtol=0, atol=0)
    default = ClassifierModule(50, 2, [8], optimizer={"name": name, "lr": 0.01})
    assert default.configure_optimizers().defaults["foreach"] is True
    nadam = ClassifierModule(50, 2, [8], optimizer={"name": "nadam", "lr": 0.01})
    assert nadam.configure_optimizers().defaults["foreach"] is None  # torch's default kept
