"""A sweep summary that cannot be written fails the sweep: one line, exit status 2."""

from __future__ import annotations

import errno
import logging
import os

import pytest
from omegaconf import OmegaConf

from radiogenomics.launch import sweep_status
from radiogenomics.pipelines import sweep_summary as summary
from radiogenomics.pipelines.hydra_callbacks import SweepSummary
from radiogenomics.tasks import run


def test_disk_full_while_writing_the_summary_exits_2(make_cfg, tmp_path, monkeypatch, caplog):
    sweep = tmp_path / "sweep"
    run(make_cfg("n_folds=2", out=sweep / "fold=0"))
    config = OmegaConf.create({"task": "finetune", "hydra": {"sweep": {"dir": str(sweep)}}})

    def full(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(summary, "write_csv", full)
    sweep_status.SweepExitStatus().on_multirun_start(config=config)
    with caplog.at_level(logging.ERROR):
        SweepSummary().on_multirun_end(config=config)  # Hydra would only warn on a raise
    (line,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert line.startswith(f"summary error: the sweep summary in {sweep / 'summary'} could not")
    assert "folds.csv" in line and "no space left on device" in line.lower() and "\n" not in line
    with pytest.raises(SystemExit) as exit_info:
        sweep_status.SweepExitStatus().on_multirun_end(config=config)
    assert exit_info.value.code == 2
    sweep_status.reset()


def test_train_sweep_whose_summary_dir_is_a_file_exits_2(cache_dir, tmp_path):
    """End to end: summary/ cannot be made (a file is in the way); the job itself finished."""
    import subprocess
    import sys

    from ..conftest import ROOT, TINY

    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "summary").write_text("in the way\n")
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(cache_dir)}
    cmd = [
        sys.executable,
        "train.py",
        "-m",
        "n_folds=2",
        "fold=0",
        *TINY,
        f"hydra.sweep.dir={sweep}",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 2, log[-3000:]
    (line,) = [x for x in log.splitlines() if "summary error:" in x]
    assert f"{sweep / 'summary'}" in line and "Traceback" not in log
    assert len(list(sweep.glob("*/metrics.json"))) == 1
