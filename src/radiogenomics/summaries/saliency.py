"""Sweep-level gene saliency: pooled radiogenomic traits, associations, stability, cohort GSEA.

Each held-out patient's GSEA comes from the fold model that never saw them (``part == test``), so
pooling the jobs of one configuration gives every patient's radiogenomic traits out of fold.
Writes under ``summary/``:

* ``radiogenomic_traits.parquet``: the long patient x set table (configuration keys, patient_id,
  fold, y_true, class, collection, set, nes, fdr, enriched); ``pivot`` it for the matrix view;
* ``associations.csv``: per configuration, class, collection and set, the counts and tests of
  :func:`radiogenomics.interpret.associations.associations`;
* ``cohort_gsea.csv``: GSEA of the mean signed attribution over all held-out patients;
* ``stability.json``: per configuration and class, Spearman correlation and top-100 overlap (by
  absolute value) of the fold models' mean attributions, on the common patient set (``mean_all``:
  every trait-cohort patient, each fold scaling them with its own training statistics; this set
  includes each model's training patients, it only serves to compare the models) and, for
  reference, on their own held-out patients (``mean_test``: different patients per fold);
* ``saliency_dots_<...>.png`` (top associations: share of patients enriched x set, colour = mean
  NES) and ``saliency_heatmap_<...>.png`` (patients by class x top sets, NES, enriched marked).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from radiogenomics.data.genesets import read_gmt
from radiogenomics.evaluation.multitest import FDR
from radiogenomics.interpret.associations import MIN_PATIENTS, associations
from radiogenomics.interpret.gsea import prerank
from radiogenomics.interpreters import SweepJobs
from radiogenomics.results import layout
from radiogenomics.utils import write_csv, write_json, write_parquet

log = logging.getLogger(__name__)

N_TOP = 20
TOP_GENES = 100


def summarize_saliency(
    sweep_dir: str | Path,
    metrics: pd.DataFrame,
    group_keys: Sequence[str],
    fdr: float = FDR,
    min_patients: int = MIN_PATIENTS,
) -> list[Path]:
    """Write the pooled saliency tables and plots of a sweep; nothing when no job ran saliency."""
    sweep_dir = Path(sweep_dir)
    out = layout.summary_dir(sweep_dir)
    traits, assoc, cohort, stability = [], [], [], []
    for key, group in metrics.groupby(list(group_keys), sort=True):
        config = dict(zip(group_keys, key, strict=True))
        folders = [
            sweep_dir / job / layout.SALIENCY_DIR
            for job in group["job"]
            if (sweep_dir / job / layout.SALIENCY_DIR / layout.MEAN_ATTRIBUTION).exists()
        ]
        if not folders:
            continue
        classes = [str(c) for c in group["classes"].iloc[0]]
        gsea = _pooled_gsea(folders)
        if gsea is not None:
            traits.append(_with_keys(gsea.assign(enriched=gsea["fdr"] < fdr), config))
            table = associations(gsea, classes, fdr=fdr, min_patients=min_patients)
            assoc.append(_with_keys(table, config))
            _plots(out, config, gsea, table, fdr)
        means = [pd.read_parquet(f / layout.MEAN_ATTRIBUTION) for f in folders]
        stability.append({**config, "n_jobs": len(folders), "classes": _stability(means)})
        cohort.append(_with_keys(_cohort_gsea(folders, means), config))
    if not stability:
        return []
    report = {"fdr": fdr, "configurations": stability}
    written = [write_json(out / layout.STABILITY, report)]
    if traits:
        written.append(write_parquet(out / layout.TRAITS, pd.concat(traits)))
        written.append(write_csv(out / layout.ASSOCIATIONS, pd.concat(assoc)))
    if any(len(c) for c in cohort):
        written.append(write_csv(out / layout.COHORT_GSEA, pd.concat(cohort)))
    log.info("pooled saliency tables: %s", ", ".join(p.name for p in written))
    return written


def _with_keys(table: pd.DataFrame, config: dict) -> pd.DataFrame:
    return table.assign(**config)[[*config, *table.columns]]


def _pooled_gsea(folders: list[Path]) -> pd.DataFrame | None:
    """Held-out patients' per-patient GSEA from every job of one configuration."""
    frames = [pd.read_parquet(f / layout.GSEA) for f in folders if (f / layout.GSEA).exists()]
    if not frames:
        return None
    gsea = pd.concat(frames, ignore_index=True)
    gsea = gsea[gsea["part"] == "test"]
    per_patient = gsea.groupby("patient_id")["fold"].nunique()
    if (per_patient > 1).any():
        raise ValueError("saliency: a patient is held out by two jobs of one configuration")
    return gsea.reset_index(drop=True)


def _stability(means: list[pd.DataFrame]) -> dict:
    """Per class: pairwise Spearman and top-100 overlap of the fold models' mean attributions."""
    result = {}
    for name in means[0]["class"].unique():
        entry = {}
        for column in ("mean_all", "mean_test"):
            vectors = [m[m["class"] == name].set_index("gene")[column] for m in means]
            vectors = [v.reindex(vectors[0].index).to_numpy() for v in vectors]
            rho, overlap = [], []
            for a, b in combinations(vectors, 2):
                rho.append(float(spearmanr(a, b).statistic))
                top_a = set(np.argsort(-np.abs(a))[:TOP_GENES])
                top_b = set(np.argsort(-np.abs(b))[:TOP_GENES])
                overlap.append(len(top_a & top_b) / TOP_GENES)
            entry[column] = {
                "patients": "all trait-cohort patients (common set)"
                if column == "mean_all"
                else "each fold's held-out patients (different per fold)",
                "n_pairs": len(rho),
                "spearman_mean": float(np.mean(rho)) if rho else None,
                "spearman_min": float(np.min(rho)) if rho else None,
                f"top{TOP_GENES}_overlap_mean": float(np.mean(overlap)) if overlap else None,
                f"top{TOP_GENES}_overlap_min": float(np.min(overlap)) if overlap else None,
            }
        result[str(name)] = entry
    return result


def _cohort_gsea(folders: list[Path], means: list[pd.DataFrame]) -> pd.DataFrame:
    """GSEA of the mean signed attribution over all held-out patients (weighted by fold size)."""
    frames = []
    for name in means[0]["class"].unique():
        per_job = [m[m["class"] == name].set_index("gene") for m in means]
        genes = per_job[0].index
        weights = np.array([m["n_test"].iloc[0] for m in per_job], dtype=float)
        stacked = np.stack([m.reindex(genes)["mean_test"].to_numpy() for m in per_job])
        pooled = weights @ stacked / weights.sum()
        for gmt in sorted(folders[0].glob(f"*{layout.GMT_SUFFIX}")):
            sets = read_gmt(gmt)
            table = prerank(pooled, list(genes), sets, min_size=1, max_size=len(genes))
            table.insert(0, "collection", gmt.name.removesuffix(layout.GMT_SUFFIX))
            table.insert(0, "class", name)
            table.insert(0, "n_patients", int(weights.sum()))
            frames.append(table.sort_values("p", kind="stable"))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _plots(out: Path, config: dict, gsea: pd.DataFrame, table: pd.DataFrame, fdr: float) -> None:
    """Dot plot of the top associations and a patient x set NES heatmap, per class and collection."""
    import matplotlib.pyplot as plt

    from radiogenomics.figures.plots import save_figure

    for (name, label), rows in table.groupby(["class", "collection"], sort=True):
        top = rows.head(N_TOP).iloc[::-1]
        fig, ax = plt.subplots(figsize=(7, 0.3 * len(top) + 1.5))
        dots = ax.scatter(
            top["share_enriched"],
            range(len(top)),
            s=20 + 200 * top["share_enriched"],
            c=top["mean_nes"],
            cmap="RdBu_r",
            vmin=-3,
            vmax=3,
        )
        ax.set_yticks(range(len(top)))
        ax.set_yticklabels(top["set"], fontsize=6)
        ax.set_xlabel(f"share of held-out patients with the set enriched (FDR < {fdr:g})")
        ax.set_title(f"{config['trait']} / {label}: attribution of {name}", fontsize=8)
        fig.colorbar(dots, ax=ax, label="mean NES", fraction=0.04)
        save_figure(fig, out / layout.saliency_plot("dots", label, name, config))

        sub = gsea[(gsea["class"] == name) & (gsea["collection"] == label)]
        sets = rows.head(N_TOP)["set"].tolist()
        nes = sub.pivot_table(index="patient_id", columns="set", values="nes")[sets]
        hit = sub.assign(e=sub["fdr"] < fdr).pivot_table(
            index="patient_id", columns="set", values="e"
        )
        classes = sub.groupby("patient_id")["y_true"].first().loc[nes.index]
        order = np.argsort(classes.to_numpy(), kind="stable")
        fig, ax = plt.subplots(figsize=(0.3 * len(sets) + 3, 6))
        image = ax.imshow(nes.to_numpy()[order], aspect="auto", cmap="RdBu_r", vmin=-3, vmax=3)
        rr, cc = np.nonzero(hit[sets].reindex(nes.index).fillna(0).to_numpy()[order] > 0)
        ax.scatter(cc, rr, s=2, c="black", marker=".")
        ax.set_xticks(range(len(sets)))
        ax.set_xticklabels(sets, rotation=90, fontsize=6)
        ax.set_ylabel("held-out patients, ordered by true class (dots: enriched)")
        for boundary in np.flatnonzero(np.diff(classes.to_numpy()[order])):
            ax.axhline(boundary + 0.5, color="black", lw=1)
        ax.set_title(f"{config['trait']} / {label}: per-patient NES ({name})", fontsize=8)
        fig.colorbar(image, ax=ax, label="NES", fraction=0.04)
        save_figure(fig, out / layout.saliency_plot("heatmap", label, name, config))


def saliency_sweep_summary(jobs: SweepJobs) -> None:
    """The saliency step of the sweep summary (no-op unless jobs ran gene saliency)."""
    summarize_saliency(
        jobs.sweep_dir, jobs.metrics, jobs.group_keys, fdr=jobs.fdr, min_patients=jobs.min_patients
    )
