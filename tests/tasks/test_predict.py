"""task=predict: a tiny sweep's fold models applied to new cohorts (external validation)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from radiogenomics.data.cohort import data_files
from radiogenomics.data.io import read_expression
from radiogenomics.evaluation.metrics import auroc, bootstrap_auroc_ci
from radiogenomics.figures.plots import calibration_plot
from radiogenomics.results import layout
from radiogenomics.results.sweep import collect
from radiogenomics.tasks import run

from ..conftest import CONFIGS, ROOT, TINY

FAST = ["predict.n_boot=200"]  # bootstrap CIs in a blink


def compose_cfg(cache_dir: Path, out: Path, *overrides: str):
    """The tiny training config (trait=edema unless overridden), writing to ``out``."""
    trait = [] if any(o.startswith("trait=") for o in overrides) else ["trait=edema"]
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=[*TINY, *trait, *overrides])
    with open_dict(cfg):
        cfg.paths.cache_dir = str(cache_dir)
        cfg.paths.output_dir = str(out)
    return cfg


def predict_cfg(cache_dir: Path, out: Path, *overrides: str):
    """The composed ``task=predict`` config."""
    return compose_cfg(cache_dir, out, "task=predict", *FAST, *overrides)


def train_sweep(cache_dir: Path, sweep: Path, models: list[str], *overrides: str) -> Path:
    """A 3-fold sweep: the jobs of ``train.py -m``, run one by one in this process."""
    for model in models:
        for fold in range(3):
            job = sweep / f"fold={fold},model={model}"
            run(
                compose_cfg(
                    cache_dir, job, "n_folds=3", f"fold={fold}", f"model={model}", *overrides
                )
            )
    return sweep


def write_expression(frame: pd.DataFrame, path: Path) -> Path:
    """A patients x genes TSV, as the readers accept it."""
    frame.rename_axis("sample").to_csv(path, sep="\t")
    return path


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


class Synthetic(NamedTuple):
    expression: pd.DataFrame  # patients x genes
    expression_file: Path
    vasari_file: Path


@pytest.fixture(scope="module")
def synthetic(cache_dir, tmp_path_factory) -> Synthetic:
    """The tiny synthetic cohort: its expression and files."""
    cfg = predict_cfg(cache_dir, tmp_path_factory.mktemp("unused"))
    expression_file, label_files = data_files(cfg.data, cache_dir)
    return Synthetic(read_expression(expression_file), expression_file, label_files[0])


@pytest.fixture(scope="module")
def sweep(cache_dir, synthetic, tmp_path_factory) -> Path:
    """Network and L2 logistic regression, 3 folds each, on the synthetic cohort."""
    return train_sweep(cache_dir, tmp_path_factory.mktemp("predict") / "sweep", ["nn", "logit_l2"])


@pytest.fixture(scope="module")
def in_sample(sweep, cache_dir) -> tuple[Path, str]:
    """``python train.py task=predict`` on the sweep's own (synthetic) file: (run dir, its log)."""
    out = sweep.parent / "in_sample"
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(cache_dir)}
    cmd = [
        sys.executable,
        "train.py",
        "task=predict",
        f"predict.sweep={sweep}",
        "trait=edema",
        *TINY,
        *FAST,
        f"hydra.run.dir={out}",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc.stdout + proc.stderr


def new_file_cfg(cache_dir, out, sweep, expression: Path, *labels: str):
    """Predict ``expression`` (data=tcga_gbm: a user's file) with the sweep's models."""
    return predict_cfg(
        cache_dir,
        out,
        f"predict.sweep={sweep}",
        "data=tcga_gbm",
        f"data.expression_file={expression}",
        *labels,
    )


# ------------------------------------------------------------------ the training cohort itself


def test_same_file_every_annotated_patient_is_flagged_seen(in_sample, synthetic):
    out, log_text = in_sample
    preds = pd.read_csv(out / layout.PREDICTIONS)
    expression = synthetic.expression
    assert set(preds["patient_id"]) == set(expression.index)
    labelled = preds[preds["y_true"].notna()]
    assert labelled["seen_in_training"].all()
    assert (labelled["n_models_seen"] == 2).all()  # held out by exactly one of the 3 folds
    assert not preds.loc[preds["y_true"].isna(), "seen_in_training"].any()  # no edema label
    metrics = read_json(out / layout.EXTERNAL_METRICS)
    for config in metrics["configurations"]:
        n = int(labelled["model"].eq(config["model"]).sum())
        assert config["n_labelled"] == config["n_seen_in_training"] == config["all"]["n"] == n
        assert config["all"]["auroc"] is not None and len(config["all"]["auroc_ci"]) == 2
        assert config["all"]["brier"] is not None and config["all"]["calibration"]
        unseen = config["unseen_only"]
        assert unseen["n"] == 0 and unseen["auroc"] is None and unseen["auroc_ci"] is None
        assert "in-sample" in config["warning"]
    coverage = read_json(out / layout.COVERAGE_REPORT)
    n_annotated = int(labelled["model"].eq("nn").sum())
    for config in coverage["configurations"].values():
        assert config["overlap"]["n_seen_in_training"] == n_annotated
        assert len(config["overlap"]["seen_patients"]) == n_annotated
    assert "in-sample scores must never pass silently as external validation" in log_text
    assert f"{n_annotated} of {len(expression)} patients" in log_text


def test_comparators_are_configurations_of_their_own(in_sample):
    out, _ = in_sample
    preds = pd.read_csv(out / layout.PREDICTIONS)
    assert preds.groupby(["model", "config_hash"]).ngroups == 2
    assert set(preds["model"]) == {"nn", "logit_l2"}
    folds = [f"y_prob_fold{k}" for k in range(3)]
    assert list(preds.columns[:6]) == [
        "patient_id",
        "trait",
        "model",
        "config_hash",
        "bootstrap",
        "y_prob",
    ]
    assert np.allclose(preds["y_prob"], preds[folds].mean(axis=1))  # the ensemble: fold mean
    assert preds[folds].notna().all().all()
    keys = preds[["trait", "model", "config_hash", "bootstrap"]].drop_duplicates()
    for key in keys.to_dict("records"):
        assert (out / layout.calibration_plot(key)).stat().st_size > 0
        assert (out / layout.roc_plot(key)).stat().st_size > 0


def test_same_distribution_raises_no_shift_warning(in_sample):
    out, log_text = in_sample
    for config in read_json(out / layout.COVERAGE_REPORT)["configurations"].values():
        shift = config["shift"]
        assert shift["warning"] is None
        assert shift["median_abs_standardized_mean"] < 0.5
        assert 0.8 < shift["median_sd_ratio"] < 1.25
    assert "looks shifted" not in log_text


# -------------------------------------------------------------------------------- gene coverage


def test_too_many_missing_genes_are_refused(sweep, synthetic, cache_dir, tmp_path, caplog):
    expression = synthetic.expression
    kept = expression.iloc[:, int(0.3 * expression.shape[1]) :]
    path = write_expression(kept, tmp_path / "fewer_genes.tsv")
    with pytest.raises(SystemExit) as info:
        run(new_file_cfg(cache_dir, tmp_path / "out", sweep, path))
    assert info.value.code == 2
    n = expression.shape[1]
    assert f"{path}: {n - kept.shape[1]} of the {n} genes" in caplog.text
    assert "predict.max_missing_fraction=0.2" in caplog.text
    assert not (tmp_path / "out" / layout.PREDICTIONS).exists()


def test_few_missing_genes_are_filled_and_reported(sweep, synthetic, cache_dir, tmp_path):
    expression = synthetic.expression
    dropped = list(expression.columns[::10])  # 10% of the genes
    path = write_expression(expression.drop(columns=dropped), tmp_path / "most_genes.tsv")
    run(new_file_cfg(cache_dir, tmp_path / "out", sweep, path))  # no labels: predictions only
    coverage = read_json(tmp_path / "out" / layout.COVERAGE_REPORT)
    assert coverage["missing_genes"]["n"] == len(dropped)
    assert set(coverage["missing_genes"]["genes"]) == set(dropped)
    assert "training mean" in coverage["missing_genes"]["filled_with"]
    configs = {c["model"]: c for c in coverage["configurations"].values()}
    assert configs["nn"]["n_missing"] == len(dropped)
    assert 0.0 < configs["nn"]["weight_share_missing"] < 0.5  # first-layer weight mass
    assert len(configs["nn"]["weight_share_missing_per_model"]) == 3
    assert configs["logit_l2"]["weight_share_missing"] is None  # comparators have no first layer
    preds = pd.read_csv(tmp_path / "out" / layout.PREDICTIONS)
    assert preds.filter(like="y_prob").notna().all().all() and "y_true" not in preds
    assert not (tmp_path / "out" / layout.EXTERNAL_METRICS).exists()


def test_linear_scale_copy_raises_the_shift_warning(sweep, synthetic, cache_dir, tmp_path, caplog):
    expression = synthetic.expression
    path = write_expression(2.0**expression, tmp_path / "linear.tsv")
    caplog.set_level(logging.WARNING)
    run(new_file_cfg(cache_dir, tmp_path / "out", sweep, path))
    for config in read_json(tmp_path / "out" / layout.COVERAGE_REPORT)["configurations"].values():
        shift = config["shift"]
        assert shift["warning"] and "linear vs log2" in shift["warning"]
        assert shift["median_abs_standardized_mean"] > 1 or shift["median_sd_ratio"] > 2
    assert "looks shifted against the training data" in caplog.text


# -------------------------------------------------------------------------- hold-out validation


def test_hold_out_half_is_scored_above_chance(synthetic, cache_dir, tmp_path, caplog):
    expression = synthetic.expression
    vasari = pd.read_csv(synthetic.vasari_file, index_col=0)
    order = np.random.default_rng(4).permutation(len(vasari))
    train, test = vasari.iloc[order[::2]], vasari.iloc[order[1::2]]
    train.to_csv(tmp_path / "train_labels.csv")
    test.to_csv(tmp_path / "test_labels.csv")
    test_file = write_expression(expression.loc[test.index], tmp_path / "test.tsv")
    sweep = train_sweep(
        cache_dir,
        tmp_path / "sweep",
        ["nn"],
        "data=tcga_gbm",
        f"data.expression_file={synthetic.expression_file}",
        f"data.traits_file={tmp_path / 'train_labels.csv'}",
        "model.transfer_layers=0",
        "model.freeze_layers=0",  # no autoencoder: test half unseen
        "model.optimizer.lr=0.01",  # the tiny run's 8 epochs train the network at this rate
    )
    caplog.set_level(logging.INFO)
    out = tmp_path / "out"
    labels = f"data.traits_file={tmp_path / 'test_labels.csv'}"
    run(new_file_cfg(cache_dir, out, sweep, test_file, labels))
    preds = pd.read_csv(out / layout.PREDICTIONS)
    assert len(preds) == len(test) and not preds["seen_in_training"].any()
    config = read_json(out / layout.EXTERNAL_METRICS)["configurations"][0]
    external = config["unseen_only"]
    assert config["n_seen_in_training"] == 0 and external == config["all"]
    assert external["n"] == preds["y_true"].notna().sum() > 30
    _, cv, _ = collect(sweep)  # the sweep's pooled out-of-fold predictions
    cv_auroc = auroc(cv["y_true"].to_numpy(), cv["y_prob"].to_numpy())
    cv_ci = bootstrap_auroc_ci(cv["y_true"].to_numpy(), cv["y_prob"].to_numpy())
    print(
        f"hold-out AUROC {external['auroc']:.3f} {np.round(external['auroc_ci'], 3)} "
        f"(n={external['n']}); CV pooled AUROC {cv_auroc:.3f} {np.round(cv_ci, 3)}"
    )
    assert external["auroc"] > 0.7 and external["auroc_ci"][0] > 0.55  # the planted driver
    assert external["auroc"] > cv_ci[0]  # not below what cross-validation promised
    assert external["ap_ci"][0] <= external["ap"] <= external["ap_ci"][1]
    assert 0 < external["brier"] < 0.3
    assert sum(b["n"] for b in external["calibration"]) == external["n"]
    assert (out / layout.calibration_plot(config)).stat().st_size > 0
    assert "in-sample" not in caplog.text


# ----------------------------------------------------------------------------------- refusals


def _labels_without_edema(synthetic: Synthetic, tmp_path: Path) -> list[str]:
    vasari = pd.read_csv(synthetic.vasari_file, index_col=0)
    vasari.drop(columns=["f14.proportion.edema"]).to_csv(tmp_path / "no_edema.csv")
    return [
        "data=tcga_gbm",
        f"data.expression_file={synthetic.expression_file}",
        f"data.traits_file={tmp_path / 'no_edema.csv'}",
    ]


def _renamed_genes(synthetic: Synthetic, tmp_path: Path) -> list[str]:
    path = write_expression(synthetic.expression.add_prefix("probe_"), tmp_path / "renamed.tsv")
    return ["data=tcga_gbm", f"data.expression_file={path}"]


@pytest.mark.parametrize(
    "case, overrides, message",
    [
        ("unset", lambda s, d, t: ["predict.sweep=null"], "predict.sweep is not set"),
        ("missing dir", lambda s, d, t: [f"predict.sweep={t / 'nope'}"], "no such directory"),
        ("no bundles", lambda s, d, t: [f"predict.sweep={t}"], "no model bundle"),
        (
            "trait not in sweep",
            lambda s, d, t: [f"predict.sweep={s}", "trait=necrosis"],
            "no model for trait 'necrosis'; its models are for ['edema']",
        ),
        (
            "no usable gene",
            lambda s, d, t: [f"predict.sweep={s}", *_renamed_genes(d, t)],
            "none of the 1500 genes",
        ),
        (
            "labels without the trait",
            lambda s, d, t: [f"predict.sweep={s}", *_labels_without_edema(d, t)],
            "needs column 'f14.proportion.edema', which is missing",
        ),
    ],
)
def test_bad_inputs_exit_2_with_one_line(
    case, overrides, message, sweep, synthetic, cache_dir, tmp_path, caplog
):
    cfg = predict_cfg(cache_dir, tmp_path / "out", *overrides(sweep, synthetic, tmp_path))
    with pytest.raises(SystemExit) as info:
        run(cfg)
    assert info.value.code == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and message in errors[0] and "\n" not in errors[0], errors
    assert not (tmp_path / "out" / layout.PREDICTIONS).exists()


# ------------------------------------------------------------------------------- entry point


def test_train_py_predict_end_to_end(in_sample):
    out, log_text = in_sample  # the fixture ran train.py task=predict and checked its exit status
    for name in (layout.PREDICTIONS, layout.COVERAGE_REPORT, layout.EXTERNAL_METRICS):
        assert (out / name).stat().st_size > 0
    assert len(list(out.glob("calibration_*.png"))) == len(list(out.glob("roc_*.png"))) == 2
    assert "AUROC" in log_text and "unseen_only: n=0, AUROC undefined" in log_text


# ------------------------------------------------------------------------------- multiclass


def test_multiclass_trait_is_scored_per_class(synthetic, cache_dir, tmp_path):
    sweep = train_sweep(cache_dir, tmp_path / "sweep", ["logit_l2"], "trait=subtype")
    run(predict_cfg(cache_dir, tmp_path / "out", "trait=subtype", f"predict.sweep={sweep}"))
    preds = pd.read_csv(tmp_path / "out" / layout.PREDICTIONS)
    metrics = read_json(tmp_path / "out" / layout.EXTERNAL_METRICS)
    classes = metrics["classes"]
    assert len(classes) == 4
    ensemble = preds[[f"prob_{c}" for c in classes]]
    assert np.allclose(ensemble.sum(axis=1), 1.0)
    for fold in range(3):
        assert np.allclose(preds[[f"prob_{c}_fold{fold}" for c in classes]].sum(axis=1), 1.0)
    scores = metrics["configurations"][0]["all"]
    assert set(scores["per_class"]) == set(classes)
    for per_class in scores["per_class"].values():
        assert per_class["auroc"] is not None and per_class["calibration"]
        assert per_class["calibration_line"]["verdict"]
    for name in classes:  # the words follow each class's calibration line
        assert f"{name}: " in scores["calibration_summary"]
    assert scores["auroc_ci"][0] <= scores["auroc"] <= scores["auroc_ci"][1]
    assert metrics["configurations"][0]["unseen_only"]["n"] == 0  # the training file again
    key = metrics["configurations"][0]
    assert (tmp_path / "out" / layout.calibration_plot(key)).stat().st_size > 0


def test_multiclass_calibration_plot(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 60)
    probs = rng.dirichlet([1, 1, 1], 60)
    path = calibration_plot(tmp_path / "c.png", y, probs, ["a", "b", "c"], "three classes", 5)
    assert path.stat().st_size > 0


def _tampered_copy(sweep: Path, tmp_path: Path, edit) -> Path:
    """A copy of the sweep whose first bundle is changed by ``edit(bundle dir)``."""
    import shutil

    copy = shutil.copytree(sweep, tmp_path / "tampered")
    edit(sorted(copy.rglob(layout.BUNDLE_MANIFEST))[0].parent)
    return copy


def _zero_std(bundle: Path) -> None:
    path = bundle / layout.BUNDLE_PREPROCESSING
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["std"][0] = 0
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def _drop_family(bundle: Path) -> None:
    manifest = read_json(bundle / layout.BUNDLE_MANIFEST)
    del manifest["family"]
    (bundle / layout.BUNDLE_MANIFEST).write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    "edit, message",
    [
        (_zero_std, "preprocessing.npz: std holds 1 value(s) <= 0"),
        (_drop_family, "model.json: family is missing"),
    ],
)
def test_a_tampered_bundle_exits_2_naming_file_and_field(
    edit, message, sweep, cache_dir, tmp_path, caplog
):
    tampered = _tampered_copy(sweep, tmp_path, edit)
    cfg = predict_cfg(cache_dir, tmp_path / "out", f"predict.sweep={tampered}")
    with pytest.raises(SystemExit) as info:
        run(cfg)
    assert info.value.code == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].startswith("bundle error: "), errors
    assert message in errors[0] and "\n" not in errors[0], errors
    assert not (tmp_path / "out" / layout.PREDICTIONS).exists()


def test_a_non_finite_probability_is_never_written(sweep, cache_dir, tmp_path, caplog, monkeypatch):
    from radiogenomics.models.bundle import ModelBundle

    original = ModelBundle.predict_proba

    def nan_first(self, X):
        probs = np.array(original(self, X), dtype=np.float32)
        probs[0] = np.nan
        return probs

    monkeypatch.setattr(ModelBundle, "predict_proba", nan_first)
    cfg = predict_cfg(cache_dir, tmp_path / "out", f"predict.sweep={sweep}")
    with pytest.raises(SystemExit) as info:
        run(cfg)
    assert info.value.code == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "probabilities are not finite for 1 of" in errors[0], errors
    assert not (tmp_path / "out" / layout.PREDICTIONS).exists()
