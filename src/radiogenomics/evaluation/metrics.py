"""Metrics shared by training, jobs and sweep summaries (binary, multiclass; the per-kind dispatch)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from functools import partial

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import average_precision_score, brier_score_loss

from radiogenomics.progress import Progress

# resamples x patients per step of a bootstrap CI (progress is reported between steps); below
# it (2000 resamples of up to 500 patients) a CI is one matrix product, as it always was
BOOT_CHUNK_CELLS = 1_000_000


def as_prob_matrix(probs: np.ndarray) -> np.ndarray:
    """(n,) positive-class probabilities or (n, K) matrix -> (n, K) matrix."""
    probs = np.asarray(probs, dtype=np.float64)
    return np.column_stack([1 - probs, probs]) if probs.ndim == 1 else probs


def prediction_arrays(predictions, classes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(y, probabilities) from a predictions.csv frame: (n,) ``y_prob`` or (n, K) ``prob_<class>``;
    no classes (a continuous trait): (y_true, y_pred) as floats."""
    if not classes:
        return predictions["y_true"].to_numpy(float), predictions["y_pred"].to_numpy(float)
    cols = ["y_prob"] if len(classes) == 2 else [f"prob_{c}" for c in classes]
    probs = predictions[cols].to_numpy(dtype=float)
    return predictions["y_true"].to_numpy(), probs[:, 0] if len(classes) == 2 else probs


def auroc(y: np.ndarray, probs: np.ndarray) -> float:
    """Binary AUROC, or macro one-vs-rest AUROC for (n, K>2) probabilities; NaN if undefined."""
    y = np.asarray(y)
    P = as_prob_matrix(probs)
    per_class = [_ovr(binary_auroc, y, P, k) for k in range(P.shape[1])]
    return per_class[1] if P.shape[1] == 2 else float(np.nanmean(per_class))


def score(y: np.ndarray, probs: np.ndarray, class_names: Sequence[str]) -> dict[str, float]:
    """AUROC and AP (macro over classes for multiclass) plus per-class values for multiclass."""
    y = np.asarray(y)
    P = as_prob_matrix(probs)
    aurocs = [_ovr(binary_auroc, y, P, k) for k in range(P.shape[1])]
    aps = [_ovr(average_precision_score, y, P, k) for k in range(P.shape[1])]
    if P.shape[1] == 2:
        return {"auroc": aurocs[1], "ap": aps[1]}
    out = {"auroc": float(np.nanmean(aurocs)), "ap": float(np.nanmean(aps))}
    for name, a, p in zip(class_names, aurocs, aps, strict=True):
        out[f"auroc_{name}"] = a
        out[f"ap_{name}"] = p
    return out


def auroc_rows(scores: np.ndarray, target: np.ndarray) -> np.ndarray:
    """AUROC of each row of ``scores`` (items x patients) for a 0/1 ``target``; ties count half.

    The one AUROC definition (every other AUROC here calls it): the Mann-Whitney form
    ``(sum of the positives' midranks - n1 (n1 + 1) / 2) / (n1 n0)``, NaN when a class is absent.
    """
    target = np.asarray(target, dtype=bool)
    n_pos, n_neg = target.sum(), (~target).sum()
    if n_pos == 0 or n_neg == 0:
        return np.full(len(scores), np.nan)
    ranks = rankdata(scores, axis=1)
    return (ranks[:, target].sum(axis=1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def binary_auroc(target: np.ndarray, scores: np.ndarray) -> float:
    """AUROC of one score vector for a 0/1 ``target`` (:func:`auroc_rows`); NaN scores are refused."""
    scores = np.asarray(scores, dtype=np.float64)
    if not np.isfinite(scores).all():
        raise ValueError("AUROC of scores that are not all finite (NaN or infinite)")
    return float(auroc_rows(scores[None, :], target)[0])


def average_precision_rows(scores: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Average precision of each row, as scikit-learn computes it (ties form one threshold)."""
    target = np.asarray(target, dtype=bool)
    n_pos = target.sum()
    if n_pos == 0 or n_pos == len(target):
        return np.full(len(scores), np.nan)
    order = np.argsort(-scores, axis=1, kind="stable")
    ranked = np.take_along_axis(scores, order, axis=1)
    tp = np.cumsum(target[order], axis=1)
    group_end = np.ones_like(ranked, dtype=bool)  # last position of a run of equal scores
    group_end[:, :-1] = ranked[:, :-1] != ranked[:, 1:]
    tp_at_end = np.maximum.accumulate(np.where(group_end, tp, 0), axis=1)
    previous = np.zeros_like(tp_at_end)
    previous[:, 1:] = tp_at_end[:, :-1]
    precision = tp / np.arange(1, len(target) + 1)
    return (group_end * (tp - previous) * precision).sum(axis=1) / n_pos


def discrimination_slope_rows(probs: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """Per row: mean probability over the positive patients minus over the others (NaN if one
    group is empty)."""
    positive = np.asarray(positive, dtype=bool)
    if positive.all() or not positive.any():
        return np.full(len(probs), np.nan)
    return probs[:, positive].mean(axis=1) - probs[:, ~positive].mean(axis=1)


def _ovr(metric, y: np.ndarray, P: np.ndarray, k: int) -> float:
    target = (y == k).astype(int)
    if target.min() == target.max():
        return float("nan")
    return float(metric(target, P[:, k]))


def bootstrap_auroc_ci(
    y: np.ndarray, probs: np.ndarray, n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile CI of (macro) AUROC, resampling patients within each class (stratified bootstrap).

    Vectorised: a resample is a vector of per-patient counts ``c``, and the one-vs-rest AUROC of
    class k is ``c_pos @ M_k @ c_neg / (n_pos * n_neg)`` with ``M_k`` the pairwise comparison matrix.
    """
    y = np.asarray(y)
    P = as_prob_matrix(probs)
    counts = stratified_counts(y, n_boot, np.random.default_rng(seed))
    targets = (
        [1] if P.shape[1] == 2 else [k for k in range(P.shape[1]) if 0 < (y == k).sum() < len(y)]
    )
    per_class = [resampled_aurocs(y == k, P[:, k], counts) for k in targets]
    stats = np.mean(per_class, axis=0)
    lo, hi = np.percentile(stats, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return float(lo), float(hi)


def resampled_aurocs(
    target: np.ndarray, scores: np.ndarray, counts: np.ndarray, what: str = "bootstrap AUROC CI"
) -> np.ndarray:
    """AUROC of ``scores`` for a 0/1 ``target`` in each resample (row of patient ``counts``)."""
    target = np.asarray(target, dtype=bool)
    scores = np.asarray(scores, dtype=float)
    pos, neg = np.flatnonzero(target), np.flatnonzero(~target)
    diff = scores[pos][:, None] - scores[neg][None, :]
    M = (diff > 0) + 0.5 * (diff == 0)
    statistic = partial(_resampled_auroc, pos=pos, neg=neg, M=M)
    return by_resample_chunks(counts, statistic, what)


def _resampled_auroc(counts: np.ndarray, pos: np.ndarray, neg: np.ndarray, M: np.ndarray):
    """AUROC of each resample (row of patient ``counts``) from the pairwise comparisons ``M``."""
    return ((counts[:, pos] @ M) * counts[:, neg]).sum(axis=1) / (len(pos) * len(neg))


def by_resample_chunks(
    counts: np.ndarray, statistic: Callable[[np.ndarray], np.ndarray], what: str
) -> np.ndarray:
    """``statistic`` of every resample (row of ``counts``), in chunks, with progress if long."""
    parts = []
    rows = max(1, BOOT_CHUNK_CELLS // max(1, counts.shape[1]))
    with Progress(what, total=len(counts), unit="resamples") as counter:
        for start in range(0, len(counts), rows):
            parts.append(statistic(counts[start : start + rows]))
            counter.update(len(parts[-1]))
    return np.concatenate(parts) if parts else np.zeros(0)


# ------------------------------------------------------------------ external validation


def stratified_counts(y: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n) patient counts of a stratified bootstrap (patients resampled within each class).

    :func:`bootstrap_auroc_ci` and the AP interval draw their resamples here (same seed, same
    resamples).
    """
    y = np.asarray(y)
    counts = np.zeros((n_boot, len(y)))
    for k in np.unique(y):
        members = np.flatnonzero(y == k)
        counts[:, members] = rng.multinomial(
            len(members), np.full(len(members), 1 / len(members)), size=n_boot
        )
    return counts


def weighted_average_precision(
    target: np.ndarray, scores: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Average precision of binary ``target`` ranked by ``scores``, one value per row of ``weights``.

    scikit-learn's definition with sample weights (sum over thresholds of recall step x
    precision, tied scores form one threshold); a bootstrap resample is a row of patient counts.
    """
    order = np.argsort(-np.asarray(scores, dtype=float), kind="mergesort")
    ranked, t = np.asarray(scores, dtype=float)[order], np.asarray(target, dtype=float)[order]
    W = np.atleast_2d(weights)[:, order]
    last = np.r_[np.flatnonzero(np.diff(ranked)), len(ranked) - 1]  # end of each tie group
    tp = np.cumsum(W * t, axis=1)[:, last]
    fp = np.cumsum(W * (1 - t), axis=1)[:, last]
    recall_step = np.diff(tp, axis=1, prepend=0.0) / tp[:, -1:]
    precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=(tp + fp) > 0)
    return (recall_step * precision).sum(axis=1)


def bootstrap_ap_ci(
    y: np.ndarray, probs: np.ndarray, n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile CI of (macro) AP over the stratified resamples of :func:`bootstrap_auroc_ci`."""
    y = np.asarray(y)
    P = as_prob_matrix(probs)
    counts = stratified_counts(y, n_boot, np.random.default_rng(seed))
    targets = [1] if P.shape[1] == 2 else [k for k in range(P.shape[1]) if 0 < (y == k).sum()]
    stats = np.mean(
        [
            by_resample_chunks(
                counts, partial(weighted_average_precision, y == k, P[:, k]), "AP CI"
            )
            for k in targets
            if (y != k).any()
        ],
        axis=0,
    )
    lo, hi = np.percentile(stats, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return float(lo), float(hi)


def brier_score(y: np.ndarray, probs: np.ndarray) -> float:
    """Mean squared error of the probabilities (scikit-learn's ``brier_score_loss``): binary
    (p - y)^2; multiclass summed over classes. NaN for no patient or a NaN probability."""
    P = as_prob_matrix(probs)
    if not len(P) or np.isnan(P).any():  # scikit-learn refuses both
        return float("nan")
    with warnings.catch_warnings():  # float32 probabilities sum to 1 only to float32 precision
        warnings.filterwarnings("ignore", "The y_prob values do not sum to one")
        return brier_score_loss(np.asarray(y, dtype=int), P, labels=list(range(P.shape[1])))


def calibration_table(target: np.ndarray, prob: np.ndarray, n_bins: int = 10) -> list[dict]:
    """Reliability bins: equal-width bins of the predicted probability on [0, 1].

    Per bin its bounds, patient count, mean predicted probability and observed event rate
    (``None`` for an empty bin). Not scikit-learn's ``calibration_curve``: it drops empty bins,
    gives no counts and puts a probability on an edge in the lower bin (here [lower, upper)).
    """
    target, prob = np.asarray(target, dtype=float), np.asarray(prob, dtype=float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.digitize(prob, edges[1:-1])
    rows = []
    for b in range(n_bins):
        inside = index == b
        n = int(inside.sum())
        rows.append(
            {
                "lower": round(float(edges[b]), 6),
                "upper": round(float(edges[b + 1]), 6),
                "n": n,
                "mean_predicted": float(prob[inside].mean()) if n else None,
                "observed_rate": float(target[inside].mean()) if n else None,
            }
        )
    return rows


def calibration_error(bins: Sequence[dict]) -> float | None:
    """Expected calibration error: count-weighted mean |observed rate - mean predicted|."""
    filled = [b for b in bins if b["n"]]
    total = sum(b["n"] for b in filled)
    if not total:
        return None
    gaps = sum(b["n"] * abs(b["observed_rate"] - b["mean_predicted"]) for b in filled)
    return float(gaps / total)


# logistic recalibration (Cox 1958): logit P(y=1) = a + b logit(p)
CALIBRATION_EPS = 1e-6  # probabilities clipped to [eps, 1 - eps] before the logit (0 and 1 occur)
CALIBRATION_LEVEL = 0.95
# "well calibrated" needs the slope's CI to contain 1 and to lie inside this band (the data rule
# out probabilities twice too extreme or twice too timid), and the intercept's CI to contain 0
SLOPE_BAND = (0.5, 2.0)
MIN_CALIBRATION_PATIENTS = 10  # fewer (or one class only): the line is not fitted
MAX_NEWTON_STEPS = 50
MAX_ABS_COEFFICIENT = 50.0  # beyond it the fit is running off to infinity (separated classes)

OVER_CONFIDENT = "over-confident"
UNDER_CONFIDENT = "under-confident"
WELL_CALIBRATED = "well calibrated"
IMPRECISE = "imprecise"
MISCALIBRATED_IN_THE_LARGE = "miscalibrated in the large"
NOT_ESTIMABLE = "not estimable"


def _logistic_fit(
    x: np.ndarray, y: np.ndarray, offset: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray] | None:
    """Maximum-likelihood logistic regression of ``y`` on the columns of ``x``.

    Newton-Raphson with step halving (the log-likelihood never decreases); (coefficients, their
    covariance from the inverse Fisher information), or None when the fit does not converge or
    runs off to infinity (classes separated by the predictions).
    """
    offset = np.zeros(len(y)) if offset is None else offset

    def loglik(beta: np.ndarray) -> float:
        eta = x @ beta + offset
        return float(np.sum(y * eta - np.logaddexp(0.0, eta)))

    def information(beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mu = 1.0 / (1.0 + np.exp(-(x @ beta + offset)))
        return x.T @ (x * (mu * (1 - mu))[:, None]), x.T @ (y - mu)

    beta = np.zeros(x.shape[1])
    current = loglik(beta)
    for _ in range(MAX_NEWTON_STEPS):
        info, gradient = information(beta)
        try:
            step = np.linalg.solve(info, gradient)
        except np.linalg.LinAlgError:
            return None
        for _ in range(30):  # halve the step until the likelihood does not fall
            trial = beta + step
            value = loglik(trial)
            if np.isfinite(value) and value >= current - 1e-12:
                break
            step = step / 2
        beta, current = trial, value
        if not np.all(np.isfinite(beta)) or np.abs(beta).max() > MAX_ABS_COEFFICIENT:
            return None
        if np.abs(step).max() < 1e-8:
            try:
                return beta, np.linalg.inv(information(beta)[0])
            except np.linalg.LinAlgError:
                return None
    return None


def calibration_line(
    target: np.ndarray, prob: np.ndarray, level: float = CALIBRATION_LEVEL
) -> dict:
    """Logistic calibration of binary ``target`` against predicted ``prob`` (Cox 1958).

    ``slope`` b and ``intercept`` of ``logit P(y=1) = a + b logit(p)``: b < 1 means the
    probabilities are too extreme (over-confident: pushed towards 0 and 1), b > 1 too timid
    (under-confident: crowded towards the middle). ``citl`` (calibration-in-the-large) is the
    intercept with the slope fixed at 1: > 0 when the events are more common than predicted,
    < 0 when less. Each has a Wald ``level`` CI. ``verdict`` is one of ``over-confident``,
    ``under-confident`` (slope CI excludes 1), ``miscalibrated in the large`` (slope fine,
    citl CI excludes 0), ``well calibrated`` (slope CI contains 1 within :data:`SLOPE_BAND`, citl
    CI contains 0), ``imprecise`` (nothing excluded, but the slope CI leaves the band) or ``not
    estimable`` (fewer than :data:`MIN_CALIBRATION_PATIENTS`, one class only, or classes
    separated by the predictions: the slope is infinite). Probabilities are clipped to
    [:data:`CALIBRATION_EPS`, 1 - eps] first.
    """
    from scipy.stats import norm

    y = np.asarray(target, dtype=float)
    p = np.clip(np.asarray(prob, dtype=float), CALIBRATION_EPS, 1 - CALIBRATION_EPS)
    out: dict = {
        "n": int(len(y)),
        "observed_rate": float(y.mean()) if len(y) else None,
        "mean_predicted": float(p.mean()) if len(y) else None,
        "level": level,
        "slope": None,
        "slope_ci": None,
        "intercept": None,
        "citl": None,
        "citl_ci": None,
        "verdict": NOT_ESTIMABLE,
    }
    if len(y) < MIN_CALIBRATION_PATIENTS or y.min() == y.max():
        return out
    logit = np.log(p / (1 - p))
    joint = _logistic_fit(np.column_stack([np.ones(len(y)), logit]), y)
    large = _logistic_fit(np.ones((len(y), 1)), y, offset=logit)
    if joint is None or large is None:
        return out
    z = float(norm.ppf((1 + level) / 2))
    (a, b), cov = joint
    se_b = float(np.sqrt(cov[1, 1]))
    citl, se_citl = float(large[0][0]), float(np.sqrt(large[1][0, 0]))
    slope_ci = [float(b - z * se_b), float(b + z * se_b)]
    citl_ci = [citl - z * se_citl, citl + z * se_citl]
    out.update(slope=float(b), slope_ci=slope_ci, intercept=float(a), citl=citl, citl_ci=citl_ci)
    out["verdict"] = _calibration_verdict(slope_ci, citl_ci)
    return out


def _calibration_verdict(slope_ci: list[float], citl_ci: list[float]) -> str:
    """The verdict of :func:`calibration_line` from the CIs of slope and calibration-in-the-large."""
    if slope_ci[1] < 1:
        return OVER_CONFIDENT
    if slope_ci[0] > 1:
        return UNDER_CONFIDENT
    if citl_ci[0] > 0 or citl_ci[1] < 0:
        return MISCALIBRATED_IN_THE_LARGE
    if SLOPE_BAND[0] <= slope_ci[0] and slope_ci[1] <= SLOPE_BAND[1]:
        return WELL_CALIBRATED
    return IMPRECISE


def _defined(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def validation_scores(
    y: np.ndarray,
    probs: np.ndarray,
    class_names: Sequence[str],
    n_boot: int = 2000,
    n_bins: int = 10,
    seed: int = 0,
) -> dict:
    """Scores of probabilities on labelled patients (external validation).

    n, class counts, AUROC and AP (macro one-vs-rest for multiclass) with stratified bootstrap
    95% CIs, Brier score, calibration bins, error and line (:func:`calibration_line`);
    multiclass adds one-vs-rest values per class. ``None`` where a value is undefined (no patient, or one class only).
    """
    y = np.asarray(y, dtype=int)
    P = as_prob_matrix(probs).reshape(len(y), -1) if len(y) else np.zeros((0, len(class_names)))
    out = {
        "n": int(len(y)),
        "class_counts": {c: int((y == k).sum()) for k, c in enumerate(class_names)},
    }
    both = len(np.unique(y)) > 1  # AUROC and AP need both classes (one-vs-rest: two or more)
    scored = score(y, P, class_names) if both else {}
    out.update(
        auroc=_defined(scored.get("auroc")),
        auroc_ci=list(bootstrap_auroc_ci(y, P, n_boot, seed=seed)) if both else None,
        ap=_defined(scored.get("ap")),
        ap_ci=list(bootstrap_ap_ci(y, P, n_boot, seed=seed)) if both else None,
        brier=brier_score(y, P) if len(y) else None,
    )
    if len(class_names) == 2:
        bins = calibration_table(y == 1, P[:, 1], n_bins)
        return {
            **out,
            "calibration_error": calibration_error(bins),
            "calibration_line": calibration_line(y == 1, P[:, 1]),
            "calibration": bins,
        }
    out["per_class"] = {
        name: _one_vs_rest(y == k, P[:, k], scored, name, n_bins)
        for k, name in enumerate(class_names)
    }
    return out


def _one_vs_rest(target: np.ndarray, prob: np.ndarray, scored: dict, name: str, n_bins: int):
    bins = calibration_table(target, prob, n_bins)
    return {
        "n_positive": int(target.sum()),
        "auroc": _defined(scored.get(f"auroc_{name}")),
        "ap": _defined(scored.get(f"ap_{name}")),
        "brier": brier_score(target, prob) if len(target) else None,
        "calibration_error": calibration_error(bins),
        "calibration_line": calibration_line(target, prob),
        "calibration": bins,
    }


def distribution_shift(X: np.ndarray, mean: np.ndarray, std: np.ndarray) -> dict:
    """Per-gene shift of a new cohort (patients x genes) against training means and sds.

    ``median_abs_standardized_mean``: median over genes of |mean_new - mean_train| / sd_train
    (about 0 for the same distribution); ``median_sd_ratio``: median of sd_new / sd_train
    (about 1; undefined for a single patient).
    """
    X = np.asarray(X, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    z = np.abs(np.nanmean(X, axis=0) - mean) / std
    ratio = np.nanstd(X, axis=0) / std
    return {
        "n_genes": int(X.shape[1]),
        "median_abs_standardized_mean": _defined(float(np.nanmedian(z))),
        "median_sd_ratio": _defined(float(np.nanmedian(ratio))) if len(X) > 1 else None,
    }
