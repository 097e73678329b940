"""Sweep-level gene masking: pool every job's held-out masked probabilities and score them.

Each patient's masked probabilities come from the fold model that never saw them (``part ==
test``), so pooling the folds scores every gene set on the whole cohort out of fold. Random
controls pool the same way (the same seeded sets in every fold) and give pooled empirical p-values.
Writes ``summary/masking_<collection>.csv`` (one row per configuration and set) and a heatmap per
configuration, ``summary/masking_<collection>_<trait>_<model>_<hash>.png``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from radiogenomics.evaluation.multitest import FDR
from radiogenomics.interpret.masking_continuous import SCORE as CONTINUOUS_SCORE
from radiogenomics.interpret.masking_continuous import control_null as continuous_control_null
from radiogenomics.interpret.masking_continuous import score_continuous
from radiogenomics.interpret.masking_tables import (
    control_null,
    matrix_from_frame,
    score_controls,
    score_sets,
)
from radiogenomics.interpreters import SweepJobs
from radiogenomics.results import layout
from radiogenomics.summaries.model_agreement import summarize_model_agreement
from radiogenomics.summaries.ordinal import ordinal_cut
from radiogenomics.utils import write_csv

log = logging.getLogger(__name__)

N_TOP = 20


def masking_labels(sweep_dir: Path, jobs: Sequence[str]) -> list[str]:
    """Collections (and ``single_genes``) with masked probabilities in any job of the sweep."""
    found = {
        p.name.removesuffix(layout.PROBS_SUFFIX)
        for job in jobs
        for p in (sweep_dir / job / layout.MASKING_DIR).glob(f"*{layout.PROBS_SUFFIX}")
    }
    return sorted(found - {layout.CONTROLS})


def pool(
    sweep_dir: Path, jobs: Sequence[str], label: str, n_classes: int
) -> tuple[pd.DataFrame, list[str], np.ndarray] | None:
    """(held-out patients, item names, (items, patients[, K]) probabilities) over ``jobs``."""
    patients, frames = [], []
    for job in jobs:
        folder = sweep_dir / job / layout.MASKING_DIR
        if not (folder / layout.masking_probs(label)).exists():
            continue
        held_out = pd.read_csv(folder / layout.PATIENTS, dtype={"patient_id": str})
        held_out = held_out[held_out["part"] == "test"]
        frame = pd.read_parquet(folder / layout.masking_probs(label))
        patients.append(held_out)
        frames.append(frame.set_index(["set", "class"])[held_out["patient_id"].tolist()])
    if not frames:
        return None
    patients = pd.concat(patients, ignore_index=True)
    if patients["patient_id"].duplicated().any():
        raise ValueError(f"{label}: a patient is held out by two jobs of one configuration")
    joined = pd.concat(frames, axis=1, join="inner").reset_index()
    names, probs = matrix_from_frame(joined, patients["patient_id"].tolist(), n_classes)
    return patients, names, probs


def summarize_masking(
    sweep_dir: str | Path, metrics: pd.DataFrame, group_keys: Sequence[str], fdr: float = FDR
) -> list[Path]:
    """Write the pooled masking tables and heatmaps of a sweep; nothing when no job masked.

    ``metrics`` has one row per completed job (``job`` dir, ``classes`` and the ``group_keys``
    that identify a configuration, as :func:`radiogenomics.results.sweep.collect` gives);
    ``fdr``: the q below which a pooled set or gene is ``significant``.
    """
    sweep_dir = Path(sweep_dir)
    out = layout.summary_dir(sweep_dir)
    written = []
    for label in masking_labels(sweep_dir, metrics["job"].tolist()):
        tables = []
        for key, group in metrics.groupby(list(group_keys), sort=True):
            config = dict(zip(group_keys, key, strict=True))
            table = _pooled_scores(sweep_dir, out, label, config, group, fdr)
            if table is not None:
                tables.append(table)
        if tables:
            written.append(write_csv(out / layout.masking_table(label), pd.concat(tables)))
    if written:
        log.info("pooled masking tables: %s", ", ".join(p.name for p in written))
    return written


def _pooled_scores(
    sweep_dir: Path, out: Path, label: str, key: dict, group: pd.DataFrame, fdr: float
) -> pd.DataFrame | None:
    """Pooled out-of-fold scores of one collection for one configuration (+ its heatmap)."""
    classes = list(group["classes"].iloc[0])
    ordinal = ordinal_cut(group)[0]  # scored by the mean cumulative AUROC
    jobs = group["job"].tolist()
    pooled = pool(sweep_dir, jobs, label, len(classes))
    if pooled is None:
        return None
    patients, names, probs = pooled
    y = patients["y_true"].to_numpy()
    continuous = not classes  # a continuous trait: Spearman of the masked prediction
    null = None
    if label != layout.SINGLE_GENES and (
        controls := pool(sweep_dir, jobs, layout.CONTROLS, len(classes))
    ):
        if controls[0]["patient_id"].tolist() != patients["patient_id"].tolist():
            raise ValueError(f"{label}: controls and sets were masked on different patients")
        if continuous:
            null = continuous_control_null(controls[2], y, controls[1])[1]
        else:
            control_scores = score_controls(controls[2], y, classes, controls[1], ordinal)
            null = control_null(controls[2], y, classes, control_scores, ordinal)
    first_scores = pd.read_csv(
        sweep_dir / jobs[0] / layout.MASKING_DIR / layout.masking_scores(label)
    )
    name_col = "gene" if label == layout.SINGLE_GENES else "set"
    info = first_scores[first_scores["part"] == "test"].set_index(name_col).loc[names]
    sizes = info["n_genes"].to_numpy() if "n_genes" in info else np.ones(len(names), dtype=int)
    single = label == layout.SINGLE_GENES
    strata = patients["fold"].to_numpy()  # labels are permuted within the fold they came from
    if continuous:
        scores = score_continuous(probs, y, None if single else sizes, null, strata, single, fdr)
    else:  # AUROC; ordinal: the mean cumulative AUROC
        scores = score_sets(
            probs,
            y,
            classes,
            sizes,
            null,
            strata,
            compare_to_items=single,
            fdr=fdr,
            ordinal=ordinal,
        )
    score = CONTINUOUS_SCORE if continuous else "auroc"
    scores.insert(0, "rank", scores[score].rank(ascending=False, method="min").astype(int))
    for column in ("coverage", "n_genes"):
        if column in info:
            scores.insert(0, column, info[column].to_numpy())
    scores.insert(0, name_col, names)
    scores.insert(0, "n_patients", len(patients))
    scores.insert(0, "n_jobs", len(jobs))
    for k in reversed(list(key)):
        scores.insert(0, k, key[k])
    scores = scores.sort_values("rank", kind="stable")
    if ordinal:
        _ordinal_heatmap(out, label, key, patients, names, probs, scores, classes)
    elif not continuous:  # the heatmap shows class probabilities
        _heatmap(out, label, key, patients, names, probs, scores, classes)
    return scores


def _heatmap(
    out: Path,
    label: str,
    key: dict,
    patients: pd.DataFrame,
    names: list[str],
    probs: np.ndarray,
    scores: pd.DataFrame,
    classes: list[str],
) -> Path:
    """Paper-style heatmap: patients (rows) by class then model probability, top sets (columns).

    Multiclass: one panel per class, with that class's probabilities and its top sets.
    """
    import matplotlib.pyplot as plt

    from radiogenomics.figures.plots import save_figure

    binary = len(classes) == 2
    panels = [1] if binary else list(range(len(classes)))
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 7), squeeze=False)
    y = patients["y_true"].to_numpy()
    for ax, k in zip(axes[0], panels, strict=True):
        column = "auroc" if binary else f"auroc_{classes[k]}"
        top = scores.sort_values(column, ascending=False, kind="stable").index[:N_TOP].to_numpy()
        model = patients["model_prob" if binary else f"model_prob_{classes[k]}"].to_numpy()
        order = np.lexsort((model, y == k))  # negatives first, then positives; by probability
        values = (probs if binary else probs[..., k])[top][:, order].T
        image = ax.imshow(values, aspect="auto", cmap="RdBu_r", vmin=0, vmax=1)
        ax.set_xticks(range(len(top)))
        ax.set_xticklabels(
            [f"{names[i]} ({scores.loc[i, column]:.2f})" for i in top], rotation=90, fontsize=6
        )
        n_other = int((y != k).sum())
        ax.axhline(n_other - 0.5, color="black", lw=1)
        ax.set_yticks([n_other / 2, n_other + (len(y) - n_other) / 2])
        ax.set_yticklabels([f"not {classes[k]}" if not binary else classes[0], classes[k]])
        ax.set_title(
            f"P({classes[k]}) with one set kept (columns: top by pooled AUROC)", fontsize=8
        )
        fig.colorbar(image, ax=ax, fraction=0.04)
    fig.suptitle(
        f"{key['trait']} / {label}: pooled out-of-fold gene masking, {len(y)} patients", fontsize=9
    )
    return save_figure(fig, out / layout.masking_heatmap(label, key))


def _ordinal_heatmap(
    out: Path,
    label: str,
    key: dict,
    patients: pd.DataFrame,
    names: list[str],
    probs: np.ndarray,
    scores: pd.DataFrame,
    levels: list[str],
) -> Path:
    """Ordinal trait: one panel of the masked expected level (as a share of the top level),
    patients (rows) by true level then the unmasked model's expected level, top sets (columns)
    by pooled mean cumulative AUROC."""
    import matplotlib.pyplot as plt

    from radiogenomics.figures.plots import save_figure

    scale = np.arange(len(levels)) / (len(levels) - 1)
    y = patients["y_true"].to_numpy()
    model = patients[[f"model_prob_{name}" for name in levels]].to_numpy() @ scale
    order = np.lexsort((model, y))
    top = scores.sort_values("auroc", ascending=False, kind="stable").index[:N_TOP].to_numpy()
    fig, ax = plt.subplots(figsize=(6, 7))
    image = ax.imshow(
        (probs @ scale)[top][:, order].T, aspect="auto", cmap="RdBu_r", vmin=0, vmax=1
    )
    ax.set_xticks(range(len(top)))
    ax.set_xticklabels(
        [f"{names[i]} ({scores.loc[i, 'auroc']:.2f})" for i in top], rotation=90, fontsize=6
    )
    counts = np.bincount(y.astype(int), minlength=len(levels))
    for boundary in np.cumsum(counts)[:-1]:
        ax.axhline(boundary - 0.5, color="black", lw=1)
    ax.set_yticks(np.cumsum(counts) - counts / 2)
    ax.set_yticklabels(levels, fontsize=7)
    ax.set_title(
        "expected level / top level with one set kept (columns: top by mean cut AUROC)", fontsize=8
    )
    fig.colorbar(image, ax=ax, fraction=0.04)
    fig.suptitle(
        f"{key['trait']} / {label}: pooled out-of-fold gene masking, {len(y)} patients", fontsize=9
    )
    return save_figure(fig, out / layout.masking_heatmap(label, key))


def masking_sweep_summary(jobs: SweepJobs) -> None:
    """The masking step of the sweep summary: pooled tables and heatmaps, then the agreement
    between model families (no-op unless jobs masked)."""
    summarize_masking(jobs.sweep_dir, jobs.metrics, jobs.group_keys, fdr=jobs.fdr)
    labels = masking_labels(jobs.sweep_dir, jobs.metrics["job"].tolist())
    summarize_model_agreement(jobs.sweep_dir, labels)
