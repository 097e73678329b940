"""What every model family hands back for one outer fold (network and comparators alike)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class FoldResult:
    """One fitted outer fold: held-out probabilities, the fit's facts for metrics.json, the model.

    ``val_auroc`` is the model's own selection score, from the training folds only: the network's
    inner-validation AUROC at its best epoch, a comparator's best mean inner-CV AUROC; for a
    continuous trait an R², written to metrics.json under ``selection_metric`` (``val_r2``).
    """

    test_probs: np.ndarray  # (n_test,) positive-class probability, or (n_test, K)
    n_train: int  # patients the model was fitted on
    n_val: int  # inner-validation patients (0 when tuned by inner CV over all training patients)
    val_auroc: float
    best_epoch: int | None = None  # network only
    epochs_run: int | None = None  # network only
    best_params: dict[str, Any] | None = None  # comparators: the chosen hyperparameters
    model: Any = None  # the fitted model (best-checkpoint network in eval mode, or estimator)
    selection_metric: str = "val_auroc"  # metrics.json name of val_auroc (continuous: val_r2)

    def metrics(self) -> dict[str, Any]:
        """The fields of metrics.json this result owns (no probabilities, no model)."""
        out = {
            "n_train": int(self.n_train),
            "n_val": int(self.n_val),
            self.selection_metric: self.val_auroc,
            "best_epoch": self.best_epoch,
            "epochs_run": self.epochs_run,
        }
        if self.best_params is not None:
            out["best_params"] = self.best_params
        return out
