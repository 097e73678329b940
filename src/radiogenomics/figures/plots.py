"""Figures written next to the tables (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from radiogenomics.evaluation.metrics import (  # noqa: E402
    as_prob_matrix,
    calibration_error,
    calibration_line,
    calibration_table,
)
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


def calibration_plot(
    path: Path, y: np.ndarray, probs: np.ndarray, classes: list[str], title: str, n_bins: int = 10
) -> Path:
    """Reliability diagram: observed rate against mean predicted probability per bin.

    One curve per class (one-vs-rest) for multiclass; marker area grows with the bin's patient
    count, and the lower panel shows how the predictions spread over [0, 1]. The legend gives
    each curve's calibration slope (below 1 over-confident, above 1 under-confident) and ECE.
    """
    P = as_prob_matrix(probs)
    y = np.asarray(y)
    fig, (ax, hist) = plt.subplots(
        2, 1, figsize=(5, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    ax.plot([0, 1], [0, 1], "--", color="grey", lw=1, label="perfect calibration")
    for k in [1] if P.shape[1] == 2 else range(P.shape[1]):
        table = calibration_table(y == k, P[:, k], n_bins)
        bins = [b for b in table if b["n"]]
        x, observed = [b["mean_predicted"] for b in bins], [b["observed_rate"] for b in bins]
        label = f"{classes[k]}: {_calibration_label(y == k, P[:, k], calibration_error(table))}"
        color = ax.plot(x, observed, "-", lw=1, label=label)[0].get_color()
        ax.scatter(x, observed, s=[12 + 4 * b["n"] for b in bins], color=color, alpha=0.7)
        hist.hist(P[:, k], bins=np.linspace(0, 1, n_bins + 1), histtype="step", color=color)
    ax.set(xlim=(0, 1), ylim=(-0.02, 1.02), ylabel="observed rate", title=title)
    ax.title.set_fontsize(8)
    ax.legend(fontsize=8, loc="upper left")
    hist.set(xlabel="predicted probability", ylabel="patients")
    return save_figure(fig, path)


def _calibration_label(target: np.ndarray, prob: np.ndarray, ece: float | None) -> str:
    """``slope 0.39 [0.31, 0.47], ECE 0.130`` (what can be computed of it)."""
    line = calibration_line(target, prob)
    parts = []
    if line["slope"] is not None:
        lo, hi = line["slope_ci"]
        parts.append(f"slope {line['slope']:.2f} [{lo:.2f}, {hi:.2f}]")
    if ece is not None:
        parts.append(f"ECE {ece:.3f}")
    return ", ".join(parts) or "no calibration line"


def auroc_by_model_plot(path: Path, table, title: str) -> Path:
    """Fig. 2a-like: AUROC per trait and model with 95% intervals.

    ``table`` is ``evaluation.comparison.model_table``: pooled out-of-fold AUROC with its CI
    where plain CV ran, else the bootstrap mean with its percentile interval.
    """
    cv = "pooled_auroc" in table and table["pooled_auroc"].notna().any()
    value, low, high = (
        ("pooled_auroc", "pooled_ci_low", "pooled_ci_high")
        if cv
        else ("boot_mean_auroc", "boot_ci_low", "boot_ci_high")
    )
    traits = sorted(table["trait"].unique())
    labels = sorted(table["label"].unique(), key=lambda s: (s.split("@")[0] != "nn", s))
    width = 0.8 / len(labels)
    fig, ax = plt.subplots(figsize=(max(5, 1.4 * len(traits) * max(1, len(labels) / 3)), 4))
    for j, label in enumerate(labels):
        rows = table[table["label"] == label].set_index("trait").reindex(traits)
        x = np.arange(len(traits)) + (j - (len(labels) - 1) / 2) * width
        y = rows[value].to_numpy(dtype=float)
        err = np.vstack([y - rows[low].to_numpy(float), rows[high].to_numpy(float) - y])
        ax.errorbar(x, y, yerr=err, fmt="o", capsize=3, label=label)
    ax.axhline(0.5, color="grey", ls="--", lw=1)
    ax.set_xticks(np.arange(len(traits)), traits)
    ax.set(ylabel="pooled out-of-fold AUROC" if cv else "bootstrap mean AUROC", title=title)
    ax.title.set_fontsize(9)
    ax.legend(fontsize=8, bbox_to_anchor=(1.01, 1), loc="upper left")
    return save_figure(fig, path)


def paired_difference_plot(path: Path, diffs, title: str) -> Path:
    """Fig. 2b-like: distribution of paired AUROC differences (reference minus comparator).

    ``diffs`` has columns trait, comparator, diff (one row per bootstrap replicate or fold).
    """
    groups = diffs.groupby(["trait", "comparator"], sort=True)["diff"]
    names = [f"{t}\n{c}" for t, c in groups.groups]
    fig, ax = plt.subplots(figsize=(max(5, 0.7 * len(names)), 4))
    ax.boxplot([g.to_numpy() for _, g in groups], showmeans=True)
    ax.set_xticks(np.arange(1, len(names) + 1), names, fontsize=7, rotation=45, ha="right")
    ax.axhline(0.0, color="grey", ls="--", lw=1)
    ax.set(ylabel="AUROC difference", title=title)
    ax.title.set_fontsize(9)
    return save_figure(fig, path)
