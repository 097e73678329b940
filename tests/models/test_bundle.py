"""Model bundles: what a fold's model needs to score new patients, loaded without unpickling."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pandas as pd
import pytest
import torch

from radiogenomics.models.baselines import build_estimator
from radiogenomics.models.bundle import BundleError, load_bundle, save_bundle
from radiogenomics.models.classifier import ClassifierModule
from radiogenomics.results import layout

TRAIT = {
    "name": "toy",
    "column": "toy_column",
    "classes": [{"name": "low", "values": ["a"]}, {"name": "high", "values": ["b"]}],
    "positive_class": "high",
    "drop": ["n/a"],
    "permute_labels": False,
    "permute_seed": 0,
}
GENES = [f"G{i}" for i in range(30)]


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(5, 2, size=(60, 30)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 7.5).astype(int)
    return X, y


def _save(directory, family, name, model, X):
    return save_bundle(
        directory,
        family=family,
        model_name=name,
        model=model,
        genes=GENES,
        fit_X=X,
        training_patients=[f"P{i}" for i in range(len(X))],
        trait=TRAIT,
        class_names=["low", "high"],
        model_config={"name": name},
        metrics={"test_auroc": 0.7},
    )


class Evil:
    """Runs a command when unpickled: a bundle must never load it."""

    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_network_bundle_round_trip(tmp_path, data):
    X, _ = data
    module = ClassifierModule(30, 2, [8, 4], dropout=0.3, class_weights=[1.0, 2.0]).eval()
    _save(tmp_path / "nn", "nn", "nn", module, X)
    bundle = load_bundle(tmp_path / "nn")
    scaled = (X - X.mean(0)) / X.std(0)
    with torch.inference_mode():
        expected = module.probabilities(module(torch.from_numpy(scaled.astype(np.float32))))
    np.testing.assert_allclose(bundle.predict_proba(X), expected.numpy(), rtol=1e-5, atol=1e-6)
    manifest = json.loads((tmp_path / "nn" / layout.BUNDLE_MANIFEST).read_text())
    assert manifest["family"] == "nn" and manifest["class_names"] == ["low", "high"]
    assert manifest["trait"]["column"] == "toy_column" and manifest["metrics"]["test_auroc"] == 0.7
    assert manifest["versions"]["torch"] and len(manifest["training"]["fingerprint"]) == 32
    assert bundle.spec.positive_class == "high"


def test_bundle_holds_no_patient_ids(tmp_path, data):
    X, _ = data
    _save(tmp_path / "nn", "nn", "nn", ClassifierModule(30, 2, [4]).eval(), X)
    for path in (tmp_path / "nn").iterdir():
        assert b"P1" not in path.read_bytes(), path.name
    bundle = load_bundle(tmp_path / "nn")
    assert bundle.seen_in_training(["P1", "P59", "P60", "X"]).tolist() == [True, True, False, False]


@pytest.mark.parametrize("name", ["logit_l2", "svm", "rf", "xgboost"])
def test_comparator_bundle_round_trip(tmp_path, data, name):
    X, y = data
    pipeline = build_estimator(name, 2, 0, None, select_k=10)
    if name == "svm":
        pipeline.set_params(clf__probability=True)
    pipeline.fit(X, y)
    _save(tmp_path / name, "baseline", name, pipeline, X)
    bundle = load_bundle(tmp_path / name)
    np.testing.assert_allclose(bundle.predict_proba(X), pipeline.predict_proba(X)[:, 1])
    assert len(bundle.selected) == 10  # the in-fold gene filter is recorded
    if name == "xgboost":
        assert (tmp_path / name / layout.BUNDLE_XGBOOST).read_text().startswith("{")


def test_missing_genes_are_filled_with_the_training_mean(tmp_path, data):
    X, _ = data
    _save(tmp_path / "nn", "nn", "nn", ClassifierModule(30, 2, [4]).eval(), X)
    bundle = load_bundle(tmp_path / "nn")
    frame = pd.DataFrame(X[:, ::-1], columns=GENES[::-1]).drop(columns=["G3", "G7"])
    aligned, missing = bundle.align(frame)
    assert missing == ["G3", "G7"]
    np.testing.assert_array_equal(aligned[:, 0], X[:, 0])  # reordered to the bundle's genes
    np.testing.assert_allclose(bundle.standardize(aligned)[:, [3, 7]], 0, atol=1e-6)
    assert 0 < bundle.weight_share(missing) < 1


def test_a_pickle_in_place_of_the_weights_is_refused(tmp_path, data, monkeypatch):
    X, _ = data
    monkeypatch.chdir(tmp_path)
    _save(tmp_path / "nn", "nn", "nn", ClassifierModule(30, 2, [4]).eval(), X)
    with open(tmp_path / "nn" / layout.BUNDLE_WEIGHTS, "wb") as handle:
        pickle.dump({"w": Evil()}, handle)
    with pytest.raises(BundleError, match="weights.pt: refused"):
        load_bundle(tmp_path / "nn")
    torch.save({"w": Evil()}, tmp_path / "nn" / layout.BUNDLE_WEIGHTS)  # a torch zip with code
    with pytest.raises(BundleError, match="refused"):
        load_bundle(tmp_path / "nn")
    assert not (tmp_path / "PWNED").exists()


def test_a_pickle_in_place_of_a_comparator_is_refused(tmp_path, data, monkeypatch):
    X, y = data
    monkeypatch.chdir(tmp_path)
    _save(tmp_path / "rf", "baseline", "rf", build_estimator("rf", 2, 0).fit(X, y), X)
    with open(tmp_path / "rf" / layout.BUNDLE_ESTIMATOR, "wb") as handle:
        pickle.dump(Evil(), handle)
    with pytest.raises(BundleError, match="estimator.skops: refused"):
        load_bundle(tmp_path / "rf")
    with open(tmp_path / "rf" / layout.BUNDLE_PREPROCESSING, "wb") as handle:
        np.save(handle, np.array([Evil()], dtype=object), allow_pickle=True)
    with pytest.raises(BundleError, match="preprocessing.npz"):
        load_bundle(tmp_path / "rf")
    assert not (tmp_path / "PWNED").exists()


def test_foreign_or_incomplete_bundles_get_clear_errors(tmp_path, data):
    X, _ = data
    with pytest.raises(BundleError, match="no model bundle"):
        load_bundle(tmp_path / "nothing")
    _save(tmp_path / "nn", "nn", "nn", ClassifierModule(30, 2, [4]).eval(), X)
    (tmp_path / "nn" / layout.BUNDLE_GENES).write_text("A\nB\n")
    with pytest.raises(
        BundleError, match="gene_order.txt: genes lists 2 symbols, the manifest's n_genes is 30"
    ):
        load_bundle(tmp_path / "nn")
    (tmp_path / "nn" / layout.BUNDLE_MANIFEST).write_text('{"format": "something else"}')
    with pytest.raises(BundleError, match="not a radiogenomics model manifest"):
        load_bundle(tmp_path / "nn")


# ------------------------------------------------------------- tampered or odd bundles


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """One small network bundle and one comparator bundle, copied for each tampering."""
    rng = np.random.default_rng(0)
    X = rng.normal(5, 2, size=(60, 30)).astype(np.float32)
    y = (X[:, 0] > 5).astype(int)
    root = tmp_path_factory.mktemp("bundles")
    _save(root / "nn", "nn", "nn", ClassifierModule(30, 2, [4]).eval(), X)
    _save(
        root / "rf", "baseline", "rf", build_estimator("rf", 2, 0, None, select_k=10).fit(X, y), X
    )
    return root


def _copy(pristine, tmp_path, name="nn"):
    import shutil

    return shutil.copytree(pristine / name, tmp_path / name)


def _edit_manifest(directory, edit):
    path = directory / layout.BUNDLE_MANIFEST
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))


def _edit_arrays(directory, **arrays):
    path = directory / layout.BUNDLE_PREPROCESSING
    with np.load(path) as data:
        current = {k: data[k] for k in data.files}
    current.update(arrays)
    with open(path, "wb") as handle:
        np.savez(handle, **current)


MANIFEST_TAMPERINGS = {
    "family missing": (lambda m: m.pop("family"), "model.json: family is missing"),
    "family unknown": (lambda m: m.update(family="tree"), "model.json: family is 'tree'"),
    "files a list": (lambda m: m.update(files=["genes.txt"]), "model.json: files is"),
    "files outside": (
        lambda m: m["files"].update(genes="../../etc/passwd"),
        "model.json: files.genes is '../../etc/passwd'",
    ),
    "n_genes a string": (lambda m: m.update(n_genes="30"), "model.json: n_genes is '30'"),
    "negative width": (
        lambda m: m["architecture"].update(hidden_dims=[-4]),
        r"model.json: architecture.hidden_dims is \[-4\]",
    ),
    "unknown field": (
        lambda m: m["architecture"].update(depth=3),
        "model.json: architecture.depth is not an architecture field",
    ),
    "unknown activation": (
        lambda m: m["architecture"].update(activation="swish"),
        "model.json: architecture.activation is 'swish'",
    ),
    "more class names than outputs": (
        lambda m: m.update(class_names=["low", "mid", "high"]),
        "model.json: architecture.n_classes is 2, expected 3",
    ),
    "duplicate class name": (
        lambda m: m.update(class_names=["low", "low"]),
        "model.json: class_names .* listed twice",
    ),
    "wrong n_genes": (
        lambda m: m.update(n_genes=31),
        "model.json: architecture.n_genes is 30, expected n_genes=31",
    ),
    "trait not a mapping": (lambda m: m.update(trait="toy"), "model.json: trait is 'toy'"),
}


@pytest.mark.parametrize("case", sorted(MANIFEST_TAMPERINGS))
def test_a_tampered_manifest_is_refused_naming_the_field(pristine, tmp_path, case):
    edit, message = MANIFEST_TAMPERINGS[case]
    directory = _copy(pristine, tmp_path)
    _edit_manifest(directory, edit)
    with pytest.raises(BundleError, match=message):
        load_bundle(directory)


def test_a_wrong_n_genes_is_refused_for_a_comparator_too(pristine, tmp_path):
    directory = _copy(pristine, tmp_path, "rf")
    _edit_manifest(directory, lambda m: m.update(n_genes=29))
    with pytest.raises(
        BundleError, match="gene_order.txt: genes lists 30 symbols, the manifest's n_genes is 29"
    ):
        load_bundle(directory)


def test_more_class_names_than_a_comparator_has_outputs_is_refused(pristine, tmp_path):
    directory = _copy(pristine, tmp_path, "rf")
    _edit_manifest(directory, lambda m: m.update(class_names=["low", "mid", "high"]))
    with pytest.raises(BundleError, match="class_names names 3 classes, the estimator has 2"):
        load_bundle(directory)


def test_a_duplicate_gene_is_refused(pristine, tmp_path):
    directory = _copy(pristine, tmp_path)
    genes = GENES[:-1] + ["G3"]
    (directory / layout.BUNDLE_GENES).write_text("\n".join(genes) + "\n")
    with pytest.raises(BundleError, match="gene_order.txt: gene 'G3' is listed twice"):
        load_bundle(directory)


ARRAY_TAMPERINGS = {
    "std zero": ({"std": np.r_[np.zeros(1), np.ones(29)].astype(np.float32)}, "std holds 1 value"),
    "std nan": ({"std": np.r_[np.nan, np.ones(29)].astype(np.float32)}, "std holds 1 non-finite"),
    "mean inf": (
        {"mean": np.r_[np.inf, np.ones(29)].astype(np.float32)},
        "mean holds 1 non-finite",
    ),
    "mean short": (
        {"mean": np.ones(29, dtype=np.float32)},
        r"mean has shape \(29,\), expected \(30,\)",
    ),
    "std 2-d": ({"std": np.ones((30, 1), dtype=np.float32)}, r"std has shape \(30, 1\)"),
    "mean text": ({"mean": np.array(["a"] * 30)}, "mean has dtype <U1"),
    "selected out of range": ({"selected": np.array([0, 31])}, "selected expected distinct"),
}


@pytest.mark.parametrize("case", sorted(ARRAY_TAMPERINGS))
def test_tampered_preprocessing_arrays_are_refused(pristine, tmp_path, case):
    arrays, message = ARRAY_TAMPERINGS[case]
    directory = _copy(pristine, tmp_path)
    _edit_arrays(directory, **arrays)
    with pytest.raises(BundleError, match=f"preprocessing.npz: {message}"):
        load_bundle(directory)


def test_weights_that_disagree_with_the_architecture_are_refused(pristine, tmp_path):
    directory = _copy(pristine, tmp_path)
    path = directory / layout.BUNDLE_WEIGHTS
    state = torch.load(path, weights_only=True)
    torch.save({**state, "head.weight": torch.zeros(1, 5)}, path)
    with pytest.raises(
        BundleError, match=r"weights.pt: head.weight has shape \(1, 5\), .* needs \(1, 4\)"
    ):
        load_bundle(directory)
    torch.save({k: v for k, v in state.items() if k != "head.bias"}, path)
    with pytest.raises(BundleError, match="weights.pt: head.bias is missing"):
        load_bundle(directory)
    torch.save({**state, "head.bias": torch.tensor([float("nan")])}, path)
    with pytest.raises(BundleError, match="weights.pt: head.bias holds non-finite values"):
        load_bundle(directory)


def test_the_pristine_bundles_still_load(pristine):
    assert load_bundle(pristine / "nn").family == "nn"
    assert load_bundle(pristine / "rf").family == "baseline"
