"""Deep autoencoder pretrained on expression-only patients; its encoder seeds the classifiers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytorch_lightning as pl
import torch
from torch import nn

from radiogenomics.errors import DataError
from radiogenomics.models.blocks import build_blocks, build_optimizer
from radiogenomics.models.regularization import CORRUPTIONS, corrupt

LOSSES = {"mae": nn.functional.l1_loss, "mse": nn.functional.mse_loss}


# pretrain.patients: whose expression the autoencoder is trained on (labels never used)
#   unlabelled: the expression-only patients (and data.pretrain_expression_file), one cache entry
#   fit: the fold's fit patients only; fit+unlabelled: both (in-fold: one entry per fold)
PRETRAIN_PATIENTS = ("unlabelled", "fit", "fit+unlabelled")


class NonFiniteLossError(DataError):
    """Training diverged (a NaN or infinite loss): a data or learning-rate problem, not a bug."""


def check_finite_loss(
    module: pl.LightningModule, loss: torch.Tensor, what: str, lr_key: str, stage: str = "training"
) -> None:
    """Stop with a clear :class:`NonFiniteLossError` when ``loss`` is NaN or infinite.

    One scalar check per step; ``what`` names the training (``autoencoder pretraining``),
    ``lr_key`` the config option of its learning rate and ``stage`` the loss (training or
    validation).
    """
    if bool(torch.isfinite(loss.detach())):
        return
    lr = dict(getattr(module, "optimizer_cfg", {})).get("lr")
    raise NonFiniteLossError(
        f"{what}: the {stage} loss is {float(loss.detach())} at epoch {module.current_epoch}; "
        "training diverged. Check the expression values (log2 scale expected: see the warnings "
        f"of the expression report in the log) or lower {lr_key} (now {lr})"
    )


class AutoencoderModule(pl.LightningModule):
    """Encoder ``n_genes -> hidden_dims`` and a mirrored decoder with a linear output layer."""

    def __init__(
        self,
        n_genes: int,
        hidden_dims: Sequence[int],
        activation: str = "tanh",
        batchnorm: bool = True,
        dropout: float = 0.0,
        loss: str = "mae",
        optimizer: Mapping | None = None,
        corruption: str = "none",
        corruption_rate: float = 0.15,
    ) -> None:
        super().__init__()
        if loss not in LOSSES:
            raise ValueError(f"unknown autoencoder loss {loss!r}; choose one of {sorted(LOSSES)}")
        if corruption not in CORRUPTIONS or not 0 <= corruption_rate < 1:
            raise ValueError(
                f"corruption={corruption!r}, rate={corruption_rate}: choose one of "
                f"{list(CORRUPTIONS)} and a rate in [0, 1)"
            )
        # a plain autoencoder's hyperparameters stay as before the option (cache entries agree)
        self.save_hyperparameters(
            ignore=["corruption", "corruption_rate"] if corruption == "none" else None
        )
        self.corruption, self.corruption_rate = corruption, float(corruption_rate)
        hidden_dims = list(hidden_dims)
        self.encoder = build_blocks(n_genes, hidden_dims, activation, batchnorm, dropout)
        decoder_dims = hidden_dims[-2::-1]
        self.decoder = (
            build_blocks(hidden_dims[-1], decoder_dims, activation, batchnorm, dropout)
            if decoder_dims
            else nn.ModuleList()
        )
        self.output = nn.Linear((decoder_dims or hidden_dims)[-1], n_genes)
        self.loss_fn = LOSSES[loss]
        self.optimizer_cfg = dict(optimizer or {"name": "adam", "lr": 1e-3})

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden representation of the last encoder block."""
        for block in self.encoder:
            x = block(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encode(x)
        for block in self.decoder:
            h = block(h)
        return self.output(h)

    def training_step(self, batch, batch_idx):
        (x,) = batch
        # denoising: corrupt the input, reconstruct every gene of the clean profile
        loss = self.loss_fn(self(corrupt(x, self.corruption, self.corruption_rate)), x)
        check_finite_loss(self, loss, "autoencoder pretraining", "pretrain.optimizer.lr")
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        (x,) = batch
        loss = self.loss_fn(self(x), x)
        check_finite_loss(
            self, loss, "autoencoder pretraining", "pretrain.optimizer.lr", "validation"
        )
        self.log("val_loss", loss, on_step=False, on_epoch=True)

    def non_finite_parameters(self) -> list[str]:
        """Names of parameters and buffers holding a NaN or infinite value (none when healthy)."""
        return [
            name
            for name, tensor in self.state_dict().items()
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())
        ]

    def configure_optimizers(self):
        return build_optimizer(self.parameters(), self.optimizer_cfg)
