"""Binary, ordinal and multi-task networks of the same traits, compared at the paper's cut.

Each kind is read from its sweeps (``results.sweep.collect``) and reduced to one held-out row per
patient: the target at the paper's binarization and the network's score for it. The binary
network's score is ``y_prob``; the ordinal network's is ``P(y >= binary_cut)``, the sum of its
level probabilities from the cut up; a multi-task network's per-trait job is read like a binary
job. Per trait:

* the pooled out-of-fold AUROC of each kind with a stratified bootstrap 95% CI;
* ordinal minus binary: the ordinal folds are the binary folds (split on the paper's classes),
  so the difference pairs by patient (a stratified bootstrap that resamples patients once for
  both networks) and by fold (the Nadeau-Bengio corrected resampled t-test of per-fold AUROC
  differences, :func:`radiogenomics.evaluation.comparison.corrected_repeated_cv_ttest`);
* multi-task minus binary: the multi-task folds stratify the multi-task cohort, so only the
  patient pairing holds (the bootstrap over the patients both networks scored);
* the cost: the summed ``elapsed_s`` of each kind's jobs for the trait; one multi-task network
  serves every trait, so its total (the ``multitask.json`` of each fold) is shared equally.

Only the first CV repeat of plain CV (no ``bootstrap=``) is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from radiogenomics.evaluation.comparison import corrected_repeated_cv_ttest
from radiogenomics.evaluation.metrics import (
    auroc,
    bootstrap_auroc_ci,
    resampled_aurocs,
    stratified_counts,
)
from radiogenomics.evaluation.ordinal import cumulative_scores
from radiogenomics.results.sweep import collect, first_repeat, group_frame, multitask_records

KINDS = ("binary", "ordinal", "multitask")
N_BOOT = 2000
LEVEL = 0.95


def _plain_cv(frame: pd.DataFrame) -> pd.DataFrame:
    """The first CV repeat's rows of plain-CV jobs."""
    if frame.empty:
        return frame
    frame = first_repeat(group_frame(frame))
    return frame[frame["bootstrap"] == "none"]


def paper_cut_scores(predictions: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per held-out patient and trait: trait, patient_id, fold, target (0/1), score.

    ``target`` is the patient's class at the paper's cut, ``score`` the network's probability
    of the positive side: ``y_prob`` for two classes, ``P(y >= binary_cut)`` for an ordinal job.
    """
    parts = []
    for trait, preds in predictions.groupby("trait", sort=False):
        job = metrics[metrics["trait"] == trait].iloc[0]
        classes = list(job["classes"])
        cut = job.get("binary_cut")
        y = preds["y_true"].to_numpy(int)
        if cut is not None and not pd.isna(cut):
            probs = preds[[f"prob_{c}" for c in classes]].to_numpy(float)
            target, score = y >= int(cut), cumulative_scores(probs)[:, int(cut) - 1]
        elif len(classes) == 2:
            target, score = y == 1, preds["y_prob"].to_numpy(float)
        else:
            raise ValueError(
                f"trait {trait!r}: {len(classes)} classes and no binary_cut; expected a binary "
                "job or an ordinal one (trait.kind=ordinal)"
            )
        part = preds[["trait", "patient_id", "fold"]].copy()
        part["target"], part["score"] = target.astype(int), score
        parts.append(part)
    columns = ["trait", "patient_id", "fold", "target", "score"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def read_kind(sweeps: Sequence[str | Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(paper-cut scores, per-job metrics) of every plain-CV job in ``sweeps``, first repeat."""
    metrics, predictions = [], []
    for sweep in sweeps:
        m, p, _ = collect(sweep)
        metrics.append(_plain_cv(m))
        predictions.append(_plain_cv(p))
    metrics = pd.concat(metrics, ignore_index=True) if metrics else pd.DataFrame()
    predictions = pd.concat(predictions, ignore_index=True) if predictions else pd.DataFrame()
    if metrics.empty:
        return paper_cut_scores(pd.DataFrame(columns=["trait"]), metrics), metrics
    scores = paper_cut_scores(predictions, metrics)
    duplicated = scores.duplicated(["trait", "patient_id"])
    if duplicated.any():
        first = scores[duplicated].iloc[0]
        raise ValueError(
            f"patient {first['patient_id']} of trait {first['trait']!r} is held out twice among "
            f"{[str(s) for s in sweeps]}: give one sweep of one configuration per trait"
        )
    return scores, metrics


def pooled_auroc(
    target: np.ndarray, score: np.ndarray, n_boot: int = N_BOOT, seed: int = 0
) -> dict[str, float]:
    """Pooled AUROC with its stratified bootstrap percentile CI, and the patients it counts."""
    lo, hi = bootstrap_auroc_ci(target, score, n_boot=n_boot, level=LEVEL, seed=seed)
    return {"auroc": auroc(target, score), "ci_low": lo, "ci_high": hi, "n": int(len(target))}


def paired_auroc_difference(
    target: np.ndarray,
    score_a: np.ndarray,
    score_b: np.ndarray,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> dict[str, float]:
    """AUROC(a) - AUROC(b) on the same patients, with a patient-paired stratified bootstrap CI.

    Each resample draws patients within each class once and scores both networks on it, so the
    interval is that of the difference, not of two independent AUROCs.
    """
    target = np.asarray(target, dtype=int)
    counts = stratified_counts(target, n_boot, np.random.default_rng(seed))
    what = "paired bootstrap AUROC difference"
    diffs = resampled_aurocs(target, score_a, counts, what) - resampled_aurocs(
        target, score_b, counts, what
    )
    lo, hi = np.percentile(diffs, [(1 - LEVEL) / 2 * 100, (1 + LEVEL) / 2 * 100])
    return {
        "diff": auroc(target, score_a) - auroc(target, score_b),
        "ci_low": float(lo),
        "ci_high": float(hi),
        "n": int(len(target)),
    }


def fold_paired_ttest(a: pd.DataFrame, b: pd.DataFrame, jobs: pd.DataFrame) -> dict[str, float]:
    """Corrected resampled t-test of per-fold AUROC(a) - AUROC(b) on the folds both hold.

    ``a``, ``b``: one trait's paper-cut scores; ``jobs``: ``a``'s metrics (train and test sizes).
    ``same_folds`` is true when every shared fold holds the same patients in both.
    """
    folds = sorted(set(a["fold"]) & set(b["fold"]))
    diffs, same = [], True
    for fold in folds:
        fa, fb = a[a["fold"] == fold], b[b["fold"] == fold]
        same = same and set(fa["patient_id"]) == set(fb["patient_id"])
        diffs.append(auroc(fa["target"], fa["score"]) - auroc(fb["target"], fb["score"]))
    jobs = jobs[jobs["fold"].isin(folds)]
    n_train = float((jobs["n_train"] + jobs["n_val"]).mean())
    test = corrected_repeated_cv_ttest(np.array(diffs), n_train, float(jobs["n_test"].mean()))
    return {**test, "same_folds": bool(same)}


def _paired(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Patients both score (one trait), with ``target``, ``score_a`` and ``score_b``."""
    both = a.merge(b, on="patient_id", suffixes=("_a", "_b"))
    if (both["target_a"] != both["target_b"]).any():
        bad = both.loc[both["target_a"] != both["target_b"], "patient_id"].iloc[0]
        raise ValueError(f"patient {bad}: the two sweeps disagree on the class at the paper's cut")
    return both.rename(columns={"target_a": "target"})


def _elapsed(metrics: pd.DataFrame, trait: str) -> float:
    """Summed elapsed_s of one trait's jobs (NaN without any)."""
    if metrics.empty:
        return float("nan")
    rows = metrics[metrics["trait"] == trait]
    return float(rows["elapsed_s"].sum()) if len(rows) else float("nan")


def multitask_cost(sweeps: Sequence[str | Path]) -> dict[str, float]:
    """Total elapsed_s of the multi-task networks (their ``multitask.json``), jobs and traits."""
    records = pd.concat([multitask_records(s) for s in sweeps] or [pd.DataFrame()])
    if records.empty:
        return {"elapsed_s": float("nan"), "n_jobs": 0, "n_traits": 0}
    n_traits = int(records["traits"].map(len).max())
    return {
        "elapsed_s": float(records["elapsed_s"].sum()),
        "n_jobs": int(len(records)),
        "n_traits": n_traits,
    }


def compare_heads(
    binary: Sequence[str | Path],
    ordinal: Sequence[str | Path] = (),
    multitask: Sequence[str | Path] = (),
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-trait comparison table, cost table) of the binary, ordinal and multi-task sweeps.

    One row per trait of the binary sweeps; a kind without a sweep of the trait leaves its
    columns empty (a two-level trait has no ordinal network of its own: it is the binary one).
    """
    scores, jobs = {}, {}
    for kind, sweeps in zip(KINDS, (binary, ordinal, multitask), strict=True):
        scores[kind], jobs[kind] = read_kind(sweeps)
    mt_cost = multitask_cost(multitask)
    rows = []
    for trait in pd.unique(scores["binary"]["trait"]):  # in the order of the binary sweeps
        one = {k: s[s["trait"] == trait].drop(columns="trait") for k, s in scores.items()}
        row: dict = {"trait": trait}
        for kind in KINDS:
            s = one[kind]
            stats = pooled_auroc(s["target"], s["score"], n_boot, seed) if len(s) else {}
            for key in ("auroc", "ci_low", "ci_high", "n"):
                row[f"{kind}_{key}"] = stats.get(key, np.nan)
        if len(one["ordinal"]):
            both = _paired(one["ordinal"], one["binary"])
            diff = paired_auroc_difference(
                both["target"], both["score_a"], both["score_b"], n_boot, seed
            )
            row.update({f"ordinal_minus_binary_{k}": v for k, v in diff.items()})
            binary_jobs = jobs["binary"][jobs["binary"]["trait"] == trait]
            test = fold_paired_ttest(one["ordinal"], one["binary"], binary_jobs)
            row.update(
                ordinal_fold_mean_diff=test["mean_diff"],
                ordinal_fold_t=test["t"],
                ordinal_fold_p=test["p_value"],
                ordinal_n_folds=test["n_folds"],
                ordinal_same_folds=test["same_folds"],
            )
        if len(one["multitask"]):
            both = _paired(one["multitask"], one["binary"])
            diff = paired_auroc_difference(
                both["target"], both["score_a"], both["score_b"], n_boot, seed
            )
            row.update({f"multitask_minus_binary_{k}": v for k, v in diff.items()})
        row["binary_elapsed_s"] = _elapsed(jobs["binary"], trait)
        row["ordinal_elapsed_s"] = _elapsed(jobs["ordinal"], trait)
        if mt_cost["n_traits"] and len(one["multitask"]):
            row["multitask_share_elapsed_s"] = mt_cost["elapsed_s"] / mt_cost["n_traits"]
        rows.append(row)
    table = pd.DataFrame(rows)
    cost = pd.DataFrame(
        [
            _cost_row("binary", jobs["binary"]),
            _cost_row("ordinal", jobs["ordinal"]),
            {
                "kind": "multitask",
                "networks": mt_cost["n_jobs"],
                "traits": mt_cost["n_traits"],
                "elapsed_s": mt_cost["elapsed_s"],
            },
        ]
    )
    cost["elapsed_s_per_trait"] = cost["elapsed_s"] / cost["traits"].replace(0, np.nan)
    return table, cost


def _cost_row(kind: str, metrics: pd.DataFrame) -> dict:
    """Networks trained, traits and summed elapsed_s of one single-trait kind."""
    if metrics.empty:
        return {"kind": kind, "networks": 0, "traits": 0, "elapsed_s": float("nan")}
    return {
        "kind": kind,
        "networks": int(len(metrics)),
        "traits": int(metrics["trait"].nunique()),
        "elapsed_s": float(metrics["elapsed_s"].sum()),
    }
