"""Comparator estimators for ordinal and continuous traits (scikit-learn compatible).

* :class:`FrankHall`: the cumulative-binary decomposition of Frank & Hall (2001, "A simple
  approach to ordinal classification") over any binary comparator: K-1 clones of it, model k
  fit on ``1[y >= k]``; level probabilities ``P(y=0) = 1 - P(y>=1)``,
  ``P(y=k) = P(y>=k) - P(y>=k+1)``, ``P(y=K-1) = P(y>=K-1)``, clipped at 0 and renormalised
  (independently fitted cuts can cross; :attr:`FrankHall.clipped_` counts the rows that were).
  One hyperparameter setting is shared by every cut (the inner-CV search tunes the wrapper).
  The comparators are class-balanced, which moves every cut's probability towards a 50% prior
  (a rare top level's ``P(y >= K-1)`` up, a common ``P(y >= 1)`` down) so that the cuts cross
  for many patients; ``prior_correction`` undoes it per cut (the balanced odds times the cut's
  training odds ``n1 / n0``, King & Zeng 2001), exact for logistic regression and a monotone
  map for the others, so each cut's ranking and AUROC are unchanged.
* :class:`OrdinalLogit`: an L2-penalised cumulative-logit (proportional odds) linear model fit
  on the all-threshold logistic loss (Rennie & Srebro 2005; mord's ``LogisticAT``): one weight
  vector, K-1 ordered thresholds, ``P(y <= k | x) = sigmoid(theta_k - w.x)``. ``C`` is the
  inverse penalty, as in scikit-learn's logistic regression.
* :class:`KernelSVR`: epsilon-SVR on a BLAS-computed kernel matrix (as ``KernelSVC``).

:func:`mean_cumulative_auroc` is the ordinal selection score (every comparator's inner CV on an
ordinal trait): the mean over the cuts k = 1..K-1 of the AUROC of ``P(y >= k)`` for ``1[y >= k]``.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.svm import SVR
from sklearn.utils.class_weight import compute_sample_weight

from radiogenomics.evaluation.ordinal import mean_cumulative_auroc
from radiogenomics.models.kernels import PrecomputedKernel


def levels_from_cumulative(cumulative: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``P(y >= k)`` (..., K-1) -> (level probabilities (..., K), rows that needed clipping).

    Differences of neighbouring cuts, clipped at 0 and renormalised to sum to 1.
    """
    c = np.asarray(cumulative, dtype=np.float64)
    ones = np.ones((*c.shape[:-1], 1))
    upper = np.concatenate([ones, c], axis=-1)
    lower = np.concatenate([c, np.zeros_like(ones)], axis=-1)
    raw = upper - lower
    clipped = (raw < 0).any(axis=-1)
    probs = np.clip(raw, 0.0, None)
    total = probs.sum(axis=-1, keepdims=True)
    probs = np.where(total > 0, probs / np.where(total > 0, total, 1.0), 1.0 / raw.shape[-1])
    return probs, clipped


def cumulative_auroc_scorer(estimator, X: np.ndarray, y: np.ndarray) -> float:
    """Scorer for the inner-CV search of an ordinal comparator (level probabilities)."""
    return mean_cumulative_auroc(y, estimator.predict_proba(X))


class FrankHall(ClassifierMixin, BaseEstimator):
    """Frank & Hall ordinal classifier: K-1 binary ``estimator`` clones on ``1[y >= k]``.

    ``n_levels`` fixes K (a training fold may miss the top level); ``balanced_weights`` passes
    balanced sample weights of each cut's binary target to ``fit`` (xgboost has no
    ``class_weight``; estimators that do balance each cut themselves); ``prior_correction``
    maps each balanced cut back to its training prevalence (module docstring).
    """

    def __init__(
        self,
        estimator=None,
        n_levels: int = 3,
        balanced_weights: bool = False,
        prior_correction: bool = True,
    ) -> None:
        self.estimator = estimator
        self.n_levels = n_levels
        self.balanced_weights = balanced_weights
        self.prior_correction = prior_correction

    def fit(self, X: np.ndarray, y: np.ndarray) -> FrankHall:
        """Fit one binary model per cut k = 1..K-1 on ``1[y >= k]``."""
        y = np.asarray(y).astype(int)
        if y.min() < 0 or y.max() >= self.n_levels:
            raise ValueError(
                f"ordinal levels {sorted(set(y.tolist()))} outside 0..{self.n_levels - 1}"
            )
        self.classes_ = np.arange(self.n_levels)
        self.estimators_ = []
        with np.errstate(divide="ignore"):  # a missing side is refused below
            self.log_odds_ = np.log(
                [(y >= k).mean() / (y < k).mean() for k in range(1, self.n_levels)]
            )
        for k in range(1, self.n_levels):
            target = (y >= k).astype(int)
            if target.min() == target.max():
                raise ValueError(
                    f"cut y >= {k} has one class in these training patients (levels present "
                    f"{sorted(set(y.tolist()))}); merge neighbouring levels"
                )
            kwargs = {}
            if self.balanced_weights:
                kwargs["sample_weight"] = compute_sample_weight("balanced", target)
            self.estimators_.append(clone(self.estimator).fit(X, target, **kwargs))
        self.clipped_ = 0
        return self

    def cumulative_proba(self, X: np.ndarray) -> np.ndarray:
        """``P(y >= k)`` for k = 1..K-1: (n, K-1)."""
        probs = np.column_stack([est.predict_proba(X)[:, 1] for est in self.estimators_])
        return self.correct(probs)

    def correct(self, probs: np.ndarray) -> np.ndarray:
        """Balanced cut probabilities (..., K-1) -> the training prevalence's (prior correction)."""
        if not self.prior_correction:
            return probs
        p = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1 - 1e-12)
        return expit(np.log(p) - np.log1p(-p) + self.log_odds_)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Level probabilities (n, K); ``clipped_`` counts rows whose cuts crossed."""
        probs, clipped = levels_from_cumulative(self.cumulative_proba(X))
        self.clipped_ = int(clipped.sum())
        return probs

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Most probable level."""
        return np.argmax(self.predict_proba(X), axis=1)


class OrdinalLogit(ClassifierMixin, BaseEstimator):
    """L2-penalised cumulative-logit model on the all-threshold loss (scipy L-BFGS).

    Minimises ``C * sum_i w_i sum_k log(1 + exp(-s_ik (theta_k - x_i . beta))) + ||beta||^2 / 2``
    with ``s_ik = +1`` if ``y_i <= k`` else -1; thresholds ordered by construction
    (``theta_k = theta_0 + sum exp(delta)``). ``class_weight="balanced"`` weighs patients by
    inverse level frequency.
    """

    def __init__(
        self,
        C: float = 1.0,
        n_levels: int = 3,
        class_weight: str | None = "balanced",
        max_iter: int = 1000,
        tol: float = 1e-6,
    ) -> None:
        self.C = C
        self.n_levels = n_levels
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X: np.ndarray, y: np.ndarray) -> OrdinalLogit:
        """Fit weights and ordered thresholds on level indices ``y`` (0..n_levels-1)."""
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y).astype(int)
        if y.min() < 0 or y.max() >= self.n_levels:
            raise ValueError(
                f"ordinal levels {sorted(set(y.tolist()))} outside 0..{self.n_levels - 1}"
            )
        n, p = X.shape
        K = self.n_levels
        weights = np.ones(n)
        if self.class_weight == "balanced":
            weights = compute_sample_weight("balanced", y)
        sign = np.where(y[:, None] <= np.arange(K - 1)[None, :], 1.0, -1.0)  # (n, K-1)
        # start: beta 0, thresholds at the marginal cumulative logits
        share = np.clip([(y <= k).mean() for k in range(K - 1)], 0.01, 0.99)
        theta0 = np.log(share / (1 - share))
        theta0 = np.maximum.accumulate(theta0 + np.arange(K - 1) * 1e-3)
        start = np.concatenate([np.zeros(p), theta0[:1], np.log(np.maximum(np.diff(theta0), 1e-3))])
        C = float(self.C)

        def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
            beta, theta = params[:p], self._thresholds(params[p:])
            margin = sign * (theta[None, :] - (X @ beta)[:, None])
            value = -C * (weights[:, None] * log_expit(margin)).sum() + 0.5 * beta @ beta
            g_margin = -C * weights[:, None] * expit(-margin) * sign  # d loss / d (theta - Xb)
            g_beta = -X.T @ g_margin.sum(axis=1) + beta
            g_theta = g_margin.sum(axis=0)
            # theta_k = t0 + sum_{j<k} exp(d_j): chain rule
            g_t0 = g_theta.sum()
            g_d = np.array([g_theta[j + 1 :].sum() for j in range(K - 2)]) * np.exp(params[p + 1 :])
            return value, np.concatenate([g_beta, [g_t0], g_d])

        options = {"maxiter": self.max_iter, "gtol": self.tol}
        found = minimize(loss, start, jac=True, method="L-BFGS-B", options=options)
        self.coef_ = found.x[:p]
        self.thresholds_ = self._thresholds(found.x[p:])
        self.classes_ = np.arange(K)
        self.n_iter_ = int(found.nit)
        return self

    @staticmethod
    def _thresholds(free: np.ndarray) -> np.ndarray:
        return np.concatenate([free[:1], free[0] + np.cumsum(np.exp(free[1:]))])

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """The latent score ``x . beta`` (higher: higher level)."""
        return np.asarray(X, dtype=np.float64) @ self.coef_

    def proba_of_score(self, score: np.ndarray) -> np.ndarray:
        """Level probabilities (..., K) of latent scores (...)."""
        below = expit(self.thresholds_ - np.asarray(score, dtype=np.float64)[..., None])
        upper = np.concatenate([below, np.ones((*below.shape[:-1], 1))], axis=-1)
        lower = np.concatenate([np.zeros((*below.shape[:-1], 1)), below], axis=-1)
        return np.clip(upper - lower, 0.0, 1.0)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Level probabilities (n, K); they sum to 1 (ordered thresholds)."""
        return self.proba_of_score(self.decision_function(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Most probable level."""
        return np.argmax(self.predict_proba(X), axis=1)


class KernelSVR(PrecomputedKernel, RegressorMixin, BaseEstimator):
    """``SVR`` on a kernel matrix computed with BLAS (the regression twin of ``KernelSVC``)."""

    def __init__(
        self,
        kernel: str = "rbf",
        C: float = 1.0,
        epsilon: float = 0.1,
        gamma: float | str = "scale",
        degree: int = 3,
        coef0: float = 0.0,
    ) -> None:
        self.kernel = kernel
        self.C = C
        self.epsilon = epsilon
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0

    def fit(self, X: np.ndarray, y: np.ndarray) -> KernelSVR:
        """Fit epsilon-SVR on the training kernel."""
        self.svr_ = SVR(kernel="precomputed", C=self.C, epsilon=self.epsilon)
        self.svr_.fit(self._fit_kernel(X), np.asarray(y, dtype=np.float64))
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predictions (the training target's units)."""
        return self.svr_.predict(self._kernel(X))
