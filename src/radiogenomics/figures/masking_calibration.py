"""Figure of the masking calibration check: each permuted twin's smallest q per test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from radiogenomics.analysis.masking_calibration import TESTS
from radiogenomics.evaluation.multitest import FDR
from radiogenomics.figures.plots import save_figure


def calibration_figure(
    twins: pd.DataFrame, real: pd.DataFrame | None, path: Path, alpha: float = FDR
) -> Path:
    """Each twin's smallest q by test (dots), the real sweep's (stars) and the alpha line."""
    import matplotlib.pyplot as plt

    tests = [t for t in TESTS if f"min_{t}" in twins]
    fig, ax = plt.subplots(figsize=(1.4 * len(tests) + 2, 4))
    rng = np.random.default_rng(0)
    for i, test in enumerate(tests):
        values = np.clip(twins[f"min_{test}"].to_numpy(dtype=float), 1e-12, 1)
        jitter = rng.uniform(-0.15, 0.15, len(values))
        ax.scatter(
            i + jitter, values, s=14, color="tab:grey", label="permuted twin" if not i else None
        )
        if real is not None and not real.empty:
            ax.scatter(
                [i] * len(real),
                np.clip(real[f"min_{test}"].to_numpy(dtype=float), 1e-12, 1),
                marker="*",
                s=120,
                color="tab:red",
                label="real labels" if not i else None,
            )
    ax.axhline(alpha, color="black", lw=1, ls="--", label=f"q = {alpha:g}")
    ax.set_yscale("log")
    ax.set_xticks(range(len(tests)))
    ax.set_xticklabels(tests, rotation=20)
    ax.set_ylabel("smallest q over the collection's sets (floor 1e-12)")
    n_any = {t: int((twins[f"n_called_{t}"] > 0).sum()) for t in tests}
    ax.set_title(
        "Masking calls on permuted twins: "
        + ", ".join(f"{t} {n_any[t]}/{len(twins)}" for t in tests[:3]),
        fontsize=8,
    )
    ax.legend(fontsize=7, loc="center right")
    return save_figure(fig, path)
