"""Ctrl-C (SIGINT) or SIGTERM stops a sweep of the default launcher (``serial``), not only its
running job: the job is abandoned like a failed one, the summary of the finished jobs is written,
the command exits with 128 + the signal (130, 143), and a rerun resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..conftest import ROOT, TINY
from .test_serial_launcher import PROBE

DEADLINE_S = 240


def _wait_for(path_glob: str, root: Path, proc: subprocess.Popen, timeout: float) -> list[Path]:
    """Poll until a file matching ``path_glob`` exists under ``root`` (or the process ended)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = sorted(root.glob(path_glob)) if root.exists() else []
        if found or proc.poll() is not None:
            return found
        time.sleep(0.02)
    return []


def _stop(proc: subprocess.Popen, signum: int) -> tuple[int, str]:
    proc.send_signal(signum)
    try:
        out, _ = proc.communicate(timeout=120)  # bounded: a stopped sweep ends promptly
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"the sweep did not stop within 120 s:\n{out[-3000:]}") from None
    return proc.returncode, out


def test_sigint_stops_a_train_sweep_and_a_rerun_resumes(cache_dir, tmp_path):
    sweep = tmp_path / "sweep"
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(cache_dir)}
    cmd = [sys.executable, "train.py", "-m", "n_folds=3", *TINY, f"hydra.sweep.dir={sweep}"]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    first = _wait_for("*/metrics.json", sweep, proc, DEADLINE_S)
    assert first and proc.poll() is None, "the first job never finished"
    first_mtime = {p: p.stat().st_mtime_ns for p in first}
    code, log = _stop(proc, signal.SIGINT)
    assert code == 130, log[-3000:]
    done = sorted(sweep.glob("*/metrics.json"))
    assert len(done) < 3, log[-3000:]
    assert "sweep stopped by SIGINT" in log and "Traceback" not in log, log[-3000:]
    missing = json.loads((sweep / "summary" / "missing_jobs.json").read_text())
    assert missing["n_missing"] == 3 - len(done)
    for job in sweep.iterdir():  # the abandoned job left no partial files
        if (job / ".hydra").is_dir() and not (job / "metrics.json").exists():
            assert {p.name for p in job.iterdir()} <= {".hydra", "train.log"}, job

    rerun = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-3000:]
    assert len(list(sweep.glob("*/metrics.json"))) == 3
    assert {p: p.stat().st_mtime_ns for p in first} == first_mtime  # skipped, not rerun
    assert (sweep / "summary" / "cv_summary.csv").exists()


def test_sigterm_stops_the_sweep_with_status_143(tmp_path):
    """The probe app (no training): fold=3 is still sleeping when SIGTERM comes."""
    sweep = tmp_path / "sweep"
    cmd = [
        sys.executable,
        str(PROBE),
        "-m",
        "n_folds=6",
        "fold=0,3,4",
        "task=probe",
        f"hydra.sweep.dir={sweep}",
    ]
    env = {**os.environ, "PROBE_SLEEP_S": "3"}
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert _wait_for("*/done.txt", sweep, proc, DEADLINE_S), "the first job never finished"
    assert _wait_for("fold=3*/.hydra", sweep, proc, DEADLINE_S), "the second job never started"
    code, log = _stop(proc, signal.SIGTERM)
    assert code == 143, log[-3000:]
    assert "sweep stopped by SIGTERM after 2 of 3 job(s) started" in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    assert not list(sweep.glob("fold=3*/done.txt"))


@pytest.mark.slow  # a full sweep (default suite time); runs with -m slow
def test_sigterm_stops_a_gpus_launcher_sweep(tmp_path):
    """hydra/launcher=gpus (one CPU worker): the running worker is terminated, none starts."""
    sweep = tmp_path / "sweep"
    cmd = [
        sys.executable,
        str(PROBE),
        "-m",
        "n_folds=6",
        "fold=0,3,4",
        "task=probe",
        f"hydra.sweep.dir={sweep}",
        "hydra/launcher=gpus",
        "hydra.launcher.n_jobs=1",
        "hydra.launcher.poll_s=0.1",
    ]
    env = {**os.environ, "PROBE_SLEEP_S": "3"}
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert _wait_for("*/done.txt", sweep, proc, DEADLINE_S), "the first job never finished"
    assert _wait_for("fold=3*/.hydra", sweep, proc, DEADLINE_S), "the second job never started"
    code, log = _stop(proc, signal.SIGTERM)
    assert code == 143, log[-3000:]
    assert "sweep stopped by SIGTERM after 2 of 3 job(s) started" in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    assert not list(sweep.glob("fold=3*/done.txt")) and not list(sweep.glob("fold=4*"))


@pytest.mark.slow  # a full sweep (default suite time); runs with -m slow
def test_sigint_stops_a_local_launcher_sweep_and_a_rerun_resumes(tmp_path):
    """hydra/launcher=local (submitit): every job is running when SIGINT comes; they are
    cancelled (no done.txt), the command exits 130, and a rerun runs them all."""
    sweep = tmp_path / "sweep"
    cmd = [
        sys.executable,
        str(PROBE),
        "-m",
        "n_folds=6",
        "fold=0,3,4",
        "task=probe",
        f"hydra.sweep.dir={sweep}",
        "hydra/launcher=local",
    ]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env={**os.environ, "PROBE_SLEEP_S": "60"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    end = time.monotonic() + DEADLINE_S
    while len(list(sweep.glob("fold=*/.hydra"))) < 3 and time.monotonic() < end:
        assert proc.poll() is None, proc.communicate()[0][-3000:]
        time.sleep(0.05)
    time.sleep(1.0)  # the jobs are in their sleep
    started = time.monotonic()
    code, log = _stop(proc, signal.SIGINT)
    assert code == 130, log[-3000:]
    assert time.monotonic() - started < 30, log[-3000:]  # cancelled, not waited for
    assert "sweep stopped by SIGINT after 3 of 3 job(s) started" in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    assert not list(sweep.glob("*/done.txt"))

    rerun = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=DEADLINE_S)
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-3000:]
    assert len(list(sweep.glob("*/done.txt"))) == 3
