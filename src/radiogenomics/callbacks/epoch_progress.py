"""A plain progress line per job every few epochs (readable in log files, unlike progress bars)."""

from __future__ import annotations

import logging
import time

import pytorch_lightning as pl

log = logging.getLogger("radiogenomics.progress")


class ProgressLog(pl.Callback):
    """Log ``label epoch e/E train_loss val_loss val_auroc best`` every ``every_n_epochs`` epochs
    (``val_r2`` for a continuous trait)."""

    def __init__(self, label: str = "", every_n_epochs: int = 10) -> None:
        self.label = label
        self.every = max(1, every_n_epochs)
        self.start = time.perf_counter()

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.start = time.perf_counter()

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epoch = trainer.current_epoch
        if trainer.sanity_checking or (epoch + 1) % self.every:
            return
        m = {k: float(v) for k, v in trainer.callback_metrics.items()}
        scores = [getattr(c, "best_model_score", None) for c in trainer.callbacks]
        best = next((s for s in scores if s is not None), None)
        parts = [f"{self.label} epoch {epoch + 1}/{trainer.max_epochs}"]
        metric = getattr(pl_module, "selection_metric", "val_auroc")  # continuous: val_r2
        parts += [f"{k} {m[k]:.3f}" for k in ("train_loss", "val_loss", metric) if k in m]
        if best is not None:
            parts.append(f"best {metric} {float(best):.3f}")
        parts.append(f"{time.perf_counter() - self.start:.0f}s")
        log.info(" | ".join(parts))
