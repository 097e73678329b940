"""Sweep-level permutation null of the importances, and the masking controls' fit check.

A sweep may hold, next to a real configuration's jobs, its *null jobs*: the same configuration
retrained with ``null_permutation=k`` (training labels permuted, held-out labels untouched; see
:func:`radiogenomics.data.splits.null_labels`). A null job's ``metrics.json`` carries
``null_permutation`` and the ``training_hash`` it shares with its real model (the config hash
without interpretation settings and null id). :func:`summarize_importance_null` takes the null jobs
out of the ordinary summary (they are not configurations of their own) and, per real
configuration with complete null replicates, compares every importance with its null
(:mod:`radiogenomics.interpret.importance_null`):

* genes: ``saliency_mean`` (mean signed attribution over all held-out patients, two-sided),
  ``saliency_mean_abs`` (mean absolute attribution), ``masking_auroc`` (pooled out-of-fold
  AUROC with only that gene kept) and ``masking_slope`` (its discrimination slope: mean
  predicted probability of the class among its patients minus among the others);
* sets: ``saliency_nes`` (NES of the preranked GSEA of the mean signed attribution over all
  held-out patients, the ranking of ``cohort_gsea.csv``; two-sided), ``saliency_nes_abs`` (NES
  of the mean absolute attribution, the paper's ranking), ``saliency_share`` (the set's mean
  absolute attribution over the mean of all genes), ``masking_auroc`` and ``masking_slope``
  (pooled out-of-fold, the set kept). The gene sets are those of the real jobs'
  ``interpret.saliency`` config (collections, size and coverage filters).

Why the slope and the attribution share next to AUROC and NES: both AUROC and NES are rank
statistics, blind to size. With only a coherent program's genes kept, any network's output
follows that program's score, so a network trained on noise ranks the patients by it just as a
trained one does (with a random orientation): the masked AUROC measures what the data carry in
the program more than what the model learned. The slope and the share measure how much the
model's output and sensitivity actually rest on the set.

Writes under ``summary/``: ``importance_null_genes.csv``, ``importance_null_sets.csv``,
``importance_null_models.csv`` (each null replicate's pooled AUROC: it should cover 0.5),
``importance_null.json`` (K, folds, counts, the checks of the pooled tail, the real model's
pooled AUROC with its permutation p against the null models) and a plot per
configuration, ``importance_null_<trait>_<model>_<hash>.png``. Independently of null jobs it
writes ``masking_control_fit.csv`` (per configuration and set size: the pooled random controls'
AUROC mean and sd behind the masking ``tail_p``, with Shapiro-Wilk and KS checks of normality).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from omegaconf import OmegaConf

from radiogenomics.evaluation.metrics import prediction_arrays, score
from radiogenomics.evaluation.multitest import FDR
from radiogenomics.evaluation.tails import control_fit, empirical_p
from radiogenomics.interpret.gene_set_options import index_collections
from radiogenomics.interpret.gsea import prerank, release_workers, set_dict
from radiogenomics.interpret.importance_null import add_qvalues, null_checks, permutation_p
from radiogenomics.interpret.masking import score_masked
from radiogenomics.interpret.masking_tables import null_by_size, score_controls
from radiogenomics.interpret.saliency_tables import SaliencyOptions
from radiogenomics.interpreters import writing
from radiogenomics.progress import Progress
from radiogenomics.results import layout
from radiogenomics.results.sweep import GROUP_KEYS, first_repeat, job_config
from radiogenomics.summaries.masking import masking_labels, pool
from radiogenomics.utils import write_csv, write_json

log = logging.getLogger(__name__)

N_PLOT = 12  # sets per panel of the plot
# importance -> (unit, two-sided test)
GENE_IMPORTANCES = {
    "saliency_mean": True,
    "saliency_mean_abs": False,
    "masking_auroc": False,
    "masking_slope": False,
}
SET_IMPORTANCES = {
    "saliency_nes": True,
    "saliency_nes_abs": False,
    "saliency_share": False,
    "masking_auroc": False,
    "masking_slope": False,
}


def null_jobs_mask(metrics: pd.DataFrame) -> pd.Series:
    """True for the rows of permutation-null jobs (``null_permutation`` set)."""
    if "null_permutation" not in metrics:
        return pd.Series(False, index=metrics.index)
    return metrics["null_permutation"].notna()


def summarize_importance_null(
    sweep_dir: str | Path, metrics: pd.DataFrame, predictions: pd.DataFrame, fdr: float = FDR
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write the permutation-null tables of a sweep; return (metrics, predictions) of real jobs.

    Without null jobs it only writes ``masking_control_fit.csv`` (when jobs masked with controls)
    and returns its inputs unchanged.
    """
    sweep_dir = Path(sweep_dir)
    is_null = null_jobs_mask(metrics)
    real, null = metrics[~is_null], metrics[is_null]
    if len(null):
        predictions = predictions[~predictions["config_hash"].isin(set(null["config_hash"]))]
    try:  # on the first CV repeat (repeats=R), as the other interpretation tables
        first_real, first_null = first_repeat(real), first_repeat(null)
        write_control_fit(sweep_dir, first_real)
        if len(null) and len(real):
            null_preds = predictions_of_nulls(sweep_dir, first_null)
            write_null_tables(
                sweep_dir, first_real, first_null, first_repeat(predictions), null_preds, fdr
            )
    except Exception as err:  # never lose the ordinary summary to this one
        log.exception("importance null summary failed: %s", err)
    return real.reset_index(drop=True), predictions.reset_index(drop=True)


def predictions_of_nulls(sweep_dir: Path, null: pd.DataFrame) -> pd.DataFrame:
    """Held-out predictions of every null job, with its null id and training hash."""
    frames = []
    for _, row in null.iterrows():
        frame = pd.read_csv(sweep_dir / row["job"] / layout.PREDICTIONS)
        frames.append(frame.assign(null_permutation=int(row["null_permutation"]), fold=row["fold"]))
    return pd.concat(frames, ignore_index=True)


# --- masking controls: the normal fit behind tail_p -----------------------------------------------


def write_control_fit(sweep_dir: Path, real: pd.DataFrame) -> Path | None:
    """Per configuration and set size: pooled control AUROCs' normal fit and normality checks."""
    if real.empty or not any(
        (sweep_dir / job / layout.MASKING_DIR / layout.masking_probs(layout.CONTROLS)).exists()
        for job in real["job"]
    ):
        return None
    rows = []
    for key, group in real.groupby(GROUP_KEYS, sort=True):
        classes = list(group["classes"].iloc[0])
        pooled = pool(sweep_dir, group["job"].tolist(), layout.CONTROLS, len(classes))
        if pooled is None:
            continue
        patients, names, probs = pooled
        scores = score_controls(probs, patients["y_true"].to_numpy(), classes, names)
        fit = control_fit(null_by_size(scores))
        rows.append(fit.assign(**dict(zip(GROUP_KEYS, key, strict=True))))
    if not rows:
        return None
    table = pd.concat(rows, ignore_index=True)
    table = table[[*GROUP_KEYS, *[c for c in table.columns if c not in GROUP_KEYS]]]
    return write_csv(layout.summary_dir(sweep_dir) / layout.MASKING_CONTROL_FIT, table)


# --- the permutation null ------------------------------------------------------------------------


def write_null_tables(
    sweep_dir: Path,
    real: pd.DataFrame,
    null: pd.DataFrame,
    real_preds: pd.DataFrame,
    null_preds: pd.DataFrame,
    fdr: float,
) -> list[Path]:
    """Per real configuration: its complete null replicates, the gene and set tables, the plot."""
    out = layout.summary_dir(sweep_dir)
    genes, sets, models, report = [], [], [], []
    for key, group in real.groupby(GROUP_KEYS, sort=True):
        config = dict(zip(GROUP_KEYS, key, strict=True))
        replicates, incomplete = null_replicates(group, null)
        rows = null_model_rows(config, group, replicates, null_preds)
        models += rows
        pooled = real_preds.set_index(GROUP_KEYS).loc[key]
        entry = {
            **config,
            "n_folds": len(group),
            "n_null": len(replicates),
            "incomplete_null_ids": incomplete,
            **model_permutation_test(pooled, group, rows),
        }
        if replicates:
            gene_table, set_table, checks, nulls = config_tables(sweep_dir, group, replicates, fdr)
            genes.append(_with_keys(gene_table, config))
            sets.append(_with_keys(set_table, config))
            entry.update(checks)
            entry["significant"] = _counts(gene_table, set_table)
            _plot(out, config, set_table, nulls)
        report.append(entry)
    written = []
    if genes:
        written.append(write_csv(out / layout.IMPORTANCE_NULL_GENES, pd.concat(genes)))
        written.append(write_csv(out / layout.IMPORTANCE_NULL_SETS, pd.concat(sets)))
    if models:
        written.append(write_csv(out / layout.IMPORTANCE_NULL_MODELS, pd.DataFrame(models)))
    written.append(
        write_json(
            out / layout.IMPORTANCE_NULL_JSON,
            {"fdr": fdr, "method": METHOD_NOTE, "configurations": report},
        )
    )
    log.info("importance null tables: %s", ", ".join(p.name for p in written))
    return written


METHOD_NOTE = (
    "observed: the real model's importance over all folds (pooled held-out patients: mean "
    "attribution, its GSEA NES, masking AUROC); null: the same statistic for each complete null replicate "
    "(null_permutation=k: all folds retrained on one cohort-level permutation of the training "
    "labels, held-out labels untouched). empirical_p = (1 + #null >= observed) / (K + 1); tail_p: "
    "z = (observed - null_mean) / null_sd against the pooled standardised nulls of every item of "
    "the table (each standardised by the other K-1 nulls of its item), generalized Pareto tail "
    "above their 90th percentile (sizes for signed importances); q = BH of tail_p within "
    "importance, class and collection; empirical_q = BH of empirical_p. checks: gpd_ks_p, "
    "shape_ks_below_0.05 (items whose nulls differ from the pool), calibration (each null "
    "replicate scored against the others: its discoveries are false); where a check fails "
    "(tail_ok false) significant follows empirical_q."
)


def null_replicates(group: pd.DataFrame, null: pd.DataFrame) -> tuple[dict[int, list[str]], list]:
    """{null id: job dirs} of the complete null replicates of one real configuration, incomplete ids."""
    hashes = set(group.get("training_hash", pd.Series(dtype=object)).dropna())
    if len(hashes) != 1:
        return {}, []
    first = group.iloc[0]
    mine = null[
        (null["training_hash"] == next(iter(hashes)))
        & (null["trait"] == first["trait"])
        & (null["model"] == first["model"])
        & (null["bootstrap"].astype(str) == str(first["bootstrap"]))
    ]
    folds = set(group["fold"])
    complete, incomplete = {}, []
    for k, jobs in mine.groupby("null_permutation", sort=True):
        if set(jobs["fold"]) == folds and len(jobs) == len(folds):
            complete[int(k)] = jobs.sort_values("fold")["job"].tolist()
        else:
            incomplete.append(int(k))
    return complete, incomplete


def null_model_rows(
    config: dict, group: pd.DataFrame, replicates: dict, null_preds: pd.DataFrame
) -> list[dict]:
    """Each complete null replicate's pooled out-of-fold AUROC (a null model should sit near 0.5)."""
    classes = list(group["classes"].iloc[0])
    rows = []
    for k, jobs in replicates.items():
        preds = null_preds[null_preds["null_permutation"] == k]
        preds = preds[preds["fold"].isin(group["fold"])]
        y, probs = prediction_arrays(preds, classes)
        rows.append(
            {
                **config,
                "null_permutation": k,
                "n_jobs": len(jobs),
                "pooled_auroc": score(y, probs, classes)["auroc"],
            }
        )
    return rows


def model_permutation_test(preds: pd.DataFrame, group: pd.DataFrame, rows: list[dict]) -> dict:
    """The real model's pooled AUROC (``preds``: its held-out predictions) against its null
    models' (Ojala & Garriga 2010, test 1): ``(1 + #null >= real) / (K + 1)``."""
    classes = list(group["classes"].iloc[0])
    y, probs = prediction_arrays(preds, classes)
    real = float(score(y, probs, classes)["auroc"])
    null = np.array([row["pooled_auroc"] for row in rows], dtype=float)
    p = float(empirical_p(np.array([real]), null)[0]) if len(null) else None
    return {"pooled_auroc": real, "pooled_auroc_empirical_p": p}


def config_tables(
    sweep_dir: Path, group: pd.DataFrame, replicates: dict[int, list[str]], fdr: float
) -> tuple[pd.DataFrame, pd.DataFrame, dict, dict]:
    """(gene table, set table, tail checks, {(importance, class, collection): null matrix})."""
    classes = list(group["classes"].iloc[0])
    real_jobs = group.sort_values("fold")["job"].tolist()
    runs = {"real": real_jobs, **{k: jobs for k, jobs in replicates.items()}}
    gene_frames, set_frames, checks, nulls = [], [], {}, {}
    gene_sets = {}
    attributions = sweep_dir / real_jobs[0] / layout.SALIENCY_DIR / layout.ATTRIBUTIONS
    if attributions.exists():
        genes = pd.read_parquet(attributions, columns=["gene"])["gene"].unique().tolist()
        gene_sets = saliency_gene_sets(sweep_dir, real_jobs[0], genes)
    stats = {
        name: importance_stats(sweep_dir, jobs, classes, gene_sets) for name, jobs in runs.items()
    }
    add_set_nes(stats, gene_sets, gsea_workers(sweep_dir, real_jobs[0]))
    for (unit, importance, cls, collection), observed in stats["real"].items():
        keys = [k for k in replicates if (unit, importance, cls, collection) in stats[k]]
        if not keys:
            continue
        matrix = np.stack(
            [stats[k][unit, importance, cls, collection].reindex(observed.index) for k in keys]
        )
        two_sided = (GENE_IMPORTANCES if unit == "gene" else SET_IMPORTANCES)[importance]
        table = permutation_p(observed.to_numpy(), matrix, two_sided=two_sided)
        table = add_qvalues(table, fdr)
        label = f"{unit}/{importance}/{cls}/{collection}"
        checks[label] = null_checks(matrix, two_sided, fdr)
        table["tail_ok"] = checks[label].get("tail_ok", False)
        if not table["tail_ok"].all():  # the pooled tail failed its checks: exact p only
            table["significant"] = table["empirical_q"] < fdr
            log.warning(
                "importance null %s: %s; called by empirical_q",
                label,
                "; ".join(checks[label].get("problems") or ["too few nulls"]),
            )
        table.insert(0, "rank", table["observed"].rank(ascending=False, method="min"))
        table.insert(0, unit, observed.index.to_numpy())
        table.insert(0, "collection", collection)
        table.insert(0, "class", cls)
        table.insert(0, "importance", importance)
        (gene_frames if unit == "gene" else set_frames).append(table)
        nulls[importance, cls, collection] = (observed.index.to_numpy(), matrix)
    genes = pd.concat(gene_frames, ignore_index=True) if gene_frames else pd.DataFrame()
    sets = pd.concat(set_frames, ignore_index=True) if set_frames else pd.DataFrame()
    return genes, sets, {"checks": checks}, nulls


def importance_stats(
    sweep_dir: Path, jobs: Sequence[str], classes: Sequence[str], gene_sets: dict
) -> dict[tuple, pd.Series]:
    """{(unit, importance, class, collection): values by gene or set} of one run's jobs."""
    stats: dict[tuple, pd.Series] = {}
    stats.update(_masking_stats(sweep_dir, jobs, classes))
    stats.update(_saliency_stats(sweep_dir, jobs, gene_sets))
    return stats


def _masking_stats(sweep_dir: Path, jobs: Sequence[str], classes: Sequence[str]) -> dict:
    """Pooled out-of-fold masking AUROC of every set (per collection) and single gene."""
    stats = {}
    for label in masking_labels(sweep_dir, jobs):
        pooled = pool(sweep_dir, jobs, label, len(classes))
        if pooled is None:
            continue
        patients, names, probs = pooled
        scores = score_masked(probs, patients["y_true"].to_numpy(), classes)
        unit = "gene" if label == layout.SINGLE_GENES else "set"
        cls = classes[1] if len(classes) == 2 else "macro"
        collection = "" if unit == "gene" else label
        for column in ("auroc", "slope"):
            stats[unit, f"masking_{column}", cls, collection] = pd.Series(
                scores[column].to_numpy(), index=pd.Index(names, name=unit)
            )
    return stats


def _saliency_stats(sweep_dir: Path, jobs: Sequence[str], gene_sets: dict) -> dict:
    """Mean signed / absolute attribution over the pooled held-out patients; set NES and share."""
    folders = [sweep_dir / job / layout.SALIENCY_DIR for job in jobs]
    if not all((f / layout.ATTRIBUTIONS).exists() for f in folders):
        return {}
    total = total_abs = index = None
    n = 0
    for folder in folders:
        patients = pd.read_csv(folder / layout.PATIENTS, dtype={"patient_id": str})
        ids = patients.loc[patients["part"] == "test", "patient_id"].tolist()
        frame = pd.read_parquet(folder / layout.ATTRIBUTIONS).set_index(["gene", "class"])[ids]
        values = frame.to_numpy(dtype=np.float64)
        total = values.sum(axis=1) if total is None else total + values.sum(axis=1)
        absolute = np.abs(values).sum(axis=1)
        total_abs = absolute if total_abs is None else total_abs + absolute
        n += len(ids)
        index = frame.index
    stats = {}
    for cls in index.get_level_values("class").unique():
        rows = index.get_level_values("class") == cls
        genes = pd.Index(index.get_level_values("gene")[rows], name="gene")
        mean = pd.Series(total[rows] / n, index=genes)
        mean_abs = pd.Series(total_abs[rows] / n, index=genes)
        stats["gene", "saliency_mean", str(cls), ""] = mean
        stats["gene", "saliency_mean_abs", str(cls), ""] = mean_abs
        for label, members in gene_sets.items():
            stats["set", "saliency_share", str(cls), label] = attribution_share(mean_abs, members)
    return stats


NES_OF = {"saliency_nes": "saliency_mean", "saliency_nes_abs": "saliency_mean_abs"}  # set <- gene


def add_set_nes(stats: dict[object, dict], gene_sets: dict, n_jobs: int = 1) -> None:
    """Add every run's set NES of its mean signed and absolute attribution, GSEA in parallel
    (:func:`prerank`'s own settings, as the sweep's cohort GSEA; sizes already filtered)."""
    tasks = [
        (run, (nes, cls, label), ranking, members)
        for run, run_stats in stats.items()
        for (unit, importance, cls, _), ranking in run_stats.items()
        if unit == "gene"
        for nes, source in NES_OF.items()
        if importance == source
        for label, members in gene_sets.items()
    ]
    if not tasks:
        return
    work = (
        delayed(prerank)(ranking.to_numpy(), list(ranking.index), members)
        for _, _, ranking, members in tasks
    )
    workers = max(1, min(n_jobs, len(tasks)))
    with Progress("permutation-null GSEA", total=len(tasks), unit="rankings") as counter:
        tables = []
        for table in Parallel(n_jobs=workers, return_as="generator")(work):
            tables.append(table)
            counter.update(1)
    if workers > 1:
        release_workers()
    for (run, (nes, cls, label), _, _), table in zip(tasks, tables, strict=True):
        stats[run]["set", nes, cls, label] = table.set_index("set")["nes"]


def attribution_share(mean_abs: pd.Series, sets: dict[str, list[str]]) -> pd.Series:
    """Per set: its genes' mean absolute attribution over the mean of all genes (1 = average)."""
    overall = float(mean_abs.mean())
    upper = pd.Series(mean_abs.to_numpy(), index=mean_abs.index.str.upper())
    upper = upper[~upper.index.duplicated()]
    shares = {}
    for name, members in sets.items():
        values = upper.reindex([str(g).upper() for g in members]).dropna()
        shares[name] = float(values.mean()) / overall if len(values) and overall > 0 else np.nan
    return pd.Series(shares, name="share").rename_axis("set")


def saliency_options(sweep_dir: Path, job: str) -> SaliencyOptions | None:
    """The real job's saliency settings (its config's section), None when it ran none."""
    entry = writing(layout.SALIENCY_DIR)
    section = OmegaConf.select(job_config(sweep_dir / job), f"interpret.{entry.name}")
    return None if section is None else entry.options_from(section)


def saliency_gene_sets(sweep_dir: Path, job: str, genes: Sequence[str]) -> dict:
    """{collection: {set: member symbols}} as the job's saliency settings index them."""
    options = saliency_options(sweep_dir, job)
    if options is None:
        return {}
    indexed = index_collections(options.collections, genes, **options.filters)
    return {label: set_dict(sets, genes) for label, sets in indexed.items()}


def gsea_workers(sweep_dir: Path, job: str) -> int:
    """The real job's saliency ``n_jobs`` (GSEA worker processes), else 1."""
    options = saliency_options(sweep_dir, job)
    return options.n_jobs if options is not None and options.n_jobs > 0 else 1


def _with_keys(table: pd.DataFrame, config: dict) -> pd.DataFrame:
    return table.assign(**config)[[*config, *table.columns]]


def _counts(genes: pd.DataFrame, sets: pd.DataFrame) -> dict:
    """Items with q < fdr per table, importance, class and collection (top 5 named)."""
    counts = {}
    for unit, table in (("gene", genes), ("set", sets)):
        if table.empty:
            continue
        for (importance, cls, collection), part in table.groupby(
            ["importance", "class", "collection"], sort=True
        ):
            hits = part[part["significant"]].sort_values("tail_p")
            counts[f"{unit}/{importance}/{cls}/{collection}"] = {
                "n_items": len(part),
                "n_significant": int(len(hits)),
                "n_empirical_q_below_fdr": int((part["empirical_q"] < 0.05).sum()),
                "top": hits[unit].head(5).tolist(),
            }
    return counts


def _plot(out: Path, config: dict, sets: pd.DataFrame, nulls: dict) -> Path | None:
    """Observed importance (dot) against its K null values (grey) for the top sets of each panel."""
    panels = [key for key in nulls if key[2]]  # set-level importances (collection named)
    if not panels:
        return None
    import matplotlib.pyplot as plt

    from radiogenomics.figures.plots import save_figure

    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 5), squeeze=False)
    for ax, (importance, cls, collection) in zip(axes[0], panels, strict=True):
        names, matrix = nulls[importance, cls, collection]
        part = sets[
            (sets["importance"] == importance)
            & (sets["class"] == cls)
            & (sets["collection"] == collection)
        ]
        top = part.sort_values("observed", ascending=False, key=np.abs).head(N_PLOT)
        position = {n: i for i, n in enumerate(names)}
        for row, (_, item) in enumerate(top.iterrows()):
            values = matrix[:, position[item["set"]]]
            ax.scatter(values, np.full(len(values), row), s=8, color="0.6")
            color = "tab:red" if item["significant"] else "tab:blue"
            ax.scatter([item["observed"]], [row], s=30, color=color, zorder=3)
        ax.set_yticks(range(len(top)))
        ax.set_yticklabels(
            [f"{s} (q {q:.2g})" for s, q in zip(top["set"], top["q"], strict=True)], fontsize=6
        )
        ax.invert_yaxis()
        ax.set_title(f"{importance} / {collection}: real (red: q<FDR) vs nulls (grey)", fontsize=8)
    fig.suptitle(
        f"{config['trait']} / {config['model']}: permutation null of importances", fontsize=9
    )
    fig.tight_layout()
    return save_figure(fig, out / layout.importance_null_plot(config))
