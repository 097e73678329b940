"""Stochastic weight averaging (Izmailov et al. 2018) that epoch selection sees.

From ``start_epoch`` on, the weights after each training epoch enter a running mean
(:class:`~radiogenomics.models.regularization.WeightAverage`), and each inner validation from then
on scores the averaged network (swapped in for the validation, swapped out before the next
epoch). BestWeights therefore selects among exactly the networks that inner validation scored: a
plain network of an epoch before ``start_epoch`` or the average of epochs ``start_epoch..e``; the
kept weights are the scored weights, so ``val_auroc`` and ``best_epoch`` keep their meaning.
Averaging "from the start up to an epoch chosen on the raw weights" would keep a network that
was never validated (and need a snapshot per epoch). Without validation (task=refit,
``load_at_end=True``), the average of epochs ``start_epoch..last`` is loaded at fit end.
"""

from __future__ import annotations

import logging
import math

import pytorch_lightning as pl
import torch

from radiogenomics.config_schema import SwaOptions
from radiogenomics.models.regularization import WeightAverage

log = logging.getLogger(__name__)


def swa_start_epoch(start_fraction: float, max_epochs: int) -> int:
    """The first averaged epoch (0-based): ``floor(start_fraction * max_epochs)``."""
    return int(math.floor(start_fraction * max_epochs))


class WeightAveraging(pl.Callback):
    """SWA from ``start_epoch`` (0-based) on; ``lr`` (optional) replaces the learning rate then."""

    def __init__(self, start_epoch: int, lr: float | None = None, load_at_end: bool = False):
        self.start_epoch, self.lr, self.load_at_end = int(start_epoch), lr, load_at_end
        self.average = WeightAverage()
        self._last_update: int | None = None
        self._raw: dict[str, torch.Tensor] | None = None

    def _update(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epoch = trainer.current_epoch
        if epoch >= self.start_epoch and self._last_update != epoch:
            self.average.update(pl_module.state_dict())
            self._last_update = epoch

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.lr is not None and trainer.current_epoch >= self.start_epoch:
            for optimizer in trainer.optimizers:
                for group in optimizer.param_groups:
                    group["lr"] = self.lr

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        self._update(trainer, pl_module)  # validation runs before on_train_epoch_end
        if self.average.n and self._raw is None:
            state = pl_module.state_dict()
            self._raw = {k: v.detach().clone() for k, v in state.items()}
            pl_module.load_state_dict(self.average.state(state))

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._raw is not None:  # after BestWeights and early stopping saw the average
            pl_module.load_state_dict(self._raw)
            self._raw = None
        self._update(trainer, pl_module)  # epochs without validation (refit)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self.average.n:
            log.warning(
                "model.swa: training stopped at epoch %d, before the averaging start epoch %d "
                "(early stopping?): a plain network was kept; lower model.swa.start_fraction or "
                "raise callbacks.early_stopping.patience",
                trainer.current_epoch,
                self.start_epoch,
            )
        if self.load_at_end and self.average.n:
            pl_module.load_state_dict(self.average.state(pl_module.state_dict()))


def weight_averaging_callbacks(
    swa: SwaOptions | None, max_epochs: int, load_at_end: bool = False
) -> list:
    """``[WeightAveraging]`` when ``model.swa.enabled``, else ``[]`` (also for configs without it).

    The start epoch comes from ``model.swa.start_fraction`` of ``max_epochs`` (the fold jobs'
    ``trainer.max_epochs``: a refit averages from the same epoch as its folds).
    """
    if swa is None or not swa.enabled:
        return []
    start = swa_start_epoch(swa.start_fraction, int(max_epochs))
    return [WeightAveraging(start, swa.lr, load_at_end)]
