"""The regression head of a continuous trait (``trait.kind=continuous``), used by ClassifierModule.

One output, trained on the target standardised with the mean and sd of the fold's fit patients
only (``target_mean``/``target_sd`` buffers of the module, so the model bundle carries them).
The network's ``forward`` returns the standardised prediction; ``probabilities`` maps it back to
the target's units, so everything that reads ``module.probabilities(module(x))`` (test,
predict, masking) gets predictions in the original units.

Loss: mean squared error on the standardised target. The epoch is chosen by inner-validation R²
(``val_r2``), and R² is one minus the MSE over the target's variance, so the loss optimises what
selection scores; a Huber loss would trade that for robustness to outlying targets, which the
user can get by transforming the column (e.g. log volumes) before training.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from radiogenomics.evaluation.regression import r2

SELECTION_METRIC = "val_r2"  # what a continuous network logs and is selected on (max)


def target_scale(y_fit: np.ndarray) -> tuple[float, float]:
    """(mean, sd) of the fit patients' targets; a constant target gets sd 1."""
    y_fit = np.asarray(y_fit, dtype=np.float64)
    sd = float(y_fit.std())
    return float(y_fit.mean()), sd if sd > 0 else 1.0


def standardised(module: nn.Module, y: torch.Tensor) -> torch.Tensor:
    """Targets in the units the head is trained in: ``(y - mean) / sd`` of the fit patients."""
    return (y.float() - module.target_mean) / module.target_sd


def regression_loss(module: nn.Module, output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error of the standardised prediction (output of ``forward``)."""
    return nn.functional.mse_loss(output, standardised(module, y).to(output.dtype))


def member_regression_loss(
    module: nn.Module, output: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None
) -> torch.Tensor:
    """Mean over members of each member's MSE, (k, n) outputs; ``mask`` (k, n): who counts."""
    per = (output - standardised(module, y).to(output.dtype).expand_as(output)) ** 2
    norm = torch.ones_like(per)
    if mask is not None:
        per, norm = per * mask, norm * mask
    return (per.sum(dim=1) / norm.sum(dim=1).clamp(min=1e-12)).mean()


def regression_training_loss(
    module: nn.Module, x: torch.Tensor, y: torch.Tensor, reg
) -> torch.Tensor:
    """Training loss with mixup: inputs and standardised targets mixed by the same lambda."""
    from radiogenomics.models.regularization import mixup_batch

    if reg.label_smoothing > 0:
        raise ValueError(refuse_label_smoothing(reg.label_smoothing))
    target = standardised(module, y)[:, None]
    x, target, _, _ = mixup_batch(x, target, reg.mixup)
    return nn.functional.mse_loss(module(x), target[:, 0].to(x.dtype))


def refuse_label_smoothing(value: float) -> str:
    """The one-line refusal of label smoothing on a continuous target."""
    return (
        f"model.label_smoothing={value}: label smoothing needs classes, a continuous trait has "
        "none; set model.label_smoothing=0"
    )


def selection_score(y: np.ndarray, pred: np.ndarray) -> float:
    """Inner-validation R² of predictions in the target's units (undefined -> 0, the mean's)."""
    return float(np.nan_to_num(r2(y, pred), nan=0.0))


class EpochR2(Metric):
    """Epoch-level R² of every inner-validation patient (predictions in the target's units)."""

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("pred", default=[], dist_reduce_fx="cat")
        self.add_state("target", default=[], dist_reduce_fx="cat")

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """Add a batch of predictions and targets (both in the target's units)."""
        self.pred.append(pred.detach().double())
        self.target.append(target.detach().double())

    def compute(self) -> torch.Tensor:
        """R² over everything seen since the last reset."""
        pred = dim_zero_cat(self.pred).cpu().numpy()
        target = dim_zero_cat(self.target).cpu().numpy()
        return torch.tensor(selection_score(target, pred), dtype=torch.float64)


def fit_continuous_head(module: nn.Module, dm) -> None:
    """Set the head's target scale from the datamodule's fit patients; refuse label smoothing."""
    reg = getattr(module, "regularization", None)
    if reg is not None and reg.label_smoothing > 0:
        from radiogenomics.errors import DataError

        raise DataError(refuse_label_smoothing(reg.label_smoothing))
    module.set_target_scale(*target_scale(dm.y["fit"].numpy()))


def select_on(callbacks: list, metric: str) -> None:
    """Point epoch selection and early stopping that watch ``val_auroc`` at ``metric``.

    A continuous network logs ``val_r2``, not an AUROC; the configs' callbacks name
    ``val_auroc`` (the classifiers' score), so the continuous job re-points them here instead of
    logging an R² under an AUROC's name."""
    for callback in callbacks:
        if getattr(callback, "monitor", None) == "val_auroc" and metric != "val_auroc":
            callback.monitor = metric
