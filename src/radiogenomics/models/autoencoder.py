"""Deep autoencoder pretrained on expression-only patients; its encoder seeds the classifiers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytorch_lightning as pl
import torch
from torch import nn

from radiogenomics.models.blocks import build_blocks, build_optimizer

LOSSES = {"mae": nn.functional.l1_loss, "mse": nn.functional.mse_loss}


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
    ) -> None:
        super().__init__()
        if loss not in LOSSES:
            raise ValueError(f"unknown autoencoder loss {loss!r}; choose one of {sorted(LOSSES)}")
        self.save_hyperparameters()
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
        loss = self.loss_fn(self(x), x)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        (x,) = batch
        self.log("val_loss", self.loss_fn(self(x), x), on_step=False, on_epoch=True)

    def configure_optimizers(self):
        return build_optimizer(self.parameters(), self.optimizer_cfg)
