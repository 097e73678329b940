"""Resume notices changed inputs: a finished job records the sha256 of its data files, and a
rerun over changed files (same paths) is refused with one line, or rerun with overwrite=true."""

from __future__ import annotations

import json
import logging

import pytest

from radiogenomics.tasks import run
from radiogenomics.tasks.validation import _job_complete

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
