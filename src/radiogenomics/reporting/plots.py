"""Figures written next to the tables (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from radiogenomics.reporting.metrics import as_prob_matrix  # noqa: E402
from radiogenomics.utils import atomic_write  # noqa: E402


def save_figure(fig: plt.Figure, path: Path) -> Path:
    """Save a figure as PNG atomically and close it."""
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=120, bbox_inches="tight"))
    plt.close(fig)
    return path


def roc_plot(path: Path, y: np.ndarray, probs: np.ndarray, classes: list[str], title: str) -> Path:
    """ROC curve of pooled out-of-fold predictions (one curve per class for multiclass)."""
    P = as_prob_matrix(probs)
    fig, ax = plt.subplots(figsize=(5, 5))
    targets = [1] if P.shape[1] == 2 else range(P.shape[1])
    for k in targets:
        if (y == k).all() or (y != k).all():
            continue
        fpr, tpr, _ = roc_curve((y == k).astype(int), P[:, k])
        ax.plot(fpr, tpr, label=classes[k] if P.shape[1] > 2 else None)
    ax.plot([0, 1], [0, 1], "--", color="grey", lw=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title)
    ax.title.set_fontsize(8)
    if P.shape[1] > 2:
        ax.legend(fontsize=8)
    return save_figure(fig, path)
