"""Gene masking and native attribution for the comparators (logit_l1/l2, svm, rf, xgboost).

A comparator is a fitted Pipeline ``[StandardScaler, (SelectKBest), classifier]``
(:mod:`radiogenomics.models.baselines`). Masking works on the standardised matrix of the
comparator's *own* in-fold scaler, exactly as the network's masking works on its standardised
input: a masked gene is 0 there, i.e. its raw value is the fit patients' mean (the scaler's
``mean_``). Everything after the scaler is a function of that matrix, and the maskers below
compute it for (set, patient) rows without building masked copies of the input:

* linear models (logistic regression; SVM with a linear, polynomial or sigmoid kernel): the
  decision (or the kernel's dot products with the training patients) is a sum over the kept
  genes, so they reuse the network's kernels through a
  :class:`~radiogenomics.interpret.masking.MaskableNetwork` (first "layer" = coefficients or
  training patients, tail = sigmoid/softmax or libsvm's ``predict_proba`` on the kernel);
* an rbf SVM: the squared distance to a training patient is a sum over kept genes of
  ``z^2 - 2 z x_i``: the same kernels on the input ``[z, z^2]`` (each gene two columns);
* trees (random forest, xgboost): a tree's output depends only on which of *its* split genes are
  kept; per tree, the items (sets, genes, controls) are grouped by that pattern and each distinct
  pattern is run once through the tree for every patient.

Each masker checks, when built, that its unmasked probabilities equal the pipeline's
``predict_proba`` (:func:`check_masker`), so a mismatch in any shortcut fails loudly.

Ordinal and continuous traits (:mod:`radiogenomics.models.comparator_kinds`): a Frank & Hall
model is masked cut by cut (one masker per binary model, the same shortcuts) and its masked
``P(y >= k)`` combined into level probabilities exactly as the model combines them; the native
ordinal logit is linear (latent score -> level probabilities); a regressor's pipeline sits in a
``TransformedTargetRegressor`` whose target scaling is applied to the masked predictions, so
masked outputs are in the target's units (ridge/lasso linear, SVR a kernel, forest/xgboost trees).

Native attribution (:func:`native_attribution`): xgboost's TreeSHAP (``pred_contribs``) per
patient and gene; linear models' coefficients on the standardised scale and coefficient x
standardised value per patient (ridge/lasso: in target units; the ordinal logit: on its latent
score); the forest's impurity importances and a permutation importance (drop of the masking
score: AUROC, or Spearman for a regressor) on the held-out patients. A Frank & Hall model's
attribution is each cut's (outputs ``ge_<level>``), its ``importance`` the mean over the K-1 cuts. ``shap``'s TreeExplainer is not used: it needs numba and
llvmlite.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from radiogenomics.evaluation.regression import PREDICTED
from radiogenomics.interpret.masking import (
    MaskableNetwork,
    mask_gene_sets,
    mask_nested_controls,
    mask_single_genes,
    score_masked,
)

SCALER_STEP = "scale"
TREE_ROWS = 1 << 20  # (item, patient) rows per chunk of the tree masker
SELECT_STEP = "select"


# --- the pipeline's parts ------------------------------------------------------------------------


def split_pipeline(pipeline) -> tuple[object, np.ndarray | None, object]:
    """(scaler, selected gene positions or None, classifier) of a comparator pipeline."""
    pipeline = getattr(pipeline, "regressor_", pipeline)  # a regressor's TransformedTargetRegressor
    steps = dict(pipeline.steps)
    if SCALER_STEP not in steps:
        raise ValueError("a comparator pipeline starts with its in-fold StandardScaler ('scale')")
    select = steps.get(SELECT_STEP)
    selected = None if select is None else np.flatnonzero(select.get_support()).astype(np.int64)
    return steps[SCALER_STEP], selected, pipeline.steps[-1][1]


def standardize(pipeline, X: np.ndarray) -> np.ndarray:
    """Raw expression -> the comparator's standardised matrix (0 = fit patients' mean), as float64.

    The scaler sees ``X`` in its own dtype, exactly as the pipeline's ``predict_proba`` does
    (float32 expression gives float32 values), so unmasked probabilities equal the job's.
    """
    scaler, _, _ = split_pipeline(pipeline)
    return np.asarray(scaler.transform(np.asarray(X)), dtype=np.float64)


def _selected_z(z: np.ndarray, selected: np.ndarray | None) -> np.ndarray:
    return z if selected is None else z[:, selected]


def _numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy().astype(np.float64)
    return np.asarray(x, dtype=np.float64)


MODEL_KINDS = {
    "LogisticRegression": "linear",
    "Ridge": "linear",
    "Lasso": "linear",
    "KernelSVC": "svm",
    "KernelSVR": "svm",
    "RandomForestClassifier": "forest",
    "RandomForestRegressor": "forest",
    "XGBClassifier": "xgboost",
    "XGBRegressor": "xgboost",
    "OrdinalLogit": "ordinal_linear",
    "FrankHall": "frank_hall",
}


def model_kind(classifier) -> str:
    """``linear``, ``svm``, ``forest``, ``xgboost``, ``ordinal_linear`` or ``frank_hall``."""
    name = type(classifier).__name__
    if name not in MODEL_KINDS:
        raise TypeError(f"no masking for a {name} comparator")
    return MODEL_KINDS[name]


def target_scaling(pipeline) -> tuple[float, float] | None:
    """(mean, scale) of a regressor's standardised target; None for a classifier."""
    transformer = getattr(pipeline, "transformer_", None)
    if transformer is None:
        return None
    return float(transformer.mean_[0]), float(transformer.scale_[0])


# --- maskers -------------------------------------------------------------------------------------


class ComparatorMasker:
    """A :class:`~radiogenomics.interpret.masking.Masker` of a comparator pipeline."""

    def __init__(self, pipeline) -> None:
        self.pipeline = pipeline
        self.scaler, self.selected, self.classifier = split_pipeline(pipeline)
        self.n_genes = int(self.scaler.n_features_in_)
        self.target = target_scaling(pipeline)  # a regressor: one output, in target units
        self.n_classes = 2 if self.target else len(self.classifier.classes_)
        self.kind = model_kind(self.classifier)

    def _units(self, standardised):
        """A regressor's standardised-target output in the target's units (else unchanged)."""
        if self.target is None:
            return standardised
        mean, scale = self.target
        return standardised * scale + mean

    def _proba_z(self, z: np.ndarray) -> np.ndarray:
        """The pipeline after its scaler, on standardised rows: (rows,) or (rows, K)."""
        if self.target is not None:
            return self._units(self.classifier.predict(_selected_z(z, self.selected)))
        probs = self.classifier.predict_proba(_selected_z(z, self.selected))
        return probs[:, 1] if self.n_classes == 2 else probs

    def probabilities(self, x) -> np.ndarray:
        return self._proba_z(_numpy(x))


class LinearMasker(ComparatorMasker):
    """Linear decision (or kernel of dot products / squared distances) through the network kernels."""

    def __init__(self, pipeline) -> None:
        super().__init__(pipeline)
        self.expanded = False  # rbf: each gene is two input columns, z and z^2
        clf = self.classifier
        if self.kind == "linear" and self.target is not None:  # ridge / lasso
            weight = np.asarray(clf.coef_, dtype=np.float64).reshape(-1, 1)
            bias = np.atleast_1d(np.asarray(clf.intercept_, dtype=np.float64))
            tail = lambda pre: self._units(pre[:, 0])  # noqa: E731
        elif self.kind == "linear":
            weight, bias = clf.coef_.T, clf.intercept_  # (selected, 1 or K)
            tail = _logistic_tail(self.n_classes)
        elif self.kind == "ordinal_linear":  # latent score -> level probabilities
            weight, bias = np.asarray(clf.coef_, dtype=np.float64).reshape(-1, 1), np.zeros(1)

            def tail(pre: torch.Tensor) -> torch.Tensor:
                return torch.from_numpy(clf.proba_of_score(pre[:, 0].cpu().numpy()))

        elif self.kind == "svm":
            weight, bias, tail = self._svm_parts(clf)
        else:
            raise TypeError(f"{type(clf).__name__} is not linear in the genes")
        full = np.zeros((self.n_genes * (2 if self.expanded else 1), weight.shape[1]))
        rows = np.arange(self.n_genes) if self.selected is None else self.selected
        if self.expanded:
            full[rows] = weight[: len(rows)]
            full[rows + self.n_genes] = weight[len(rows) :]
        else:
            full[rows] = weight
        self.net = MaskableNetwork(
            torch.from_numpy(full),
            torch.from_numpy(np.asarray(bias, dtype=np.float64)),
            tail,
            self.n_classes,
        )

    def _svm_parts(self, clf):
        X_fit = np.asarray(clf.X_fit_, dtype=np.float64)
        n_fit = len(X_fit)
        binary = self.n_classes == 2

        def probs_of_kernel(kernel: np.ndarray) -> torch.Tensor:
            if self.target is not None:  # SVR: the prediction in target units
                return torch.from_numpy(self._units(clf.svr_.predict(kernel)))
            probs = clf.svc_.predict_proba(kernel)
            return torch.from_numpy(probs[:, 1] if binary else probs)

        if clf.kernel == "rbf":  # ||z - x_i||^2 = sum_g (z_g^2 - 2 z_g x_ig) + ||x_i||^2
            self.expanded = True
            gamma, norms = clf.gamma_, (X_fit**2).sum(axis=1)
            weight = np.zeros((2 * X_fit.shape[1], n_fit + 1))
            weight[: X_fit.shape[1], :n_fit] = -2 * X_fit.T
            weight[X_fit.shape[1] :, n_fit] = 1.0

            def tail(pre: torch.Tensor) -> torch.Tensor:
                pre = pre.cpu().numpy()
                d2 = np.maximum(pre[:, :n_fit] + pre[:, n_fit:] + norms, 0.0)
                return probs_of_kernel(np.exp(-gamma * d2))

            return weight, np.zeros(n_fit + 1), tail
        gamma, degree, coef0 = getattr(clf, "gamma_", 1.0), clf.degree, clf.coef0
        kernel_of = {
            "linear": lambda dot: dot,
            "poly": lambda dot: (gamma * dot + coef0) ** degree,
            "sigmoid": lambda dot: np.tanh(gamma * dot + coef0),
        }[clf.kernel]
        return (
            X_fit.T,
            np.zeros(n_fit),
            lambda pre: probs_of_kernel(kernel_of(pre.cpu().numpy())),
        )

    def _x(self, x) -> torch.Tensor:
        z = torch.as_tensor(_numpy(x))
        return torch.cat([z, z * z], dim=1) if self.expanded else z

    def _sets(self, sets: Sequence[np.ndarray]) -> list[np.ndarray]:
        if not self.expanded:
            return list(sets)
        return [np.concatenate([np.asarray(s), np.asarray(s) + self.n_genes]) for s in sets]

    def gene_sets(self, x, sets, batch_size):
        return mask_gene_sets(self.net, self._x(x), self._sets(sets), batch_size)

    def nested_controls(self, x, perms, sizes, batch_size):
        if not self.expanded:
            return mask_nested_controls(self.net, self._x(x), perms, sizes, batch_size)
        doubled = np.stack([perms, perms + self.n_genes], axis=2).reshape(len(perms), -1)
        sizes = [2 * int(s) for s in sizes]
        return mask_nested_controls(self.net, self._x(x), doubled, sizes, batch_size)

    def single_genes(self, x, batch_size):
        if not self.expanded:
            return mask_single_genes(self.net, self._x(x), batch_size=batch_size)
        genes = [np.array([g]) for g in range(self.n_genes)]
        return mask_gene_sets(self.net, self._x(x), self._sets(genes), batch_size)


def _logistic_tail(n_classes: int) -> Callable[[torch.Tensor], torch.Tensor]:
    if n_classes == 2:
        return lambda z: torch.sigmoid(z[:, 0])
    return lambda z: torch.softmax(z, dim=-1)


@dataclass
class Tree:
    """One tree in gene coordinates: ``feature`` -1 at leaves; ``value`` (nodes, outputs)."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    strict: bool  # xgboost: go left when x < threshold (float32); sklearn: x <= threshold
    depth: int


class TreeMasker(ComparatorMasker):
    """Forest or boosted trees: per tree, items grouped by which of its split genes they keep."""

    def __init__(self, pipeline) -> None:
        super().__init__(pipeline)
        genes = np.arange(self.n_genes) if self.selected is None else self.selected
        self.trees = (
            _forest_trees(self.classifier, genes, self.n_classes, self.target is not None)
            if self.kind == "forest"
            else _xgboost_trees(self.classifier, genes, self.n_classes)
        )
        self.base = 0.0
        if self.kind == "xgboost":  # base margin: the booster's margin minus the trees' sum
            from xgboost import DMatrix

            zero = np.zeros((1, len(genes)), dtype=np.float32)
            margin = self.classifier.get_booster().predict(DMatrix(zero), output_margin=True)
            trees = self._accumulate(
                np.zeros((1, self.n_genes)), lambda f: np.zeros((1, len(f)), bool)
            )
            self.base = np.asarray(margin, dtype=np.float64).reshape(-1) - trees[0, 0]

    def _accumulate(self, z: np.ndarray, members: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Sum over trees of the leaf values of every (item, patient): (items, patients, out).

        Per tree, each distinct pattern of kept split genes is walked once; the sum over trees
        is one sparse (items x patterns) one-hot product with the patterns' leaf values.
        """
        from scipy.sparse import csr_matrix

        x32 = z.astype(np.float32)
        columns, blocks, offset = [], [], 0
        for tree in self.trees:
            internal = tree.feature >= 0
            features, position = np.unique(tree.feature[internal], return_inverse=True)
            feat_pos = np.full(len(tree.feature), -1)
            feat_pos[internal] = position
            codes, patterns = _patterns(members(features))  # items' patterns of kept genes
            leaves = _traverse(tree, feat_pos, patterns, x32)  # (patterns, patients)
            blocks.append(tree.value[leaves].reshape(len(patterns), -1))
            columns.append(codes + offset)
            offset += len(patterns)
        n_items, n_trees = len(columns[0]), len(columns)
        one_hot = csr_matrix(
            (
                np.ones(n_items * n_trees),
                np.stack(columns, axis=1).ravel(),
                np.arange(0, n_items * n_trees + 1, n_trees),
            ),
            shape=(n_items, offset),
        )
        total = one_hot @ np.concatenate(blocks)
        return np.asarray(total).reshape(n_items, len(z), -1)

    def _finish(self, total: np.ndarray) -> np.ndarray:
        if self.kind == "forest":  # binary trees carry the positive class only
            probs = total / len(self.trees)
            return self._units(probs[..., 0]) if self.n_classes == 2 else probs
        margin = total + self.base
        if self.target is not None:  # squared error: the margin is the prediction
            return self._units(margin[..., 0])
        if self.n_classes == 2:
            return 1.0 / (1.0 + np.exp(-margin[..., 0]))
        margin = margin - margin.max(axis=-1, keepdims=True)
        return np.exp(margin) / np.exp(margin).sum(axis=-1, keepdims=True)

    def tree_probabilities(self, x) -> np.ndarray:
        """Unmasked probabilities through the tree walk (checked against ``predict_proba``)."""
        z = _numpy(x)
        return self._finish(self._accumulate(z, lambda f: np.ones((1, len(f)), bool)))[0]

    def _chunked(self, z, n_items: int, member_rows, batch_size: int) -> np.ndarray:
        # a tree walk costs per distinct pattern, not per row: large chunks share more patterns
        per_chunk = max(1, max(batch_size, TREE_ROWS) // max(1, len(z)))
        out = [
            self._finish(
                self._accumulate(z, lambda f, s=slice(a, a + per_chunk): member_rows(s, f))
            )
            for a in range(0, n_items, per_chunk)
        ]
        empty = (0, len(z), *(() if self.n_classes == 2 else (self.n_classes,)))
        return np.concatenate(out) if out else np.zeros(empty)

    def gene_sets(self, x, sets, batch_size):
        z = _numpy(x)
        member = np.zeros((len(sets), self.n_genes), dtype=bool)
        for row, s in enumerate(sets):
            member[row, s] = True
        return self._chunked(z, len(sets), lambda s, f: member[:, f][s], batch_size)

    def nested_controls(self, x, perms, sizes, batch_size):
        z = _numpy(x)
        sizes = np.asarray(sorted({int(s) for s in sizes}))
        rank = np.argsort(perms, axis=1)  # rank[r, g]: position of gene g in permutation r
        n_random = len(perms)

        def rows(s: slice, f: np.ndarray) -> np.ndarray:
            items = np.arange(len(sizes) * n_random)[s]  # size-major: item = i * R + r
            if items[0] == 0 and len(items) == len(sizes) * n_random:  # one chunk: broadcast
                return (rank[:, f][None] < sizes[:, None, None]).reshape(len(items), len(f))
            return rank[:, f][items % n_random] < sizes[items // n_random][:, None]

        return self._chunked(z, len(sizes) * n_random, rows, batch_size)

    def single_genes(self, x, batch_size):
        z = _numpy(x)
        genes = np.arange(self.n_genes)
        return self._chunked(z, self.n_genes, lambda s, f: genes[s][:, None] == f[None], batch_size)


def _patterns(keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index of each row's pattern, distinct patterns) of a boolean (items, k) matrix."""
    if keep.shape[1] == 0:
        return np.zeros(len(keep), dtype=np.int64), np.zeros((1, 0), dtype=bool)
    if keep.shape[1] <= 62:
        codes = keep.astype(np.int64) @ (np.int64(1) << np.arange(keep.shape[1], dtype=np.int64))
        if keep.shape[1] <= 20:  # a lookup table instead of a sort
            seen = np.zeros(1 << keep.shape[1], dtype=bool)
            seen[codes] = True
            distinct = np.flatnonzero(seen)
            lookup = np.cumsum(seen) - 1
            inverse = lookup[codes]
        else:
            distinct, inverse = np.unique(codes, return_inverse=True)
        patterns = (distinct[:, None] >> np.arange(keep.shape[1])) & 1
        return inverse.reshape(-1), patterns.astype(bool)
    patterns, inverse = np.unique(keep, axis=0, return_inverse=True)
    return inverse.reshape(-1), patterns


def _traverse(
    tree: Tree, feat_pos: np.ndarray, patterns: np.ndarray, x32: np.ndarray
) -> np.ndarray:
    """Leaf reached by every (pattern, patient): a kept split gene reads the patient's value, a
    masked one the fit mean (standardised 0)."""
    n_patterns, n_patients = len(patterns), len(x32)
    feature = np.where(tree.feature >= 0, tree.feature, 0)
    values = x32[:, feature].T.astype(np.float64)  # (nodes, patients)
    threshold = tree.threshold[:, None]
    goes_left = values < threshold if tree.strict else values <= threshold
    baseline_left = (0.0 < tree.threshold) if tree.strict else (0.0 <= tree.threshold)
    node = np.zeros((n_patterns, n_patients), dtype=np.int64)
    rows = np.arange(n_patterns)[:, None]
    cols = np.arange(n_patients)[None, :]
    padded = np.concatenate([patterns, np.zeros((n_patterns, 1), bool)], axis=1)
    for _ in range(tree.depth):
        position = feat_pos[node]  # -1 at leaves -> the padded False column
        kept = padded[rows, position]
        left = np.where(kept, goes_left[node, cols], baseline_left[node])
        step = np.where(left, tree.left[node], tree.right[node])
        node = np.where(position >= 0, step, node)
    return node


def _forest_trees(
    forest, genes: np.ndarray, n_classes: int, regression: bool = False
) -> list[Tree]:
    trees = []
    for estimator in forest.estimators_:
        t = estimator.tree_
        feature = np.where(t.feature >= 0, genes[np.maximum(t.feature, 0)], -1)
        value = t.value[:, 0, :].astype(np.float64)
        if not regression:  # a regression tree's node value is its mean target already
            value = value / value.sum(axis=1, keepdims=True)
            value = value[:, 1:] if n_classes == 2 else value
        trees.append(
            Tree(
                feature,
                t.threshold.astype(np.float64),
                t.children_left,
                t.children_right,
                value,
                strict=False,
                depth=int(t.max_depth),
            )
        )
    return trees


def _xgboost_trees(model, genes: np.ndarray, n_classes: int) -> list[Tree]:
    booster = model.get_booster()
    dump = json.loads(booster.save_raw("json"))["learner"]["gradient_booster"]["model"]
    n_out = 1 if n_classes == 2 else n_classes
    trees = []
    for tree, group in zip(dump["trees"], dump["tree_info"], strict=True):
        left = np.asarray(tree["left_children"], dtype=np.int64)
        right = np.asarray(tree["right_children"], dtype=np.int64)
        leaf = left < 0
        split = np.asarray(tree["split_conditions"], dtype=np.float32)
        feature = np.where(leaf, -1, genes[np.asarray(tree["split_indices"], dtype=np.int64)])
        value = np.zeros((len(left), n_out))
        value[leaf, int(group)] = split[leaf]
        trees.append(
            Tree(
                feature,
                split.astype(np.float64),
                np.where(leaf, 0, left),
                np.where(leaf, 0, right),
                value,
                strict=True,
                depth=_depth(left, right),
            )
        )
    return trees


def _depth(left: np.ndarray, right: np.ndarray) -> int:
    depth, frontier = 0, [0]
    while True:
        frontier = [c for n in frontier for c in (left[n], right[n]) if c >= 0]
        if not frontier:
            return depth
        depth += 1


class FrankHallMasker:
    """A Frank & Hall model: one masker per cut's binary model, combined as the model does."""

    def __init__(self, pipeline) -> None:
        from sklearn.pipeline import Pipeline

        self.pipeline = pipeline
        self.scaler, self.selected, self.classifier = split_pipeline(pipeline)
        self.n_genes = int(self.scaler.n_features_in_)
        self.n_classes = len(self.classifier.classes_)
        self.kind = "frank_hall"
        head = pipeline.steps[:-1]
        self.cuts = [
            comparator_masker(Pipeline([*head, ("clf", binary)]))
            for binary in self.classifier.estimators_
        ]

    def _combine(self, per_cut: list[np.ndarray]) -> np.ndarray:
        from radiogenomics.models.comparator_kinds import levels_from_cumulative

        cumulative = self.classifier.correct(np.stack(per_cut, axis=-1))
        return levels_from_cumulative(cumulative)[0]

    def probabilities(self, x) -> np.ndarray:
        return self._combine([cut.probabilities(x) for cut in self.cuts])

    def gene_sets(self, x, sets, batch_size):
        return self._combine([cut.gene_sets(x, sets, batch_size) for cut in self.cuts])

    def nested_controls(self, x, perms, sizes, batch_size):
        return self._combine(
            [cut.nested_controls(x, perms, sizes, batch_size) for cut in self.cuts]
        )

    def single_genes(self, x, batch_size):
        return self._combine([cut.single_genes(x, batch_size) for cut in self.cuts])


def comparator_masker(pipeline) -> ComparatorMasker | FrankHallMasker:
    """The fast masker of a fitted comparator (linear, kernel SVM, forest, xgboost, ordinal
    logit, Frank & Hall, or a regressor of one of the families)."""
    kind = model_kind(split_pipeline(pipeline)[2])
    if kind == "frank_hall":
        return FrankHallMasker(pipeline)
    return TreeMasker(pipeline) if kind in ("forest", "xgboost") else LinearMasker(pipeline)


def check_masker(masker: ComparatorMasker, z: np.ndarray, atol: float = 1e-6) -> None:
    """The masker's shortcut must reproduce ``predict_proba`` on the unmasked patients."""
    if not len(z):
        return
    if isinstance(masker, FrankHallMasker):
        for cut in masker.cuts:
            check_masker(cut, z, atol)
        return
    expected = masker.probabilities(z)
    if isinstance(masker, TreeMasker):
        got = masker.tree_probabilities(z)
    else:
        got = mask_gene_sets(masker.net, masker._x(z), masker._sets([np.arange(masker.n_genes)]))[0]
    atol = atol * max(1.0, abs(masker.target[1])) if masker.target else atol  # target units
    if not np.allclose(got, expected, atol=atol, rtol=0):
        worst = float(np.max(np.abs(np.asarray(got) - expected)))
        raise RuntimeError(
            f"{masker.kind} masker: unmasked probabilities differ from predict_proba by {worst:.2e}"
        )


# --- native attribution --------------------------------------------------------------------------


@dataclass
class Attribution:
    """Per-gene importances (``genes``: gene, importance, family columns) and, where the family
    has them, per-patient attributions (outputs, patients, genes) with their output names."""

    method: str
    genes: pd.DataFrame
    per_patient: np.ndarray | None = None
    outputs: list[str] | None = None
    bias: np.ndarray | None = None  # xgboost: the SHAP bias per (output, patient)


def _full(values: np.ndarray, selected: np.ndarray | None, n_genes: int) -> np.ndarray:
    """(..., selected) -> (..., genes), unselected genes 0."""
    if selected is None:
        return values
    out = np.zeros((*values.shape[:-1], n_genes))
    out[..., selected] = values
    return out


def native_attribution(
    pipeline,
    z: np.ndarray,
    y: np.ndarray,
    genes: Sequence[str],
    class_names: Sequence[str],
    n_repeats: int = 5,
    seed: int = 0,
) -> Attribution | None:
    """The family's own attribution on standardised patients ``z`` (None: masking only)."""
    scaler, selected, clf = split_pipeline(pipeline)
    n_genes, kind = len(genes), model_kind(clf)
    if kind == "frank_hall":
        return _frank_hall_attribution(pipeline, z, y, genes, class_names, n_repeats, seed)
    target = target_scaling(pipeline)
    scale = target[1] if target else 1.0  # a regressor's attributions in the target's units
    binary = target is not None or len(class_names) == 2
    outputs = [class_names[1]] if binary and not target else list(class_names)
    if target:
        outputs = [PREDICTED]
    frame = pd.DataFrame({"gene": list(genes)})
    zs = _selected_z(z, selected)
    if kind == "xgboost":
        from xgboost import DMatrix

        contribs = clf.get_booster().predict(DMatrix(zs.astype(np.float32)), pred_contribs=True)
        contribs = np.asarray(contribs, dtype=np.float64) * scale
        contribs = contribs[None] if contribs.ndim == 2 else contribs.transpose(1, 0, 2)
        per_patient = _full(contribs[..., :-1], selected, n_genes)  # (outputs, patients, genes)
        bias = contribs[..., -1] + (target[0] if target else 0.0)
        frame["importance"] = np.abs(per_patient).mean(axis=(0, 1))
        frame["mean_contribution"] = per_patient.mean(axis=(0, 1))
        return Attribution("tree_shap", _ranked(frame), per_patient, outputs, bias)
    linear_svm = kind == "svm" and clf.kernel == "linear" and binary
    if kind in ("linear", "ordinal_linear") or linear_svm:
        if kind == "ordinal_linear":  # the latent score: higher means a higher level
            coef, outputs = np.asarray(clf.coef_).reshape(1, -1), ["latent"]
        elif kind == "linear":
            coef = np.asarray(clf.coef_).reshape(1, -1) * scale if target else clf.coef_
        else:  # binary linear SVM / SVR: w = dual coefficients x support vectors (z scale)
            svm = clf.svr_ if target else clf.svc_
            coef = svm.dual_coef_ @ np.asarray(clf.X_fit_)[svm.support_] * scale
        coef = _full(np.asarray(coef, dtype=np.float64), selected, n_genes)  # (outputs, genes)
        per_patient = coef[:, None, :] * z[None, :, :]
        for k, name in enumerate(outputs):
            frame[f"coef_{name}" if len(outputs) > 1 else "coef"] = coef[k]
        frame["importance"] = np.abs(coef).mean(axis=0)
        frame["mean_abs_contribution"] = np.abs(per_patient).mean(axis=(0, 1))
        return Attribution("coefficients", _ranked(frame), per_patient, outputs)
    if kind == "forest":
        frame["impurity"] = _full(clf.feature_importances_[None], selected, n_genes)[0]
        mean, sd = permutation_importance(pipeline, z, y, class_names, n_repeats, seed)
        frame["permutation"], frame["permutation_sd"] = mean, sd
        frame["importance"] = mean
        return Attribution("impurity_permutation", _ranked(frame))
    return None  # non-linear or multiclass SVM: masking only


def _frank_hall_attribution(
    pipeline,
    z: np.ndarray,
    y: np.ndarray,
    genes: Sequence[str],
    class_names: Sequence[str],
    n_repeats: int,
    seed: int,
) -> Attribution | None:
    """Each cut's attribution (binary target ``y >= k``, output ``ge_<level>``); importance is
    the mean over the K-1 cuts; None when the family has none (rbf SVM)."""
    from sklearn.pipeline import Pipeline

    model = pipeline.steps[-1][1]
    frame = pd.DataFrame({"gene": list(genes)})
    per_patient, outputs, biases, method = [], [], [], None
    for k, binary in enumerate(model.estimators_, start=1):
        cut = f"ge_{class_names[k]}"
        found = native_attribution(
            Pipeline([*pipeline.steps[:-1], ("clf", binary)]),
            z,
            (np.asarray(y) >= k).astype(int),
            genes,
            [f"lt_{class_names[k]}", cut],
            n_repeats,
            seed,
        )
        if found is None:
            return None
        method = found.method
        cut_frame = found.genes.drop(columns=["gene", "rank"]).add_suffix(f"_{cut}")
        frame = pd.concat([frame, cut_frame], axis=1)
        if found.per_patient is not None:
            per_patient.append(found.per_patient)
            outputs.append(cut)
        if found.bias is not None:
            biases.append(found.bias)
    importance = frame[[c for c in frame.columns if c.startswith("importance_ge_")]]
    frame.insert(1, "importance", importance.mean(axis=1).to_numpy())
    return Attribution(
        f"frank_hall_{method}",
        _ranked(frame),
        np.concatenate(per_patient) if per_patient else None,
        outputs or None,
        np.concatenate(biases) if biases else None,
    )


def _ranked(frame: pd.DataFrame) -> pd.DataFrame:
    frame.insert(1, "rank", frame["importance"].rank(ascending=False, method="min").astype(int))
    return frame


def permutation_importance(
    pipeline,
    z: np.ndarray,
    y: np.ndarray,
    class_names: Sequence[str],
    n_repeats: int = 5,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Forest: AUROC drop (a regressor: Spearman drop) when one gene is permuted across the
    patients (mean, sd over repeats).

    Permuting a gene changes only the trees that split on it, so each tree scores the permuted
    copies of its own split genes (one ``predict_proba`` per tree) and the forest's probability
    of a copy is the unpermuted one plus those trees' changes. Genes that no tree splits on
    score exactly 0. Every gene uses the same ``n_repeats`` patient orders (from ``seed``).
    """
    _, selected, forest = split_pipeline(pipeline)
    regression = target_scaling(pipeline) is not None  # score: Spearman of the prediction

    def output(model, rows: np.ndarray) -> np.ndarray:
        return model.predict(rows)[:, None] if regression else model.predict_proba(rows)

    zs = _selected_z(z, selected).astype(np.float32)
    n_patients, n_genes = z.shape
    genes = np.arange(n_genes) if selected is None else selected
    rng = np.random.default_rng(seed)
    orders = np.stack([rng.permutation(n_patients) for _ in range(n_repeats)])
    base = output(forest, zs)
    deltas: dict[int, np.ndarray] = {}
    for tree in forest.estimators_:
        used = np.unique(tree.tree_.feature[tree.tree_.feature >= 0])
        if not len(used):
            continue
        block = np.repeat(zs[None], len(used) * n_repeats, axis=0)
        feature = np.repeat(used, n_repeats)[:, None]
        items = np.arange(len(block))[:, None]
        block[items, np.arange(n_patients)[None], feature] = zs[
            orders[items[:, 0] % n_repeats], feature
        ]
        changed = output(tree, block.reshape(-1, zs.shape[1]))
        changed = changed.reshape(len(used), n_repeats, n_patients, -1) - output(tree, zs)
        for f, delta in zip(used, changed, strict=True):
            deltas[int(f)] = deltas[int(f)] + delta if int(f) in deltas else delta
    mean, sd = np.zeros(n_genes), np.zeros(n_genes)
    if not deltas:
        return mean, sd
    features = np.array(sorted(deltas))
    probs = base[None, None] + np.stack([deltas[f] for f in features]) / len(forest.estimators_)
    probs = probs.reshape(-1, n_patients, probs.shape[-1])
    if regression:
        from radiogenomics.evaluation.regression import spearman_rows

        full = spearman_rows(base[None, :, 0], y)[0]
        drops = full - spearman_rows(probs[..., 0], y)
    else:
        probs = probs[..., 1] if len(class_names) == 2 else probs
        whole = base[None, :, 1] if len(class_names) == 2 else base[None]
        full = score_masked(whole, y, class_names)["auroc"].iloc[0]
        drops = full - score_masked(probs, y, class_names)["auroc"].to_numpy()
    drops = drops.reshape(len(features), n_repeats)
    mean[genes[features]], sd[genes[features]] = drops.mean(axis=1), drops.std(axis=1)
    return mean, sd
