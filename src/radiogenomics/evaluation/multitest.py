"""Multiple-testing correction shared by masking, saliency associations and survival."""

from __future__ import annotations

import numpy as np
from scipy.stats import false_discovery_control

# The one default false discovery rate: a set enriched at per-patient GSEA FDR below it is a
# patient's radiogenomic trait, and a BH q-value below it is a discovery (an association, a
# survival pair, a masked set in the null report). A sweep's summary takes the value from its
# config (``thresholds.fdr``, configs/train.yaml); functions and scripts default to this one.
FDR = 0.05


def bh_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (scipy's ``false_discovery_control``); NaN stays NaN
    and is not counted."""
    p = np.asarray(p, dtype=float)
    q = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        q[ok] = false_discovery_control(p[ok], method="bh")
    return q
