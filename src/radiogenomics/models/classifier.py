"""Trait classifier: encoder blocks (optionally transferred and frozen) plus a sigmoid/softmax head
(or, for ordered levels, the ordinal head of :mod:`radiogenomics.models.ordinal`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from radiogenomics.evaluation.metrics import auroc
from radiogenomics.evaluation.ordinal import mean_cumulative_auroc
from radiogenomics.models.autoencoder import check_finite_loss
from radiogenomics.models.blocks import build_optimizer
from radiogenomics.models.ensemble import (
    ENSEMBLE_STYLES,
    MEMBER_SPLITS,
    EnsembleLinear,
    build_ensemble_blocks,
    mean_probability_logits,
)
from radiogenomics.models.inputs import build_input
from radiogenomics.models.ordinal import OrdinalHead, coral_loss
from radiogenomics.models.regression_head import (
    SELECTION_METRIC,
    EpochR2,
    member_regression_loss,
    regression_loss,
    regression_training_loss,
    selection_score,
)
from radiogenomics.models.regularization import training_loss

GENE_FILTERS = ("none", "variance", "anova")  # model.gene_filter.method
PENALTIES = ("l1", "group_lasso")  # model.penalty.kind
HEADS = ("categorical", "ordinal")  # the trait's kind: softmax/sigmoid or ordinal head


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
    ``ordinal=True``: the mean cumulative AUROC of level probabilities (the ordinal headline).
    """

    full_state_update = False

    def __init__(self, ordinal: bool = False) -> None:
        super().__init__()
        self.score = mean_cumulative_auroc if ordinal else auroc
        self.add_state("probs", default=[], dist_reduce_fx="cat")
        self.add_state("target", default=[], dist_reduce_fx="cat")

    def update(self, probs: torch.Tensor, target: torch.Tensor) -> None:
        """Add a batch of probabilities ((n,) or (n, K)) and class indices."""
        self.probs.append(probs.detach().float())
        self.target.append(target.detach())

    def compute(self) -> torch.Tensor:
        """AUROC over everything seen since the last reset."""
        probs = dim_zero_cat(self.probs).cpu().numpy()
        value = self.score(dim_zero_cat(self.target).cpu().numpy(), probs)
        return torch.tensor(float(np.nan_to_num(value, nan=0.5)), dtype=torch.float64)


class ClassifierModule(pl.LightningModule):
    """Input dropout, DenseBlocks, linear head: one logit (binary) or K logits (multiclass).

    ``ensemble=k > 1``: k members in one model (:mod:`radiogenomics.models.ensemble`), stacked
    along a leading member dimension; ``member_logits`` gives (k, n[, K]), ``forward`` the logits
    of the members' mean probability (so ``probabilities(forward(x))`` is the ensemble's output
    everywhere: selection, test, bundles, masking, saliency); training minimises the mean of the
    members' losses. ``member_split="kfold"``: batches carry each patient's inner fold and member
    j trains on the other folds only and is scored on its own (see :mod:`..callbacks.best_weights`).
    ``ensemble=1`` is the single network, unchanged.

    ``n_classes=0``: a continuous trait (:mod:`radiogenomics.models.regression_head`): one
    output, the standardised prediction; ``probabilities`` returns it in the target's units
    (``target_mean``/``target_sd`` buffers, set from the fit patients by ``set_target_scale``);
    an ensemble's output is the members' mean prediction; selection on ``val_r2``.
    """

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
        ensemble: int = 1,
        ensemble_style: str = "packed",
        member_split: str = "shared",
        head: str = "categorical",
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
        if int(ensemble) < 1:
            raise ValueError(f"ensemble={ensemble} must be >= 1")
        if ensemble_style not in ENSEMBLE_STYLES:
            raise ValueError(f"unknown ensemble_style {ensemble_style!r}; choose {ENSEMBLE_STYLES}")
        if member_split not in MEMBER_SPLITS:
            raise ValueError(f"unknown member_split {member_split!r}; choose {MEMBER_SPLITS}")
        if member_split == "kfold" and (ensemble < 2 or ensemble_style != "packed"):
            raise ValueError("member_split=kfold needs ensemble >= 2 and ensemble_style=packed")
        self.ensemble, self.ensemble_style = int(ensemble), ensemble_style
        self.member_split = member_split
        if head not in HEADS:
            raise ValueError(f"unknown head {head!r}; choose one of {list(HEADS)}")
        self.ordinal = head == "ordinal" and n_classes > 2  # two levels: the binary network
        hidden_dims = list(hidden_dims)
        if not 0 <= freeze_layers <= len(hidden_dims):
            raise ValueError(f"freeze_layers={freeze_layers} must be in 0..{len(hidden_dims)}")
        self.n_classes = n_classes
        self.continuous = n_classes == 0
        self.input_dropout = nn.Dropout(input_dropout)
        n_out = 1 if n_classes in (0, 2) else n_classes
        if self.ensemble == 1:
            # model.input (models/inputs.py): genes (default) | frozen PCA map | gene-set layer
            self.input_layer, self.blocks = build_input(
                input_kind, n_genes, input_units, hidden_dims, activation, batchnorm, dropout
            )
            self.head = (
                OrdinalHead(hidden_dims[-1], n_classes)
                if self.ordinal
                else nn.Linear(hidden_dims[-1], n_out)
            )
        else:
            if input_kind != "genes":
                raise ValueError(f"a batched ensemble takes the genes input, not {input_kind!r}")
            self.input_layer = None
            self.blocks = build_ensemble_blocks(
                self.ensemble, n_genes, hidden_dims, activation, batchnorm, dropout, ensemble_style
            )
            # one head per member (TabM too): packed for both styles, it is tiny
            self.head = (
                OrdinalHead(hidden_dims[-1], n_classes, members=self.ensemble)
                if self.ordinal
                else EnsembleLinear(self.ensemble, hidden_dims[-1], n_out, "packed")
            )
        weights = torch.ones(n_classes) if class_weights is None else torch.tensor(class_weights)
        self.register_buffer("class_weights", weights.float())
        if self.continuous:  # the fit patients' target mean and sd (set_target_scale)
            self.register_buffer("target_mean", torch.zeros(()))
            self.register_buffer("target_sd", torch.ones(()))
        self.input_mask = input_mask
        if input_mask:  # 0/1 per gene, set from the fit patients by set_input_mask (saved weights)
            self.register_buffer("gene_mask", torch.ones(n_genes))
        self.optimizer_cfg = dict(optimizer or {"name": "adam", "lr": 1e-3})
        self.freeze_layers = freeze_layers
        for block in self.blocks[:freeze_layers]:
            block.requires_grad_(False)
        # the selection score: R² (continuous), mean cumulative AUROC (ordinal) or AUROC
        self.val_auroc = EpochR2() if self.continuous else EpochAUROC(ordinal=self.ordinal)
        self.selection_metric = SELECTION_METRIC if self.continuous else "val_auroc"
        self._kfold_val: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self.member_val_auroc: np.ndarray | None = None  # kfold: each member on its inner fold
        self.oof_probs: np.ndarray | None = None  # kfold: this epoch's out-of-fold probabilities
        self.train()  # puts frozen blocks in eval mode now: Lightning restores captured modes
        self.test_probs: np.ndarray | None = None

    def set_target_scale(self, mean: float, sd: float) -> None:
        """A continuous trait's target standardisation (the fit patients' mean and sd)."""
        if not self.continuous:
            raise ValueError("set_target_scale is for a continuous trait (n_classes=0)")
        if not (np.isfinite(mean) and np.isfinite(sd) and sd > 0):
            raise ValueError(f"target mean {mean} and sd {sd} must be finite, sd > 0")
        self.target_mean.fill_(float(mean))
        self.target_sd.fill_(float(sd))

    def selection_score(self, y: np.ndarray, output: np.ndarray) -> float:
        """Inner-validation score of ``probabilities`` outputs: AUROC, mean cut AUROC or R²."""
        if self.continuous:
            return selection_score(y, output)
        return float(np.nan_to_num(self.val_auroc.score(y, output), nan=0.5))

    def load_encoder(self, encoder: nn.ModuleList, n_layers: int) -> None:
        """Copy the first ``n_layers`` encoder blocks (weights and BatchNorm statistics)."""
        if n_layers > min(len(encoder), len(self.blocks)):
            raise ValueError(
                f"transfer_layers={n_layers} but the encoder has {len(encoder)} and the "
                f"classifier {len(self.blocks)} hidden layers"
            )
        for i in range(n_layers):
            if self.ensemble > 1:
                self._check_transfer(i, encoder[i])
                self.blocks[i].load_block(encoder[i])
                continue
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

    def _check_transfer(self, i: int, block: nn.Module) -> None:
        """An encoder block must match ensemble block i's sizes (copied into every member)."""
        src, dst = block.linear.weight, self.blocks[i].linear
        if tuple(src.shape) != (dst.out_features, dst.in_features):
            raise ValueError(
                f"cannot transfer layer {i + 1}: linear.weight is {tuple(src.shape)} in the "
                f"autoencoder but {(dst.out_features, dst.in_features)} in the classifier; use "
                "the same hidden sizes (model.hidden_dims vs pretrain.hidden_dims) for "
                "transferred layers"
            )

    def member_state_keys(self) -> list[str]:
        """state_dict keys of per-member tensors (leading member dimension): packed ensembles."""
        from radiogenomics.models.ensemble import EnsembleBatchNorm

        keys = []
        for name, module in self.named_modules():
            if isinstance(module, EnsembleLinear) and module.style == "packed":
                keys += [f"{name}.weight", f"{name}.bias"]
            elif isinstance(module, OrdinalHead) and module.members > 1:
                keys += [f"{name}.{t}" for t in ("weight", "first_threshold", "gaps")]
            elif isinstance(module, EnsembleBatchNorm):
                keys += [f"{name}.{t}" for t in ("weight", "bias", "running_mean", "running_var")]
        return keys

    def first_layer_weights(self) -> torch.Tensor:
        """The first affine map on the genes per member, (members, hidden, genes) (k=1: one)."""
        if self.ensemble == 1:  # as applied on the genes (through a PCA input or sparse mask)
            from radiogenomics.models.inputs import gene_weights

            return gene_weights(self)[None]
        return self.blocks[0].linear.member_weight()

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
        """Logits: shape (n,) for binary traits, (n, K) for multiclass (ordinal: log level
        probabilities, (n, K)).

        An ensemble's are the logits of its members' mean probability."""
        if self.ensemble > 1:
            if self.continuous:  # the members' mean (standardised) prediction
                return self.member_logits(x).mean(dim=0)
            return mean_probability_logits(self.member_logits(x), self.n_classes == 2)
        if self.input_mask:
            x = x * self.gene_mask
        h = self.input_dropout(x)
        if self.input_layer is not None:  # PCA: genes -> components (frozen)
            h = self.input_layer(h)
        for block in self.blocks:
            h = block(h)
        logits = self.head(h)
        return logits.squeeze(-1) if self.n_classes in (0, 2) else logits

    def member_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Each member's logits, (k, n) binary or (k, n, K): one batched pass (ensemble only)."""
        if self.input_mask:
            x = x * self.gene_mask
        # (k, n, genes) view; dropout draws each member's own input mask in training
        h = self.input_dropout(x.unsqueeze(0).expand(self.ensemble, -1, -1))
        for block in self.blocks:
            h = block(h)
        logits = self.head(h)
        return logits.squeeze(-1) if self.n_classes in (0, 2) else logits

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Positive-class probability (binary), class probabilities (multiclass), or the
        prediction in the target's units (continuous)."""
        if self.continuous:
            return logits * self.target_sd + self.target_mean
        return torch.sigmoid(logits) if self.n_classes == 2 else torch.softmax(logits, dim=-1)

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Class-balanced cross-entropy; MSE on the standardised target (continuous); the
        class-balanced CORAL loss (ordinal)."""
        if self.continuous:
            return regression_loss(self, logits, y)
        if self.ordinal:
            return coral_loss(logits, y, self.class_weights[y])
        if self.n_classes == 2:
            per_patient = nn.functional.binary_cross_entropy_with_logits(
                logits, y.float(), reduction="none"
            )
            return (per_patient * self.class_weights[y]).mean()
        return nn.functional.cross_entropy(logits, y, weight=self.class_weights)

    def member_loss(
        self, logits: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Mean over members of each member's class-balanced cross-entropy; ``mask`` (k, n):
        the patients each member trains on (kfold), the others leave its loss untouched."""
        if self.continuous:
            return member_regression_loss(self, logits, y, mask)
        w = self.class_weights[y]
        if self.ordinal:
            return coral_loss(logits, y, w, mask)
        if self.n_classes == 2:
            per = nn.functional.binary_cross_entropy_with_logits(
                logits, y.float().expand_as(logits), reduction="none"
            )
            per, norm = per * w, torch.ones_like(per)  # binary: mean of weighted losses
        else:
            per = nn.functional.cross_entropy(
                logits.transpose(1, 2), y.expand(logits.shape[0], -1), reduction="none"
            )
            per, norm = per * w, w.expand_as(per)  # as cross_entropy(weight=): weighted mean
        if mask is not None:
            per, norm = per * mask, norm * mask
        return (per.sum(dim=1) / norm.sum(dim=1).clamp(min=1e-12)).mean()

    def training_step(self, batch, batch_idx):
        if self.ensemble > 1:  # mixup / smoothing / SWA are refused for ensembles (validation)
            x, y = batch[0], batch[1]
            mask = None
            if len(batch) > 2:  # kfold: member j trains on patients outside inner fold j
                members = torch.arange(self.ensemble, device=y.device)[:, None]
                mask = (batch[2][None, :] != members).float()
            loss = self.member_loss(self.member_logits(x), y, mask)
        else:
            x, y = batch
            reg = getattr(self, "regularization", None)  # mixup / label smoothing, by finetune
            if reg is not None and reg.active:
                train_loss = regression_training_loss if self.continuous else training_loss
                loss = train_loss(self, x, y, reg)
            else:
                loss = self.loss(self(x), y)
        if self.penalty_weight > 0:
            if self.ensemble > 1:  # mean over members, as the loss: each member's objective
                weights = self.first_layer_weights()
                penalty = sum(first_layer_penalty(w, self.penalty) for w in weights)
                loss = loss + self.penalty_weight * penalty / self.ensemble
            else:
                weight = self.blocks[0].linear.weight
                loss = loss + self.penalty_weight * first_layer_penalty(weight, self.penalty)
        check_finite_loss(self, loss, "fine-tuning", "model.optimizer.lr")
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        if len(batch) > 2:  # kfold: each member scored on its own inner fold only
            x, y, inner = batch
            member_logits = self.member_logits(x)
            mask = inner[None, :] == torch.arange(self.ensemble, device=y.device)[:, None]
            loss = self.member_loss(member_logits, y, mask.float())
            check_finite_loss(self, loss, "fine-tuning", "model.optimizer.lr", "validation")
            probs = self.probabilities(member_logits)
            self._kfold_val.append((probs.detach().float().cpu(), y.cpu(), inner.cpu()))
            self.log("val_loss", loss, on_step=False, on_epoch=True)
            return
        x, y = batch
        logits = self(x)
        loss = self.loss(logits, y)
        check_finite_loss(self, loss, "fine-tuning", "model.optimizer.lr", "validation")
        self.val_auroc.update(self.probabilities(logits), y)
        self.log("val_loss", loss, on_step=False, on_epoch=True)

    def on_validation_epoch_end(self) -> None:
        if self._kfold_val:
            self._kfold_epoch_end()
            return
        # epoch-level AUROC over the whole inner-validation set (never per batch)
        self.log(self.selection_metric, float(self.val_auroc.compute()), prog_bar=True)
        self.val_auroc.reset()

    def _kfold_epoch_end(self) -> None:
        """Per-member AUROC on its inner fold, and the pooled out-of-fold AUROC of this epoch."""
        probs = torch.cat([p for p, _, _ in self._kfold_val], dim=1).numpy()  # (k, n[, K])
        y = torch.cat([t for _, t, _ in self._kfold_val]).numpy()
        inner = torch.cat([i for _, _, i in self._kfold_val]).numpy()
        self._kfold_val = []
        scores = []
        for j in range(self.ensemble):
            own = inner == j
            scores.append(self.selection_score(y[own], probs[j][own]))
        self.member_val_auroc = np.array(scores)
        self.oof_probs = probs[inner, np.arange(len(y))]
        self.oof_target, self.oof_inner = y, inner
        pooled = self.selection_score(y, self.oof_probs)
        self.log(self.selection_metric, pooled, prog_bar=True)

    def test_step(self, batch, batch_idx):
        x = batch[0]
        probs = self.probabilities(self(x)).float().cpu().numpy()
        self.test_probs = (
            probs if self.test_probs is None else np.concatenate([self.test_probs, probs])
        )

    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        return build_optimizer(params, self.optimizer_cfg)
