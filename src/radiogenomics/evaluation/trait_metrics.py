"""A job's held-out metrics by the trait's kind: the one dispatcher over the kinds' metrics."""

from __future__ import annotations

import numpy as np

from radiogenomics.data.traits import TraitSpec
from radiogenomics.evaluation.metrics import score
from radiogenomics.evaluation.ordinal import ordinal_score
from radiogenomics.evaluation.regression import regression_score


def trait_score(y: np.ndarray, output: np.ndarray, spec: TraitSpec) -> dict[str, float]:
    """Held-out metrics of one trait's model output, by the trait's kind.

    Categorical: :func:`score` (AUROC, AP). Ordinal: cut AUROCs, their mean as ``auroc``, the
    AUROC at the binary cut, AP, Spearman, QWK, MAE (:mod:`radiogenomics.evaluation.ordinal`).
    Continuous: predictions in the target's units, R², Spearman, MAE, RMSE
    (:mod:`radiogenomics.evaluation.regression`). Each kind's metrics live in their own module
    and are dispatched here, so jobs, comparators and summaries score a trait the same way.
    """
    if spec.is_continuous:
        return regression_score(y, output)
    if spec.is_ordinal:
        return ordinal_score(y, output, spec.binary_cut)
    return score(y, output, spec.class_names)
