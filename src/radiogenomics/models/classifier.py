"""Trait classifier: encoder blocks (optionally transferred and frozen) plus a sigmoid/softmax head."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from radiogenomics.evaluation.metrics import auroc
from radiogenomics.models.autoencoder import check_finite_loss
from radiogenomics.models.blocks import build_optimizer
from radiogenomics.models.inputs import build_input
from radiogenomics.models.regularization import training_loss

GENE_FILTERS = ("none", "variance", "anova")  # model.gene_filter.method
PENALTIES = ("l1", "group_lasso")  # model.penalty.kind


def anova_f(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """One-way ANOVA F statistic per column of ``X`` across the classes in ``y`` (NaN -> 0)."""
    from sklearn.feature_selection import f_classif

    with np.errstate(divide="ignore", invalid="ignore"):
        f, _ = f_classif(np.asarray(X, dtype=np.float64), np.asarray(y))
    return np.nan_to_num(f, nan=0.0, posinf=np.finfo(np.float64).max)


def gene_filter_mask(
    method: str, top_k: int, X_fit: np.ndarray, y_fit: np.ndarray | None = None
) -> np.ndarray:
    """Boolean mask of the ``top_k`` genes of the fit patients (by variance or ANOVA F).

    ``X_fit`` and ``y_fit`` must hold the fold's fit patients only (never inner-validation or
    held-out patients). Ties are broken by gene order; ``top_k`` >= the gene count keeps all.
    """
    X_fit = np.asarray(X_fit)
    n_genes = X_fit.shape[1]
    if method == "variance":
        scores = X_fit.var(axis=0, dtype=np.float64)
    elif method == "anova":
        if y_fit is None:
            raise ValueError("gene_filter method 'anova' needs the fit patients' labels")
        scores = anova_f(X_fit, y_fit)
    else:
        raise ValueError(f"unknown gene filter {method!r}; choose one of {list(GENE_FILTERS[1:])}")
    mask = np.zeros(n_genes, dtype=bool)
    mask[np.argsort(-scores, kind="stable")[: min(int(top_k), n_genes)]] = True
    return mask


def first_layer_penalty(weight: torch.Tensor, kind: str) -> torch.Tensor:
    """Sparsity penalty of a first-layer weight (out x genes): L1 or group lasso over genes."""
    if kind == "l1":
        return weight.abs().sum()
    if kind == "group_lasso":
        return weight.norm(dim=0).sum()  # one group per input gene: its column of weights
    raise ValueError(f"unknown penalty {kind!r}; choose one of {list(PENALTIES)}")


class EpochAUROC(Metric):
    """Epoch-level AUROC (binary, or macro one-vs-rest) of every validation patient.

    A torchmetrics state (probabilities and labels, gathered across devices) scored at epoch end
    with the same definition as the reported test AUROC (:func:`radiogenomics.evaluation.metrics
    .auroc`: classes absent from the labels are skipped). Undefined (one class only) -> 0.5.
    """

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("probs", default=[], dist_reduce_fx="cat")
        self.add_state("target", default=[], dist_reduce_fx="cat")

    def update(self, probs: torch.Tensor, target: torch.Tensor) -> None:
        """Add a batch of probabilities ((n,) or (n, K)) and class indices."""
        self.probs.append(probs.detach().float())
        self.target.append(target.detach())

    def compute(self) -> torch.Tensor:
        """AUROC over everything seen since the last reset."""
        probs = dim_zero_cat(self.probs).cpu().numpy()
        value = auroc(dim_zero_cat(self.target).cpu().numpy(), probs)
        return torch.tensor(float(np.nan_to_num(value, nan=0.5)), dtype=torch.float64)


class ClassifierModule(pl.LightningModule):
    """Input dropout, DenseBlocks, linear head: one logit (binary) or K logits (multiclass)."""

    def __init__(
        self,
        n_genes: int,
        n_classes: int,
        hidden_dims: Sequence[int],
        activation: str = "tanh",
        batchnorm: bool = True,
        dropout: float = 0.0,
        input_dropout: float = 0.0,
        freeze_layers: int = 0,
        optimizer: Mapping | None = None,
        class_weights: Sequence[float] | None = None,
        input_mask: bool = False,
        penalty: str = "l1",
        penalty_weight: float = 0.0,
        input_kind: str = "genes",
        input_units: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if input_kind == "pca" and (input_mask or penalty_weight > 0):
            raise ValueError("a PCA input takes neither a gene filter nor a first-layer penalty")
        if penalty not in PENALTIES:
            raise ValueError(f"unknown penalty {penalty!r}; choose one of {list(PENALTIES)}")
        if penalty_weight < 0:
            raise ValueError(f"penalty_weight={penalty_weight} must be >= 0")
        if penalty_weight > 0 and freeze_layers > 0:
            raise ValueError(
                "a first-layer penalty needs a trainable first layer (freeze_layers=0)"
            )
        self.penalty, self.penalty_weight = penalty, float(penalty_weight)
        hidden_dims = list(hidden_dims)
        if not 0 <= freeze_layers <= len(hidden_dims):
            raise ValueError(f"freeze_layers={freeze_layers} must be in 0..{len(hidden_dims)}")
        self.n_classes = n_classes
        self.input_dropout = nn.Dropout(input_dropout)
        # model.input (models/inputs.py): genes (default) | frozen PCA map | gene-set first layer
        self.input_layer, self.blocks = build_input(
            input_kind, n_genes, input_units, hidden_dims, activation, batchnorm, dropout
        )
        self.head = nn.Linear(hidden_dims[-1], 1 if n_classes == 2 else n_classes)
        weights = torch.ones(n_classes) if class_weights is None else torch.tensor(class_weights)
        self.register_buffer("class_weights", weights.float())
        self.input_mask = input_mask
        if input_mask:  # 0/1 per gene, set from the fit patients by set_input_mask (saved weights)
            self.register_buffer("gene_mask", torch.ones(n_genes))
        self.optimizer_cfg = dict(optimizer or {"name": "adam", "lr": 1e-3})
        self.freeze_layers = freeze_layers
        for block in self.blocks[:freeze_layers]:
            block.requires_grad_(False)
        self.val_auroc = EpochAUROC()
        self.train()  # puts frozen blocks in eval mode now: Lightning restores captured modes
        self.test_probs: np.ndarray | None = None

    def load_encoder(self, encoder: nn.ModuleList, n_layers: int) -> None:
        """Copy the first ``n_layers`` encoder blocks (weights and BatchNorm statistics)."""
        if n_layers > min(len(encoder), len(self.blocks)):
            raise ValueError(
                f"transfer_layers={n_layers} but the encoder has {len(encoder)} and the "
                f"classifier {len(self.blocks)} hidden layers"
            )
        for i in range(n_layers):
            src, dst = encoder[i].state_dict(), self.blocks[i].state_dict()
            for key in dst:
                if key not in src or src[key].shape != dst[key].shape:
                    shape = tuple(src[key].shape) if key in src else "missing"
                    raise ValueError(
                        f"cannot transfer layer {i + 1}: {key} is {shape} in the autoencoder but "
                        f"{tuple(dst[key].shape)} in the classifier; use the same hidden sizes "
                        "(model.hidden_dims vs pretrain.hidden_dims) for transferred layers"
                    )
            self.blocks[i].load_state_dict(src, strict=False)
        self.zero_masked_weights()

    def set_input_mask(self, mask: np.ndarray) -> None:
        """Keep only the genes where ``mask`` is true (the others enter as 0, the fit mean)."""
        if not self.input_mask:
            raise ValueError("built without input_mask=True: no gene mask to set")
        mask = torch.as_tensor(np.asarray(mask, dtype=np.float32))
        if mask.shape != self.gene_mask.shape:
            raise ValueError(
                f"mask has shape {tuple(mask.shape)}, expected {tuple(self.gene_mask.shape)}"
            )
        self.gene_mask.copy_(mask)
        self.zero_masked_weights()

    @torch.no_grad()
    def zero_masked_weights(self) -> None:
        """Zero the first layer's columns of masked genes: they stay 0 in training (no gradient
        reaches them), so the weights alone (masking kernels, weight shares) ignore those genes."""
        if self.input_mask:
            self.blocks[0].linear.weight.mul_(self.gene_mask)

    def train(self, mode: bool = True) -> ClassifierModule:
        """Switch modes, keeping frozen blocks (and their BatchNorm statistics) in eval mode."""
        super().train(mode)
        for block in self.blocks[: self.freeze_layers]:
            block.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits: shape (n,) for binary traits, (n, K) for multiclass."""
        if self.input_mask:
            x = x * self.gene_mask
        h = self.input_dropout(x)
        if self.input_layer is not None:  # PCA: genes -> components (frozen)
            h = self.input_layer(h)
        for block in self.blocks:
            h = block(h)
        logits = self.head(h)
        return logits.squeeze(-1) if self.n_classes == 2 else logits

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Positive-class probability (binary) or class probabilities (multiclass)."""
        return torch.sigmoid(logits) if self.n_classes == 2 else torch.softmax(logits, dim=-1)

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Class-balanced cross-entropy."""
        if self.n_classes == 2:
            per_patient = nn.functional.binary_cross_entropy_with_logits(
                logits, y.float(), reduction="none"
            )
            return (per_patient * self.class_weights[y]).mean()
        return nn.functional.cross_entropy(logits, y, weight=self.class_weights)

    def training_step(self, batch, batch_idx):
        x, y = batch
        reg = getattr(self, "regularization", None)  # mixup / label smoothing, set by finetune
        if reg is not None and reg.active:
            loss = training_loss(self, x, y, reg)
        else:
            loss = self.loss(self(x), y)
        if self.penalty_weight > 0:
            weight = self.blocks[0].linear.weight
            loss = loss + self.penalty_weight * first_layer_penalty(weight, self.penalty)
        check_finite_loss(self, loss, "fine-tuning", "model.optimizer.lr")
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        loss = self.loss(logits, y)
        check_finite_loss(self, loss, "fine-tuning", "model.optimizer.lr", "validation")
        self.val_auroc.update(self.probabilities(logits), y)
        self.log("val_loss", loss, on_step=False, on_epoch=True)

    def on_validation_epoch_end(self) -> None:
        # epoch-level AUROC over the whole inner-validation set (never per batch)
        self.log("val_auroc", float(self.val_auroc.compute()), prog_bar=True)
        self.val_auroc.reset()

    def test_step(self, batch, batch_idx):
        x, _ = batch
        probs = self.probabilities(self(x)).float().cpu().numpy()
        self.test_probs = (
            probs if self.test_probs is None else np.concatenate([self.test_probs, probs])
        )

    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        return build_optimizer(params, self.optimizer_cfg)
