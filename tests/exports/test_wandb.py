"""logger=wandb: offline runs per job and per sweep, read back from their files; nothing raw leaks."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radiogenomics.exports.wandb import group_id, summary_table
from radiogenomics.tasks import run
from tests.conftest import ROOT, TINY
from tests.helpers.wandb_offline import OfflineRun, offline_runs, read_run

pytest.importorskip("wandb")

FAST_INTERPRET = [
    "+interpret=[masking,saliency]",
    "interpret.masking.collections=[verhaak]",
    "interpret.masking.n_random=20",
    "interpret.masking.single_genes=false",
    "interpret.saliency.collections=[verhaak]",
    "interpret.saliency.n_jobs=1",
    "interpret.saliency.gsea_method=permutation",
    "interpret.saliency.permutation_num=20",
]
NUMBER = re.compile(r"\d+\.\d+")
N_RAW_ROWS = 20  # expression rows (and genes) whose values must never appear in a logged file


def _overrides(*extra: str) -> list[str]:
    return [o for o in TINY if not o.startswith("logger=")] + ["logger=wandb", *extra]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, cache_dir) -> Path:
    """A 2-fold sweep with masking and saliency through train.py, W&B offline (the default)."""
    sweep_dir = tmp_path_factory.mktemp("wandb") / "sweep"
    cmd = [
        sys.executable,
        "train.py",
        "-m",
        "n_folds=2",
        *_overrides(*FAST_INTERPRET),
        f"hydra.sweep.dir={sweep_dir}",
        "hydra.sweep.subdir=fold${fold}",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env["RADIOGENOMICS_CACHE"] = str(cache_dir)
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return sweep_dir


def _runs(sweep_dir: Path) -> dict[str, OfflineRun]:
    runs = [read_run(d) for d in offline_runs(sweep_dir)]
    return {r.name: r for r in runs}


def test_job_runs_have_curves_config_metrics_tables(sweep):
    runs = _runs(sweep)
    for fold in (0, 1):
        r = runs[f"enhancement-nn-fold{fold}"]
        metrics = json.loads((sweep / f"fold{fold}" / "metrics.json").read_text())
        assert r.group == group_id(sweep) and r.job_type == "enhancement/nn"
        assert r.exit_code == 0
        assert r.summary["test/auroc"] == pytest.approx(metrics["test_auroc"])
        assert r.summary["test/ap"] == pytest.approx(metrics["test_ap"])
        assert r.summary["job/fold"] == fold
        curves = {k for row in r.history for k in row}
        assert {"train_loss", "val_loss", "val_auroc", "trainer/global_step"} <= curves
        assert r.config["trait"]["name"] == "enhancement" and r.config["n_folds"] == 2
        assert "paths" not in r.config and "out_dir" not in r.config["interpret"]["masking"]
        for table in ("masking/verhaak", "saliency/associations"):
            assert r.summary[f"{table}/_type"] == "table-file", table


def test_one_summary_run_per_sweep(sweep):
    summaries = [r for r in _runs(sweep).values() if r.job_type == "summary"]
    assert len(summaries) == 1
    (r,) = summaries
    assert r.group == group_id(sweep) and r.exit_code == 0
    cv = pd.read_csv(sweep / "summary" / "cv_summary.csv")
    assert r.summary["pooled/enhancement/nn/auroc"] == pytest.approx(cv["pooled_auroc"].iloc[0])
    for table in ("cv_summary", "folds", "masking_verhaak", "associations", "cohort_gsea"):
        assert r.summary[f"summary/{table}/_type"] == "table-file", table
    plots = {k.split("/")[1] for k in r.summary if k.startswith("plots/")}
    assert any(p.startswith("roc_") for p in plots)
    assert any(p.startswith("masking_verhaak") for p in plots)
    assert any(p.startswith("saliency_heatmap") for p in plots)


def _raw_tokens(sweep_dir: Path) -> tuple[list[str], list[str]]:
    """(every held-out patient id, raw expression values as they would print) of the sweep."""
    ids = pd.concat(pd.read_csv(p) for p in sweep_dir.glob("fold*/predictions.csv"))
    cohort = json.loads(next(sweep_dir.glob("fold*/cohort.json")).read_text())
    raw = pd.read_csv(cohort["expression_file"], sep="\t", index_col=0, nrows=N_RAW_ROWS)
    values = np.unique(raw.iloc[:, :N_RAW_ROWS].to_numpy(dtype=np.float32))
    tokens = [f"{v:.4f}" for v in values] + [repr(float(v)) for v in values]
    return ids["patient_id"].astype(str).tolist(), tokens


def _leaks(text: str, ids: list[str], tokens: list[str]) -> list[str]:
    numbers = set(NUMBER.findall(text))  # whole decimal numbers, so 6.7729 never matches 16.77291
    return [i for i in ids if i in text] + [t for t in tokens if t in numbers]


def test_no_patient_id_or_expression_value_in_any_logged_file(sweep):
    ids, tokens = _raw_tokens(sweep)
    assert len(ids) > 50 and len(tokens) > 100
    # the scan finds a planted id and a planted value (it is not vacuous)
    assert _leaks(f"x,{ids[7]},{tokens[3]}\n", ids, tokens) == [ids[7], tokens[3]]
    files = [f for d in offline_runs(sweep) for f in d.rglob("*") if f.is_file()]
    assert any(f.suffix == ".wandb" for f in files) and any("table" in f.name for f in files)
    for f in files:
        assert not _leaks(f.read_bytes().decode("latin-1"), ids, tokens), f


def test_per_patient_table_is_refused():
    with pytest.raises(ValueError, match="per-patient"):
        summary_table(pd.DataFrame({"patient_id": ["p1"], "y_prob": [0.5]}))


def test_failed_job_finishes_its_run(make_cfg, tmp_path, monkeypatch):
    import wandb

    from radiogenomics.tasks import finetune

    def broken_fit(*args, **kwargs):
        raise ValueError("planted failure in the fit")  # after the run started

    monkeypatch.setattr(finetune, "fit_model", broken_fit)
    out = tmp_path / "job"
    cfg = make_cfg(*_overrides(), out=out)
    with pytest.raises(ValueError, match="planted failure"):
        run(cfg)
    assert wandb.run is None
    (r,) = [read_run(d, wait_s=30) for d in offline_runs(out)]
    assert r.exit_code == 1 and r.name == "enhancement-nn-fold0"
    assert r.group == group_id(out)  # outside a Hydra sweep: the job dir is the group


def _path_like_entries(obj, where: str = "") -> list[str]:
    """Config entries (outside the trait's category names) that look like paths."""
    from radiogenomics.exports.wandb import is_path_key, is_path_value

    if isinstance(obj, dict):
        found = []
        for key, value in obj.items():
            if is_path_key(key) or (where != "trait" and is_path_value(value)):
                found.append(f"{where}.{key}")
            found += _path_like_entries(value, where or str(key))
        return found
    if isinstance(obj, list):
        return [e for v in obj for e in _path_like_entries(v, where)]
    return [where] if where != "trait" and isinstance(obj, str) and "/" in obj else []


def test_config_is_logged_without_any_path(make_cfg, tmp_path):
    from radiogenomics.exports.wandb import job_config

    expression, traits = tmp_path / "data" / "expr.tsv", "rel/dir/vasari.csv"
    cfg = make_cfg(
        *_overrides(
            "data=tcga_gbm",
            f"data.expression_file={expression}",
            f"data.traits_file={traits}",
            "+interpret=masking",
            f"interpret.masking.collections=[hallmark,{tmp_path}/my.gmt]",
        )
    )
    logged = job_config(cfg)
    text = json.dumps(logged)
    assert str(tmp_path) not in text and "rel/dir" not in text and ROOT.as_posix() not in text
    assert not _path_like_entries(logged)
    assert "expression_file" not in logged["data"] and "traits_file" not in logged["data"]
    assert "default_root_dir" not in logged["trainer"]
    assert logged["interpret"]["masking"]["collections"] == ["hallmark"]
    assert "n/a" in logged["trait"]["drop"]  # category names are not paths: kept


def test_no_path_in_any_logged_file(sweep, cache_dir):
    paths = {str(p) for p in (sweep, sweep.resolve(), cache_dir, Path(cache_dir).resolve(), ROOT)}
    runs = list(offline_runs(sweep))
    for r in (read_run(d) for d in runs):
        assert not _path_like_entries(r.config), r.name
    # what `wandb sync` uploads: the run file and files/ (logs/ holds wandb's local debug logs,
    # which name their own location and are never uploaded)
    files = [f for d in runs for f in d.rglob("*") if f.is_file() and "logs" not in f.parts]
    assert any(f.suffix == ".wandb" for f in files) and any("files" in f.parts for f in files)
    for f in files:
        text = f.read_bytes().decode("latin-1")
        assert not [p for p in paths if p in text], f
