"""Checkpoint selection in memory: keep the best epoch's weights, write them to disk once."""

from __future__ import annotations

import math
from pathlib import Path

import pytorch_lightning as pl
import torch

from radiogenomics.utils import atomic_write


class BestWeights(pl.Callback):
    """Track ``monitor`` after each validation; at fit end load the best weights and save them.

    ``save=False`` keeps the weights in memory only (saves disk on big sweeps).

    Equivalent to Lightning's ModelCheckpoint(save_top_k=1, save_weights_only=True) for
    selection (strict improvement, the first best epoch wins) but copies weights in memory instead
    of writing a file at every improvement. The file is a Lightning-style checkpoint
    (``state_dict``, ``epoch``, ``hyper_parameters``).
    """

    def __init__(
        self,
        monitor: str = "val_auroc",
        mode: str = "max",
        dirpath: str = ".",
        filename: str = "best",
        save: bool = True,
    ) -> None:
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.monitor, self.mode = monitor, mode
        self.path = Path(dirpath) / f"{filename}.ckpt"
        self.save = save
        self.best_score: float | None = None
        self.best_epoch: int | None = None
        self._state: dict[str, torch.Tensor] | None = None

    @property
    def best_model_score(self) -> float | None:
        """Best monitored value so far (None before the first validation)."""
        return self.best_score

    def _better(self, score: float) -> bool:
        if math.isnan(score):
            return False
        if self.best_score is None:
            return True
        return score > self.best_score if self.mode == "max" else score < self.best_score

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        score = float(trainer.callback_metrics[self.monitor])
        if self._better(score):
            self.best_score, self.best_epoch = score, trainer.current_epoch
            self._state = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._state is None:
            raise RuntimeError(f"no validation epoch reported {self.monitor!r}: nothing to select")
        pl_module.load_state_dict(self._state)
        if not self.save:
            return
        payload = {
            "state_dict": self._state,
            "epoch": self.best_epoch,
            "monitor": self.monitor,
            "best_score": self.best_score,
            "hyper_parameters": dict(pl_module.hparams),
            "pytorch-lightning_version": pl.__version__,
        }
        atomic_write(self.path, lambda p: torch.save(payload, p))
