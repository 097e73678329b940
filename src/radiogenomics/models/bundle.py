"""A trained fold model as files (``<job>/model/``): apply it to new patients, load it safely.

A bundle holds everything needed to turn new patients' raw expression into probabilities, and
nothing patient-level:

* ``model.json``: the manifest (format, version, family and model name, files, trait spec, class
  names, model config, architecture, package versions, a fingerprint of the training matrix, the
  job's metrics, what the probabilities mean);
* ``gene_order.txt``: the gene order the model expects (one symbol a line);
* ``preprocessing.npz``: per-gene mean and sd of the patients the model was fitted on (the
  network's standardizer; also the value a missing gene is filled with), and the in-fold gene
  filter of a comparator (column positions), read with ``allow_pickle=False``;
* the weights: ``weights.pt`` (the network's tensors, read with ``torch.load(weights_only=True)``),
  ``estimator.skops`` (a scikit-learn pipeline through skops, with an allow-list of types) and,
  for xgboost, ``xgboost.json`` (xgboost's own format);
* ``training_patients.json``: salted SHA-256 digests of the training patients' ids (so a new
  cohort's overlap with the training cohort can be flagged without storing the ids).

Loading never unpickles arbitrary objects: a tampered or foreign file is refused with a
:class:`BundleError` naming it.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import platform
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from radiogenomics.data.datamodules import Standardizer
from radiogenomics.data.traits import TraitSpec
from radiogenomics.errors import DataError
from radiogenomics.results import layout
from radiogenomics.utils import atomic_write, error_line, to_plain, write_json

FORMAT = "radiogenomics-model"
VERSION = 1
PATIENT_SALT = "radiogenomics-patient:"
# types a comparator's skops file may hold beyond skops' own trusted scikit-learn types
TRUSTED_TYPES = (
    "sklearn.feature_selection._univariate_selection.f_classif",
    "sklearn.feature_selection._univariate_selection.f_regression",
    "sklearn.tree._tree.Tree",
    "radiogenomics.models.baselines.KernelSVC",
    "radiogenomics.models.comparator_kinds.FrankHall",
    "radiogenomics.models.comparator_kinds.KernelSVR",
    "radiogenomics.models.comparator_kinds.OrdinalLogit",
)
XGBOOST_CUT = "xgboost_cut"  # files role of a Frank & Hall cut's booster: xgboost_cut<k>


class BundleError(DataError):
    """A model bundle that is missing, incomplete, foreign or tampered with."""


def patient_digest(patient_id: str) -> str:
    """Salted SHA-256 of a patient id: compares cohorts without storing the id."""
    return hashlib.sha256(f"{PATIENT_SALT}{patient_id}".encode()).hexdigest()


def matrix_fingerprint(X: np.ndarray) -> str:
    """SHA-256 of a float32 matrix's bytes and shape: identifies the training data."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    return hashlib.sha256(str(X.shape).encode() + X.tobytes()).hexdigest()[:32]


def package_versions() -> dict[str, str]:
    """Versions of the packages a bundle's numbers depend on."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("radiogenomics", "torch", "scikit-learn", "xgboost", "skops", "numpy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


@dataclass
class ModelBundle:
    """A loaded bundle: the model plus the preprocessing that turns raw expression into input."""

    path: Path
    manifest: dict[str, Any]
    genes: list[str]
    mean: np.ndarray  # float32, per gene: fit patients' mean (fills a missing gene)
    std: np.ndarray  # float32, per gene: fit patients' sd (constant genes: 1)
    selected: np.ndarray | None  # comparator's in-fold gene filter (column positions)
    model: Any  # ClassifierModule (eval mode) or scikit-learn pipeline
    training_digests: frozenset[str]

    @property
    def family(self) -> str:
        """``nn`` or ``baseline``."""
        return self.manifest["family"]

    @property
    def class_names(self) -> list[str]:
        """Output classes in probability-column order."""
        return list(self.manifest["class_names"])

    @property
    def spec(self) -> TraitSpec:
        """The trait the model was trained for."""
        return TraitSpec.from_config(self.manifest["trait"])

    def align(self, expression: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
        """(patients x bundle genes float32 matrix, genes the model needs that are missing).

        A missing gene is filled with the training mean (standardised value 0).
        """
        present = expression.columns.intersection(pd.Index(self.genes))
        missing = [g for g in self.genes if g not in set(present)]
        aligned = expression.reindex(columns=self.genes).to_numpy(np.float32, copy=True)
        if missing:
            columns = np.flatnonzero(~pd.Index(self.genes).isin(present))
            aligned[:, columns] = self.mean[columns]
        return aligned, missing

    def standardize(self, X: np.ndarray) -> np.ndarray:
        """The fit patients' z-scoring (what the network was trained on)."""
        return ((X - self.mean) / self.std).astype(np.float32)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probabilities of raw aligned expression: (n,) positive class or (n, K); a
        continuous trait's comparator: (n,) predictions in the target's units."""
        if self.family == "nn":
            with torch.inference_mode():
                x = torch.from_numpy(self.standardize(X))
                return self.model.probabilities(self.model(x)).float().numpy()
        if not self.class_names:  # a continuous trait's regressor
            return self.model.predict(np.asarray(X, dtype=np.float32)).astype(np.float64)
        probs = self.model.predict_proba(np.asarray(X, dtype=np.float32))
        return probs[:, 1] if len(self.class_names) == 2 else probs

    def weight_share(self, genes: Iterable[str]) -> float | None:
        """Share of the first layer's absolute weight mass on ``genes`` (network only)."""
        if self.family != "nn":
            return None
        # the first affine map on the genes; an ensemble's members side by side
        weight = self.model.first_layer_weights().detach().abs().sum(dim=(0, 1)).numpy()
        index = pd.Index(self.genes).get_indexer(list(genes))
        return float(weight[index[index >= 0]].sum() / weight.sum()) if weight.sum() else 0.0

    def seen_in_training(self, patient_ids: Sequence[str]) -> np.ndarray:
        """Per patient: was it among the patients this model was fitted (or tuned) on?"""
        return np.array([patient_digest(str(p)) in self.training_digests for p in patient_ids])


def save_bundle(
    directory: str | Path,
    *,
    family: str,
    model_name: str,
    model: Any,
    genes: Sequence[str],
    fit_X: np.ndarray,
    training_patients: Sequence[str],
    trait: Mapping[str, Any],
    class_names: Sequence[str],
    model_config: Mapping[str, Any],
    metrics: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write a bundle for one trained model; the manifest (``model.json``) is written last.

    ``fit_X`` is the raw (unstandardised) matrix of the patients the model was fitted on: its
    per-gene mean and sd are the network's standardizer and every model's fill-in values.
    ``training_patients`` are all patients the model saw (fit and inner validation).
    """
    directory = Path(directory)
    scaler = Standardizer(np.asarray(fit_X, dtype=np.float32))
    files = {"genes": layout.BUNDLE_GENES, "preprocessing": layout.BUNDLE_PREPROCESSING}
    atomic_write(directory / layout.BUNDLE_GENES, lambda p: p.write_text("\n".join(genes) + "\n"))
    arrays = {"mean": scaler.mean, "std": scaler.std}
    manifest_model: dict[str, Any] = {}
    if family == "nn":
        files["weights"] = layout.BUNDLE_WEIGHTS
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        atomic_write(directory / layout.BUNDLE_WEIGHTS, lambda p: torch.save(state, p))
        manifest_model["architecture"] = to_plain(dict(model.hparams))
    elif family == "baseline":
        selected = _selected_columns(model)
        if selected is not None:
            arrays["selected"] = selected
        files.update(_save_estimator(directory, model, model_name))
    else:
        raise ValueError(f"unknown model family {family!r}; expected nn or baseline")
    atomic_write(directory / layout.BUNDLE_PREPROCESSING, lambda p: _save_npz(p, arrays))
    digests = sorted(patient_digest(str(p)) for p in training_patients)
    write_json(
        directory / layout.BUNDLE_TRAINING_PATIENTS,
        {"digest": "sha256", "salt": PATIENT_SALT, "n_patients": len(digests), "ids": digests},
    )
    files["training_patients"] = layout.BUNDLE_TRAINING_PATIENTS
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "family": family,
        "model_name": model_name,
        "files": files,
        "trait": to_plain(dict(trait)),
        "class_names": [str(c) for c in class_names],
        **output_record(trait, model if family == "nn" else None),
        "n_genes": len(genes),
        "model_config": to_plain(dict(model_config)),
        **manifest_model,
        "training": {
            "n_fit_patients": int(len(fit_X)),
            "n_patients_seen": len(digests),
            "fingerprint": matrix_fingerprint(fit_X),
        },
        "versions": package_versions(),
        "metrics": to_plain(dict(metrics)),
        **to_plain(dict(extra or {})),
    }
    return write_json(directory / layout.BUNDLE_MANIFEST, manifest)


def output_record(trait: Mapping[str, Any], network: Any = None) -> dict[str, Any]:
    """The manifest's ``kind`` and ``outputs`` (a continuous network: its ``target`` scale too)."""
    kind = str(trait.get("kind") or "categorical")
    if kind != "continuous":
        outputs = "probability of the positive class (binary) or of each class (multiclass)"
        return {"kind": kind, "outputs": outputs}
    record = {"kind": kind, "outputs": "the predicted value in the target's units"}
    if network is not None:  # standardised with the fit patients' target mean and sd
        record["target"] = {"mean": float(network.target_mean), "sd": float(network.target_sd)}
    return record


def _save_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    with open(path, "wb") as handle:  # a file handle: numpy would append .npz to a bare path
        np.savez(handle, **arrays)


def _selected_columns(pipeline: Any) -> np.ndarray | None:
    pipeline = getattr(pipeline, "regressor_", pipeline)  # a regressor's target transformer
    step = dict(pipeline.steps).get("select") if hasattr(pipeline, "steps") else None
    return None if step is None else np.flatnonzero(step.get_support()).astype(np.int64)


def _save_estimator(directory: Path, pipeline: Any, model_name: str) -> dict[str, str]:
    """scikit-learn pipeline through skops; xgboost models in xgboost's own JSON."""
    import skops.io as sio

    files = {}
    if model_name == "xgboost":
        pipeline, boosters = _detach_boosters(pipeline)
        for role, booster in boosters.items():
            name = layout.BUNDLE_XGBOOST if role == "xgboost" else f"{role}.json"
            atomic_write(directory / name, lambda p, b=booster: _save_xgboost(b, p))
            files[role] = name
    if pipeline is not None:
        atomic_write(directory / layout.BUNDLE_ESTIMATOR, lambda p: sio.dump(pipeline, p))
        files["estimator"] = layout.BUNDLE_ESTIMATOR
    return files


def _detach_boosters(model: Any) -> tuple[Any, dict[str, Any]]:
    """(the comparator without its xgboost models, files role -> booster).

    A pipeline ending in a booster loses its last step (role ``xgboost``); a Frank & Hall model
    its cuts' boosters (``xgboost_cut<k>``); a regressor's target transformer the booster of its
    fitted pipeline (``xgboost``). Unfitted templates are dropped (prediction needs none).
    """
    import copy

    from sklearn.pipeline import Pipeline

    if hasattr(model, "regressor_"):  # TransformedTargetRegressor
        inner, booster = model.regressor_, model.regressor_.steps[-1][1]
        model = copy.copy(model)
        model.regressor, model.regressor_ = None, Pipeline(inner.steps[:-1])
        return model, {"xgboost": booster}
    last = model.steps[-1][1]
    if hasattr(last, "estimators_") and hasattr(last, "cumulative_proba"):  # Frank & Hall
        shell = copy.copy(last)
        shell.estimator, shell.estimators_ = None, []
        boosters = {f"{XGBOOST_CUT}{k}": b for k, b in enumerate(last.estimators_, start=1)}
        return Pipeline([*model.steps[:-1], ("clf", shell)]), boosters
    rest = Pipeline(model.steps[:-1]) if len(model.steps) > 1 else None
    return rest, {"xgboost": last}


def _save_xgboost(booster: Any, path: Path) -> None:
    """xgboost picks its format from the suffix: write ``.json``, then move onto ``path``."""
    json_path = path.with_name(path.name + ".json")
    booster.save_model(str(json_path))
    json_path.replace(path)


# -------------------------------------------------------------------------------- loading


def load_bundle(directory: str | Path) -> ModelBundle:
    """Read a bundle written by :func:`save_bundle`; refuse anything else with a BundleError.

    The manifest is checked against its schema (:func:`read_manifest`) and every array against
    the manifest before anything is used: a tampered or odd bundle is refused with one line
    naming the file and the field.
    """
    directory = Path(directory)
    manifest = read_manifest(directory)
    files = manifest["files"]
    n_genes = manifest["n_genes"]
    genes = _read_genes(directory / files["genes"], n_genes)
    arrays = _read_npz(directory / files["preprocessing"])
    _check_arrays(directory / files["preprocessing"], arrays, n_genes)
    if manifest["family"] == "nn":
        model = _load_network(directory / files["weights"], manifest)
    else:
        model = _load_estimator(directory, files, manifest)
    return ModelBundle(
        path=directory,
        manifest=manifest,
        genes=genes,
        mean=arrays["mean"].astype(np.float32),
        std=arrays["std"].astype(np.float32),
        selected=arrays.get("selected"),
        model=model,
        training_digests=frozenset(_read_digests(directory / layout.BUNDLE_TRAINING_PATIENTS)),
    )


# ------------------------------------------------------------------- the manifest's schema

FAMILIES = ("nn", "baseline")


def read_manifest(directory: str | Path) -> dict[str, Any]:
    """A bundle's ``model.json``, checked against the manifest schema (nothing else is read)."""
    directory = Path(directory)
    path = directory / layout.BUNDLE_MANIFEST
    if not path.is_file():
        raise BundleError(f"{directory}: no model bundle ({layout.BUNDLE_MANIFEST} missing)")
    try:
        manifest = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BundleError(f"{path}: not a model manifest ({err})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"{path}: not a radiogenomics model manifest")
    if manifest.get("version") != VERSION:
        raise BundleError(
            f"{path}: bundle version {manifest.get('version')!r}, this code reads version {VERSION}"
        )
    check_manifest(manifest, path)
    return manifest


def _field(path: Path, field: str, problem: str) -> BundleError:
    return BundleError(f"{path}: {field} {problem}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and np.isfinite(value)


def _require(manifest: Mapping, path: Path, field: str, kind: type | tuple, what: str) -> Any:
    if field not in manifest:
        raise _field(path, field, f"is missing (expected {what})")
    value = manifest[field]
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise _field(path, field, f"is {value!r}, expected {what}")
    if not isinstance(value, kind):
        raise _field(path, field, f"is {value!r} ({type(value).__name__}), expected {what}")
    return value


def check_manifest(manifest: Mapping[str, Any], path: Path) -> None:
    """Refuse a manifest whose fields are missing, of the wrong type or inconsistent."""
    family = _require(manifest, path, "family", str, f"one of {list(FAMILIES)}")
    if family not in FAMILIES:
        raise _field(path, "family", f"is {family!r}, expected one of {list(FAMILIES)}")
    name = _require(manifest, path, "model_name", str, "a model name")
    if not name:
        raise _field(path, "model_name", "is empty")
    files = _require(manifest, path, "files", dict, "a mapping of roles to file names")
    needed = ["genes", "preprocessing"] + (["weights"] if family == "nn" else [])
    for role in needed:
        if role not in files:
            raise _field(path, f"files.{role}", "is missing")
    if family == "baseline" and not ({"estimator", "xgboost"} & set(files)):
        raise _field(path, "files", "names no estimator file (estimator or xgboost)")
    for role, name in files.items():
        if not isinstance(name, str) or not name or Path(name).name != name or name in (".", ".."):
            raise _field(path, f"files.{role}", f"is {name!r}, expected a file name in the bundle")
    trait = _require(manifest, path, "trait", dict, "the trait mapping")
    try:
        TraitSpec.from_config(trait)
    except (KeyError, TypeError, ValueError) as err:
        raise _field(path, "trait", f"is not a trait spec ({error_line(err)})") from None
    classes = _require(manifest, path, "class_names", list, "a list of class names")
    if TraitSpec.from_config(trait).is_continuous:  # a regression model: no classes
        if classes:
            raise _field(path, "class_names", f"is {classes!r}, expected [] (continuous trait)")
    elif len(classes) < 2 or not all(isinstance(c, str) and c for c in classes):
        raise _field(path, "class_names", f"is {classes!r}, expected two or more names")
    if len(set(classes)) < len(classes):
        raise _field(path, "class_names", f"is {classes!r}: a name is listed twice")
    n_genes = _require(manifest, path, "n_genes", int, "a gene count >= 1")
    if n_genes < 1:
        raise _field(path, "n_genes", f"is {n_genes}, expected a gene count >= 1")
    for field in ("model_config", "metrics", "training", "versions"):
        if field in manifest and not isinstance(manifest[field], dict | type(None)):
            raise _field(path, field, f"is {type(manifest[field]).__name__}, expected a mapping")
    if family == "nn":
        _check_architecture(manifest, path, n_genes, len(classes))


def _check_architecture(manifest: Mapping, path: Path, n_genes: int, n_classes: int) -> None:
    from radiogenomics.models.blocks import ACTIVATIONS
    from radiogenomics.models.classifier import HEADS, PENALTIES, ClassifierModule
    from radiogenomics.models.ensemble import ENSEMBLE_STYLES, MEMBER_SPLITS
    from radiogenomics.models.inputs import INPUT_KINDS

    arch = _require(manifest, path, "architecture", dict, "the network's architecture")
    fields = set(inspect.signature(ClassifierModule.__init__).parameters) - {"self"}
    unknown = sorted(set(arch) - fields)
    if unknown:
        raise _field(path, f"architecture.{unknown[0]}", "is not an architecture field")

    def need(field, ok, what):
        if field not in arch:
            raise _field(path, f"architecture.{field}", f"is missing (expected {what})")
        if not ok(arch[field]):
            raise _field(path, f"architecture.{field}", f"is {arch[field]!r}, expected {what}")

    def may(field, ok, what):
        if field in arch:
            need(field, ok, what)

    need("n_genes", lambda v: _is_int(v) and v == n_genes, f"n_genes={n_genes}")
    need(
        "n_classes",
        lambda v: _is_int(v) and v == n_classes,
        f"{n_classes} (one output per name in class_names)",
    )
    need(
        "hidden_dims",
        lambda v: isinstance(v, list) and v and all(_is_int(d) and d >= 1 for d in v),
        "a list of layer widths >= 1",
    )
    may("activation", lambda v: v in ACTIVATIONS, f"one of {sorted(ACTIVATIONS)}")
    for flag in ("batchnorm", "input_mask"):
        may(flag, lambda v: isinstance(v, bool), "true or false")
    for rate in ("dropout", "input_dropout"):
        may(rate, lambda v: _is_number(v) and 0 <= v < 1, "a rate in [0, 1)")
    may(
        "freeze_layers",
        lambda v: _is_int(v) and 0 <= v <= len(arch["hidden_dims"]),
        f"0..{len(arch['hidden_dims'])}",
    )
    may("penalty", lambda v: v in PENALTIES, f"one of {list(PENALTIES)}")
    may("penalty_weight", lambda v: _is_number(v) and v >= 0, "a number >= 0")
    may("input_kind", lambda v: v in INPUT_KINDS, f"one of {list(INPUT_KINDS)}")
    may("input_units", lambda v: _is_int(v) and v >= 0, "an integer >= 0")
    may("optimizer", lambda v: v is None or isinstance(v, dict), "a mapping")
    # a batched ensemble (model.ensemble > 1): members, style, how their training was split
    may("ensemble", lambda v: _is_int(v) and v >= 1, "an integer >= 1")
    may("ensemble_style", lambda v: v in ENSEMBLE_STYLES, f"one of {list(ENSEMBLE_STYLES)}")
    may("member_split", lambda v: v in MEMBER_SPLITS, f"one of {list(MEMBER_SPLITS)}")
    may("head", lambda v: v in HEADS, f"one of {list(HEADS)}")  # ordinal: levels' order
    may(
        "class_weights",
        lambda v: (
            v is None
            or (
                isinstance(v, list)
                and len(v) == n_classes
                and all(_is_number(w) and w > 0 for w in v)
            )
        ),
        f"null or {n_classes} positive numbers",
    )


def _check_arrays(path: Path, arrays: Mapping[str, np.ndarray], n_genes: int) -> None:
    """Preprocessing arrays against the manifest: shape, dtype, finite values, sd > 0."""
    for key in ("mean", "std"):
        if key not in arrays:
            raise _field(path, key, "is missing")
        a = arrays[key]
        if a.shape != (n_genes,):
            raise _field(
                path, key, f"has shape {a.shape}, expected ({n_genes},) (n_genes of the manifest)"
            )
        if not np.issubdtype(a.dtype, np.floating) and not np.issubdtype(a.dtype, np.integer):
            raise _field(path, key, f"has dtype {a.dtype}, expected numbers")
        bad = np.flatnonzero(~np.isfinite(a.astype(np.float64)))
        if len(bad):
            raise _field(path, key, f"holds {len(bad)} non-finite value(s) (e.g. gene #{bad[0]})")
    bad = np.flatnonzero(arrays["std"] <= 0)
    if len(bad):
        raise _field(
            path,
            "std",
            f"holds {len(bad)} value(s) <= 0 (e.g. gene #{bad[0]}): z-scoring by it is undefined",
        )
    if "selected" in arrays:
        sel = arrays["selected"]
        if sel.ndim != 1 or not np.issubdtype(sel.dtype, np.integer):
            raise _field(
                path,
                "selected",
                f"has shape {sel.shape} and dtype {sel.dtype}, "
                "expected a 1-d list of column positions",
            )
        if len(sel) and (sel.min() < 0 or sel.max() >= n_genes or len(np.unique(sel)) < len(sel)):
            raise _field(
                path, "selected", f"expected distinct column positions in 0..{n_genes - 1}"
            )


def _read_genes(path: Path, n_genes: int) -> list[str]:
    if not path.is_file():
        raise BundleError(f"{path}: missing from the model bundle")
    try:
        genes = [g.strip() for g in path.read_text().splitlines() if g.strip()]
    except UnicodeDecodeError:
        raise BundleError(f"{path}: not a text list of gene symbols") from None
    if not genes:
        raise BundleError(f"{path}: no gene symbols")
    seen: set[str] = set()
    for line, gene in enumerate(genes, 1):
        if gene in seen:
            raise _field(path, "gene", f"{gene!r} is listed twice (again as symbol {line})")
        seen.add(gene)
    if len(genes) != n_genes:
        raise _field(
            path, "genes", f"lists {len(genes)} symbols, the manifest's n_genes is {n_genes}"
        )
    return genes


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise BundleError(f"{path}: missing from the model bundle")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (ValueError, OSError, zipfile.BadZipFile) as err:
        raise BundleError(f"{path}: not a plain-array preprocessing file ({err})") from None


def _read_digests(path: Path) -> list[str]:
    if not path.is_file():
        raise BundleError(f"{path}: missing from the model bundle")
    try:
        ids = json.loads(path.read_text())["ids"]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as err:
        raise BundleError(f"{path}: not a training-patient digest list ({err})") from None
    return [str(i) for i in ids]


def _load_network(path: Path, manifest: Mapping[str, Any]):
    from radiogenomics.models.classifier import ClassifierModule

    if not path.is_file():
        raise BundleError(f"{path}: missing from the model bundle")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle.UnpicklingError, RuntimeError for damaged archives, ...
        raise BundleError(
            f"{path}: refused: not a tensor-only weights file ({type(err).__name__}: "
            f"{error_line(err)})"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BundleError(f"{path}: expected a mapping of parameter names to tensors")
    try:
        module = ClassifierModule(**manifest["architecture"])
    except (TypeError, ValueError, RuntimeError) as err:
        raise BundleError(
            f"{path.parent / layout.BUNDLE_MANIFEST}: architecture is not a network "
            f"({error_line(err)})"
        ) from None
    expected = module.state_dict()
    for name in sorted(set(expected) | set(state)):
        if name not in state:
            raise _field(path, name, "is missing (the manifest's architecture needs it)")
        if name not in expected:
            raise _field(path, name, "is not a tensor of the manifest's architecture")
        if tuple(state[name].shape) != tuple(expected[name].shape):
            raise _field(
                path,
                name,
                f"has shape {tuple(state[name].shape)}, the manifest's architecture "
                f"needs {tuple(expected[name].shape)}",
            )
        if state[name].is_floating_point() and not torch.isfinite(state[name]).all():
            raise _field(path, name, "holds non-finite values")
    try:
        module.load_state_dict(state)
    except RuntimeError as err:
        message = f"{path}: weights do not fit the architecture in the manifest"
        raise BundleError(f"{message} ({error_line(err)})") from None
    return module.eval()


def _load_xgboost(path: Path, regression: bool) -> Any:
    """An xgboost classifier (or regressor) from its JSON file in the bundle."""
    from xgboost import XGBClassifier, XGBRegressor

    booster = XGBRegressor() if regression else XGBClassifier()
    if not path.is_file():
        raise BundleError(f"{path}: missing from the model bundle")
    try:
        booster.load_model(str(path))
    except Exception as err:
        raise BundleError(f"{path}: not an xgboost JSON model ({error_line(err)})") from None
    return booster


def _load_estimator(directory: Path, files: Mapping[str, str], manifest: Mapping[str, Any]):
    import skops.io as sio
    from sklearn.pipeline import Pipeline

    pipeline = None
    if "estimator" in files:
        path = directory / files["estimator"]
        if not path.is_file():
            raise BundleError(f"{path}: missing from the model bundle")
        try:
            untrusted = set(sio.get_untrusted_types(file=path)) - set(TRUSTED_TYPES)
        except Exception as err:  # a pickle or any non-skops file
            raise BundleError(f"{path}: refused: not a skops file ({type(err).__name__})") from None
        if untrusted:
            raise BundleError(f"{path}: refused: holds untrusted types {sorted(untrusted)}")
        pipeline = sio.load(path, trusted=list(TRUSTED_TYPES))
    regression = TraitSpec.from_config(manifest["trait"]).is_continuous
    if "xgboost" in files and hasattr(pipeline, "regressor_"):  # a regressor's booster
        booster = _load_xgboost(directory / files["xgboost"], regression)
        pipeline.regressor_ = Pipeline([*pipeline.regressor_.steps, ("clf", booster)])
    elif "xgboost" in files:
        booster = _load_xgboost(directory / files["xgboost"], regression)
        steps = [*(pipeline.steps if pipeline is not None else []), ("clf", booster)]
        pipeline = Pipeline(steps)
    cuts = sorted(
        (r for r in files if r.startswith(XGBOOST_CUT)), key=lambda r: int(r[len(XGBOOST_CUT) :])
    )
    if cuts:  # a Frank & Hall model's boosters, cut 1..K-1
        if pipeline is None or not hasattr(pipeline.steps[-1][1], "cumulative_proba"):
            raise BundleError(f"{directory}: xgboost cuts without their Frank & Hall model")
        pipeline.steps[-1][1].estimators_ = [
            _load_xgboost(directory / files[role], False) for role in cuts
        ]
    if pipeline is None:
        raise BundleError(f"{directory}: the manifest names no estimator file")
    classes = getattr(pipeline, "classes_", None)
    if classes is not None and len(classes) != len(manifest["class_names"]):
        raise _field(
            directory / layout.BUNDLE_MANIFEST,
            "class_names",
            f"names {len(manifest['class_names'])} classes, the estimator has {len(classes)} "
            "outputs",
        )
    return pipeline
