"""The default launcher (``serial``): a failed job never stops the sweep; the summary is written,
then the command exits with status 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.utils import JobReturn, JobStatus

from radiogenomics.launch import sweep_status
from radiogenomics.launch.jobs import tolerant
from radiogenomics.launch.sweep_progress import SERIAL_LAUNCHER

from ..conftest import CONFIGS, ROOT, TINY

PROBE = Path(__file__).with_name("probe_app.py")


def probe_sweep(sweep: Path, *args: str) -> subprocess.CompletedProcess:
    """The probe app over folds 0-3: 1 exits with status 2, 2 raises, 0 and 3 finish."""
    cmd = [
        sys.executable,
        str(PROBE),
        "-m",
        "n_folds=4",
        "task=probe",
        f"hydra.sweep.dir={sweep}",
        *args,
    ]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_serial_is_the_default_launcher_and_exit_status_runs_last():
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", return_hydra_config=True)
        gpus = compose("train", overrides=["hydra/launcher=gpus"], return_hydra_config=True)
    assert cfg.hydra.launcher._target_ == SERIAL_LAUNCHER
    assert gpus.hydra.launcher._target_.endswith("GpuSlotLauncher")  # still selectable
    # Hydra calls multirun-end callbacks last to first: the exit status after the summary
    assert list(cfg.hydra.callbacks)[0] == "sweep_status"


def test_failures_are_recorded_for_the_exit_status():
    callback = sweep_status.SweepExitStatus()
    callback.on_multirun_start(config=None)
    callback.on_multirun_end(config=None)  # nothing failed: returns
    tolerant(JobReturn(overrides=["fold=0"], status=JobStatus.COMPLETED, _return_value=1))
    tolerant(JobReturn(overrides=["fold=1"], status=JobStatus.FAILED, _return_value=ValueError()))
    assert sweep_status.failed_jobs() == ["fold=1"]
    with pytest.raises(SystemExit) as exit_info:
        callback.on_multirun_end(config=None)
    assert exit_info.value.code == 1
    callback.on_multirun_start(config=None)  # a new sweep starts clean
    assert sweep_status.failed_jobs() == []


def test_every_job_runs_when_some_fail(tmp_path):
    sweep = tmp_path / "sweep"
    proc = probe_sweep(sweep)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 1, log[-3000:]
    done = sorted(p.parent.name for p in sweep.glob("*/done.txt"))
    assert done == ["fold=0,n_folds=4,task=probe", "fold=3,n_folds=4,task=probe"]
    assert "sweep: 2/4 done, 2 failed, 0 remaining" in log
    # every job's overrides: the swept fold and CV repeat (repeats=1: repeat=0), the command line's
    assert "job #1 (fold=1 repeat=0 n_folds=4 task=probe) failed: exit status 2" in log
    assert "failed: ValueError: planted failure" in log
    assert (
        "planted failure" in (sweep / "fold=2,n_folds=4,task=probe" / "probe_app.log").read_text()
    )  # traceback
    assert "2 job(s) of this sweep failed" in log


def test_raise_on_failure_restores_hydras_behaviour(tmp_path):
    proc = probe_sweep(tmp_path / "sweep", "hydra.launcher.raise_on_failure=true")
    assert proc.returncode == 2  # the first failed job's own exit status
    assert "2 job(s) of this sweep failed" not in proc.stdout + proc.stderr


def test_train_sweep_with_a_failed_fold_is_summarised_then_exits_1(cache_dir, tmp_path):
    """3 folds through train.py, the default launcher; fold=5 is a bad config for n_folds=3."""
    sweep = tmp_path / "sweep"
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(cache_dir)}
    cmd = [
        sys.executable,
        "train.py",
        "-m",
        "n_folds=3",
        "fold=0,1,5",
        *TINY,
        f"hydra.sweep.dir={sweep}",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 1, log[-3000:]
    assert "sweep: 2/3 done, 1 failed, 0 remaining" in log
    table = pd.read_csv(sweep / "summary" / "cv_summary.csv")
    assert table["n_jobs"].tolist() == [2]
    missing = json.loads((sweep / "summary" / "missing_jobs.json").read_text())
    assert missing["n_missing"] == 1 and "fold=5" in missing["jobs"][0]
    (failed,) = [d for d in sweep.iterdir() if "fold=5" in d.name]
    assert sorted(p.name for p in failed.iterdir()) == [".hydra", "train.log"]
