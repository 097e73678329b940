"""Resume notices changed inputs: a finished job records the sha256 of its data files, and a
rerun over changed files (same paths) is refused with one line, or rerun with overwrite=true."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest

from radiogenomics.tasks import run
from radiogenomics.tasks.validation import _job_complete

from ..conftest import ROOT, TINY
from .test_any_cohort import _leukemia, _write

TRAIT = ["trait=column", "trait.column=class", "trait.min_class_size=3", "n_folds=3"]


def test_changed_label_file_is_refused_then_overwritten(make_cfg, tmp_path, caplog):
    files = _write(tmp_path, *_leukemia())
    out = tmp_path / "job"
    first = run(make_cfg(*files, *TRAIT, out=out))
    labels = tmp_path / "labels.csv"
    recorded = first["inputs"]
    assert set(recorded) == {"data.expression_file", "data.label_files[0]"}
    assert recorded["data.label_files[0]"]["path"] == str(labels.resolve())
    assert len(recorded["data.label_files[0]"]["sha256"]) == 64
    cfg = make_cfg(*files, *TRAIT, out=out)
    assert _job_complete(cfg)
    assert run(cfg)["elapsed_s"] == first["elapsed_s"]  # unchanged inputs: skipped

    text = labels.read_text().splitlines()
    labels.write_text("\n".join([text[0], *text[1:][::-1]]) + "\n")  # same labels, other order
    before = (out / "metrics.json").read_bytes()
    cfg = make_cfg(*files, *TRAIT, out=out)
    assert not _job_complete(cfg)  # validation no longer counts it as finished
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as exit_info:
        run(cfg)
    assert exit_info.value.code == 2
    (line,) = [r.getMessage() for r in caplog.records if r.name == "radiogenomics.tasks"]
    assert line.startswith(f"data error: {labels.resolve()} changed since the finished job {out}")
    old, new = recorded["data.label_files[0]"]["sha256"][:12], line.split("-> ")[1][:12]
    assert f"sha256 {old} -> {new}" in line and old != new
    assert line.endswith("use a new hydra.sweep.dir or overwrite=true") and "\n" not in line
    assert (out / "metrics.json").read_bytes() == before  # the finished job is left as it was

    again = run(make_cfg(*files, *TRAIT, "overwrite=true", out=out))
    assert again["inputs"]["data.label_files[0]"]["sha256"][:12] == new
    assert json.loads((out / "metrics.json").read_text())["elapsed_s"] == again["elapsed_s"]


def test_a_job_finished_before_fingerprints_still_resumes(make_cfg, tmp_path):
    files = _write(tmp_path, *_leukemia())
    out = tmp_path / "job"
    first = run(make_cfg(*files, *TRAIT, out=out))
    done = json.loads((out / "metrics.json").read_text())
    del done["inputs"]
    (out / "metrics.json").write_text(json.dumps(done))
    assert run(make_cfg(*files, *TRAIT, out=out))["elapsed_s"] == first["elapsed_s"]


@pytest.mark.slow  # a full sweep (default suite time); runs with -m slow
def test_a_sweep_over_changed_inputs_exits_2_once_and_keeps_its_summary(cache_dir, tmp_path):
    """At sweep level: every stale job is refused, the sweep ends with one data-error line and
    status 2, and its summary is left as it was; overwrite=true reruns them."""
    files = _write(tmp_path, *_leukemia())
    sweep = tmp_path / "sweep"
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(cache_dir)}
    cmd = [
        sys.executable,
        "train.py",
        "-m",
        *TINY,
        *files,
        *TRAIT,
        "fold=0,1",
        f"hydra.sweep.dir={sweep}",
    ]

    def sweep_run(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*cmd, *extra], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
        )

    first = sweep_run()
    assert first.returncode == 0, (first.stdout + first.stderr)[-3000:]
    summary = sweep / "summary" / "cv_summary.csv"
    before = {p: p.stat().st_mtime_ns for p in (sweep / "summary").iterdir()}
    assert summary in before

    labels = tmp_path / "labels.csv"
    text = labels.read_text().splitlines()
    labels.write_text("\n".join([text[0], *text[1:][::-1]]) + "\n")  # same labels, other order
    stale = sweep_run()
    log = stale.stdout + stale.stderr
    assert stale.returncode == 2, log[-3000:]
    (line,) = [x for x in log.splitlines() if "the sweep summary was left as it was" in x]
    assert f"data error: {labels.resolve()} changed since the finished job" in line, line
    assert "(and 1 other finished job(s) of this sweep)" in line and line.endswith("status 2")
    assert "job(s) of this sweep failed" not in log and "Traceback" not in log, log[-3000:]
    assert {p: p.stat().st_mtime_ns for p in (sweep / "summary").iterdir()} == before

    again = sweep_run("overwrite=true")
    assert again.returncode == 0, (again.stdout + again.stderr)[-3000:]
    assert summary.stat().st_mtime_ns != before[summary]
    assert not (sweep / ".stale_inputs").exists() or not list((sweep / ".stale_inputs").iterdir())
