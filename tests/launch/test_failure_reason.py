"""Every launcher says why a job failed in the same words (``launch.jobs.failure_reason``)."""

from __future__ import annotations

import pickle
import re
import subprocess
import sys
import traceback
from pathlib import Path
from types import SimpleNamespace

import pytest
from hydra.core.utils import JobReturn, JobStatus

from hydra_plugins.radiogenomics_launcher.gpu_launcher import job_return
from hydra_plugins.radiogenomics_launcher.slurm_launcher import collect
from radiogenomics.launch.jobs import JobDied, failure_reason
from radiogenomics.launch.pool import Outcome

from ..conftest import ROOT

PROBE = Path(__file__).with_name("probe_app.py")
PLANTED = "ValueError: planted failure"  # probe_app.py's fold=2


def probe_reason(sweep: Path, *launcher: str, env: dict[str, str] | None = None) -> str:
    """The reason the launcher logs for probe_app.py's raising job (fold=2)."""
    cmd = [
        sys.executable,
        str(PROBE),
        "-m",
        "n_folds=4",
        "fold=2",
        "task=probe",
        f"hydra.sweep.dir={sweep}",
        *launcher,
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 1, log[-3000:]
    found = re.findall(r"\(fold=2[^\n]*\) failed: ([^\n]*)", log)
    assert len(found) == 1, log[-3000:]
    return found[0]


def test_serial_and_gpus_launchers_give_the_same_reason(tmp_path):
    serial = probe_reason(tmp_path / "serial")
    gpus = probe_reason(
        tmp_path / "gpus",
        "hydra/launcher=gpus",
        "hydra.launcher.n_jobs=1",
        "hydra.launcher.start_method=spawn",
        "hydra.launcher.preload=[]",
    )
    assert serial == gpus == PLANTED


def planted_return() -> JobReturn:
    """A job whose task raised, as Hydra's ``run_job`` returns it."""
    return JobReturn(
        overrides=["fold=2"],
        status=JobStatus.FAILED,
        _return_value=ValueError("planted failure"),
    )


def test_each_launcher_path_to_a_return_keeps_the_reason():
    # gpus: the worker's own return, or its traceback when it raised outside Hydra's run_job
    assert failure_reason(job_return(Outcome(0, value=planted_return()), ["fold=2"])) == PLANTED
    try:
        raise ValueError("planted failure")
    except ValueError:
        text = traceback.format_exc()
    assert failure_reason(job_return(Outcome(0, error=text), ["fold=2"])) == PLANTED
    # slurm: the array task's return, through its result pickle
    job = SimpleNamespace(
        job_id="7_2",
        watcher=SimpleNamespace(get_state=lambda job_id, mode: "COMPLETED"),
        results=lambda: [pickle.loads(pickle.dumps(planted_return()))],
    )
    assert failure_reason(collect(job, ["fold=2"])) == PLANTED
    # serial (and local): Hydra's return as it is
    assert failure_reason(planted_return()) == PLANTED


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (SystemExit(2), "exit status 2"),
        (JobDied("worker died (exit code 2)"), "worker died (exit code 2)"),
        (JobDied(""), "unknown error"),
        ("not an exception", "'not an exception'"),
    ],
)
def test_failure_reason_is_one_line(error, reason):
    ret = JobReturn(overrides=["fold=1"], status=JobStatus.FAILED, _return_value=error)
    assert failure_reason(ret) == reason
