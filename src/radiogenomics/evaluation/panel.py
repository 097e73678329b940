"""The real-data panel's statistics: every model of a task against the task's best comparator.

One **task** (a cohort and trait) has one sweep of the model families (``--models``: the network
``nn`` and the comparators, same outer folds) and one sweep per network **variant** (``model=nn``
plus overrides, same folds), and one nested-tuning sweep per **tuned** row (``model=nn
hparams_search=...``, same folds). Each model or variant row is read from its sweep's own
``summary/cv_summary.csv`` (pooled out-of-fold AUROC with its bootstrap 95% CI, mean fold AUROC;
nothing is recomputed). A tuned row is the nested estimate of its tuning sweep
(:func:`read_nested_rows`): per outer fold the trial with the best inner-validation AUROC
(:func:`radiogenomics.evaluation.comparison.nested_choices`, as ``--nested`` of
``scripts/compare.py``), those trials' held-out predictions pooled and scored as the sweep summary
scores a configuration (same bootstrap CI). Every row is ranked on its **headline AUROC**: the pooled out-of-fold AUROC, or with a repeated CV
(``repeats=R > 1``) the mean over repeats of each repeat's pooled AUROC (the README's headline).

Against the task's **best comparator** (the non-network row with the highest headline AUROC; ties
go to the first in ``--models`` order) each row gets ``diff_to_best`` (headline AUROC difference)
and the paired fold test of :func:`radiogenomics.evaluation.comparison.paired_cv` (mean per-fold
AUROC difference; Nadeau-Bengio / Bouckaert-Frank corrected t-test p). Flags, with the thresholds
below: ``within_0.01`` is ``diff_to_best >= -0.01`` (at most 0.01 below the best comparator,
*or better*), ``below_0.03`` is ``diff_to_best < -0.03``, ``beats_best`` is ``diff_to_best > 0``.
A row whose folds are incomplete (a failed job) is shown but neither ranked nor compared.

:func:`panel_summary` counts, per half and network row, the tasks within 0.01 of the best
comparator, more than 0.03 below it and better than it, with the mean rank and difference. The
same bar held to each comparator, against the best of the *other* comparators
(:func:`comparator_reference`), says how often a single model meets it where the best of several
noisy estimates sets the mark: the summary's reference rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from radiogenomics.evaluation.comparison import (
    NESTED_HASH,
    NESTED_SUFFIX,
    load_sweeps,
    paired_cv,
)
from radiogenomics.evaluation.metrics import bootstrap_auroc_ci, prediction_arrays, score
from radiogenomics.results import layout
from radiogenomics.results.sweep import REPEAT_KEY, SweepData

NETWORK = "nn"  # the network family; every other model of --models is a comparator
WITHIN = 0.01  # within_0.01: at most this far below the best comparator (or better)
FAR_BELOW = 0.03  # below_0.03: more than this far below it
EPS = 1e-9  # AUROC differences are float sums: 0.80 - 0.81 is -0.01000000000000001
WITHIN_FLAG = f"within_{WITHIN:g}"
BELOW_FLAG = f"below_{FAR_BELOW:g}"

# panel.csv, in this order
COLUMNS = [
    "task",
    "half",
    "n",
    "model",
    "kind",
    "n_folds",
    "n_repeats",
    "folds_complete",
    "pooled_auroc",
    "pooled_ci_low",
    "pooled_ci_high",
    "repeat_mean_pooled_auroc",
    "repeat_sd_pooled_auroc",
    "auroc",
    "mean_fold_auroc",
    "rank",
    "n_ranked",
    "best_comparator",
    "best_comparator_auroc",
    "diff_to_best",
    "fold_diff_to_best",
    "p_value",
    "n_paired_folds",
    WITHIN_FLAG,
    BELOW_FLAG,
    "beats_best",
]
SUMMARY_COLUMNS = [
    "half",
    "model",
    "against",
    "n_tasks",
    f"n_{WITHIN_FLAG}",
    f"n_{BELOW_FLAG}",
    "n_beats_best",
    "mean_rank",
    "mean_n_ranked",
    "mean_diff_to_best",
    "median_diff_to_best",
    "mean_fold_diff_to_best",
    "n_p_below_0.05",
]
ALL_HALVES = "all"
AGAINST_BEST = "best comparator"  # panel_summary's against: a network row
AGAINST_OTHERS = "best other comparator"  # a comparator's reference row


class PanelDataError(ValueError):
    """A sweep's tables cannot give the panel's rows (one line: which sweep and why)."""


class Source(NamedTuple):
    """Where one panel row comes from: a sweep, the model in it, and whether the sweep is a
    nested-tuning sweep (the row is then its nested estimate, :func:`read_nested_rows`)."""

    sweep: Path
    model: str
    nested: bool = False


def read_sweep_rows(sweep_dir: str | Path, models: list[str] | None = None) -> pd.DataFrame:
    """One row per model of a sweep's ``summary/cv_summary.csv`` (plain CV, no bootstrap).

    ``models``: keep these (a rerun into the same sweep with fewer ``--models`` keeps the earlier
    rows on disk). Columns: model, trait, config_hash, n, n_folds, n_repeats, folds_complete,
    pooled_auroc, pooled_ci_low, pooled_ci_high, repeat_mean_pooled_auroc, repeat_sd_pooled_auroc,
    auroc (the headline: the repeat mean with repeats, else pooled), mean_fold_auroc. Raises
    :class:`PanelDataError` when the table is missing or a model has several configurations.
    """
    path = layout.summary_dir(sweep_dir) / layout.CV_SUMMARY
    if not Path(sweep_dir).is_dir():
        raise PanelDataError(f"not run (no {sweep_dir})")
    if not path.is_file():
        raise PanelDataError(f"no {path} (the sweep wrote no summary)")
    table = SweepData(sweep_dir).summary_table(layout.CV_SUMMARY)
    if table is None or table.empty:
        raise PanelDataError(f"{path}: no configurations (the sweep summarized no job)")
    table = table[table["bootstrap"].astype(str).isin(["none", "nan"])]
    if models is not None:
        table = table[table["model"].isin(models)]
    several = table.groupby("model")["config_hash"].nunique()
    if (several > 1).any():
        model = several[several > 1].index[0]
        raise PanelDataError(
            f"{path}: {several[model]} configurations of model {model} (its config changed "
            "between runs into this sweep): use a fresh --out or delete the older jobs"
        )
    if table["trait"].nunique() > 1:
        raise PanelDataError(f"{path}: several traits {sorted(table['trait'].unique())}")
    if "pooled_auroc" not in table or table["pooled_auroc"].isna().all():
        raise PanelDataError(
            f"{path}: a continuous trait (pooled R², no AUROC): the panel ranks AUROCs; read "
            f"its summary/{layout.CV_SUMMARY} (pooled_r2, pooled_spearman, pooled_mae) instead"
        )
    n_repeats = table["n_repeats"] if "n_repeats" in table else pd.Series(1, index=table.index)
    repeated = n_repeats.fillna(1) > 1
    out = pd.DataFrame(
        {
            "model": table["model"],
            "trait": table["trait"],
            "config_hash": table["config_hash"],
            "n": table["n_patients"],
            "n_folds": table["n_folds"],
            "n_repeats": n_repeats.fillna(1).astype(int),
            "folds_complete": table["folds_complete"].astype(str).str.lower() == "true",
            "pooled_auroc": table["pooled_auroc"],
            "pooled_ci_low": table["pooled_auroc_ci_low"],
            "pooled_ci_high": table["pooled_auroc_ci_high"],
            "repeat_mean_pooled_auroc": table.get("repeat_mean_pooled_auroc", np.nan),
            "repeat_sd_pooled_auroc": table.get("repeat_sd_pooled_auroc", np.nan),
            "mean_fold_auroc": table["mean_auroc"],
        }
    )
    out["auroc"] = np.where(repeated, out["repeat_mean_pooled_auroc"], out["pooled_auroc"])
    return out.reset_index(drop=True)


def read_nested_rows(sweep_dir: str | Path, n_boot: int = 2000) -> pd.DataFrame:
    """The nested estimate of a tuning sweep, one row per model, columns of :func:`read_sweep_rows`.

    Per outer fold (and CV repeat) the trial with the best inner-validation AUROC is kept
    (:func:`~radiogenomics.evaluation.comparison.nested_choices`: the choice reads ``val_auroc``
    only); its held-out predictions, pooled over the folds, give ``pooled_auroc`` with the sweep
    summary's stratified bootstrap 95% CI (same ``n_boot`` and seed), ``mean_fold_auroc`` is the
    chosen trials' mean held-out AUROC, and with repeats the repeat mean and sd of the pooled AUROC.
    ``folds_complete``: every outer fold of every repeat has a chosen trial. ``model`` is the
    tuned model's name (``nn``), ``config_hash`` ``nested``. Raises :class:`PanelDataError` when
    the sweep did not run or has no finished trial.
    """
    if not Path(sweep_dir).is_dir():
        raise PanelDataError(f"not run (no {sweep_dir})")
    try:
        metrics, predictions = load_sweeps([], nested=[sweep_dir])
    except FileNotFoundError:
        raise PanelDataError(f"no finished trial in {sweep_dir}") from None
    metrics = metrics[metrics["bootstrap"].isna()]
    if metrics.empty:
        raise PanelDataError(f"no plain-CV trial in {sweep_dir}")
    if metrics["trait"].nunique() > 1:
        raise PanelDataError(f"{sweep_dir}: several traits {sorted(metrics['trait'].unique())}")
    rows = []
    for model, jobs in metrics.groupby("model", sort=True):
        preds = predictions[(predictions["model"] == model) & predictions["bootstrap"].isna()]
        classes = [str(c) for c in jobs["classes"].iloc[0]]
        n_folds = int(jobs["n_folds"].iloc[0])
        seeds = sorted(jobs[REPEAT_KEY].dropna().unique()) if REPEAT_KEY in jobs else []
        per_repeat, complete = [], True
        for seed in seeds or [None]:
            part = jobs if seed is None else jobs[jobs[REPEAT_KEY] == seed]
            pooled = preds if seed is None else preds[preds[REPEAT_KEY] == seed]
            y, probs = prediction_arrays(pooled, classes)
            per_repeat.append((part, y, probs, score(y, probs, classes)["auroc"]))
            complete = complete and part["fold"].nunique() == n_folds
        first, y, probs, pooled_auroc = per_repeat[0]
        lo, hi = bootstrap_auroc_ci(y, probs, n_boot=n_boot)
        values = np.array([r[3] for r in per_repeat], dtype=float)
        repeated = len(values) > 1
        rows.append(
            {
                "model": model.removesuffix(NESTED_SUFFIX),
                "trait": jobs["trait"].iloc[0],
                "config_hash": NESTED_HASH,
                "n": len(y),
                "n_folds": n_folds,
                "n_repeats": len(values),
                "folds_complete": bool(complete),
                "pooled_auroc": pooled_auroc,
                "pooled_ci_low": lo,
                "pooled_ci_high": hi,
                "repeat_mean_pooled_auroc": float(values.mean()) if repeated else np.nan,
                "repeat_sd_pooled_auroc": float(values.std(ddof=1)) if repeated else np.nan,
                "mean_fold_auroc": float(first["test_auroc"].mean()),
                "auroc": float(values.mean()) if repeated else pooled_auroc,
            }
        )
    return pd.DataFrame(rows)


def rank_task(rows: pd.DataFrame, comparators: list[str]) -> pd.DataFrame:
    """Rank one task's rows and set each against the best comparator.

    ``rows``: one per model or variant (``model``, ``auroc``, ``folds_complete``); ``comparators``:
    the comparator models in ``--models`` order (ties for best go to the first). Adds ``rank``
    (1 = highest headline AUROC; ties share the best rank), ``n_ranked``, ``best_comparator``,
    ``best_comparator_auroc``, ``diff_to_best`` and the flags (see the module docstring). Rows
    with incomplete folds get no rank and no difference.
    """
    rows = rows.copy()
    ok = rows["folds_complete"].astype(bool) & rows["auroc"].notna()
    rows["rank"] = rows["auroc"].where(ok).rank(ascending=False, method="min")
    rows["n_ranked"] = int(ok.sum())
    candidates = rows[ok & rows["model"].isin(comparators)]
    if candidates.empty:
        rows["best_comparator"], rows["best_comparator_auroc"] = None, np.nan
    else:
        order = candidates["model"].map({m: i for i, m in enumerate(comparators)})
        candidates = candidates.assign(_order=order).sort_values(
            ["auroc", "_order"], ascending=[False, True]
        )
        best = candidates.iloc[0]
        rows["best_comparator"], rows["best_comparator_auroc"] = best["model"], best["auroc"]
    rows["diff_to_best"] = (rows["auroc"] - rows["best_comparator_auroc"]).where(ok)
    diff = rows["diff_to_best"]
    rows[WITHIN_FLAG] = (diff >= -WITHIN - EPS).where(diff.notna())
    rows[BELOW_FLAG] = (diff < -FAR_BELOW - EPS).where(diff.notna())
    rows["beats_best"] = (diff > EPS).where(diff.notna())
    return rows


def paired_to_best(sweeps: dict[str, tuple], best: str, comparator: tuple) -> pd.DataFrame:
    """Paired per-fold test of each row against the best comparator.

    ``sweeps``: row label -> its :class:`Source` (sweep dir, its model in that sweep, nested);
    ``comparator``: the best comparator's. The folds pair by (split seed, fold) because every
    family of a task runs on the same ``n_folds`` / ``split_seed``; a tuned row pairs its chosen
    trial of each fold. The statistics are
    :func:`~radiogenomics.evaluation.comparison.paired_cv`'s (row minus best comparator).
    Columns: model, fold_diff_to_best, p_value, n_paired_folds.
    """
    frames: dict[tuple[Path, bool], tuple[pd.DataFrame, pd.DataFrame]] = {}

    def jobs(source: Source, label: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        sweep, model, nested = source
        key = (Path(sweep), nested)
        if key not in frames:
            frames[key] = load_sweeps([], nested=[sweep]) if nested else load_sweeps([sweep])
        metrics, predictions = frames[key]
        model = f"{model}{NESTED_SUFFIX}" if nested else model
        keep_m = (metrics["model"] == model) & metrics["bootstrap"].isna()
        keep_p = (predictions["model"] == model) & predictions["bootstrap"].isna()
        return metrics[keep_m].assign(label=label), predictions[keep_p].assign(label=label)

    best_m, best_p = jobs(Source(*comparator), best)
    rows = []
    for label, source in sweeps.items():
        if label == best:
            continue
        metrics, predictions = jobs(Source(*source), label)
        if metrics.empty or best_m.empty:
            continue
        metrics, predictions = pd.concat([metrics, best_m]), pd.concat([predictions, best_p])
        tests, _ = paired_cv(metrics, predictions, reference=label)
        tests = tests[tests["comparator"] == best]
        if len(tests):
            t = tests.iloc[0]
            rows.append(
                {
                    "model": label,
                    "fold_diff_to_best": t["mean_diff"],
                    "p_value": t["p_value"],
                    "n_paired_folds": int(t["n_folds"]),
                }
            )
    return pd.DataFrame(rows, columns=["model", "fold_diff_to_best", "p_value", "n_paired_folds"])


def task_rows(
    task: str,
    half: str,
    sweeps: dict[str, tuple[Path, str]],
    comparators: list[str],
    networks: list[str],
) -> pd.DataFrame:
    """Every row of one task: read, ranked and tested against the best comparator.

    ``sweeps``: row label (a model family, a variant or a tuned row's name) -> its
    :class:`Source` (sweep dir, model in it[, nested]), in table order; ``networks``: the network
    rows' labels. Raises :class:`PanelDataError` when no sweep of the task has a summary.
    """
    sweeps = {label: Source(*source) for label, source in sweeps.items()}
    parts, errors, cache = [], [], {}
    for label, (sweep, model, nested) in sweeps.items():
        key = (Path(sweep), nested)
        try:
            if key not in cache:
                cache[key] = read_nested_rows(key[0]) if nested else read_sweep_rows(key[0])
        except PanelDataError as err:
            errors.append(str(err))
            continue
        row = cache[key][cache[key]["model"] == model]
        if len(row):
            parts.append(row.assign(model=label))
    if not parts:
        raise PanelDataError("; ".join(dict.fromkeys(errors)) or "no rows for the requested models")
    rows = rank_task(pd.concat(parts, ignore_index=True), comparators)
    rows["kind"] = np.where(rows["model"].isin(networks), "network", "comparator")
    best = rows["best_comparator"].iloc[0]
    if best is not None and not pd.isna(best):
        ranked = rows[rows["rank"].notna()]["model"]
        tested = {label: sweeps[label] for label in ranked}
        tests = paired_to_best(tested, best, sweeps[best])
        rows = rows.merge(tests, on="model", how="left")
    rows = rows.assign(task=task, half=half)
    return rows.reindex(columns=COLUMNS)


def comparator_reference(table: pd.DataFrame, comparators: list[str]) -> pd.DataFrame:
    """Each comparator of ``table`` held to the network's bar: per task, its headline AUROC
    against the best of the *other* comparators (:func:`rank_task` among the comparator rows),
    with the same flags; rank among the comparators. No paired test (fold columns empty)."""
    parts = []
    for _, rows in table.groupby(["task", "half"], sort=False):
        rows = rows[rows["model"].isin(comparators)].drop(columns=["rank", "n_ranked"])
        for model in rows["model"]:
            others = [c for c in comparators if c != model]
            ranked = rank_task(rows, others)
            parts.append(ranked[ranked["model"] == model])
    reference = pd.concat(parts, ignore_index=True) if parts else table.iloc[:0]
    return reference.assign(fold_diff_to_best=np.nan, p_value=np.nan)


def panel_summary(
    table: pd.DataFrame, networks: list[str], comparators: list[str] = ()
) -> pd.DataFrame:
    """Per half (and ``all`` when there are several) and network row: how it fares against the
    best comparator over the tasks where both have complete folds; then, per comparator, the
    same counts against the best of the other comparators (:func:`comparator_reference`).

    ``against``: ``best comparator`` (a network row) or ``best other comparator`` (a reference
    row); ``n_tasks``: tasks compared; ``n_within_0.01``, ``n_below_0.03``, ``n_beats_best``:
    counts of the flags; ``mean_rank`` (1 = best of the task's ``n_ranked`` rows; a reference
    row: among the comparators), ``mean_diff_to_best`` and ``median_diff_to_best`` (headline
    AUROC minus the best comparator's), ``mean_fold_diff_to_best`` (the paired fold differences'
    means, averaged), ``n_p_below_0.05`` (tasks whose corrected paired test gives p < 0.05,
    either sign; empty for reference rows).
    """
    order = {"dev": 0, "report": 1}
    halves = sorted(dict.fromkeys(table["half"]), key=lambda h: (order.get(h, 2), str(h)))
    if len(halves) > 1:
        halves.append(ALL_HALVES)
    reference = comparator_reference(table, list(comparators)) if len(comparators) else None
    rows = []
    for against, source, models in (
        (AGAINST_BEST, table, networks),
        (AGAINST_OTHERS, reference, comparators),
    ):
        for half in halves if source is not None else ():
            part = source if half == ALL_HALVES else source[source["half"] == half]
            for model in models:
                sel = part[(part["model"] == model) & part["diff_to_best"].notna()]
                rows.append({"half": half, "model": model, "against": against, **_counts(sel)})
    summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    summary.loc[summary["against"] == AGAINST_OTHERS, "n_p_below_0.05"] = np.nan
    return summary


def _counts(sel: pd.DataFrame) -> dict:
    """One summary row's counts and means over the rows ``sel`` (one per task)."""
    diff = sel["diff_to_best"].astype(float)
    empty = sel.empty
    return {
        "n_tasks": len(sel),
        f"n_{WITHIN_FLAG}": int(sel[WITHIN_FLAG].astype(bool).sum()),
        f"n_{BELOW_FLAG}": int(sel[BELOW_FLAG].astype(bool).sum()),
        "n_beats_best": int(sel["beats_best"].astype(bool).sum()),
        "mean_rank": np.nan if empty else sel["rank"].astype(float).mean(),
        "mean_n_ranked": np.nan if empty else sel["n_ranked"].astype(float).mean(),
        "mean_diff_to_best": np.nan if empty else diff.mean(),
        "median_diff_to_best": np.nan if empty else diff.median(),
        "mean_fold_diff_to_best": np.nan
        if empty
        else sel["fold_diff_to_best"].astype(float).mean(),
        "n_p_below_0.05": int((sel["p_value"].astype(float) < 0.05).sum()),
    }
