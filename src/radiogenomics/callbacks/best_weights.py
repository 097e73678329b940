"""Checkpoint selection in memory: keep the best epoch's weights, write them to disk once."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
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

    A cross-fitted ensemble (``member_split=kfold``) is selected per member: member j's slice of
    the stacked parameters is kept from the epoch that scored best on its own inner fold, the
    score is the AUROC of the pooled out-of-fold predictions at each member's best epoch, and
    training stops once no member improved (by more than ``min_delta``) for ``patience`` epochs
    (``fit_network`` passes the early-stopping settings here and drops EarlyStopping).
    """

    def __init__(
        self,
        monitor: str = "val_auroc",
        mode: str = "max",
        dirpath: str = ".",
        filename: str = "best",
        save: bool = True,
        patience: int | None = None,
        min_delta: float = 0.0,
    ) -> None:
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.monitor, self.mode = monitor, mode
        self.path = Path(dirpath) / f"{filename}.ckpt"
        self.save = save
        self.best_score: float | None = None
        self.best_epoch: int | None = None
        self._state: dict[str, torch.Tensor] | None = None
        self.patience, self.min_delta = patience, float(min_delta)
        self.member_best: np.ndarray | None = None  # kfold: per-member best inner-fold AUROC
        self.member_best_epoch: np.ndarray | None = None
        self.oof_probs: np.ndarray | None = None  # kfold: out-of-fold probs at the best epochs

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
        if getattr(pl_module, "member_split", "shared") == "kfold":
            self._members_end(trainer, pl_module)
            return
        score = float(trainer.callback_metrics[self.monitor])
        if self._better(score):
            self.best_score, self.best_epoch = score, trainer.current_epoch
            self._state = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}

    def _members_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        scores, k = pl_module.member_val_auroc, pl_module.ensemble
        state = pl_module.state_dict()
        if self._state is None:
            self._state = {key: v.detach().clone() for key, v in state.items()}
            self.member_best = np.full(k, -np.inf)
            self.member_best_epoch = np.zeros(k, dtype=int)
            self._reference, self._wait = np.full(k, -np.inf), np.zeros(k, dtype=int)
            self.oof_probs = np.array(pl_module.oof_probs, copy=True)
        keys = pl_module.member_state_keys()
        for j in range(k):
            if scores[j] > self.member_best[j]:  # strict: the first best epoch wins
                self.member_best[j], self.member_best_epoch[j] = scores[j], trainer.current_epoch
                for key in keys:
                    self._state[key][j] = state[key][j].detach()
                own = pl_module.oof_inner == j
                self.oof_probs[own] = pl_module.oof_probs[own]
            if scores[j] > self._reference[j] + self.min_delta:
                self._reference[j], self._wait[j] = scores[j], 0
            else:
                self._wait[j] += 1
        self.best_score = pl_module.selection_score(pl_module.oof_target, self.oof_probs)
        self.best_epoch = int(np.median(self.member_best_epoch))
        if self.patience is not None and (self._wait >= self.patience).all():
            trainer.should_stop = True

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
