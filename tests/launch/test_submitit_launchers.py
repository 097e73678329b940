"""Cluster launchers: the SLURM config composes; a sweep runs end to end through submitit."""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from ..conftest import CONFIGS, ROOT, TINY


def test_slurm_launcher_composes():
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=["hydra/launcher=slurm"], return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith(".SlurmLauncher")  # submitit's, or its tolerant subclass
    assert launcher.gpus_per_task == 1 and launcher.tasks_per_node == 1
    for key in ("partition", "timeout_min", "mem_gb", "cpus_per_task", "array_parallelism"):
        assert key in launcher, key


def test_two_fold_sweep_through_submitit_local(cache_dir, tmp_path):
    sweep = tmp_path / "sweep"
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(cache_dir)}
    cmd = [
        sys.executable,
        "train.py",
        "-m",
        "n_folds=2",
        *TINY,
        "hydra/launcher=local",
        f"hydra.sweep.dir={sweep}",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Submitit 'local'" in proc.stderr + proc.stdout
    metrics = [json.loads(p.read_text()) for p in sweep.glob("*/metrics.json")]
    assert sorted(m["fold"] for m in metrics) == [0, 1]
    assert list(sweep.glob(".submitit/*/*_log.out"))  # jobs ran as submitit processes
    table = pd.read_csv(sweep / "summary" / "cv_summary.csv")
    assert len(table) == 1 and table["n_jobs"].iloc[0] == 2 and table["folds_complete"].iloc[0]
    missing = json.loads((sweep / "summary" / "missing_jobs.json").read_text())
    assert missing["n_missing"] == 0


@pytest.mark.slow  # a full sweep (default suite time); runs with -m slow
def test_a_failed_local_job_does_not_stop_the_sweep(cache_dir, tmp_path):
    """fold=7 of 2 folds is a config error: the other job finishes, the summary lists it."""
    sweep = tmp_path / "sweep"
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(cache_dir)}
    cmd = [
        sys.executable,
        "train.py",
        "-m",
        "n_folds=2",
        "fold=0,7",
        *TINY,
        "hydra/launcher=local",
        f"hydra.sweep.dir={sweep}",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert [json.loads(p.read_text())["fold"] for p in sweep.glob("*/metrics.json")] == [0]
    missing = json.loads((sweep / "summary" / "missing_jobs.json").read_text())
    assert missing["n_missing"] == 1 and "fold=7" in missing["jobs"][0]
    assert "exited with status 2" in proc.stderr + proc.stdout
