"""A trained fold model as files (``<job>/model/``): apply it to new patients, load it safely.

A bundle holds everything needed to turn new patients' raw expression into probabilities, and
nothing patient-level:

* ``model.json``: the manifest (format, version, family and model name, files, trait spec, class
  names, model config, architecture, package versions, a fingerprint of the training matrix, the
  job's metrics, what the probabilities mean);
* ``genes.txt``: the gene order the model expects (one symbol a line);
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
from radiogenomics.data.io import DataError
from radiogenomics.data.traits import TraitSpec
from radiogenomics.results import layout
from radiogenomics.utils import atomic_write, error_line, to_plain, write_json

FORMAT = "radiogenomics-model"
VERSION = 1
PATIENT_SALT = "radiogenomics-patient:"
# types a comparator's skops file may hold beyond skops' own trusted scikit-learn types
TRUSTED_TYPES = (
    "sklearn.feature_selection._univariate_selection.f_classif",
    "sklearn.tree._tree.Tree",
    "radiogenomics.models.baselines.KernelSVC",
)


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
        """Probabilities of raw aligned expression: (n,) positive class or (n, K)."""
        if self.family == "nn":
            with torch.inference_mode():
                x = torch.from_numpy(self.standardize(X))
                return self.model.probabilities(self.model(x)).float().numpy()
        probs = self.model.predict_proba(np.asarray(X, dtype=np.float32))
        return probs[:, 1] if len(self.class_names) == 2 else probs

    def weight_share(self, genes: Iterable[str]) -> float | None:
        """Share of the first layer's absolute weight mass on ``genes`` (network only)."""
        if self.family != "nn":
            return None
        weight = self.model.blocks[0][0].weight.detach().abs().sum(dim=0).numpy()
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
        "outputs": "probability of the positive class (binary) or of each class (multiclass)",
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


def _save_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    with open(path, "wb") as handle:  # a file handle: numpy would append .npz to a bare path
        np.savez(handle, **arrays)


def _selected_columns(pipeline: Any) -> np.ndarray | None:
    step = dict(pipeline.steps).get("select") if hasattr(pipeline, "steps") else None
    return None if step is None else np.flatnonzero(step.get_support()).astype(np.int64)


def _save_estimator(directory: Path, pipeline: Any, model_name: str) -> dict[str, str]:
    """scikit-learn pipeline through skops; an xgboost classifier in xgboost's own JSON."""
    import skops.io as sio
    from sklearn.pipeline import Pipeline

    files = {}
    if model_name == "xgboost":
        booster = pipeline.steps[-1][1]
        atomic_write(directory / layout.BUNDLE_XGBOOST, lambda p: _save_xgboost(booster, p))
        files["xgboost"] = layout.BUNDLE_XGBOOST
        pipeline = Pipeline(pipeline.steps[:-1]) if len(pipeline.steps) > 1 else None
    if pipeline is not None:
        atomic_write(directory / layout.BUNDLE_ESTIMATOR, lambda p: sio.dump(pipeline, p))
        files["estimator"] = layout.BUNDLE_ESTIMATOR
    return files


def _save_xgboost(booster: Any, path: Path) -> None:
    """xgboost picks its format from the suffix: write ``.json``, then move onto ``path``."""
    json_path = path.with_name(path.name + ".json")
    booster.save_model(str(json_path))
    json_path.replace(path)


# -------------------------------------------------------------------------------- loading


def load_bundle(directory: str | Path) -> ModelBundle:
    """Read a bundle written by :func:`save_bundle`; refuse anything else with a BundleError."""
    directory = Path(directory)
    manifest_path = directory / layout.BUNDLE_MANIFEST
    if not manifest_path.is_file():
        raise BundleError(f"{directory}: no model bundle ({layout.BUNDLE_MANIFEST} missing)")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BundleError(f"{manifest_path}: not a model manifest ({err})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"{manifest_path}: not a radiogenomics model manifest")
    if manifest.get("version") != VERSION:
        raise BundleError(
            f"{manifest_path}: bundle version {manifest.get('version')!r}, this code reads "
            f"version {VERSION}"
        )
    files = manifest.get("files", {})
    genes = _read_genes(directory / files.get("genes", layout.BUNDLE_GENES))
    arrays = _read_npz(directory / files.get("preprocessing", layout.BUNDLE_PREPROCESSING))
    for key in ("mean", "std"):
        if key not in arrays or arrays[key].shape != (len(genes),):
            raise BundleError(
                f"{directory / layout.BUNDLE_PREPROCESSING}: {key!r} does not match the "
                f"{len(genes)} genes of {layout.BUNDLE_GENES}"
            )
    if manifest["family"] == "nn":
        model = _load_network(directory / files.get("weights", layout.BUNDLE_WEIGHTS), manifest)
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


def _read_genes(path: Path) -> list[str]:
    if not path.is_file():
        raise BundleError(f"{path}: missing from the model bundle")
    try:
        genes = [g for g in path.read_text().splitlines() if g]
    except UnicodeDecodeError:
        raise BundleError(f"{path}: not a text list of gene symbols") from None
    if not genes:
        raise BundleError(f"{path}: no gene symbols")
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
    module = ClassifierModule(**manifest["architecture"])
    try:
        module.load_state_dict(state)
    except RuntimeError as err:
        message = f"{path}: weights do not fit the architecture in the manifest"
        raise BundleError(f"{message} ({error_line(err)})") from None
    return module.eval()


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
    if "xgboost" in files:
        from xgboost import XGBClassifier

        path = directory / files["xgboost"]
        booster = XGBClassifier()
        if not path.is_file():
            raise BundleError(f"{path}: missing from the model bundle")
        try:
            booster.load_model(str(path))
        except Exception as err:
            raise BundleError(f"{path}: not an xgboost JSON model ({error_line(err)})") from None
        steps = [*(pipeline.steps if pipeline is not None else []), ("clf", booster)]
        pipeline = Pipeline(steps)
    if pipeline is None:
        raise BundleError(f"{directory}: the manifest names no estimator file")
    return pipeline
