"""task=interpret: masking and saliency from a finished sweep's bundles, without retraining."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import pytorch_lightning as pl
import yaml

from radiogenomics.data.genesets import write_gmt
from radiogenomics.data.io import read_expression
from radiogenomics.results import layout
from radiogenomics.tasks import run

from ..conftest import ROOT, TINY

# the in-training settings; task=interpret repeats them to reproduce the tables exactly
SETTINGS = [
    "interpret.masking.n_random=20",
    "interpret.saliency.n_jobs=1",
    "interpret.saliency.collections=[verhaak]",
    "interpret.saliency.permutation_num=100",
]
BOTH = "+interpret=[masking,saliency]"
TABLE_SUFFIXES = (".csv", ".parquet")


def read_table(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def assert_same_tables(a: Path, b: Path) -> int:
    """Every file under folder ``a`` is in ``b``; tables equal exactly, other files byte-equal."""
    files = sorted(p for p in a.rglob("*") if p.is_file())
    assert files, a
    for path in files:
        other = b / path.relative_to(a)
        assert other.is_file(), other
        if path.suffix in TABLE_SUFFIXES:
            pd.testing.assert_frame_equal(read_table(path), read_table(other), check_exact=True)
        else:
            assert path.read_bytes() == other.read_bytes(), path
    return len(files)


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def network_jobs(sweep: Path) -> list[Path]:
    """The sweep's network job dirs (job dir names may be shortened: read metrics.json)."""
    jobs = sorted(p.parent for p in sweep.glob(f"*/{layout.METRICS}"))
    return [j for j in jobs if json.loads((j / layout.METRICS).read_text())["model"] == "nn"]


def model_jobs(sweep: Path) -> list[Path]:
    """Every job dir of the sweep (networks and comparators), sorted."""
    return sorted(p.parent for p in sweep.glob(f"*/{layout.METRICS}"))


def comparator_jobs(sweep: Path) -> list[Path]:
    return [j for j in model_jobs(sweep) if j not in network_jobs(sweep)]


@pytest.fixture(scope="module")
def sweep(cache_dir, tmp_path_factory) -> Path:
    """A tiny 3-fold sweep of the network and a comparator, masking and saliency in training."""
    sweep = tmp_path_factory.mktemp("interpret") / "sweep"
    cmd = [
        sys.executable,
        "train.py",
        "-m",
        *TINY,
        "n_folds=3",
        "model=nn,logit_l2",
        BOTH,
        *SETTINGS,
        f"hydra.sweep.dir={sweep}",
    ]
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(cache_dir)}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(network_jobs(sweep)) == 3
    return sweep


@pytest.fixture
def interpret_cfg(make_cfg, sweep, tmp_path):
    """``task=interpret`` on the module's sweep, written to ``tmp_path/out`` unless told."""

    def _make(*extra: str, out: Path | None = None):
        return make_cfg(
            "task=interpret", f"interpret.sweep={sweep}", *extra, out=out or tmp_path / "out"
        )

    return _make


def test_held_out_tables_equal_the_in_training_ones(sweep, cache_dir, tmp_path):
    before = snapshot(sweep)
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "train.py",
        "task=interpret",
        f"interpret.sweep={sweep}",
        BOTH,
        *SETTINGS,
        f"hydra.run.dir={out}",
    ]
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(cache_dir)}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    for i in range(1, 7):  # the network's and the comparator's jobs
        assert f"interpret: {i}/6 jobs" in log
    assert log.count("no saliency for model=logit_l2") == 3  # saliency is the network's

    for job in network_jobs(sweep):
        twin = out / job.name
        for folder in (layout.MASKING_DIR, layout.SALIENCY_DIR):
            assert_same_tables(job / folder, twin / folder)
        for record in (layout.METRICS, layout.PREDICTIONS, layout.COHORT):
            assert (job / record).read_bytes() == (twin / record).read_bytes(), record
        assert not (twin / layout.MODEL_DIR).exists()  # nothing trained, no bundle written
    for job in comparator_jobs(sweep):  # masked in the job's hook, masked again here
        twin = out / job.name
        assert_same_tables(job / layout.MASKING_DIR, twin / layout.MASKING_DIR)
        for path in sorted((job / layout.MASKING_DIR).iterdir()):
            assert path.read_bytes() == (twin / layout.MASKING_DIR / path.name).read_bytes()
        assert (
            not (job / layout.SALIENCY_DIR).exists() and not (twin / layout.SALIENCY_DIR).exists()
        )
    interpreted = {p.parent.name for p in out.glob(f"*/{layout.METRICS}")}
    assert interpreted == {job.name for job in model_jobs(sweep)}

    summary, twin = layout.summary_dir(sweep), layout.summary_dir(out)
    pooled = [layout.masking_table(label) for label in ("hallmark", "verhaak", "single_genes")]
    for name in [*pooled, layout.ASSOCIATIONS, layout.TRAITS, layout.COHORT_GSEA]:
        pd.testing.assert_frame_equal(
            read_table(summary / name), read_table(twin / name), check_exact=True
        )
    assert (summary / layout.STABILITY).read_text() == (twin / layout.STABILITY).read_text()
    agreement = read_table(summary / layout.MODEL_AGREEMENT)  # two families: one pair per table
    assert sorted(agreement["collection"]) == ["hallmark", "single_genes", "verhaak"]
    assert set(zip(agreement["family_a"], agreement["family_b"], strict=True)) == {
        ("logit_l2", "nn")
    }
    pd.testing.assert_frame_equal(agreement, read_table(twin / layout.MODEL_AGREEMENT))
    report = json.loads((out / layout.INTERPRET_REPORT).read_text())
    assert report["patients"] == "held_out" and len(report["jobs"]) == 6
    assert report["skipped"] == []
    assert snapshot(sweep) == before  # the source sweep is never written


def test_new_collection_without_retraining(interpret_cfg, sweep, tmp_path, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("task=interpret must not train")

    monkeypatch.setattr(pl.Trainer, "fit", no_training)
    monkeypatch.setattr("radiogenomics.tasks.finetune.fit_model", no_training)
    jobs = network_jobs(sweep)
    genes = (jobs[0] / layout.MODEL_DIR / layout.BUNDLE_GENES).read_text().split()
    gmt = tmp_path / "mine.gmt"
    write_gmt({"FIRST": genes[:12], "SECOND": genes[12:30]}, gmt)
    out = tmp_path / "out"
    cfg = interpret_cfg(
        "+interpret=masking",
        f"interpret.masking.collections=[puchalski,{gmt}]",
        "interpret.masking.n_random=20",
        "interpret.masking.single_genes=false",
    )
    report = run(cfg)
    assert [j["job"] for j in report["jobs"]] == [j.name for j in model_jobs(sweep)]
    for job in model_jobs(sweep):
        masking = out / job.name / layout.MASKING_DIR
        scores = pd.read_csv(masking / layout.masking_scores("mine"))
        assert list(scores["set"]) == ["FIRST", "SECOND"]
        assert (masking / layout.masking_scores("puchalski")).exists()
        assert not (masking / layout.masking_scores("hallmark")).exists()
        assert not (out / job.name / layout.SALIENCY_DIR).exists()
        metrics = (out / job.name / layout.METRICS).read_bytes()
        assert metrics == (job / layout.METRICS).read_bytes()  # copied, not rewritten by training
    pooled = pd.read_csv(layout.summary_dir(out) / layout.masking_table("mine"))
    n_patients = sum(json.loads((j / layout.METRICS).read_text())["n_test"] for j in jobs)
    assert (pooled["n_patients"] == n_patients).all()
    assert not (layout.summary_dir(out) / layout.masking_table("hallmark")).exists()


def test_data_mode_explains_every_labelled_patient_with_each_fold_model(
    interpret_cfg, sweep, tmp_path
):
    out = tmp_path / "out"
    cfg = interpret_cfg(
        "interpret.patients=data", BOTH, *SETTINGS, "interpret.masking.single_genes=false"
    )
    report = run(cfg)
    n_labelled = json.loads((network_jobs(sweep)[0] / layout.COHORT).read_text())["n_patients"]
    records = [r for r in report["jobs"] if r["model"] == "nn"]
    for job, record in zip(network_jobs(sweep), records, strict=True):
        patients = pd.read_csv(out / job.name / layout.MASKING_DIR / layout.PATIENTS)
        assert len(patients) == n_labelled and (patients["part"] == "test").all()
        held_out = pd.read_csv(job / layout.PREDICTIONS)
        probs = patients.set_index("patient_id").loc[held_out["patient_id"], "model_prob"]
        pd.testing.assert_series_equal(
            probs.reset_index(drop=True), held_out["y_prob"], check_names=False, atol=1e-6
        )
        assert record["labelled"] and 0 < record["seen_in_training"] < n_labelled
        saliency = out / job.name / layout.SALIENCY_DIR
        gsea = pd.read_parquet(saliency / layout.GSEA)
        assert set(gsea["patient_id"]) == set(patients["patient_id"])
        assert (pd.read_csv(saliency / layout.ASSOCIATIONS)["n_patients"] == n_labelled).all()
        assert not (out / job.name / layout.METRICS).exists()  # no pooling of the same patients
    assert not layout.summary_dir(out).exists()


def test_data_mode_without_labels(interpret_cfg, sweep, tmp_path, caplog):
    cohort = json.loads((network_jobs(sweep)[0] / layout.COHORT).read_text())
    expression = read_expression(cohort["expression_file"])
    new = tmp_path / "new_expression.tsv"
    expression.iloc[:, 10:].rename_axis("patient_id").to_csv(new, sep="\t")  # 10 genes missing
    data = ["interpret.patients=data", "data=tcga_gbm", f"data.expression_file={new}"]

    with pytest.raises(SystemExit) as exit_info:
        run(interpret_cfg(*data, "+interpret=masking"))
    assert exit_info.value.code == 2
    assert "run only interpreters that need no labels (+interpret=saliency" in caplog.text

    out = tmp_path / "saliency"
    run(interpret_cfg(*data, "+interpret=saliency", "interpret.saliency.gsea=false", out=out))
    assert "10 of 1500 model genes missing" in caplog.text
    for job in network_jobs(sweep):
        folder = out / job.name / layout.SALIENCY_DIR
        patients = pd.read_csv(folder / layout.PATIENTS)
        assert len(patients) == len(expression) and (patients["y_true"] == -1).all()
        assert (folder / layout.ATTRIBUTIONS).exists()
        assert not (folder / layout.ASSOCIATIONS).exists()

    expression.iloc[:, 600:].rename_axis("patient_id").to_csv(
        new, sep="\t"
    )  # 40% of the genes missing: refused
    with pytest.raises(SystemExit):
        run(interpret_cfg(*data, "+interpret=saliency", out=tmp_path / "refused"))
    assert "predict.max_missing_fraction" in caplog.text


def edit_job_config(job: Path, **values) -> None:
    path = job / layout.HYDRA_CONFIG
    config = yaml.safe_load(path.read_text())
    for dotted, value in values.items():
        node = config
        *parents, key = dotted.split(".")
        for parent in parents:
            node = node[parent]
        node[key] = value
    path.write_text(yaml.safe_dump(config))


def copied_sweep(sweep: Path, tmp_path: Path, **edits) -> Path:
    """One network job of ``sweep`` in a new sweep dir, its saved config edited."""
    job = network_jobs(sweep)[0]
    target = tmp_path / "edited" / job.name
    shutil.copytree(job, target)
    edit_job_config(target, **edits)
    return target.parent


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("no_sweep", "interpret.sweep is not set"),
        ("missing_sweep", "no such directory"),
        ("no_interpreter", "add +interpret=masking"),
        ("no_bundles", "no model bundle"),
        ("inside_sweep", "never writes into the sweep"),
        ("data_changed", "the expression data changed since training"),
        ("split_changed", "the held-out patients differ"),
        ("bad_collection", "interpret.masking.collections"),
    ],
)
def test_errors_exit_2_with_a_clear_message(
    case, message, make_cfg, sweep, tmp_path, caplog, monkeypatch
):
    caplog.set_level(logging.ERROR)
    source, extra, out = str(sweep), ["+interpret=masking"], tmp_path / "out"
    if case == "no_sweep":
        source = "null"
    elif case == "missing_sweep":
        source = str(tmp_path / "nowhere")
    elif case == "no_interpreter":
        extra = []
    elif case == "no_bundles":
        job = network_jobs(sweep)[0]
        (tmp_path / "bare" / job.name).mkdir(parents=True)
        shutil.copyfile(job / layout.METRICS, tmp_path / "bare" / job.name / layout.METRICS)
        source = str(tmp_path / "bare")
    elif case == "inside_sweep":
        out = sweep / "interpreted"
    elif case == "data_changed":
        source = str(copied_sweep(sweep, tmp_path, **{"data.synthetic.seed": 1}))
    elif case == "split_changed":
        source = str(copied_sweep(sweep, tmp_path, split_seed=1))
    elif case == "bad_collection":
        extra.append(f"interpret.masking.collections=[{tmp_path / 'missing.gmt'}]")
    cfg = make_cfg("task=interpret", f"interpret.sweep={source}", *extra, out=out)
    with pytest.raises(SystemExit) as exit_info:
        run(cfg)
    assert exit_info.value.code == 2
    assert message in caplog.text
    assert not (sweep / "interpreted").exists()
