"""Figure of the real-data panel: models x tasks, pooled AUROC minus the task's best comparator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from radiogenomics.figures.plots import save_figure

HALF_ORDER = {"dev": 0, "report": 1}
COLOUR_LIMIT = 0.10


def cell_text(value: float, is_best: bool) -> str:
    """A cell's annotation: the signed difference, ``best`` for the best comparator itself."""
    if is_best:
        return "best"
    if not np.isfinite(value):
        return "–"
    text = f"{value:+.3f}"
    return "0.000" if text in ("+0.000", "-0.000") else text


def panel_heatmap(table: pd.DataFrame, path: Path, models: list[str]) -> Path:
    """Heatmap of ``diff_to_best`` (rows: ``models`` in order; columns: tasks grouped by half).

    Diverging colours centred at 0 (blue: better than the best comparator, red: worse), every
    cell annotated; a grey cell has no difference (incomplete folds, no comparator, not run).
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm

    tasks = table.drop_duplicates("task")[["task", "half"]]
    tasks = tasks.assign(_o=tasks["half"].map(lambda h: HALF_ORDER.get(h, 2)))
    tasks = tasks.sort_values(["_o", "half"], kind="stable")
    names = list(tasks["task"])
    models = [m for m in models if m in set(table["model"])]
    values = (
        table.pivot_table(index="model", columns="task", values="diff_to_best", aggfunc="first")
        .reindex(index=models, columns=names)
        .to_numpy(dtype=float)
    )
    finite = values[np.isfinite(values)]
    # colours saturate at +-COLOUR_LIMIT so that one large gap does not wash out the small ones;
    # the annotations carry the values
    limit = min(COLOUR_LIMIT, max(0.02, float(np.abs(finite).max()))) if finite.size else 0.05
    best = table.drop_duplicates("task").set_index("task")["best_comparator"]
    fig, ax = plt.subplots(
        figsize=(max(5.0, 0.9 * len(names) + 2.5), max(2.5, 0.45 * len(models) + 1.8))
    )
    cmap = plt.get_cmap("RdBu").with_extremes(bad="#dddddd")
    image = ax.imshow(
        np.ma.masked_invalid(values),
        cmap=cmap,
        norm=TwoSlopeNorm(vcenter=0.0, vmin=-limit, vmax=limit),
        aspect="auto",
    )
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            text = cell_text(v, best.get(names[j]) == models[i])
            dark = np.isfinite(v) and abs(v) > 0.6 * limit
            ax.text(
                j, i, text, ha="center", va="center", fontsize=7, color="white" if dark else "black"
            )
    labels = [f"{t}\n(best: {best.get(t) if pd.notna(best.get(t)) else '-'})" for t in names]
    ax.set_xticks(np.arange(len(names)), labels, fontsize=7, rotation=40, ha="right")
    ax.set_yticks(np.arange(len(models)), models, fontsize=8)
    halves = list(tasks["half"])
    for j in range(1, len(halves)):
        if halves[j] != halves[j - 1]:
            ax.axvline(j - 0.5, color="black", lw=1.5)
    start = 0
    for j in range(1, len(halves) + 1):
        if j == len(halves) or halves[j] != halves[start]:
            ax.text(
                (start + j - 1) / 2,
                -0.7,
                f"{halves[start]} half",
                ha="center",
                va="bottom",
                fontsize=8,
                fontweight="bold",
            )
            start = j
    ax.set_ylim(len(models) - 0.5, -1.0)
    kinds = table.drop_duplicates("model").set_index("model")["kind"]
    networks = sum(kinds.get(m) == "network" for m in models)
    if 0 < networks < len(models):
        ax.axhline(networks - 0.5, color="black", lw=1)
    colorbar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    colorbar.set_label(f"AUROC minus best comparator (colour clipped at ±{limit:.2f})", fontsize=7)
    what = "Pooled out-of-fold AUROC"
    if "n_repeats" in table and (table["n_repeats"].astype(float) > 1).any():
        what += " (mean over CV repeats)"
    ax.set_title(f"{what} minus the task's best comparator", fontsize=9)
    return save_figure(fig, path)
