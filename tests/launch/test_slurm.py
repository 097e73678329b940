"""``hydra/launcher=slurm`` against a real (one-node) SLURM cluster, and its status watcher.

The ``slurm`` tests need a cluster: tests/launch/conftest.py finds one or starts
tests/slurm/start_local_slurm.sh (root, Debian's slurmctld/slurmd/munge), else they skip.
The watcher tests below them fake sacct/squeue and always run.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from ..conftest import CONFIGS, ROOT, TINY

TARGET = "hydra_plugins.radiogenomics_launcher.slurm_launcher.SlurmLauncher"
# one CPU, no GPU, little memory: three tiny jobs fit a two-core node
RESOURCES = [
    "hydra.launcher.gpus_per_task=0",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=1",
    "hydra.launcher.timeout_min=10",
    "hydra.launcher.poll_s=0.5",
    "hydra.launcher.status_interval_s=5",
]
JOB_FILES = ("metrics.json", "predictions.csv", "cohort.json", "train.log", ".hydra/config.yaml")


def sweep_cmd(cluster, sweep: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "train.py",
        "-m",
        "n_folds=3",
        *TINY,
        "hydra/launcher=slurm",
        f"hydra.launcher.partition={cluster.partition}",
        *RESOURCES,
        f"hydra.sweep.dir={sweep}",
        *extra,
    ]


def sweep_env(cluster, cache_dir: Path) -> dict[str, str]:
    # the array tasks run sys.executable (this venv's python) with the submitting environment
    # (sbatch --export=ALL): RADIOGENOMICS_CACHE reaches them
    return {**cluster.env, "RADIOGENOMICS_CACHE": str(cache_dir)}


def run_sweep(cluster, cache_dir, sweep, *extra, status=0) -> subprocess.CompletedProcess:
    """Run the sweep; it must end with exit ``status`` (1: a job failed, the summary is written)."""
    proc = subprocess.run(
        sweep_cmd(cluster, sweep, *extra),
        cwd=ROOT,
        env=sweep_env(cluster, cache_dir),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == status, (proc.stdout + proc.stderr)[-4000:]
    return proc


def job_dirs(sweep: Path) -> dict[int, Path]:
    """{fold: job dir} of the sweep's job dirs that wrote .hydra/overrides.yaml."""
    dirs = {}
    for overrides in sweep.glob("*/.hydra/overrides.yaml"):
        fold = next(o for o in overrides.read_text().split() if o.startswith("fold="))
        dirs[int(fold.split("=")[1])] = overrides.parent.parent
    return dirs


def missing_jobs(sweep: Path) -> dict:
    return json.loads((sweep / "summary" / "missing_jobs.json").read_text())


@pytest.mark.slurm
def test_three_fold_sweep_on_slurm(slurm_cluster, cache_dir, tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_sweep(slurm_cluster, cache_dir, sweep)
    out = proc.stdout + proc.stderr
    dirs = job_dirs(sweep)
    assert sorted(dirs) == [0, 1, 2]
    for fold, job in dirs.items():
        for name in JOB_FILES:
            assert (job / name).exists(), (fold, name)
        assert json.loads((job / "metrics.json").read_text())["fold"] == fold
    table = pd.read_csv(sweep / "summary" / "cv_summary.csv")
    assert len(table) == 1 and table["n_jobs"].iloc[0] == 3 and table["folds_complete"].iloc[0]
    assert missing_jobs(sweep)["n_missing"] == 0
    # one SLURM array: sbatch script in .submitit/<id>/, each task's logs in .submitit/<id>_<i>/
    scripts = list(sweep.glob(".submitit/*/*_submission.sh"))
    assert len(scripts) == 1 and "#SBATCH --array=0-2" in scripts[0].read_text()
    array_id = scripts[0].parent.name
    for task in range(3):
        logs = sweep / ".submitit" / f"{array_id}_{task}"
        assert (logs / f"{array_id}_{task}_0_log.out").exists()
        assert (logs / f"{array_id}_{task}_0_result.pkl").exists()
    assert "submitted SLURM array job" in out
    assert "sweep: 3/3 done, 0 failed, 0 remaining" in out
    assert "Bypassing sacct error" not in out  # submitit's per-poll warning
    if not slurm_cluster.accounting:
        assert out.count("SLURM accounting is off") == 1


@pytest.mark.slurm
@pytest.mark.slow  # 36 s; the three-fold sweep on the cluster stays in the default suite
def test_failed_array_task_still_writes_the_summary(slurm_cluster, cache_dir, tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_sweep(slurm_cluster, cache_dir, sweep, "fold=0,1,99", status=1)
    out = proc.stdout + proc.stderr
    # the launcher says which job failed and why (the job's error line, from its log)
    assert re.search(r"job #2 \(fold=99[^\n]* failed: [^\n]*fold=99", out), out[-3000:]
    assert "sweep: 2/3 done, 1 failed, 0 remaining" in out
    missing = missing_jobs(sweep)
    assert missing["n_missing"] == 1 and "fold=99" in missing["jobs"][0]
    assert sorted(job_dirs(sweep)) == [0, 1, 99]
    table = pd.read_csv(sweep / "summary" / "cv_summary.csv")
    assert table["n_jobs"].iloc[0] == 2
    # the failed task's own log says why (a traceback does not survive the result pickle)
    logs = "".join(p.read_text() for p in sweep.glob(".submitit/*_2/*_log.*"))
    assert "fold=99" in logs and "ERROR" in logs


@pytest.mark.slurm
@pytest.mark.slow  # 41 s
def test_scancel_then_rerun_resumes(slurm_cluster, cache_dir, tmp_path):
    sweep = tmp_path / "sweep"
    one_at_a_time = "hydra.launcher.array_parallelism=1"
    cmd = sweep_cmd(slurm_cluster, sweep, one_at_a_time)
    env = sweep_env(slurm_cluster, cache_dir)
    log_path = tmp_path / "first.log"
    with log_path.open("w") as log:
        first = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 300
            while not list(sweep.glob("*/metrics.json")):
                assert first.poll() is None, log_path.read_text()[-3000:]
                assert time.monotonic() < deadline, "no job finished in 300 s"
                time.sleep(0.5)
            array_id = next(sweep.glob(".submitit/*/*_submission.sh")).parent.name
            cancel = slurm_cluster.run("scancel", array_id)
            assert cancel.returncode == 0, cancel.stderr
            # the cancelled tasks fail the sweep: summary written, then exit status 1
            assert first.wait(timeout=300) == 1, log_path.read_text()[-3000:]
        finally:
            if first.poll() is None:
                first.kill()
    out = log_path.read_text()
    finished = {p: p.stat().st_mtime_ns for p in sweep.glob("*/metrics.json")}
    assert 1 <= len(finished) < 3
    assert "SLURM state CANCELLED" in out  # the cancelled tasks came back as failed jobs
    assert missing_jobs(sweep)["n_missing"] == 3 - len(finished)

    second = run_sweep(slurm_cluster, cache_dir, sweep, one_at_a_time)
    out = second.stdout + second.stderr
    assert f"{len(finished)} of 3 jobs already complete" in out  # not resubmitted
    assert f"({3 - len(finished)} tasks," in out
    assert {p: p.stat().st_mtime_ns for p in finished} == finished  # not rerun
    assert sorted(job_dirs(sweep)) == [0, 1, 2]
    assert len(list(sweep.glob("*/metrics.json"))) == 3
    assert missing_jobs(sweep)["n_missing"] == 0


# ---- no cluster needed ----------------------------------------------------------------------


def test_slurm_config_targets_the_tolerant_launcher():
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=["hydra/launcher=slurm"], return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_ == TARGET
    assert launcher.raise_on_failure is False and launcher.skip_finished is True
    assert launcher.gpus_per_task == 1 and launcher.submitit_folder.endswith(".submitit/%j")


class FakeSlurm:
    """Stands in for subprocess.run in the watcher: answers sacct and squeue, records calls."""

    def __init__(self, squeue_out="", squeue_rc=0, squeue_err="", sacct_out: str | None = None):
        self.calls: list[str] = []
        self.squeue = (squeue_rc, squeue_out, squeue_err)
        self.sacct_out = sacct_out  # None: no accounting storage

    def __call__(self, cmd, **kwargs):
        self.calls.append(cmd[0])
        if cmd[0] == "sacct" and self.sacct_out is not None:
            return subprocess.CompletedProcess(cmd, 0, self.sacct_out.encode(), b"")
        if cmd[0] == "sacct":
            err = "Slurm accounting storage is disabled\n"
            return subprocess.CompletedProcess(cmd, 1, b"", err.encode())
        rc, out, err = self.squeue
        return subprocess.CompletedProcess(cmd, rc, out, err)


def make_watcher(monkeypatch, fake):
    from hydra_plugins.radiogenomics_launcher import slurm_launcher

    monkeypatch.setattr(slurm_launcher.subprocess, "run", fake)
    return slurm_launcher.make_queue_watcher(delay_s=60)


def test_watcher_without_accounting_reads_squeue_and_says_so_once(monkeypatch, caplog):
    fake = FakeSlurm("7_0|COMPLETED|vm\n7_1|RUNNING|vm\n7_2|PENDING|\n")
    watcher = make_watcher(monkeypatch, fake)
    for task in range(4):
        watcher.register_job(f"7_{task}")
    with caplog.at_level(logging.INFO):
        watcher.update()
        watcher.update()
    assert fake.calls == ["sacct", "squeue", "squeue"]  # sacct asked once only
    said = [r for r in caplog.records if "accounting is off" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.INFO
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    states = {f"7_{t}": watcher.get_state(f"7_{t}", mode="cache") for t in range(4)}
    assert states == {"7_0": "COMPLETED", "7_1": "RUNNING", "7_2": "PENDING", "7_3": "NOT_IN_QUEUE"}
    assert watcher.is_done("7_0", mode="cache") and watcher.is_done("7_3", mode="cache")
    assert not watcher.is_done("7_1", mode="cache")


def test_watcher_with_accounting_reads_sacct(monkeypatch, caplog):
    sacct = "JobID|State|NodeList\n3_0|COMPLETED|vm\n3_0.batch|COMPLETED|vm\n3_[1-2]|PENDING|\n"
    fake = FakeSlurm(sacct_out=sacct)
    watcher = make_watcher(monkeypatch, fake)
    for task in range(3):
        watcher.register_job(f"3_{task}")
    with caplog.at_level(logging.INFO):
        watcher.update()
        watcher.update()
    assert fake.calls == ["sacct", "sacct"] and not caplog.records
    assert watcher.get_state("3_0", mode="cache") == "COMPLETED"
    assert watcher.get_state("3_2", mode="cache") == "PENDING"


def test_watcher_job_gone_from_squeue_is_done(monkeypatch):
    # squeue -j <one purged id> fails with "Invalid job id": the job left the queue
    fake = FakeSlurm(squeue_rc=1, squeue_err="slurm_load_jobs error: Invalid job id specified")
    watcher = make_watcher(monkeypatch, fake)
    watcher.register_job("9_0")
    watcher.update()
    assert watcher.get_state("9_0", mode="cache") == "NOT_IN_QUEUE"
    assert watcher.is_done("9_0", mode="cache")


def test_watcher_keeps_states_when_squeue_fails(monkeypatch, caplog):
    fake = FakeSlurm(squeue_rc=1, squeue_err="slurm_load_jobs error: Unable to contact controller")
    watcher = make_watcher(monkeypatch, fake)
    watcher.register_job("5_0")
    with caplog.at_level(logging.WARNING):
        watcher.update()
        watcher.update()
    assert watcher.get_state("5_0", mode="cache") == "UNKNOWN"  # not finished: keep waiting
    assert not watcher.is_done("5_0", mode="cache")
    assert len([r for r in caplog.records if "squeue failed" in r.getMessage()]) == 1


def test_sbatch_script_runs_this_python(tmp_path):
    """Array tasks start ``sys.executable -m submitit.core._submit``: this venv's python."""
    from submitit.slurm.slurm import SlurmExecutor

    if shutil.which("srun") is None:
        pytest.skip("submitit's SLURM executor needs srun on PATH")
    assert SlurmExecutor(folder=tmp_path).python.strip("'") == sys.executable
