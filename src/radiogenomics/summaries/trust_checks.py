"""Files of ``scripts/trust.py``: sanity checks, method agreement and stability selection.

Each command reads a finished sweep (never retrains: the fold models come from the job bundles,
the held-out patients are rebuilt as ``task=interpret`` rebuilds them) and writes CSV + PNG under
``<sweep>/summary/`` (or ``--out``), file names from :mod:`radiogenomics.results.layout`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from radiogenomics.analysis.stability_selection import stability_selection
from radiogenomics.interpret.agreement import (
    ATTRIBUTION_METHODS,
    MASKING,
    agreement_matrix,
    pooled_importances,
    set_table,
    square,
)
from radiogenomics.interpret.gene_set_options import index_collections
from radiogenomics.interpret.gsea import prerank, set_dict
from radiogenomics.interpret.saliency import PLAIN_GRADIENT
from radiogenomics.interpret.sanity import model_randomization, plain_attributor, verdict
from radiogenomics.results import layout
from radiogenomics.utils import write_csv, write_json

log = logging.getLogger(__name__)

# a fold: (job name, classifier, held-out standardized x, held-out labels, genes)
Fold = tuple[str, nn.Module, torch.Tensor, np.ndarray, list[str]]
FoldLoader = Callable[[Path], Fold]


def _jobs(sweep_dir: Path, folds: Sequence[int] | None) -> list[Path]:
    """Real network jobs with a bundle (null_permutation jobs left out), optionally some folds;
    a repeated CV's first repeat (each patient held out once), as the interpretation tables."""
    from radiogenomics.results.sweep import first_repeat, load_jobs

    jobs = first_repeat(load_jobs(sweep_dir))
    if jobs.empty:
        raise ValueError(f"{sweep_dir}: no completed jobs")
    if "null_permutation" in jobs:
        jobs = jobs[jobs["null_permutation"].isna()]
    jobs = jobs[jobs["model"] == "nn"]
    if folds is not None:
        jobs = jobs[jobs["fold"].isin(list(folds))]
    dirs = [sweep_dir / j for j in jobs.sort_values("fold")["job"]]
    dirs = [d for d in dirs if (d / layout.MODEL_DIR / layout.BUNDLE_MANIFEST).exists()]
    if not dirs:
        raise ValueError(f"{sweep_dir}: no network job with a saved model bundle")
    return dirs


# --- sanity checks -------------------------------------------------------------------------------


def write_sanity(
    sweep_dir: str | Path,
    load: FoldLoader,
    methods: Sequence[str] = (PLAIN_GRADIENT,),
    folds: Sequence[int] | None = None,
    twin: str | Path | None = None,
    out: str | Path | None = None,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Model randomization per fold model and method (+ the permuted twin); table, verdict, plot."""
    sweep_dir = Path(sweep_dir)
    out = Path(out) if out else layout.summary_dir(sweep_dir)
    frames = []
    for job in _jobs(sweep_dir, folds):
        name, module, x, _, _ = load(job)
        for method in methods:
            table = model_randomization(module, x, plain_attributor(method), seed=seed)
            frames.append(table.assign(method=method, job=name))
    table = pd.concat(frames, ignore_index=True)
    if twin is not None:
        table = pd.concat([table, data_randomization(sweep_dir, Path(twin))], ignore_index=True)
    verdicts = verdict(table)
    write_csv(out / layout.SANITY_TABLE, table)
    write_json(out / layout.SANITY_JSON, {"verdict": verdicts.to_dict(orient="records")})
    _sanity_plot(out / layout.SANITY_PLOT, table)
    return table, verdicts


def data_randomization(real: Path, twin: Path) -> pd.DataFrame:
    """The permuted twin's pooled gene ranking against the real sweep's (saved attributions)."""
    from radiogenomics.interpret.sanity import ranking_similarity

    def pooled(sweep: Path) -> pd.Series:
        sums, n = None, 0
        for job in _jobs(sweep, None):
            folder = job / layout.SALIENCY_DIR
            patients = pd.read_csv(folder / layout.PATIENTS, dtype={"patient_id": str})
            ids = patients.loc[patients["part"] == "test", "patient_id"].tolist()
            frame = pd.read_parquet(folder / layout.ATTRIBUTIONS).set_index(["gene", "class"])[ids]
            values = frame.to_numpy(dtype=np.float64)
            sums = values if sums is None else np.concatenate([sums, values], axis=1)
            n += len(ids)
        return pd.DataFrame(sums, index=frame.index)

    a, b = pooled(real), pooled(twin)
    b = b.reindex(a.index)
    similarity = ranking_similarity(a.to_numpy().T[None], b.to_numpy().T[None])
    return pd.DataFrame(
        [
            {
                "kind": "data",
                "step": "permuted twin",
                "layers": "",
                "method": "saved attributions",
                "job": str(twin),
                **similarity,
            }
        ]
    )


def _sanity_plot(path: Path, table: pd.DataFrame) -> Path:
    """Spearman of each randomization step with the trained model, per method (mean over folds)."""
    import matplotlib.pyplot as plt

    from radiogenomics.figures.plots import save_figure

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), squeeze=False)
    for ax, kind in zip(axes[0], ("cascading", "independent"), strict=True):
        part = table[table["kind"].isin(["trained", kind])]
        for method, rows in part.groupby("method", sort=True):
            steps = list(dict.fromkeys(rows["step"]))
            means = rows.groupby("step", sort=False)["spearman_abs"].mean().reindex(steps)
            ax.plot(range(len(steps)), means.to_numpy(), marker="o", label=method)
            ax.set_xticks(range(len(steps)))
            ax.set_xticklabels(steps, rotation=30, fontsize=7)
        ax.axhline(0.2, color="grey", ls="--", lw=1)
        ax.set_ylim(-0.2, 1.05)
        ax.set_title(f"{kind} randomization: Spearman with the trained model", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


# --- method agreement ----------------------------------------------------------------------------


def write_agreement(
    sweep_dir: str | Path,
    load: FoldLoader,
    collection: str = "hallmark",
    methods: Sequence[str] = ATTRIBUTION_METHODS,
    folds: Sequence[int] | None = None,
    out: str | Path | None = None,
    top_genes: int = 100,
    top_sets: int = 10,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Gene- and set-level agreement of the attribution methods and masking; tables + heatmap."""
    sweep_dir = Path(sweep_dir)
    out = Path(out) if out else layout.summary_dir(sweep_dir)
    loaded = [load(job) for job in _jobs(sweep_dir, folds)]
    genes = loaded[0][4]
    indexed = index_collections([collection], genes, min_size=15, max_size=500)
    sets = next(iter(indexed.values()))
    gene_table, set_masking, means = pooled_importances(
        [(m, x, y) for _, m, x, y, _ in loaded], sets.indices, methods
    )
    gene_agreement = agreement_matrix(gene_table, top=top_genes)
    members = set_dict(sets, genes)
    nes = {
        method: prerank(means[i], genes, members).set_index("set")["nes"]
        for i, method in enumerate(methods)
    }
    sets_frame = set_table(nes, pd.Series(set_masking[MASKING].to_numpy(), index=sets.names))
    set_agreement = agreement_matrix(sets_frame, top=top_sets)
    write_csv(out / layout.AGREEMENT_GENES, gene_agreement)
    write_csv(out / layout.AGREEMENT_SETS, set_agreement)
    _agreement_plot(out / layout.AGREEMENT_PLOT, gene_agreement, set_agreement)
    return gene_agreement, set_agreement


def _agreement_plot(path: Path, genes: pd.DataFrame, sets: pd.DataFrame) -> Path:
    """Two heatmaps: Spearman between methods' gene rankings and set rankings."""
    import matplotlib.pyplot as plt

    from radiogenomics.figures.plots import save_figure

    fig, axes = plt.subplots(1, 2, figsize=(12, 5), squeeze=False)
    for ax, (title, table) in zip(axes[0], (("genes", genes), ("sets", sets)), strict=True):
        matrix = square(table)
        image = ax.imshow(matrix.to_numpy(), vmin=-1, vmax=1, cmap="RdBu_r")
        ax.set_xticks(range(len(matrix)))
        ax.set_xticklabels(matrix.columns, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(len(matrix)))
        ax.set_yticklabels(matrix.index, fontsize=7)
        for i in range(len(matrix)):
            for j in range(len(matrix)):
                ax.text(j, i, f"{matrix.iat[i, j]:.2f}", ha="center", va="center", fontsize=6)
        ax.set_title(f"Spearman between methods ({title})", fontsize=9)
        fig.colorbar(image, ax=ax, fraction=0.04)
    fig.tight_layout()
    return save_figure(fig, path)


# --- stability selection -------------------------------------------------------------------------


def write_stability_selection(
    sweep_dir: str | Path,
    threshold: float = 0.9,
    top_sets: int = 5,
    top_genes: int = 100,
    out: str | Path | None = None,
) -> tuple[pd.DataFrame, list[dict]]:
    """Selection frequencies over bootstrap replicates with the MB bound; table, json, plot."""
    sweep_dir = Path(sweep_dir)
    out = Path(out) if out else layout.summary_dir(sweep_dir)
    table, report = stability_selection(sweep_dir, threshold, top_sets, top_genes)
    write_csv(out / layout.STABILITY_SELECTION, table)
    write_json(out / layout.STABILITY_SELECTION_JSON, {"importances": report})
    _stability_plot(out / layout.STABILITY_SELECTION_PLOT, table, threshold)
    return table, report


def _stability_plot(path: Path, table: pd.DataFrame, threshold: float) -> Path:
    """Top items' selection frequency per set-level importance (genes: top 20)."""
    import matplotlib.pyplot as plt

    from radiogenomics.figures.plots import save_figure

    groups = list(table.groupby(["unit", "importance", "collection"], sort=True))
    fig, axes = plt.subplots(1, len(groups), figsize=(4.5 * len(groups), 5), squeeze=False)
    for ax, ((unit, importance, collection), part) in zip(axes[0], groups, strict=True):
        top = part.head(20)
        ax.barh(
            range(len(top)),
            top["frequency"].to_numpy(),
            color=np.where(top["selected"], "tab:red", "tab:grey"),
        )
        ax.set_yticks(range(len(top)))
        ax.set_yticklabels(top["item"], fontsize=6)
        ax.invert_yaxis()
        ax.axvline(threshold, color="black", ls="--", lw=1)
        ax.set_xlim(0, 1)
        ax.set_title(f"{importance} {collection} ({unit}s)", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)
