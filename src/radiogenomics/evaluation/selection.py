"""Nested hyperparameter selection over a sweep of configurations x outer folds.

Per (trait, model, bootstrap) and outer fold, the configuration with the best inner-validation
score (``val_auroc``: the network's early-stopping split, the comparators' inner CV; both carved
from the training folds) is chosen, and that configuration's held-out test AUROC is reported.
The choice sees only the selection metric, never a test score, so the mean (and pooled AUROC) of
the chosen per-fold test scores is a nested-CV estimate. The best mean test AUROC over
configurations is reported next to it, labelled optimistic: it picks the winner on the test folds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from radiogenomics.evaluation.metrics import prediction_arrays, score
from radiogenomics.results import layout
from radiogenomics.results.sweep import SweepData, first_repeat, load_jobs
from radiogenomics.utils import write_csv, write_json

SELECT_KEYS = ["trait", "model", "bootstrap"]
PER_JOB_OVERRIDES = ("fold", "bootstrap", "repeat", "repeats")  # vary within one configuration
DEFAULT_METRIC = "val_auroc"
TEST_METRIC = "test_auroc"


def _override_key(line: str) -> str:
    return line.split("=", 1)[0].lstrip("+~")


def config_labels(jobs: pd.DataFrame) -> dict[str, str]:
    """Per config_hash: the override values that differ between the configurations of its group."""
    labels = {}
    for _, group in jobs.groupby(SELECT_KEYS, sort=False):
        per_config = {
            h: {o for o in g["overrides"].iloc[0] if _override_key(o) not in PER_JOB_OVERRIDES}
            for h, g in group.sort_values("fold").groupby("config_hash", sort=False)
        }
        shared = set.intersection(*per_config.values())
        for h, overrides in per_config.items():
            differing = " ".join(sorted(overrides - shared))
            labels[h] = differing or (
                "(defaults)" if len(per_config) > 1 else "(one configuration)"
            )
    return labels


def choose(candidates: pd.DataFrame, metric: str = DEFAULT_METRIC) -> pd.Series:
    """The config_hash with the best ``metric`` among one fold's candidates (ties: lowest hash).

    Gets only (config_hash, metric): a held-out score cannot influence the choice.
    """
    scored = candidates.dropna(subset=[metric])
    if scored.empty:
        return pd.Series(dtype=object)
    return scored.sort_values([metric, "config_hash"], ascending=[False, True]).iloc[0]


def select_per_fold(jobs: pd.DataFrame, metric: str = DEFAULT_METRIC) -> pd.DataFrame:
    """Per (trait, model, bootstrap, fold): the chosen configuration and its held-out test AUROC."""
    if metric.startswith("test_"):
        raise ValueError(f"select on an inner-validation metric, not {metric!r} (held-out folds)")
    if metric not in jobs.columns:
        raise ValueError(f"{metric!r} is not in the jobs' {layout.METRICS}")
    if TEST_METRIC not in jobs.columns:  # a continuous trait's jobs write test_r2
        raise ValueError(
            f"the jobs' {layout.METRICS} have no {TEST_METRIC} (a continuous trait?): nested "
            f"selection reports AUROCs; compare configurations by their {layout.CV_SUMMARY} pooled_r2"
        )
    labels = config_labels(jobs)
    rows = []
    for key, fold_jobs in jobs.groupby([*SELECT_KEYS, "fold"], sort=True):
        best = choose(fold_jobs[["config_hash", metric]], metric)
        if best.empty:
            continue
        chosen = fold_jobs[fold_jobs["config_hash"] == best["config_hash"]].iloc[0]
        rows.append(
            {
                **dict(zip([*SELECT_KEYS, "fold"], key, strict=True)),
                "n_candidates": len(fold_jobs),
                "config_hash": chosen["config_hash"],
                "config": labels[chosen["config_hash"]],
                metric: float(chosen[metric]),
                TEST_METRIC: float(chosen[TEST_METRIC]),
                "job": chosen["job"],
            }
        )
    return pd.DataFrame(rows)


def pooled_auroc(sweep_dir: Path, jobs: pd.DataFrame) -> float | None:
    """AUROC of the jobs' predictions.csv pooled across folds; None if a file is missing."""
    paths = [sweep_dir / job / layout.PREDICTIONS for job in jobs["job"]]
    if not paths or not all(p.exists() for p in paths):
        return None
    frame = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    classes = list(jobs["classes"].iloc[0]) if "classes" in jobs else ["0", "1"]
    y, probs = prediction_arrays(frame, classes)
    return float(score(y, probs, classes)["auroc"])


def _sd(values: pd.Series) -> float | None:
    return float(values.std(ddof=1)) if len(values) > 1 else None


def summarize_group(sweep_dir: Path, jobs: pd.DataFrame, chosen: pd.DataFrame, metric: str) -> dict:
    """Nested estimate and the optimistic best-on-test figure for one (trait, model, bootstrap)."""
    labels = config_labels(jobs)
    per_config = jobs.groupby("config_hash").agg(
        n_folds=("fold", "nunique"),
        mean_test=(TEST_METRIC, "mean"),
        mean_metric=(metric, "mean"),
    )
    complete = per_config[per_config["n_folds"] == per_config["n_folds"].max()]
    optimistic = complete["mean_test"].idxmax()
    final = complete["mean_metric"].idxmax()
    chosen_jobs = jobs.set_index("job").loc[chosen["job"]].reset_index()
    return {
        **{k: chosen[k].iloc[0] for k in SELECT_KEYS},
        "selection_metric": metric,
        "n_configs": int(len(per_config)),
        "n_folds": int(chosen["fold"].nunique()),
        "nested_mean_test_auroc": float(chosen[TEST_METRIC].mean()),
        "nested_sd_test_auroc": _sd(chosen[TEST_METRIC]),
        "nested_pooled_test_auroc": pooled_auroc(sweep_dir, chosen_jobs),
        "chosen_configs": {
            labels[h]: int(n) for h, n in chosen["config_hash"].value_counts().items()
        },
        "final_config": labels[final],  # best mean selection metric: to refit on all patients
        "final_config_hash": final,
        "optimistic_best_mean_test_auroc": float(complete.loc[optimistic, "mean_test"]),
        "optimistic_pooled_test_auroc": pooled_auroc(
            sweep_dir, jobs[jobs["config_hash"] == optimistic]
        ),
        "optimistic_config": labels[optimistic],
        "optimistic_config_hash": optimistic,
        "optimistic_note": "best mean test AUROC over configurations: chosen on the held-out "
        "folds themselves, biased upwards; not an estimate of performance",
    }


def select(
    sweep_dir: str | Path, metric: str = DEFAULT_METRIC, out: str | Path | None = None
) -> tuple[pd.DataFrame, list[dict]]:
    """Write selection.csv and selection.json (default: SWEEP_DIR/summary); return both.

    A repeated CV (``repeats=R``) is selected on its first repeat (``split_seed``), where each
    outer fold is one job per configuration.
    """
    sweep_dir = Path(sweep_dir)
    out = Path(out) if out else layout.summary_dir(sweep_dir)
    jobs = first_repeat(load_jobs(sweep_dir))
    if jobs.empty:
        raise FileNotFoundError(f"no completed jobs ({layout.METRICS}) under {sweep_dir}")
    chosen = select_per_fold(jobs, metric)
    groups = []
    for key, group_chosen in chosen.groupby(SELECT_KEYS, sort=True):
        mask = np.logical_and.reduce([jobs[k] == v for k, v in zip(SELECT_KEYS, key, strict=True)])
        groups.append(summarize_group(sweep_dir, jobs[mask], group_chosen, metric))
    write_csv(out / layout.SELECTION_TABLE, chosen)
    write_json(out / layout.SELECTION_JSON, {"sweep_dir": str(sweep_dir), "groups": groups})
    return chosen, groups


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or np.isnan(value) else f"{value:.3f}"


def format_selection(chosen: pd.DataFrame, groups: list[dict]) -> str:
    """The per-fold choices and the nested vs optimistic estimates as plain text."""
    metric = groups[0]["selection_metric"] if groups else DEFAULT_METRIC
    lines = [
        f"Nested selection: per outer fold, the configuration with the best {metric} "
        "(training folds only); its held-out test AUROC reported",
        f"{'trait':<14}{'model':<10}{'boot':<6}{'fold':>5}{'configs':>9}  "
        f"{'val':>6}{'test':>7}  chosen configuration",
    ]
    for _, r in chosen.iterrows():
        lines.append(
            f"{r['trait']:<14}{r['model']:<10}{str(r['bootstrap']):<6}{r['fold']:>5}"
            f"{r['n_candidates']:>9}  {r[metric]:>6.3f}{r[TEST_METRIC]:>7.3f}  {r['config']}"
        )
    for g in groups:
        lines += [
            "",
            f"{g['trait']} / {g['model']} / bootstrap {g['bootstrap']}: {g['n_configs']} "
            f"configurations, {g['n_folds']} folds",
            f"  nested CV test AUROC:  mean {_fmt(g['nested_mean_test_auroc'])} "
            f"(sd {_fmt(g['nested_sd_test_auroc'])}), pooled "
            f"{_fmt(g['nested_pooled_test_auroc'])}",
            f"  optimistic (best mean test AUROC, chosen on the test folds): "
            f"{_fmt(g['optimistic_best_mean_test_auroc'])}, pooled "
            f"{_fmt(g['optimistic_pooled_test_auroc'])}  [{g['optimistic_config']}]",
            f"  final configuration (best mean {metric}): {g['final_config']}",
        ]
    return "\n".join(lines)


def tuning_summary(sweep_dir: str | Path) -> str | None:
    """A tuning sweep's Optuna record (``tuning/tuning.json``) as text; None for a grid sweep."""
    report = SweepData(sweep_dir).tuning
    if report is None:
        return None
    studies = report.get("studies", [])
    complete = [s.get("complete", 0) for s in studies]
    failed = sum(s.get("failed", 0) for s in studies)
    settings = report.get("settings", {})
    return (
        f"Optuna (TPE, seed {settings.get('seed')}, objective {settings.get('objective')}): "
        f"{len(studies)} studies (one per outer job), {min(complete, default=0)}-"
        f"{max(complete, default=0)} completed trials each (budget {settings.get('n_trials')}), "
        f"{failed} failed; last run: {report.get('trials_run_now')} trials in "
        f"{report.get('wall_s_now')} s. The chosen trial per fold above is the best "
        "inner-validation AUROC (ties: lowest config hash; Optuna's own best_trial in "
        f"{layout.TUNING_DIR}/{layout.TUNING_REPORT} keeps the first)."
    )
