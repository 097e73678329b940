"""Comparator models (logistic regression, SVM, random forest, xgboost) with nested tuning.

Each comparator is a Pipeline ``[StandardScaler, (SelectKBest), classifier]`` fit on the training
folds only (scaling is a no-op for trees but keeps one code path), with balanced class weights
(xgboost: balanced sample weights). The optional univariate filter (ANOVA F, ``select_k`` genes)
is refit inside every inner and outer training fold, so it never sees held-out patients.
Hyperparameters are chosen by an inner stratified CV on the training folds; the held-out fold is
predicted once by the refit best model.

The trait's kind picks the estimator (:mod:`radiogenomics.models.comparator_kinds`):

* categorical: the classifier above, searched by (macro one-vs-rest) AUROC;
* ordinal (K > 2 levels): ``model.ordinal=frank_hall`` (the default) wraps the family's binary
  classifier in :class:`~radiogenomics.models.comparator_kinds.FrankHall` (K-1 cumulative cuts,
  one shared hyperparameter setting), ``multiclass`` fits the levels as nominal classes;
  ``model=ordinal_logit`` is the native cumulative-logit model. Every ordinal search is scored
  by the mean cumulative AUROC. Two levels are a binary trait;
* continuous: the family's regression counterpart (logit_l2 -> ridge, logit_l1 -> lasso,
  svm -> SVR, rf -> random forest regressor, xgboost -> XGBRegressor) with its own grid
  (``search.regression_grid``), the target standardised inside every (inner and outer) training
  fold by a ``TransformedTargetRegressor`` (predictions in the target's units), searched by R²
  over shuffled group K-fold.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.feature_selection import SelectKBest, f_classif, f_regression
from sklearn.linear_model import Lasso, LogisticRegression, Ridge
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    RandomizedSearchCV,
    StratifiedGroupKFold,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils.class_weight import compute_sample_weight
from threadpoolctl import threadpool_limits

from radiogenomics.data.splits import FoldSplit
from radiogenomics.models.comparator_kinds import (
    FrankHall,
    KernelSVR,
    OrdinalLogit,
    cumulative_auroc_scorer,
)
from radiogenomics.models.kernels import PrecomputedKernel
from radiogenomics.models.result import FoldResult

log = logging.getLogger(__name__)

COMPARATORS = ("logit_l1", "logit_l2", "svm", "rf", "xgboost")
ORDINAL_COMPARATORS = ("ordinal_logit",)  # native ordinal models: ordinal traits only
ORDINAL_MODES = ("frank_hall", "multiclass")  # model.ordinal for a family on an ordinal trait
KINDS = ("categorical", "ordinal", "continuous")
# regression grids of each family when the search has no regression_grid (e.g. paper_grids)
REGRESSION_GRIDS: dict[str, Any] = {
    "logit_l1": {"alpha": [0.01, 0.03, 0.1, 0.3]},
    "logit_l2": {"alpha": [1.0, 10.0, 100.0, 1000.0, 10000.0]},
    "svm": [{"kernel": ["linear"], "C": [0.001, 0.01]}, {"kernel": ["rbf"], "C": [1.0, 10.0]}],
    "rf": {"n_estimators": [200], "max_features": ["sqrt"], "min_samples_leaf": [1, 5]},
    "xgboost": {"max_depth": [1, 2], "learning_rate": [0.05, 0.2], "n_estimators": [150]},
}


class KernelSVC(PrecomputedKernel, ClassifierMixin, BaseEstimator):
    """``SVC`` on a kernel matrix computed with BLAS (same model, ~10x faster on 12k genes).

    libsvm evaluates each kernel entry with its own dot-product loop; for a few hundred patients
    and thousands of genes computing the matrix once in numpy dominates nothing. ``gamma="scale"``
    is SVC's ``1 / (n_genes * X.var())`` from the training patients.
    """

    def __init__(
        self,
        kernel: str = "rbf",
        C: float = 1.0,
        gamma: float | str = "scale",
        degree: int = 3,
        coef0: float = 0.0,
        class_weight: dict | str | None = None,
        probability: bool = False,
        random_state: int | None = None,
    ) -> None:
        self.kernel = kernel
        self.C = C
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0
        self.class_weight = class_weight
        self.probability = probability
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> KernelSVC:
        self.svc_ = SVC(
            kernel="precomputed",
            C=self.C,
            class_weight=self.class_weight,
            probability=self.probability,
            random_state=self.random_state,
        ).fit(self._fit_kernel(X), y)
        self.classes_ = self.svc_.classes_
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return self.svc_.decision_function(self._kernel(X))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.svc_.predict_proba(self._kernel(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.svc_.predict(self._kernel(X))


def build_estimator(
    name: str,
    n_classes: int,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
    select_k: int | None = None,
    kind: str = "categorical",
    ordinal: str = "frank_hall",
) -> Pipeline | TransformedTargetRegressor:
    """An untuned comparator: scaler, optional top-``select_k`` gene filter, balanced model.

    ``params`` are fixed model arguments that override the defaults here. ``kind`` is the trait's
    (module docstring); ``ordinal`` the handling of an ordinal trait by a classifier family.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown trait kind {kind!r}; choose one of {', '.join(KINDS)}")
    if name in ORDINAL_COMPARATORS and (kind != "ordinal" or n_classes < 3):
        raise ValueError(
            f"model={name} is an ordinal model: it needs trait.kind=ordinal with 3 or more "
            f"levels, not a {kind} trait" + (f" of {n_classes} levels" if kind == "ordinal" else "")
        )
    if kind == "continuous":
        return build_regressor(name, seed, params, select_k)
    if ordinal not in ORDINAL_MODES:
        raise ValueError(f"model.ordinal={ordinal!r}: choose one of {', '.join(ORDINAL_MODES)}")
    frank_hall = (
        kind == "ordinal" and n_classes > 2 and ordinal == "frank_hall" and name in COMPARATORS
    )
    if name == "ordinal_logit":
        clf = OrdinalLogit(n_levels=n_classes)
    else:
        clf = _classifier(name, 2 if frank_hall else n_classes, seed)
    clf.set_params(**dict(params or {}))
    if frank_hall:
        if name == "svm":  # every cut needs probabilities to combine
            clf.set_params(probability=True)
        # every family is class-balanced (the SVM's Platt probabilities too: measured, the
        # correction halves its crossing cuts), so every cut is prior-corrected
        clf = FrankHall(clf, n_levels=n_classes, balanced_weights=name == "xgboost")
    steps = [("scale", StandardScaler())]
    if select_k:
        steps.append(("select", SelectKBest(f_classif, k=int(select_k))))
    return Pipeline([*steps, ("clf", clf)])


def _classifier(name: str, n_classes: int, seed: int) -> BaseEstimator:
    """The family's balanced classifier for ``n_classes`` classes."""
    if name in ("logit_l1", "logit_l2"):
        # L1 needs liblinear (fast, binary only) or saga (multinomial); lbfgs suits L2
        solver = "lbfgs" if name == "logit_l2" else ("liblinear" if n_classes == 2 else "saga")
        return LogisticRegression(
            l1_ratio=1.0 if name == "logit_l1" else 0.0,
            solver=solver,
            class_weight="balanced",
            max_iter=2000,
            random_state=seed,
        )
    if name == "svm":
        return KernelSVC(class_weight="balanced", probability=n_classes > 2, random_state=seed)
    if name == "rf":
        return RandomForestClassifier(class_weight="balanced", random_state=seed, n_jobs=1)
    if name == "xgboost":
        from xgboost import XGBClassifier

        return XGBClassifier(tree_method="hist", random_state=seed, n_jobs=1, verbosity=0)
    known = ", ".join((*COMPARATORS, *ORDINAL_COMPARATORS))
    raise ValueError(f"unknown comparator {name!r}; choose one of {known}")


def _regressor(name: str, seed: int) -> BaseEstimator:
    """The family's regression counterpart (on a standardised target)."""
    if name == "logit_l2":
        return Ridge(alpha=100.0)
    if name == "logit_l1":
        return Lasso(alpha=0.1, max_iter=5000, random_state=seed)
    if name == "svm":
        return KernelSVR()
    if name == "rf":
        return RandomForestRegressor(random_state=seed, n_jobs=1)
    if name == "xgboost":
        from xgboost import XGBRegressor

        return XGBRegressor(tree_method="hist", random_state=seed, n_jobs=1, verbosity=0)
    raise ValueError(
        f"comparator {name!r} has no regression counterpart; choose one of {', '.join(COMPARATORS)}"
    )


def build_regressor(
    name: str,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
    select_k: int | None = None,
) -> TransformedTargetRegressor:
    """A continuous trait's comparator: [scaler, (F-test filter), regressor] on a standardised target.

    ``params`` the regressor does not take (a classifier's, e.g. ``class_weight``) are skipped
    with a log line.
    """
    reg = _regressor(name, seed)
    accepted = reg.get_params()
    given = dict(params or {})
    skipped = sorted(k for k in given if k not in accepted)
    if skipped:
        log.info("model.params %s: not arguments of %s, not used", skipped, type(reg).__name__)
    reg.set_params(**{k: v for k, v in given.items() if k in accepted})
    steps = [("scale", StandardScaler())]
    if select_k:
        steps.append(("select", SelectKBest(f_regression, k=int(select_k))))
    return TransformedTargetRegressor(
        regressor=Pipeline([*steps, ("clf", reg)]), transformer=StandardScaler()
    )


def make_search(
    estimator: Pipeline | TransformedTargetRegressor,
    grid: Mapping[str, list] | Sequence[Mapping[str, list]],
    n_classes: int,
    inner_folds: int,
    seed: int = 0,
    method: str = "grid",
    n_iter: int | None = None,
    n_jobs: int = 1,
    kind: str = "categorical",
) -> GridSearchCV | RandomizedSearchCV:
    """Inner CV search; folds group repeated (bootstrap) patients together.

    Scored by AUROC (categorical), mean cumulative AUROC (ordinal, K > 2; stratified folds) or
    R² (continuous; shuffled group K-fold). ``grid`` maps model arguments to candidate lists (a
    list of such mappings searches their union); a key naming a pipeline step (``select__k``) is
    passed as is (below the target transformer of a regressor).
    """
    grids = [grid] if isinstance(grid, Mapping) else list(grid)
    outer, inner = _param_prefixes(estimator)
    space = [
        {(f"{outer}{k}" if "__" in k else f"{inner}{k}"): list(v) for k, v in g.items()}
        for g in grids
    ]
    if kind == "continuous":
        scoring, cv = "r2", GroupKFold(n_splits=inner_folds, shuffle=True, random_state=seed)
    else:
        scoring = "roc_auc" if n_classes == 2 else "roc_auc_ovr"
        if kind == "ordinal" and n_classes > 2:
            scoring = cumulative_auroc_scorer
        cv = StratifiedGroupKFold(n_splits=inner_folds, shuffle=True, random_state=seed)
    common = dict(scoring=scoring, cv=cv, n_jobs=n_jobs, refit=True, error_score="raise")
    if method == "grid":
        return GridSearchCV(estimator, space, **common)
    if method == "random":
        if not n_iter:
            raise ValueError("search method 'random' needs n_iter (candidates to draw)")
        return RandomizedSearchCV(estimator, space, n_iter=n_iter, random_state=seed, **common)
    raise ValueError(f"unknown search method {method!r}; choose grid or random")


def _param_prefixes(estimator) -> tuple[str, str]:
    """(prefix of a step's parameter, prefix of the model's own parameter) in the search space."""
    outer = "regressor__" if isinstance(estimator, TransformedTargetRegressor) else ""
    pipeline = estimator.regressor if outer else estimator
    model = dict(pipeline.steps)["clf"]
    return outer, outer + ("clf__estimator__" if isinstance(model, FrankHall) else "clf__")


def model_of(fitted) -> BaseEstimator:
    """The model step of a fitted comparator (FrankHall wrapper, classifier or regressor)."""
    pipeline = fitted.regressor_ if isinstance(fitted, TransformedTargetRegressor) else fitted
    return pipeline.steps[-1][1]


def fit_comparator(
    model_cfg: Mapping,
    X: np.ndarray,
    y: np.ndarray,
    split: FoldSplit,
    n_classes: int,
    seed: int = 0,
    kind: str = "categorical",
) -> FoldResult:
    """Tune on ``split.train`` by inner CV, refit there, predict ``split.test`` once.

    ``val_auroc`` of the result is the best mean inner-CV score: AUROC (one-vs-rest macro for
    multiclass), mean cumulative AUROC for an ordinal trait of K > 2 levels, R² for a
    continuous one; there is no separate validation part (``n_val`` 0). ``test_probs``: (n,)
    positive-class probabilities, (n, K) class or level probabilities, or (n,) predictions in
    the target's units (continuous).

    ``model_cfg`` (plain dict) needs ``name``, ``inner_folds``, ``search`` (``method``, ``grid``,
    optional ``n_iter``, ``select_k`` and ``regression_grid``) and optionally ``n_jobs``, fixed
    ``params`` and ``ordinal`` (frank_hall | multiclass).
    """
    name, search_cfg = model_cfg["name"], model_cfg["search"]
    select_k = search_cfg.get("select_k")
    select_k = select_k if select_k and select_k < X.shape[1] else None  # fewer genes: keep all
    ordinal = str(model_cfg.get("ordinal") or "frank_hall")
    estimator = build_estimator(
        name, n_classes, seed, model_cfg.get("params"), select_k, kind=kind, ordinal=ordinal
    )
    grid = search_cfg["grid"]
    if kind == "continuous":
        grid = search_cfg.get("regression_grid") or REGRESSION_GRIDS[name]
    search = make_search(
        estimator,
        grid,
        n_classes,
        inner_folds=int(model_cfg["inner_folds"]),
        seed=seed,
        method=search_cfg.get("method", "grid"),
        n_iter=search_cfg.get("n_iter"),
        n_jobs=int(model_cfg.get("n_jobs", 1)),
        kind=kind,
    )
    train = split.train
    X_train, y_train = X[train], y[train]
    fit_params = {}
    if (
        name == "xgboost"
        and kind != "continuous"
        and not isinstance(model_of(estimator), FrankHall)
    ):
        # XGBClassifier has no class_weight (Frank & Hall balances each of its cuts itself)
        fit_params["clf__sample_weight"] = compute_sample_weight("balanced", y_train)
    # one BLAS thread per fit: the matrices are small, parallelism comes from n_jobs, and
    # spinning BLAS threads on a busy machine made kernel products ~7x slower here
    with threadpool_limits(limits=1, user_api="blas"):
        search.fit(X_train, y_train, groups=train, **fit_params)
        best = search.best_estimator_
        if n_classes == 2 and name == "svm" and kind != "continuous":
            # the binary search ranks by the decision function (AUROC needs no probabilities);
            # refit the chosen model once with Platt scaling so predictions.csv holds probabilities
            best = clone(best).set_params(clf__probability=True).fit(X_train, y_train)
        # an empty test set (task=refit: tuned and refit on every patient) predicts nothing
        if kind == "continuous":
            probs = best.predict(X[split.test]) if len(split.test) else np.empty(0)
            probs = np.asarray(probs, dtype=np.float64)  # float32 genes give float32 output
        else:
            probs = (
                best.predict_proba(X[split.test]) if len(split.test) else np.empty((0, n_classes))
            )
    model = model_of(best)
    if isinstance(model, FrankHall) and len(split.test):
        log.info(
            "Frank & Hall: %d of %d held-out patients had crossing cuts (clipped, renormalised)",
            model.clipped_,
            len(split.test),
        )
    if kind != "continuous" and list(best.classes_) != list(range(n_classes)):
        raise ValueError(
            f"training folds hold classes {list(best.classes_)}, expected 0..{n_classes - 1}"
        )
    if kind != "continuous" and n_classes == 2:
        probs = probs[:, 1]
    params = {
        k.removeprefix("regressor__").removeprefix("clf__").removeprefix("estimator__"): _plain(v)
        for k, v in search.best_params_.items()
    }
    return FoldResult(
        test_probs=probs,
        n_train=len(train),
        n_val=0,
        val_auroc=float(search.best_score_),
        best_params=params,
        model=best,
        selection_metric="val_r2" if kind == "continuous" else "val_auroc",
    )


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars (for metrics.json)."""
    return value.item() if hasattr(value, "item") else value
