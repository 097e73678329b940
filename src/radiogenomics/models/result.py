"""What every model family hands back for one outer fold (network and comparators alike)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class FoldResult:
    """One fitted outer fold: held-out probabilities, the fit's facts for metrics.json, the model.

    ``val_auroc`` is the model's own selection score, from the training folds only: the network's
    inner-validation AUROC at its best epoch, a comparator's best mean inner-CV score: AUROC for
    a categorical trait, the mean cumulative AUROC (mean over cuts k of the AUROC of
    ``P(y >= k)``) for an ordinal trait of K > 2 levels, R² for a continuous trait.
    """

    # (n_test,) positive-class probability, (n_test, K) class or ordinal level probabilities,
    # or (n_test,) predictions in the target's own units for a continuous trait
    test_probs: np.ndarray
    n_train: int  # patients the model was fitted on
    n_val: int  # inner-validation patients (0 when tuned by inner CV over all training patients)
    val_auroc: float
    best_epoch: int | None = None  # network only
    epochs_run: int | None = None  # network only
    best_params: dict[str, Any] | None = None  # comparators: the chosen hyperparameters
    model: Any = None  # the fitted model (best-checkpoint network in eval mode, or estimator)
    notes: list[str] = field(default_factory=list)  # settings the fold had to change, and why
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
        if self.notes:  # only when there are any: metrics.json is unchanged otherwise
            out["notes"] = list(self.notes)
        return out
