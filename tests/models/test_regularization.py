"""The regularization cocktail (mixup, label smoothing, SWA, AdamW) and the denoising corruption:
the math of each piece, and a planted signal still learned with everything on."""

import numpy as np
import pytest
import pytorch_lightning as pl
import torch

from radiogenomics.callbacks.best_weights import BestWeights
from radiogenomics.callbacks.weight_averaging import WeightAveraging, swa_start_epoch
from radiogenomics.data.datamodules import TraitDataModule
from radiogenomics.data.splits import make_fold_split
from radiogenomics.errors import ConfigError
from radiogenomics.evaluation.metrics import auroc
from radiogenomics.models.autoencoder import AutoencoderModule
from radiogenomics.models.blocks import build_optimizer
from radiogenomics.models.classifier import ClassifierModule
from radiogenomics.models.regularization import (
    Regularization,
    WeightAverage,
    corrupt,
    mixup_batch,
    soft_target_loss,
    soft_targets,
)
from radiogenomics.tasks.validation import validate_config


@pytest.fixture(autouse=True)
def one_thread():
    """These small networks fit in seconds single-threaded (minutes on a busy shared CPU)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _data(n=120, n_genes=40, seed=0):
    rng = np.random.default_rng(seed)
    y = np.r_[np.zeros(n // 2, int), np.ones(n - n // 2, int)]
    rng.shuffle(y)
    X = rng.standard_normal((n, n_genes)).astype(np.float32)
    X[:, :5] += y[:, None] * 1.5  # five informative genes
    return X, y


def test_mixup_is_one_convex_combination_of_rows_and_labels_of_the_batch():
    torch.manual_seed(0)
    x = torch.randn(8, 5)
    t = soft_targets(torch.tensor([0, 1, 2, 0, 1, 2, 0, 1]), 3)
    for _ in range(5):
        mx, mt, lam, perm = mixup_batch(x, t, alpha=0.4)
        assert 0.0 <= lam <= 1.0 and sorted(perm.tolist()) == list(range(8))
        torch.testing.assert_close(mx, lam * x + (1 - lam) * x[perm])
        torch.testing.assert_close(mt, lam * t + (1 - lam) * t[perm])
        torch.testing.assert_close(mt.sum(1), torch.ones(8))  # still probability rows
    lams = [mixup_batch(x, t, alpha=0.4)[2] for _ in range(200)]
    assert 0.35 < np.mean(lams) < 0.65 and np.std(lams) > 0.2  # Beta(0.4, 0.4): U-shaped


def test_mixup_alpha_zero_is_the_identity_and_draws_nothing():
    x, t = torch.randn(6, 4), soft_targets(torch.tensor([0, 1, 0, 1, 1, 0]), 2)
    torch.manual_seed(3)
    before = torch.get_rng_state()
    mx, mt, lam, perm = mixup_batch(x, t, alpha=0.0)
    assert mx is x and mt is t and lam == 1.0 and perm.tolist() == list(range(6))
    assert torch.equal(before, torch.get_rng_state())
    assert not Regularization().active  # the default: training_step keeps the plain loss


@pytest.mark.parametrize("n_classes", [2, 3])
def test_hard_soft_targets_give_the_class_balanced_loss(n_classes):
    torch.manual_seed(0)
    y = torch.tensor([0, 1, 1, 0, 1, 1, 0, 1] if n_classes == 2 else [0, 1, 2, 2, 1, 2, 0, 2])
    module = ClassifierModule(4, n_classes, [3], class_weights=[0.7, 1.6, 1.1][:n_classes])
    logits = torch.randn(8) if n_classes == 2 else torch.randn(8, n_classes)
    torch.testing.assert_close(
        soft_target_loss(logits, soft_targets(y, n_classes), module.class_weights),
        module.loss(logits, y),
    )


def test_label_smoothing_changes_the_loss_as_the_formula_says():
    eps, w = 0.2, torch.tensor([0.5, 2.0])
    y, logits = torch.tensor([1, 0, 1]), torch.tensor([2.0, -1.0, 0.3])
    t = soft_targets(y, 2, eps)[:, 1]
    torch.testing.assert_close(t, y * (1 - eps) + eps / 2)
    p = torch.sigmoid(logits)
    expected = -(w[1] * t * p.log() + w[0] * (1 - t) * (1 - p).log()).mean()
    torch.testing.assert_close(soft_target_loss(logits, soft_targets(y, 2, eps), w), expected)
    # multiclass: onehot * (1 - eps) + eps / K, each class term weighted, / sum of weights
    y3, logits3, w3 = (
        torch.tensor([2, 0]),
        torch.tensor([[1.0, 0.0, -1.0], [0.5, 0.2, 0.1]]),
        (torch.tensor([1.0, 2.0, 3.0])),
    )
    t3 = torch.nn.functional.one_hot(y3, 3) * (1 - eps) + eps / 3
    logp = torch.log_softmax(logits3, -1)
    expected3 = -(t3 * w3 * logp).sum() / (t3 * w3).sum()
    got3 = soft_target_loss(logits3, soft_targets(y3, 3, eps), w3)
    torch.testing.assert_close(got3, expected3)
    assert not torch.isclose(got3, soft_target_loss(logits3, soft_targets(y3, 3), w3))


def test_weight_average_is_the_mean_of_the_snapshots():
    avg = WeightAverage()
    snaps = [{"w": torch.randn(3, 2), "n": torch.tensor(k)} for k in range(4)]
    for s in snaps:
        avg.update(s)
    state = avg.state(snaps[0])
    torch.testing.assert_close(state["w"], torch.stack([s["w"] for s in snaps]).mean(0))
    assert state["n"].item() == 3 and state["w"].dtype == torch.float32
    assert swa_start_epoch(0.5, 8) == 4 and swa_start_epoch(0.01, 8) == 0


class _Snapshots(pl.Callback):
    """The raw weights at the end of each training epoch (before SWA swaps in its average)."""

    def __init__(self):
        self.raw = {}

    def on_validation_start(self, trainer, pl_module):
        self.raw[trainer.current_epoch] = {
            k: v.detach().clone() for k, v in pl_module.state_dict().items()
        }


def _trainer(epochs, callbacks, **kw):
    return pl.Trainer(
        max_epochs=epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        num_sanity_val_steps=0,
        deterministic=True,
        callbacks=callbacks,
        **kw,
    )


def test_swa_selection_keeps_the_mean_of_the_snapshots_it_scored():
    X, y = _data(n=80)
    split = make_fold_split(y, 5, 0, 0, 0.25)
    pl.seed_everything(0, verbose=False)
    module = ClassifierModule(40, 2, [8, 4], dropout=0.2, optimizer={"lr": 0.01})
    snaps, best = _Snapshots(), BestWeights(save=False)
    swa = WeightAveraging(start_epoch=2)
    _trainer(6, [snaps, swa, best]).fit(module, TraitDataModule(X, y, split, batch_size=16))
    e = best.best_epoch
    kept = module.state_dict()
    assert e >= 2, "pick a setting where an averaged network wins"
    chosen = range(2, e + 1)
    for key, value in kept.items():
        if value.is_floating_point():
            mean = torch.stack([snaps.raw[k][key] for k in chosen]).mean(0)
            torch.testing.assert_close(value, mean, msg=key)
    assert swa.average.n == 4  # epochs 2..5


def test_refit_swa_loads_the_mean_of_epochs_from_the_start():
    X, y = _data(n=80)
    split = make_fold_split(y, 5, 0, 0, 0.25)
    pl.seed_everything(0, verbose=False)
    module = ClassifierModule(40, 2, [8, 4], optimizer={"lr": 0.01})
    raw = []

    class EpochEnd(pl.Callback):
        def on_train_epoch_end(self, trainer, pl_module):
            raw.append({k: v.detach().clone() for k, v in pl_module.state_dict().items()})

    swa = WeightAveraging(start_epoch=3, load_at_end=True)
    _trainer(5, [EpochEnd(), swa], limit_val_batches=0).fit(
        module, TraitDataModule(X, y, split, batch_size=16)
    )
    mean = torch.stack([r["blocks.0.linear.weight"] for r in raw[3:]]).mean(0)
    torch.testing.assert_close(module.state_dict()["blocks.0.linear.weight"], mean)


def test_adamw_decay_is_decoupled():
    for name in ("adamw", "adam"):
        w = torch.nn.Parameter(torch.full((3,), 2.0))
        opt = build_optimizer([w], {"name": name, "lr": 0.1, "weight_decay": 0.5})
        w.grad = torch.zeros(3)
        opt.step()
        if name == "adamw":  # w <- w - lr * wd * w, outside the adaptive step
            torch.testing.assert_close(w.detach(), torch.full((3,), 2.0 * (1 - 0.1 * 0.5)))
        else:  # Adam: the L2 gradient is normalised by the adaptive step (about lr)
            assert abs(float(w.detach()[0]) - (2.0 - 0.1)) < 1e-3


def test_corruption_kinds():
    torch.manual_seed(0)
    x = torch.randn(200, 50)
    assert corrupt(x, "none", 0.5) is x and corrupt(x, "mask", 0.0) is x
    masked = corrupt(x, "mask", 0.3)
    zeroed = (masked == 0).float().mean().item()
    assert 0.25 < zeroed < 0.35 and torch.equal(masked[masked != 0], x[masked != 0])
    noisy = corrupt(x, "gaussian", 0.2)
    assert 0.18 < (noisy - x).std().item() < 0.22
    plain = AutoencoderModule(10, [4, 2])
    assert "corruption" not in plain.hparams  # cached plain autoencoders stay as before
    assert AutoencoderModule(10, [4, 2], corruption="mask").hparams["corruption"] == "mask"


def test_planted_signal_is_learned_with_the_whole_cocktail():
    X, y = _data(n=160, seed=1)
    split = make_fold_split(y, 4, 0, 0, 0.2)
    scores = {}
    for name, reg in {"cocktail": Regularization(0.4, 0.1), "broken": None}.items():
        pl.seed_everything(0, verbose=False)
        dm = TraitDataModule(X, y, split, batch_size=16)
        module = ClassifierModule(
            40,
            2,
            [16, 8],
            dropout=0.2,
            input_dropout=0.2,
            optimizer={"name": "adamw", "lr": 0.005, "weight_decay": 0.01},
            class_weights=dm.class_weights().tolist(),
        )
        if reg is None:  # a broken mixup: labels mixed with another permutation than the rows
            dm.y["fit"] = dm.y["fit"][torch.randperm(len(dm.y["fit"]))]
        else:
            module.regularization = reg
        best = BestWeights(save=False)
        _trainer(15, [WeightAveraging(start_epoch=7), best]).fit(module, dm)
        module.eval()
        with torch.no_grad():
            probs = module.probabilities(module(dm.x["test"])).numpy()
        scores[name] = auroc(dm.y["test"].numpy(), probs)
    # labels decoupled from their rows learn (almost) nothing a planted signal would show
    assert scores["cocktail"] > 0.9 and scores["broken"] < scores["cocktail"] - 0.15, scores


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.mixup=-0.1"], "model.mixup=-0.1"),
        (["model.label_smoothing=1.0"], "model.label_smoothing=1.0"),
        (["model.label_smoothing=-0.1"], "model.label_smoothing"),
        (["model.swa.start_fraction=0"], "model.swa.start_fraction=0"),
        (["model.swa.start_fraction=1.0"], "model.swa.start_fraction=1.0"),
        (["model.swa.lr=0"], "model.swa.lr=0"),
        (["pretrain.corruption.rate=1.0"], "pretrain.corruption.rate=1.0"),
        (["pretrain.corruption.kind=drop"], "pretrain.corruption.kind=drop is not one of"),
        (["pretrain.patients=fits"], "did you mean 'fit'"),
        (
            ["pretrain.patients=fit", "model.transfer_layers=0", "model.freeze_layers=0"],
            "nothing to transfer",
        ),
        (["task=pretrain", "pretrain.patients=fit"], "in-fold autoencoders"),
    ],
)
def test_bad_cocktail_options_are_one_line_config_errors(make_cfg, overrides, message):
    with pytest.raises(ConfigError, match=message) as err:
        validate_config(make_cfg(*overrides))
    assert "\n" not in str(err.value)


def test_a_switch_of_another_type_is_refused_when_composing(make_cfg):
    """``model.swa.enabled`` is typed bool: OmegaConf reads yes/no as true/false and refuses
    anything else while composing; train.py prints the one line (radiogenomics.cli)."""
    from hydra.errors import ConfigCompositionException

    from radiogenomics.cli import entry_error_line

    assert make_cfg("model.swa.enabled=yes").model.swa.enabled is True
    with pytest.raises(ConfigCompositionException) as refused:
        make_cfg("model.swa.enabled=maybe")
    assert entry_error_line(refused.value) == (
        "config error: model.swa.enabled=maybe: expected true or false"
    )


def test_cocktail_options_pass_validation(make_cfg):
    validate_config(
        make_cfg(
            "model.mixup=0.2",
            "model.label_smoothing=0.1",
            "model.swa.enabled=true",
            "model.swa.lr=0.0005",
            "model.optimizer.name=adamw",
            "pretrain.patients=fit+unlabelled",
            "pretrain.corruption.kind=mask",
        )
    )
