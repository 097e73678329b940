"""No fault corrupts, loses or misplaces outputs: job dir names, overwrites, partial job files,
full disks and permissions, file modes."""

from __future__ import annotations

import errno
import json
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict

from radiogenomics.errors import DataError
from radiogenomics.hydra_resolvers import job_dirname
from radiogenomics.tasks import finetune, run
from radiogenomics.tasks.finetune import check_output_dir
from radiogenomics.tasks.jobs import config_hash
from radiogenomics.utils import OutputError, atomic_write, write_json

from .conftest import CONFIGS, ROOT, TINY

# ----------------------------------------------------------------------------- 1. job dir names

PATHY = [
    "data.expression_file=../../../x.tsv,fold=0",
    "data.expression_file=/abs/data/x.tsv,fold=0",
    "data.label_files=[../a/v.csv,/b/s.csv],fold=1",
    "data.expression_file=..\\..\\x.tsv,fold=0",
    "data.expression_file=..,fold=0",
    "data.expression_file=/,fold=0",
]


def test_simple_job_dir_names_are_unchanged():
    for name in ("fold=3,trait=enhancement", "fold=0,model=nn,seed=1", "bootstrap=7,fold=2"):
        assert job_dirname(name) == name


@pytest.mark.parametrize("override_dirname", PATHY)
def test_path_values_never_make_a_path(override_dirname, tmp_path):
    name = job_dirname(override_dirname)
    assert "/" not in name and "\\" not in name and ".." not in name, name
    assert name == job_dirname(override_dirname)  # deterministic: reruns find the dir
    sweep = tmp_path / "sweep"
    assert (sweep / name).resolve().parent == sweep.resolve()
    assert name.endswith(("fold=0", "fold=1")) and name.startswith("data.")  # still readable


def test_different_paths_give_different_dirs():
    a = job_dirname("data.expression_file=../a/x.tsv,fold=0")
    b = job_dirname("data.expression_file=../b/x.tsv,fold=0")
    c = job_dirname("data.expression_file=x.tsv,fold=0")
    assert len({a, b, c}) == 3 and "x.tsv" in a


def test_relative_data_path_sweep_stays_in_its_dir_and_is_listed_missing(cache_dir, tmp_path):
    """The issue's case: ../../../x.tsv made job dirs escape (and a later sweep 'resume' them)."""
    base = tmp_path / "a" / "b"
    sweep = base / "sweep"
    cmd = [
        sys.executable,
        "train.py",
        "-m",
        "n_folds=2",
        "fold=0",
        *TINY,
        "data=tcga_gbm",
        "data.expression_file=../../../x.tsv",
        f"hydra.sweep.dir={sweep}",
    ]
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(cache_dir)}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr[-3000:]  # the job fails (no such file): exit 1
    (job,) = [d for d in sweep.iterdir() if (d / ".hydra").is_dir()]
    assert job.name.startswith("data.expression_file=x.tsv~")
    missing = json.loads((sweep / "summary" / "missing_jobs.json").read_text())
    assert missing["jobs"] == [job.name]  # planned and started jobs matched by name
    assert [p.name for p in base.iterdir()] == ["sweep"]  # nothing escaped the sweep dir
    assert [p.name for p in tmp_path.iterdir()] == ["a"]


def _multirun_hydra(sweep: Path, out: Path) -> None:
    """Make HydraConfig look like a job of a sweep into ``sweep`` (as in a -m job)."""
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        full = compose("train", overrides=TINY, return_hydra_config=True)
    with open_dict(full):
        full.hydra.mode = "MULTIRUN"
        full.hydra.sweep.dir = str(sweep)
        full.hydra.runtime.output_dir = str(out)
    HydraConfig.instance().set_config(full)


def test_a_sweep_job_never_writes_outside_its_sweep_dir(make_cfg, tmp_path, caplog):
    sweep = tmp_path / "sweep"
    previous = HydraConfig.instance().cfg
    try:
        _multirun_hydra(sweep, sweep / "fold=0")
        check_output_dir(sweep / "fold=0")  # inside: fine
        for outside in (tmp_path / "elsewhere", sweep, sweep / ".." / "sibling"):
            with pytest.raises(DataError, match="outside the sweep dir"):
                check_output_dir(outside)
        out = tmp_path / "elsewhere"
        with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as exit_info:
            run(make_cfg("n_folds=2", out=out))
        assert exit_info.value.code == 2 and "outside the sweep dir" in caplog.text
        assert not out.exists()
    finally:
        HydraConfig.instance().cfg = previous


HOSTILE_COLUMN = "../../x"  # a label column's name becomes the trait's name, then file names


def _hostile_cohort(tmp: Path) -> list[str]:
    """Overrides of a 40-patient cohort whose only label column is named ``../../x``."""
    import numpy as np
    import pandas as pd

    from radiogenomics.data.genesets import load_collection

    genes = load_collection("hallmark")["HALLMARK_HYPOXIA"][:40]
    ids = pd.Index([f"TCGA-02-{i:04d}" for i in range(1, 41)], name="patient")
    y = np.array(["lo", "hi"] * 20)
    x = np.random.default_rng(0).normal(8, 1, size=(40, 40))
    x[:, 0] += (y == "hi") * 2
    tmp.mkdir()
    pd.DataFrame(x.round(3), index=ids, columns=genes).to_csv(tmp / "expr.tsv", sep="\t")
    pd.DataFrame({HOSTILE_COLUMN: y}, index=ids).to_csv(tmp / "labels.csv")
    return [
        "data=files",
        f"data.expression_file={tmp / 'expr.tsv'}",
        f"data.label_files=[{tmp / 'labels.csv'}]",
        "trait=column",
        f'trait.column="{HOSTILE_COLUMN}"',
        "model=logit_l2",
    ]


def _outside(root: Path, dirs: list[Path]) -> list[Path]:
    """Files under ``root`` in none of ``dirs`` (resolved)."""
    inside = [d.resolve() for d in dirs]
    return [
        p
        for p in root.rglob("*")
        if p.is_file() and not any(p.resolve().is_relative_to(d) for d in inside)
    ]


def test_a_hostile_column_name_never_writes_outside_the_run_or_sweep_dir(
    make_cfg, cache_dir, tmp_path, caplog
):
    """Issue 27: trait.column=../../x put the sweep's, refit's and predict's files levels up."""
    common = _hostile_cohort(tmp_path / "data")
    base = tmp_path / "a" / "b" / "c" / "d"
    sweep, refit, predict = base / "sweep", base / "refit", base / "predict"
    cmd = [
        sys.executable,
        "train.py",
        "-m",
        *TINY,
        *common,
        "n_folds=2",
        "fold=0,1",
        f"hydra.sweep.dir={sweep}",
    ]
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(cache_dir)}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run(make_cfg(*common, "task=refit", f"refit.sweep={sweep}", out=refit))
    run(
        make_cfg(
            *common, "task=predict", f"predict.sweep={sweep}", "predict.n_boot=50", out=predict
        )
    )
    assert _outside(tmp_path, [sweep, refit, predict, tmp_path / "data"]) == []
    for figures in (sweep / "summary", predict):  # the ROC and calibration figures, readable
        names = sorted(p.name for p in figures.glob("*.png"))
        assert [n.split("_x-")[0] for n in names] == ["calibration_", "roc_"], names
    (bundle,) = refit.glob("*/model/model.json")
    assert bundle.parent.parent.parent == refit and bundle.parent.parent.name.startswith("_x-")

    # issue 27: a run dir inside the sweep it reads is refused; nothing there is overwritten
    pooled = (sweep / "summary" / "predictions.csv").read_bytes()
    (job,) = [d for d in sweep.iterdir() if "fold=0" in d.name]
    for overrides, out in [
        (["task=predict", f"predict.sweep={sweep}"], sweep / "summary"),
        (["task=predict", f"predict.sweep={sweep}"], sweep),
        (["task=refit", f"refit.sweep={sweep}"], job),
    ]:
        caplog.clear()
        with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as info:
            run(make_cfg(*common, *overrides, "predict.n_boot=50", out=out))
        assert info.value.code == 2
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and "overlap: task=" in errors[0] and "\n" not in errors[0]
    assert (sweep / "summary" / "predictions.csv").read_bytes() == pooled


# ------------------------------------------------- 2. overwrite, 3. partial files, 5. file modes


def test_finished_job_of_another_config_is_refused_not_overwritten(make_cfg, tmp_path, caplog):
    out = tmp_path / "job"
    (out / ".hydra").mkdir(parents=True)
    (out / "train.log").write_text("the job's log\n")
    stale = out / "masking"  # left by an earlier attempt that never finished
    stale.mkdir()
    (stale / "old_scores.csv").write_text("set,auroc\n")
    old_umask = os.umask(0o022)
    try:
        first = run(make_cfg("n_folds=2", out=out))
    finally:
        os.umask(old_umask)
    assert not stale.exists()  # an unfinished attempt's files never mix with a new job's
    assert (out / ".hydra").is_dir() and (out / "train.log").exists()
    # 5: every file the job wrote is readable by the group and others under umask 022
    written = [p for p in out.rglob("*") if p.is_file() and p.name != "train.log"]
    assert {stat.S_IMODE(p.stat().st_mode) for p in written} == {0o644}, written

    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as exit_info:
        run(make_cfg("n_folds=2", "trainer.max_epochs=3", out=out))
    assert exit_info.value.code == 2
    assert str(out) in caplog.text and "overwrite=true" in caplog.text
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before  # untouched
    assert json.loads((out / "metrics.json").read_text())["config_hash"] == first["config_hash"]
    # overwrite is a per-job switch: it never changes the config hash
    assert config_hash(make_cfg("overwrite=true")) == config_hash(make_cfg())


def test_failed_job_leaves_no_partial_files_and_names_the_full_disk(
    make_cfg, tmp_path, monkeypatch, caplog
):
    """The disk fills up while the model bundle is written (torch.save's own message)."""
    out = tmp_path / "job"
    (out / ".hydra").mkdir(parents=True)
    (out / ".hydra" / "config.yaml").write_text("{}\n")
    (out / "train.log").write_text("")
    (out / "cohort.json").write_text("{}")  # stale, from an attempt killed after its cohort check

    def disk_full(obj, path, *args, **kwargs):
        Path(path).write_bytes(b"x" * 3032)
        raise RuntimeError(
            "[enforce fail at inline_container.cc:664] . unexpected pos 3136 vs 3032"
        )

    import radiogenomics.models.bundle as bundle

    monkeypatch.setattr(bundle.torch, "save", disk_full)
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as exit_info:
        run(make_cfg("n_folds=2", out=out))
    assert exit_info.value.code == 2
    errors = [r.getMessage() for r in caplog.records if r.name == "radiogenomics.tasks"]
    (line,) = errors
    assert line.startswith("output error: cannot write ") and "weights.pt" in line
    assert "no space left on device" in line and "\n" not in line
    left = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    assert left == [".hydra", ".hydra/config.yaml", "train.log"], left  # no partial job files
    monkeypatch.undo()
    assert run(make_cfg("n_folds=2", out=out))["fold"] == 0  # a rerun is not confused


def test_failure_after_the_cohort_check_removes_cohort_json(make_cfg, tmp_path, monkeypatch):
    out = tmp_path / "job"

    def broken_fit(*args, **kwargs):
        assert (out / "cohort.json").exists()  # written before the fit
        raise RuntimeError("planted failure in the fit")

    monkeypatch.setattr(finetune, "fit_model", broken_fit)
    with pytest.raises(RuntimeError, match="planted"):
        run(make_cfg("n_folds=2", out=out))
    assert not (out / "cohort.json").exists() and not (out / "metrics.json").exists()


# ------------------------------------------------------------- 4. disk full, permissions, paths


def test_disk_full_names_the_path_and_leaves_no_temp_file(tmp_path):
    def full(path: Path) -> None:
        path.write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    target = tmp_path / "job" / "predictions.csv"
    with pytest.raises(OutputError) as info:
        atomic_write(target, full)
    assert info.value.errno == errno.ENOSPC and isinstance(info.value, OSError)
    assert str(info.value) == f"cannot write {target}: no space left on device"
    assert list(target.parent.iterdir()) == []  # no temp file, no partial file


def test_output_dir_that_is_a_file(tmp_path, make_cfg, caplog):
    blocker = tmp_path / "results"
    blocker.write_text("not a directory")
    with pytest.raises(OutputError, match=f"{blocker} is a file, not a directory"):
        write_json(blocker / "job" / "metrics.json", {})
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as exit_info:
        run(make_cfg("n_folds=2", out=blocker))
    assert exit_info.value.code == 2
    assert f"output error: cannot write {blocker}/cohort.json: {blocker} is a file" in caplog.text
    assert blocker.read_text() == "not a directory"


@pytest.mark.parametrize(
    ("code", "reason"),
    [(errno.EACCES, "permission denied"), (errno.EROFS, "read-only file system")],
)
def test_unwritable_dir_names_the_path(tmp_path, monkeypatch, code, reason):
    import radiogenomics.utils as utils

    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code), str(tmp_path))

    monkeypatch.setattr(utils.tempfile, "mkstemp", refuse)
    with pytest.raises(OutputError, match=f"cannot write {tmp_path}/x.json: {reason}"):
        write_json(tmp_path / "x.json", {})


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_dir_for_real(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="permission denied"):
            write_json(locked / "x.json", {})
    finally:
        locked.chmod(0o700)


def test_other_errors_pass_through_unchanged(tmp_path):
    def buggy(path: Path) -> None:
        raise ValueError("a bug, not the disk")

    with pytest.raises(ValueError, match="a bug"):
        atomic_write(tmp_path / "x.json", buggy)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------- 5. umask


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_files_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        path = write_json(tmp_path / "metrics.json", {"a": 1})
        weights = atomic_write(tmp_path / "w.pt", lambda p: torch.save({"x": torch.ones(2)}, p))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert stat.S_IMODE(weights.stat().st_mode) == mode
