"""Resuming a killed sweep: finished jobs are kept, the rest run, the summary covers all jobs."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from radiogenomics.pipelines.sweep_summary import summarize

from ..conftest import ROOT, TINY

N_FOLDS = 4
KILL_AFTER = 2  # completed jobs before the sweep is killed
WAIT_S = 400


def sweep_command(sweep: Path) -> list[str]:
    """The sweep under test: 4 tiny folds into a fixed sweep dir."""
    return [
        sys.executable,
        "train.py",
        "-m",
        f"n_folds={N_FOLDS}",
        *TINY,
        f"hydra.sweep.dir={sweep}",
    ]


def finished(sweep: Path) -> dict[Path, tuple[int, str]]:
    """{job dir: (metrics.json mtime, contents)} of the completed jobs."""
    return {p.parent: (p.stat().st_mtime_ns, p.read_text()) for p in sweep.glob("*/metrics.json")}


def test_killed_sweep_resumes(cache_dir, tmp_path):
    sweep = tmp_path / "sweep"
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(cache_dir)}
    log = (tmp_path / "first.log").open("w")
    proc = subprocess.Popen(
        sweep_command(sweep),
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + WAIT_S
    while len(finished(sweep)) < KILL_AFTER and proc.poll() is None:
        assert time.monotonic() < deadline, "sweep too slow to reach the kill point"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = finished(sweep)
    assert KILL_AFTER <= len(before) < N_FOLDS, (tmp_path / "first.log").read_text()[-3000:]

    # the summary of the killed sweep names every job without metrics.json, started or not
    summarize(sweep, n_boot=10)
    missing = json.loads((sweep / "summary" / "missing_jobs.json").read_text())
    assert missing["n_missing"] == N_FOLDS - len(before)
    done_folds = {json.loads(text)["fold"] for _, text in before.values()}
    missing_folds = {int(job.split("fold=")[1].split(",")[0]) for job in missing["jobs"]}
    assert missing_folds == set(range(N_FOLDS)) - done_folds
    assert len(pd.read_csv(sweep / "summary" / "folds.csv")) == len(before)

    again = subprocess.run(
        sweep_command(sweep), cwd=ROOT, env=env, capture_output=True, text=True, timeout=WAIT_S
    )
    assert again.returncode == 0, again.stderr[-3000:]
    after = finished(sweep)
    assert len(after) == N_FOLDS
    for job, stamp in before.items():
        assert after[job] == stamp, f"{job.name} was rerun"
    assert again.stdout.count("job already complete") + again.stderr.count(
        "job already complete"
    ) == len(before)
    table = pd.read_csv(sweep / "summary" / "cv_summary.csv")
    assert len(table) == 1 and table["n_jobs"].iloc[0] == N_FOLDS
    assert json.loads((sweep / "summary" / "missing_jobs.json").read_text())["n_missing"] == 0


def test_changed_config_replaces_a_finished_job_only_with_overwrite(make_cfg, tmp_path):
    from radiogenomics.tasks import run

    out = tmp_path / "job"
    first = run(make_cfg("n_folds=3", out=out))
    metrics = out / "metrics.json"
    stamp = metrics.stat().st_mtime_ns
    changed = ("n_folds=3", "trainer.max_epochs=3")
    with pytest.raises(SystemExit) as refused:  # another config's job: refused, kept as it is
        run(make_cfg(*changed, out=out))
    assert refused.value.code == 2 and metrics.stat().st_mtime_ns == stamp
    again = run(make_cfg(*changed, "overwrite=true", out=out))
    assert metrics.stat().st_mtime_ns != stamp
    assert again["config_hash"] == json.loads(metrics.read_text())["config_hash"]
    assert again["config_hash"] != first["config_hash"]
