"""Model comparison: per-model AUROC tables and paired network-minus-comparator statistics.

Inputs are the frames of ``results.sweep.collect`` (one row per job; pooled predictions).
Folds and bootstrap replicates pair across models because every family gets identical splits
(``data.splits.make_fold_split``); ``same_patients`` columns check that from the job files. A
repeated CV (``repeats=R``) pairs folds by (split seed, fold): the paired test runs over all R*k
fold differences (Bouckaert & Frank's correction), and the pooled AUROCs are per repeat.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from radiogenomics.evaluation.metrics import bootstrap_auroc_ci, prediction_arrays, score
from radiogenomics.results import layout
from radiogenomics.results.sweep import GROUP_KEYS, REPEAT_KEY, collect, first_repeat


def corrected_resampled_ttest(diffs: np.ndarray, n_train: float, n_test: float) -> dict[str, float]:
    """Nadeau & Bengio (2003) corrected resampled t-test of paired per-fold differences.

    Folds share training patients, so the naive variance ``var/J`` is too small; the correction
    uses ``(1/J + n_test/n_train) * var`` and ``J - 1`` degrees of freedom. Two-sided p-value.
    """
    d = np.asarray(diffs, dtype=float)
    J = len(d)
    if J < 2:
        raise ValueError(f"need at least 2 paired folds, got {J}")
    mean, var = float(d.mean()), float(d.var(ddof=1))
    se = np.sqrt((1.0 / J + n_test / n_train) * var)
    if se == 0:
        t = 0.0 if mean == 0 else float(np.sign(mean) * np.inf)
    else:
        t = mean / se
    p = float(2 * stats.t.sf(abs(t), df=J - 1))
    return {"mean_diff": mean, "t": float(t), "df": J - 1, "p_value": p, "n_folds": J}


def corrected_repeated_cv_ttest(
    diffs: np.ndarray, n_train: float, n_test: float, n_repeats: int = 1
) -> dict[str, float]:
    """Bouckaert & Frank (2004) corrected repeated k-fold CV t-test of paired fold differences.

    ``diffs``: every fold's difference of all ``n_repeats`` repeats (R*k values).
    ``t = mean / sqrt((1/(R*k) + n_test/n_train) * var)`` with ``R*k - 1`` degrees of freedom:
    the Nadeau-Bengio correction over every fold of every repeat. One repeat is
    :func:`corrected_resampled_ttest` itself (same dict); more add ``n_repeats``, and ``n_folds``
    counts the R*k paired folds.
    """
    out = corrected_resampled_ttest(diffs, n_train, n_test)
    if n_repeats > 1:
        out["n_repeats"] = int(n_repeats)
    return out


def percentile_summary(diffs: np.ndarray, level: float = 0.95) -> dict[str, float]:
    """Mean, percentile interval and share of non-positive values of bootstrap differences."""
    d = np.asarray(diffs, dtype=float)
    lo, hi = np.percentile(d, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return {
        "mean_diff": float(d.mean()),
        "ci_low": float(lo),
        "ci_high": float(hi),
        "share_not_better": float((d <= 0).mean()),
        "n_replicates": len(d),
    }


NESTED_SUFFIX = "_tuned"  # model label of a tuning sweep's nested choices (nn -> nn_tuned)
NESTED_HASH = "nested"  # their config hash: one label although each fold chose its own trial


def nested_choices(
    metrics: pd.DataFrame, predictions: pd.DataFrame, metric: str = "val_auroc"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep, per (trait, model, bootstrap, fold), the job with the best inner-validation ``metric``
    (``evaluation.selection.choose``: ties to the lowest config hash), relabelled ``<model>_tuned``.

    The choice reads the selection metric only, so the kept jobs' held-out predictions are a
    nested estimate (a tuning sweep: one trial per fold; a grid sweep: one configuration per fold).
    """
    from radiogenomics.evaluation.selection import choose

    keys = ["trait", "model", "bootstrap", REPEAT_KEY, "fold"]
    frame = metrics.assign(bootstrap=metrics["bootstrap"].astype(float))
    chosen = []
    for _, group in frame.groupby(keys, dropna=False, sort=True):
        best = choose(group[["config_hash", metric]], metric)
        if not best.empty:
            chosen.append(group[group["config_hash"] == best["config_hash"]].iloc[:1])
    if not chosen:
        return metrics.iloc[:0], predictions.iloc[:0]
    kept = pd.concat(chosen)
    job_keys = ["trait", "model", "config_hash", REPEAT_KEY, "fold"]
    job_of = set(kept[job_keys].itertuples(index=False, name=None))
    pred_keys = predictions[job_keys].itertuples(index=False, name=None)
    preds = predictions[[k in job_of for k in pred_keys]].copy()
    kept = kept.copy()
    for frame_ in (kept, preds):
        frame_["model"] = frame_["model"] + NESTED_SUFFIX
        frame_["config_hash"] = NESTED_HASH
    return kept.reset_index(drop=True), preds.reset_index(drop=True)


MERGED_HASH = "merged"  # by_model: every configuration of a model as one


def load_sweeps(
    sweep_dirs: list, nested: tuple | list = (), by_model: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Completed jobs of several sweeps (``results.sweep.collect``), labelled; a job repeated in a later
    sweep (same trait, model, config, replicate, fold) is dropped in favour of the first.

    Sweeps listed in ``nested`` (tuning or grid sweeps) contribute their nested choices only
    (:func:`nested_choices`), as model ``<model>_tuned``. ``by_model``: one label per model
    whatever its config hash (a sweep whose config files gained a key between its jobs)."""
    all_metrics, all_preds = [], []
    sources = [(s, False) for s in sweep_dirs] + [(n, True) for n in nested]
    for i, (sweep, is_nested) in enumerate(sources):
        metrics, predictions, _ = collect(sweep)
        if metrics.empty:
            continue
        if is_nested:
            metrics, predictions = nested_choices(metrics, predictions)
        metrics["sweep"], predictions["sweep"] = i, i
        all_metrics.append(metrics)
        all_preds.append(predictions)
    if not all_metrics:
        raise FileNotFoundError(
            f"no completed jobs ({layout.METRICS}) under {[str(s) for s, _ in sources]}"
        )
    metrics = pd.concat(all_metrics, ignore_index=True)
    predictions = pd.concat(all_preds, ignore_index=True)
    for frame in (metrics, predictions):
        if by_model:
            frame["config_hash"] = MERGED_HASH
        frame["bootstrap"] = frame["bootstrap"].astype(float)  # None (plain CV) -> NaN
        job = [*GROUP_KEYS, REPEAT_KEY, "fold", "sweep"]
        frame["job_key"] = frame[job].astype(str).agg("|".join, axis=1)
    metrics = metrics.drop_duplicates([*GROUP_KEYS, REPEAT_KEY, "fold"], keep="first")
    predictions = predictions[predictions["job_key"].isin(set(metrics["job_key"]))]
    metrics, predictions = metrics.reset_index(drop=True), predictions.reset_index(drop=True)
    label_models(metrics, predictions)
    return metrics, predictions


def label_models(metrics: pd.DataFrame, predictions: pd.DataFrame) -> None:
    """Add a ``label`` column: the model name, plus the config hash where a trait has several."""
    n_configs = metrics.groupby(["trait", "model"])["config_hash"].transform("nunique")
    metrics["label"] = np.where(
        n_configs > 1, metrics["model"] + "@" + metrics["config_hash"].str[:6], metrics["model"]
    )
    lookup = metrics.drop_duplicates(["trait", "model", "config_hash"]).set_index(
        ["trait", "model", "config_hash"]
    )["label"]
    keys = pd.MultiIndex.from_frame(predictions[["trait", "model", "config_hash"]])
    predictions["label"] = lookup.reindex(keys).to_numpy()


def replicate_table(metrics: pd.DataFrame, predictions: pd.DataFrame) -> pd.DataFrame:
    """One row per (trait, label, bootstrap replicate): mean fold AUROC and pooled AUROC.

    Only complete replicates (every fold present) are kept, of the first CV repeat.
    """
    boot = first_repeat(metrics[metrics["bootstrap"].notna()])
    rows = []
    for (trait, label, b), group in boot.groupby(["trait", "label", "bootstrap"]):
        if group["fold"].nunique() < int(group["n_folds"].iloc[0]):
            continue
        sel = predictions[
            (predictions["trait"] == trait)
            & (predictions["label"] == label)
            & (predictions["bootstrap"] == b)
        ]
        sel = first_repeat(sel)
        y, probs = prediction_arrays(sel, list(group["classes"].iloc[0]))
        rows.append(
            {
                "trait": trait,
                "label": label,
                "bootstrap": b,
                "mean_auroc": float(group["test_auroc"].mean()),
                "pooled_auroc": score(y, probs, list(group["classes"].iloc[0]))["auroc"],
            }
        )
    return pd.DataFrame(rows, columns=["trait", "label", "bootstrap", "mean_auroc", "pooled_auroc"])


def model_table(
    metrics: pd.DataFrame,
    predictions: pd.DataFrame,
    replicates: pd.DataFrame,
    statistic: str = "mean_auroc",
    n_boot: int = 2000,
) -> pd.DataFrame:
    """Per (trait, label): CV mean +- sd fold AUROC, pooled out-of-fold AUROC with a 95% CI, and
    the bootstrap mean with its 95% percentile interval over replicates.

    A repeated CV's fold and pooled columns are its first repeat's (as ``cv_summary.csv``); it
    adds ``cv_repeats`` and each repeat's pooled AUROC, mean and sd over repeats."""
    cv = metrics[metrics["bootstrap"].isna()]
    rows = []
    for (trait, label), group in metrics.groupby(["trait", "label"]):
        row = {"trait": trait, "label": label, "model": group["model"].iloc[0]}
        folds = cv[(cv["trait"] == trait) & (cv["label"] == label)]
        if len(folds):
            classes = list(folds["classes"].iloc[0])
            first = first_repeat(folds)
            sel = _cv_predictions(predictions, trait, label)
            y, probs = prediction_arrays(first_repeat(sel), classes)
            lo, hi = bootstrap_auroc_ci(y, probs, n_boot=n_boot)
            row.update(
                cv_folds=len(first),
                cv_mean_auroc=float(first["test_auroc"].mean()),
                cv_sd_auroc=float(first["test_auroc"].std(ddof=1)) if len(first) > 1 else np.nan,
                pooled_auroc=score(y, probs, classes)["auroc"],
                pooled_ci_low=lo,
                pooled_ci_high=hi,
            )
            by_repeat = repeat_pooled_aurocs(sel, classes)
            if len(by_repeat) > 1:
                row.update(
                    cv_repeats=len(by_repeat),
                    repeat_mean_pooled_auroc=float(by_repeat.mean()),
                    repeat_sd_pooled_auroc=float(by_repeat.std(ddof=1)),
                )
        reps = replicates[(replicates["trait"] == trait) & (replicates["label"] == label)]
        if len(reps):
            values = reps[statistic].to_numpy()
            lo, hi = np.percentile(values, [2.5, 97.5])
            row.update(
                boot_replicates=len(values),
                boot_mean_auroc=float(values.mean()),
                boot_ci_low=float(lo),
                boot_ci_high=float(hi),
            )
        rows.append(row)
    return pd.DataFrame(rows)


def _cv_predictions(predictions: pd.DataFrame, trait: str, label: str) -> pd.DataFrame:
    """Plain-CV held-out predictions of one label (every CV repeat)."""
    return predictions[
        (predictions["trait"] == trait)
        & (predictions["label"] == label)
        & predictions["bootstrap"].isna()
    ]


def repeat_pooled_aurocs(predictions: pd.DataFrame, classes: list[str]) -> pd.Series:
    """Pooled out-of-fold AUROC of each CV repeat (index: its split seed) of one label's rows."""
    return pd.Series(
        {
            seed: score(*prediction_arrays(part, classes), classes)["auroc"]
            for seed, part in predictions.groupby(REPEAT_KEY, sort=True)
        },
        dtype=float,
    )


def _pairs(frame: pd.DataFrame, reference: str) -> list[tuple[str, str, str]]:
    """(trait, reference label, comparator label) for every trait holding both."""
    out = []
    for trait, group in frame.groupby("trait"):
        labels = sorted(group["label"].unique())
        refs = [lbl for lbl in labels if lbl.split("@")[0] == reference]
        out += [(trait, r, c) for r in refs for c in labels if c.split("@")[0] != reference]
    return out


def same_patients(predictions: pd.DataFrame, trait: str, a: str, b: str, bootstrap) -> bool:
    """Whether labels ``a`` and ``b`` scored identical patients (with multiplicity) in every fold."""
    sel = predictions[predictions["trait"] == trait]
    sel = sel[sel["bootstrap"].isna()] if bootstrap is None else sel[sel["bootstrap"].notna()]

    def ids(label: str) -> pd.Series:
        part = sel[sel["label"] == label]
        return part.groupby([REPEAT_KEY, "bootstrap", "fold"], dropna=False)["patient_id"].apply(
            lambda s: tuple(sorted(s))
        )

    left, right = ids(a), ids(b)
    shared = left.index.intersection(right.index)
    return bool((left.loc[shared] == right.loc[shared]).all())


def paired_cv(
    metrics: pd.DataFrame, predictions: pd.DataFrame, reference: str = "nn"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference minus comparator over plain-CV folds: (corrected t-test table, per-fold diffs).

    Folds pair by (split seed, fold). One CV: the Nadeau-Bengio corrected resampled t-test over
    its k folds. A repeated CV (``repeats=R``): Bouckaert & Frank's corrected repeated k-fold
    t-test over all R*k folds (:func:`corrected_repeated_cv_ttest`), plus ``n_repeats`` and
    the repeat-level difference of pooled out-of-fold AUROCs (``repeat_mean_pooled_diff``,
    ``repeat_sd_pooled_diff``), and the per-fold diffs name their ``split_seed``.
    """
    cv = metrics[metrics["bootstrap"].isna()]
    keys = [REPEAT_KEY, "fold"]
    rows, diffs = [], []
    for trait, ref, other in _pairs(cv, reference):
        a = cv[(cv["trait"] == trait) & (cv["label"] == ref)].set_index(keys)
        b = cv[(cv["trait"] == trait) & (cv["label"] == other)].set_index(keys)
        folds = a.index.intersection(b.index).sort_values()
        if len(folds) < 2:
            continue
        d = (a.loc[folds, "test_auroc"] - b.loc[folds, "test_auroc"]).to_numpy()
        n_train = float((a.loc[folds, "n_train"] + a.loc[folds, "n_val"]).mean())
        n_test = float(a.loc[folds, "n_test"].mean())
        seeds = sorted(set(folds.get_level_values(REPEAT_KEY)))
        row = {
            "trait": trait,
            "reference": ref,
            "comparator": other,
            **corrected_repeated_cv_ttest(d, n_train, n_test, len(seeds)),
            "same_patients": same_patients(predictions, trait, ref, other, None),
        }
        if len(seeds) > 1:
            classes = list(a["classes"].iloc[0])
            gap = (
                repeat_pooled_aurocs(_cv_predictions(predictions, trait, ref), classes).loc[seeds]
                - repeat_pooled_aurocs(_cv_predictions(predictions, trait, other), classes).loc[
                    seeds
                ]
            )
            row.update(
                repeat_mean_pooled_diff=float(gap.mean()),
                repeat_sd_pooled_diff=float(gap.std(ddof=1)),
            )
        rows.append(row)
        pair = {"trait": trait, "reference": ref, "comparator": other}
        diffs += [
            {**pair, **({REPEAT_KEY: seed} if len(seeds) > 1 else {}), "fold": f, "diff": v}
            for (seed, f), v in zip(folds, d, strict=True)
        ]
    return pd.DataFrame(rows), pd.DataFrame(diffs)


def paired_bootstrap(
    replicates: pd.DataFrame,
    predictions: pd.DataFrame,
    reference: str = "nn",
    statistic: str = "mean_auroc",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference minus comparator over bootstrap replicates: (summary table, per-replicate diffs)."""
    rows, diffs = [], []
    if replicates.empty:
        return pd.DataFrame(rows), pd.DataFrame(diffs)
    for trait, ref, other in _pairs(replicates, reference):
        a = replicates[(replicates["trait"] == trait) & (replicates["label"] == ref)]
        b = replicates[(replicates["trait"] == trait) & (replicates["label"] == other)]
        a, b = a.set_index("bootstrap")[statistic], b.set_index("bootstrap")[statistic]
        shared = a.index.intersection(b.index).sort_values()
        if len(shared) == 0:
            continue
        d = (a.loc[shared] - b.loc[shared]).to_numpy()
        rows.append(
            {
                "trait": trait,
                "reference": ref,
                "comparator": other,
                "statistic": statistic,
                **percentile_summary(d),
                "same_patients": same_patients(predictions, trait, ref, other, "any"),
            }
        )
        diffs += [
            {"trait": trait, "reference": ref, "comparator": other, "bootstrap": b_, "diff": v}
            for b_, v in zip(shared, d, strict=True)
        ]
    return pd.DataFrame(rows), pd.DataFrame(diffs)


def override_labels(
    metrics: pd.DataFrame, predictions: pd.DataFrame, sweep_dirs: list, key: str
) -> None:
    """Relabel each job by the value of override ``key`` in its ``.hydra/overrides.yaml`` (e.g.
    ``hparams.layers`` -> ``t2f1``), for tables over one swept option (``scripts/ablation.py``)."""
    from pathlib import Path

    from radiogenomics.results.sweep import job_overrides

    def value(row) -> str:
        for line in job_overrides(Path(sweep_dirs[int(row["sweep"])]) / row["job"]):
            name, _, val = line.partition("=")
            if name.lstrip("+~") == key:
                return val
        return "(default)"

    metrics["label"] = [value(r) for _, r in metrics.iterrows()]
    lookup = dict(zip(metrics["job_key"], metrics["label"], strict=True))
    predictions["label"] = predictions["job_key"].map(lookup)


def ablation_table(
    metrics: pd.DataFrame, predictions: pd.DataFrame, reference: str, n_boot: int = 2000
) -> pd.DataFrame:
    """Per (trait, label): pooled AUROC [95% CI], mean fold AUROC, and the paired difference to
    ``reference`` over folds (Nadeau-Bengio corrected t-test) with its p-value."""
    table = model_table(
        metrics, predictions, pd.DataFrame(columns=["trait", "label"]), n_boot=n_boot
    )
    paired, _ = paired_cv(metrics, predictions, reference)
    cols = [
        "trait",
        "label",
        "cv_folds",
        "cv_mean_auroc",
        "cv_sd_auroc",
        "pooled_auroc",
        "pooled_ci_low",
        "pooled_ci_high",
    ]
    table = table[cols]
    ref = table[table["label"] == reference].set_index("trait")["pooled_auroc"]
    table["pooled_minus_reference"] = table["pooled_auroc"] - table["trait"].map(ref)
    if len(paired):
        tests = paired.rename(columns={"comparator": "label"})[
            ["trait", "label", "mean_diff", "p_value"]
        ]
        tests["mean_diff"] = -tests["mean_diff"]  # label minus reference
        tests = tests.rename(columns={"mean_diff": "fold_mean_minus_reference"})
        table = table.merge(tests, on=["trait", "label"], how="left")
    return table.sort_values(["trait", "label"]).reset_index(drop=True)
