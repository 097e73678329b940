"""Sweep-level: do the model families rely on the same programs?

After the pooled masking tables (:mod:`radiogenomics.summaries.masking`), a sweep over
several model families (``model=nn,logit_l2,rf,xgboost +interpret=masking``) gets, per trait and
collection (and ``single_genes``):

* ``summary/model_agreement.csv``: for every pair of families, the Spearman correlation of their
  pooled out-of-fold masking AUROCs over the common sets (or genes), the overlap of their top
  ``k`` (:func:`~radiogenomics.interpret.agreement.agreement_matrix`; k = 10 sets, 100 genes),
  how many sets each family calls significant and how many both call;
* ``summary/model_agreement_sets.csv``: every set with each family's pooled AUROC, rank, q and
  call (long format: one row per set and family);
* ``summary/model_agreement.png``: the Spearman matrices, family x family.

A family is the ``model`` name; a model swept over several configurations is one family per
configuration (``<model>:<config hash>``), bootstrap replicates likewise. Nothing is written
when fewer than two families masked.

Also here, :func:`summarize_attribution`: the comparators' native attribution pooled per gene
(``summary/attribution_genes.csv``: each configuration's importance, the mean over its jobs).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from radiogenomics.interpret.agreement import agreement_matrix, square
from radiogenomics.interpreters import SweepJobs
from radiogenomics.results import layout
from radiogenomics.results.sweep import SweepData
from radiogenomics.utils import write_csv

log = logging.getLogger(__name__)

TOP_SETS = 10
TOP_GENES = 100
SET_COLUMNS = ["set", "rank", "auroc", "q", "significant"]


def family_labels(table: pd.DataFrame) -> pd.Series:
    """One label per configuration: the model name, or ``<model>:<hash>`` when a model has several
    (``/b<replicate>`` for bootstrap replicates)."""
    configs = table[["model", "config_hash"]].astype(str).drop_duplicates()
    several = set(configs["model"][configs["model"].duplicated()])
    label = (
        table["model"]
        .astype(str)
        .where(
            ~table["model"].isin(several),
            table["model"].astype(str) + ":" + table["config_hash"].astype(str),
        )
    )
    if "bootstrap" in table:
        boot = table["bootstrap"].astype(str)
        label = label.where(boot.isin(["none", "nan"]), label + "/b" + boot)
    return label


def summarize_model_agreement(sweep_dir: str | Path, labels: Sequence[str]) -> list[Path]:
    """Write the model-agreement tables and figure from the pooled masking tables of ``labels``."""
    sweep = SweepData(sweep_dir)
    out = sweep.summary
    pairs, sets = [], []
    for label in labels:
        table = sweep.summary_table(layout.masking_table(label))
        if table is None:
            continue
        single = label == layout.SINGLE_GENES
        name = "gene" if single else "set"
        table = table.assign(family=family_labels(table))
        for trait, rows in table.groupby("trait", sort=True):
            families = list(dict.fromkeys(rows["family"]))
            if len(families) < 2:
                continue
            wide = rows.pivot_table(index=name, columns="family", values="auroc", sort=True)
            wide = wide[families]
            top = TOP_GENES if single else TOP_SETS
            agreement = agreement_matrix(wide, top=top).rename(
                columns={
                    "method_a": "family_a",
                    "method_b": "family_b",
                    f"top{top}_overlap": "top_k_overlap",
                }
            )
            calls = rows.pivot_table(index=name, columns="family", values="significant")
            calls = calls.reindex(columns=families).fillna(0).astype(bool)
            agreement.insert(0, "collection", label)
            agreement.insert(0, "trait", trait)
            agreement.insert(agreement.columns.get_loc("top_k_overlap"), "top_k", top)
            agreement["significant_a"] = [int(calls[a].sum()) for a in agreement["family_a"]]
            agreement["significant_b"] = [int(calls[b].sum()) for b in agreement["family_b"]]
            agreement["significant_both"] = [
                int((calls[a] & calls[b]).sum())
                for a, b in zip(agreement["family_a"], agreement["family_b"], strict=True)
            ]
            pairs.append(agreement)
            if not single:
                long = rows[["family", *[c for c in SET_COLUMNS if c in rows]]].copy()
                long.insert(0, "collection", label)
                long.insert(0, "trait", trait)
                sets.append(long.sort_values(["set", "family"], kind="stable"))
    if not pairs:
        return []
    pairs = pd.concat(pairs, ignore_index=True)
    written = [write_csv(out / layout.MODEL_AGREEMENT, pairs)]
    if sets:
        written.append(write_csv(out / layout.MODEL_AGREEMENT_SETS, pd.concat(sets)))
    written.append(_plot(out / layout.MODEL_AGREEMENT_PLOT, pairs))
    log.info("model agreement: %s", ", ".join(p.name for p in written))
    return written


def _plot(path: Path, pairs: pd.DataFrame) -> Path:
    """One Spearman heatmap per (trait, collection), at most 6 panels."""
    import matplotlib.pyplot as plt

    from radiogenomics.figures.plots import save_figure

    groups = list(pairs.groupby(["trait", "collection"], sort=True))[:6]
    fig, axes = plt.subplots(1, len(groups), figsize=(3.6 * len(groups), 3.4), squeeze=False)
    for ax, ((trait, label), rows) in zip(axes[0], groups, strict=True):
        matrix = square(rows.rename(columns={"family_a": "method_a", "family_b": "method_b"}))
        image = ax.imshow(matrix.to_numpy(dtype=float), vmin=-1, vmax=1, cmap="RdBu_r")
        ax.set_xticks(range(len(matrix)), matrix.columns, rotation=90, fontsize=7)
        ax.set_yticks(range(len(matrix)), matrix.index, fontsize=7)
        for (i, j), value in np.ndenumerate(matrix.to_numpy(dtype=float)):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6)
        ax.set_title(f"{trait} / {label}", fontsize=8)
    fig.colorbar(image, ax=list(axes[0]), fraction=0.03, label="Spearman of pooled AUROC")
    return save_figure(fig, path)


def summarize_attribution(
    sweep_dir: str | Path, metrics: pd.DataFrame, group_keys: Sequence[str]
) -> Path | None:
    """``summary/attribution_genes.csv``: per configuration and gene, the mean over its jobs of
    the held-out native attribution (``importance`` and the family's numeric columns)."""
    sweep_dir = Path(sweep_dir)
    tables = []
    for key, group in metrics.groupby(list(group_keys), sort=True):
        frames = []
        for job in group["job"]:
            path = sweep_dir / job / layout.ATTRIBUTION_DIR / layout.ATTRIBUTION_GENES
            if path.exists():
                frame = pd.read_csv(path)
                frames.append(frame[frame["part"] == "test"])
        if not frames:
            continue
        stacked = pd.concat(frames, ignore_index=True)
        numeric = [c for c in stacked.select_dtypes("number").columns if c != "rank"]
        pooled = stacked.groupby("gene", sort=False)[numeric].mean().reset_index()
        pooled.insert(1, "rank", pooled["importance"].rank(ascending=False, method="min"))
        pooled["rank"] = pooled["rank"].astype(int)
        pooled.insert(1, "method", stacked["method"].iloc[0])
        pooled.insert(1, "n_jobs", len(frames))
        for k, v in reversed(list(zip(group_keys, key, strict=True))):
            pooled.insert(0, k, v)
        tables.append(pooled.sort_values("rank", kind="stable"))
    if not tables:
        return None
    return write_csv(layout.summary_dir(sweep_dir) / layout.ATTRIBUTION_TABLE, pd.concat(tables))


def attribution_sweep_summary(jobs: SweepJobs) -> None:
    """The native-attribution step of the sweep summary (no-op unless comparators ran it)."""
    summarize_attribution(jobs.sweep_dir, jobs.metrics, jobs.group_keys)
