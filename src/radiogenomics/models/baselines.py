"""Comparator models (logistic regression, SVM, random forest, xgboost) with nested tuning.

Each comparator is a Pipeline ``[StandardScaler, (SelectKBest), classifier]`` fit on the training
folds only (scaling is a no-op for trees but keeps one code path), with balanced class weights
(xgboost: balanced sample weights). The optional univariate filter (ANOVA F, ``select_k`` genes)
is refit inside every inner and outer training fold, so it never sees held-out patients.
Hyperparameters are chosen by an inner stratified CV on the training folds; the held-out fold is
predicted once by the refit best model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.linear_model import LogisticRegression
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, StratifiedGroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils.class_weight import compute_sample_weight
from threadpoolctl import threadpool_limits

from radiogenomics.data.splits import FoldSplit
from radiogenomics.models.result import FoldResult

COMPARATORS = ("logit_l1", "logit_l2", "svm", "rf", "xgboost")


class KernelSVC(ClassifierMixin, BaseEstimator):
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

    def _kernel(self, X: np.ndarray) -> np.ndarray:
        args = {
            "linear": {},
            "rbf": {"gamma": self.gamma_},
            "poly": {"gamma": self.gamma_, "degree": self.degree, "coef0": self.coef0},
            "sigmoid": {"gamma": self.gamma_, "coef0": self.coef0},
        }
        if self.kernel not in args:
            raise ValueError(f"unknown kernel {self.kernel!r}; choose one of {sorted(args)}")
        return pairwise_kernels(X, self.X_fit_, metric=self.kernel, **args[self.kernel])

    def fit(self, X: np.ndarray, y: np.ndarray) -> KernelSVC:
        self.X_fit_ = np.asarray(X, dtype=np.float64)
        var = self.X_fit_.var()
        scale = 1.0 / (self.X_fit_.shape[1] * var) if var > 0 else 1.0
        self.gamma_ = scale if self.gamma == "scale" else float(self.gamma)
        self.svc_ = SVC(
            kernel="precomputed",
            C=self.C,
            class_weight=self.class_weight,
            probability=self.probability,
            random_state=self.random_state,
        ).fit(self._kernel(self.X_fit_), y)
        self.classes_ = self.svc_.classes_
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return self.svc_.decision_function(self._kernel(np.asarray(X, dtype=np.float64)))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.svc_.predict_proba(self._kernel(np.asarray(X, dtype=np.float64)))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.svc_.predict(self._kernel(np.asarray(X, dtype=np.float64)))


def build_estimator(
    name: str,
    n_classes: int,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
    select_k: int | None = None,
) -> Pipeline:
    """An untuned comparator: scaler, optional top-``select_k`` gene filter, balanced classifier.

    ``params`` are fixed classifier arguments that override the defaults here.
    """
    if name in ("logit_l1", "logit_l2"):
        # L1 needs liblinear (fast, binary only) or saga (multinomial); lbfgs suits L2
        solver = "lbfgs" if name == "logit_l2" else ("liblinear" if n_classes == 2 else "saga")
        clf = LogisticRegression(
            l1_ratio=1.0 if name == "logit_l1" else 0.0,
            solver=solver,
            class_weight="balanced",
            max_iter=2000,
            random_state=seed,
        )
    elif name == "svm":
        clf = KernelSVC(class_weight="balanced", probability=n_classes > 2, random_state=seed)
    elif name == "rf":
        clf = RandomForestClassifier(class_weight="balanced", random_state=seed, n_jobs=1)
    elif name == "xgboost":
        from xgboost import XGBClassifier

        clf = XGBClassifier(tree_method="hist", random_state=seed, n_jobs=1, verbosity=0)
    else:
        raise ValueError(f"unknown comparator {name!r}; choose one of {', '.join(COMPARATORS)}")
    clf.set_params(**dict(params or {}))
    steps = [("scale", StandardScaler())]
    if select_k:
        steps.append(("select", SelectKBest(f_classif, k=int(select_k))))
    return Pipeline([*steps, ("clf", clf)])


def make_search(
    estimator: Pipeline,
    grid: Mapping[str, list] | Sequence[Mapping[str, list]],
    n_classes: int,
    inner_folds: int,
    seed: int = 0,
    method: str = "grid",
    n_iter: int | None = None,
    n_jobs: int = 1,
) -> GridSearchCV | RandomizedSearchCV:
    """Inner CV search scored by AUROC; folds group repeated (bootstrap) patients together.

    ``grid`` maps classifier arguments to candidate lists (a list of such mappings searches their
    union); a key naming a pipeline step (``select__k``) is passed as is.
    """
    grids = [grid] if isinstance(grid, Mapping) else list(grid)
    space = [{(k if "__" in k else f"clf__{k}"): list(v) for k, v in g.items()} for g in grids]
    common = dict(
        scoring="roc_auc" if n_classes == 2 else "roc_auc_ovr",
        cv=StratifiedGroupKFold(n_splits=inner_folds, shuffle=True, random_state=seed),
        n_jobs=n_jobs,
        refit=True,
        error_score="raise",
    )
    if method == "grid":
        return GridSearchCV(estimator, space, **common)
    if method == "random":
        if not n_iter:
            raise ValueError("search method 'random' needs n_iter (candidates to draw)")
        return RandomizedSearchCV(estimator, space, n_iter=n_iter, random_state=seed, **common)
    raise ValueError(f"unknown search method {method!r}; choose grid or random")


def fit_comparator(
    model_cfg: Mapping,
    X: np.ndarray,
    y: np.ndarray,
    split: FoldSplit,
    n_classes: int,
    seed: int = 0,
) -> FoldResult:
    """Tune on ``split.train`` by inner CV, refit there, predict ``split.test`` once.

    ``val_auroc`` of the result is the best mean inner-CV AUROC (one-vs-rest macro for
    multiclass); there is no separate validation part (``n_val`` 0).

    ``model_cfg`` (plain dict) needs ``name``, ``inner_folds``, ``search`` (``method``, ``grid``,
    optional ``n_iter`` and ``select_k``) and optionally ``n_jobs`` and fixed ``params``.
    """
    name, search_cfg = model_cfg["name"], model_cfg["search"]
    select_k = search_cfg.get("select_k")
    select_k = select_k if select_k and select_k < X.shape[1] else None  # fewer genes: keep all
    estimator = build_estimator(name, n_classes, seed, model_cfg.get("params"), select_k)
    search = make_search(
        estimator,
        search_cfg["grid"],
        n_classes,
        inner_folds=int(model_cfg["inner_folds"]),
        seed=seed,
        method=search_cfg.get("method", "grid"),
        n_iter=search_cfg.get("n_iter"),
        n_jobs=int(model_cfg.get("n_jobs", 1)),
    )
    train = split.train
    X_train, y_train = X[train], y[train]
    fit_params = {}
    if name == "xgboost":  # XGBClassifier has no class_weight
        fit_params["clf__sample_weight"] = compute_sample_weight("balanced", y_train)
    # one BLAS thread per fit: the matrices are small, parallelism comes from n_jobs, and
    # spinning BLAS threads on a busy machine made kernel products ~7x slower here
    with threadpool_limits(limits=1, user_api="blas"):
        search.fit(X_train, y_train, groups=train, **fit_params)
        best = search.best_estimator_
        if n_classes == 2 and name == "svm":
            # the binary search ranks by the decision function (AUROC needs no probabilities);
            # refit the chosen model once with Platt scaling so predictions.csv holds probabilities
            best = clone(best).set_params(clf__probability=True).fit(X_train, y_train)
        # an empty test set (task=refit: tuned and refit on every patient) predicts nothing
        probs = best.predict_proba(X[split.test]) if len(split.test) else np.empty((0, n_classes))
    if list(best.classes_) != list(range(n_classes)):
        raise ValueError(
            f"training folds hold classes {list(best.classes_)}, expected 0..{n_classes - 1}"
        )
    return FoldResult(
        test_probs=probs[:, 1] if n_classes == 2 else probs,
        n_train=len(train),
        n_val=0,
        val_auroc=float(search.best_score_),
        best_params={k.removeprefix("clf__"): _plain(v) for k, v in search.best_params_.items()},
        model=best,
    )


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars (for metrics.json)."""
    return value.item() if hasattr(value, "item") else value
