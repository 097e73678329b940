"""P-values of observed statistics against a null sample: the permutation p and a smooth upper tail.

* :func:`empirical_p`: ``(1 + #{null >= observed}) / (1 + #null)``, the permutation p (never 0,
  exact under exchangeability; Phipson & Smyth 2010), against one shared sample or a sample per
  value;
* :func:`tail_p`: the same below the sample's 90th percentile and, above it, a generalized Pareto
  distribution fitted to the exceedances (:func:`fit_tail`, peaks over threshold; Knijnenburg et
  al. 2009), so a p can fall below ``1 / (1 + #null)``; :meth:`TailFit.ks_p` checks the fit;
* :func:`per_size`: either p against the null of each value's set size (the random gene sets of
  masking), and :func:`control_fit`, the per-size summary with its normality and tail checks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import genpareto, kstest, norm, shapiro

TAIL_FRACTION = 0.1  # the draws above their 90th percentile model the upper tail
MIN_EXCEEDANCES = 10  # fewer exceedances: no tail fit, tail_p falls back to the empirical p
TAIL_FLOOR = 1e-16  # beyond a bounded fitted tail's end the tail p is this, not 0


def empirical_p(observed: np.ndarray, null: np.ndarray) -> np.ndarray:
    """One-sided permutation p of each observed value: ``(1 + #{null >= value}) / (1 + #null)``.

    ``null`` 1-D: one sample shared by every value; 2-D (draws, values): column j is value j's own
    sample. NaN draws are not draws; a NaN value, or one without draws, gets NaN.
    """
    observed = np.asarray(observed, dtype=float)
    null = np.asarray(null, dtype=float)
    if null.ndim == 2:
        with np.errstate(invalid="ignore"):
            exceed = (null >= observed).sum(axis=0)
        n = (~np.isnan(null)).sum(axis=0)
    else:  # sorted once: counts by binary search (a pooled sample may hold millions of draws)
        draws = np.sort(null[~np.isnan(null)])
        n = len(draws)
        exceed = n - np.searchsorted(draws, observed, side="left")
    with np.errstate(invalid="ignore", divide="ignore"):
        p = (1 + exceed) / (1 + n)
    return np.where(np.isnan(observed) | (n == 0), np.nan, p)


@dataclass(frozen=True)
class TailFit:
    """Generalized Pareto fit to the upper tail of a null sample."""

    threshold: float  # u: the (1 - TAIL_FRACTION) quantile of the draws
    share: float  # share of draws above u
    shape: float  # GPD shape xi (< 0: a bounded tail)
    scale: float
    n_controls: int

    def p(self, value: float) -> float:
        """P(draw >= value) from the fitted tail (value above the threshold)."""
        sf = float(genpareto.sf(value - self.threshold, self.shape, 0.0, self.scale))
        return max(self.share * sf, TAIL_FLOOR)

    def ks_p(self, draws: np.ndarray) -> float:
        """Goodness of fit: KS p of the draws' exceedances against the fitted GPD (parameters
        fitted on the same data, so conservative: too large)."""
        draws = np.asarray(draws, dtype=float)
        excess = draws[draws > self.threshold] - self.threshold
        return float(kstest(excess, genpareto(self.shape, 0.0, self.scale).cdf).pvalue)


def fit_tail(draws: np.ndarray, tail_fraction: float = TAIL_FRACTION) -> TailFit | None:
    """GPD fit (maximum likelihood, location 0) to the draws' exceedances of their quantile."""
    draws = np.asarray(draws, dtype=float)
    draws = draws[~np.isnan(draws)]
    if not len(draws):
        return None
    threshold = float(np.quantile(draws, 1 - tail_fraction))
    excess = draws[draws > threshold] - threshold
    if len(excess) < MIN_EXCEEDANCES or np.ptp(excess) == 0:
        return None
    shape, _, scale = genpareto.fit(excess, floc=0.0)
    return TailFit(threshold, len(excess) / len(draws), float(shape), float(scale), len(draws))


def tail_p(observed: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """One-sided p of each value against one null sample, with a smooth upper tail.

    Below the draws' 90th percentile ``u`` it is :func:`empirical_p`; above it ``share *
    GPD.sf(value - u)`` of the GPD fitted to the exceedances (:func:`fit_tail`), which assumes
    they follow one (the peaks-over-threshold limit; :meth:`TailFit.ks_p` checks it). Beyond the
    end of a bounded fitted tail the p is ``TAIL_FLOOR``; with fewer than ``MIN_EXCEEDANCES``
    exceedances the empirical p is kept.
    """
    observed = np.asarray(observed, dtype=float)
    p = empirical_p(observed, draws)
    if np.isnan(observed).all():
        return p
    fit = fit_tail(draws)
    if fit is not None:
        above = ~np.isnan(observed) & (observed > fit.threshold)
        p[above] = [fit.p(float(v)) for v in observed[above]]
    return p


def per_size(
    p_function: Callable[[np.ndarray, np.ndarray], np.ndarray],
    observed: np.ndarray,
    sizes: np.ndarray,
    null: Mapping[int, np.ndarray],
) -> np.ndarray:
    """``p_function`` (:func:`empirical_p` or :func:`tail_p`) of each value against the null
    sample of its size (``null``: size -> draws); NaN for a size without a sample."""
    observed = np.asarray(observed, dtype=float)
    sizes = np.asarray(sizes).astype(int)
    p = np.full(len(observed), np.nan)
    for size in np.unique(sizes):
        if int(size) in null:
            rows = sizes == size
            p[rows] = p_function(observed[rows], null[int(size)])
    return p


def control_fit(null: Mapping[int, np.ndarray]) -> pd.DataFrame:
    """Per set size: the null sample's summary, normality checks and the tail fit with its check.

    ``shapiro_p``/``ks_normal_p``: are the draws normal (a plain normal tail would need it)?
    ``gpd_*``: the tail fit of :func:`tail_p` and ``gpd_ks_p`` (:meth:`TailFit.ks_p`).
    """
    rows = []
    for size, draws in sorted(null.items()):
        draws = np.asarray(draws, dtype=float)
        draws = draws[~np.isnan(draws)]
        mean = float(draws.mean()) if len(draws) else np.nan
        sd = float(draws.std(ddof=1)) if len(draws) > 1 else np.nan
        ok = len(draws) >= 3 and sd > 0
        fit = fit_tail(draws)
        rows.append(
            {
                "n_genes": int(size),
                "n_controls": len(draws),
                "mean": mean,
                "sd": sd,
                "max_control": float(draws.max()) if len(draws) else np.nan,
                "shapiro_p": float(shapiro(draws[:5000]).pvalue) if ok else np.nan,
                "ks_normal_p": float(kstest(draws, norm(mean, sd).cdf).pvalue) if ok else np.nan,
                "gpd_threshold": fit.threshold if fit else np.nan,
                "gpd_exceedances": round(fit.share * len(draws)) if fit else 0,
                "gpd_shape": fit.shape if fit else np.nan,
                "gpd_scale": fit.scale if fit else np.nan,
                "gpd_ks_p": fit.ks_p(draws) if fit else np.nan,
            }
        )
    return pd.DataFrame(rows)
