"""train.py takes overrides and Hydra's flags in any order (radiogenomics.cli.hydra_argv)."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest
from hydra._internal.utils import get_args_parser

from radiogenomics.cli import check_group_choices, hydra_argv, run_main

from .conftest import CONFIGS, ROOT, TINY

PROG = "train.py"


def _parsed(argv: list[str]):
    """What Hydra's own parser makes of ``argv`` (the program name left out)."""
    return get_args_parser().parse_args(argv[1:])


@pytest.mark.parametrize(
    "argv, expected",
    [
        # the README's command with an override appended: overrides on both sides of -m
        (
            ["trait=enhancement", "-m", "hydra.sweep.dir=X"],
            ["-m", "trait=enhancement", "hydra.sweep.dir=X"],
        ),
        (["a=1", "--multirun", "b=2", "c=3"], ["--multirun", "a=1", "b=2", "c=3"]),
        (["a=1", "b=2", "-m"], ["-m", "a=1", "b=2"]),
        # flags with a value keep it
        (["a=1", "--config-dir", "/some/dir", "b=2"], ["--config-dir", "/some/dir", "a=1", "b=2"]),
        (["a=1", "-cd", "/some/dir", "b=2"], ["-cd", "/some/dir", "a=1", "b=2"]),
        (
            ["a=1", "--config-dir=/d", "b=2", "-cn=train"],
            ["--config-dir=/d", "-cn=train", "a=1", "b=2"],
        ),
        (["a=1", "--cfg", "job", "b=2"], ["--cfg", "job", "a=1", "b=2"]),
        (
            ["a=1", "-c", "hydra", "-p", "trainer", "b=2"],
            ["-c", "hydra", "-p", "trainer", "a=1", "b=2"],
        ),
        (["a=1", "--cfg", "job", "--resolve", "b=2"], ["--cfg", "job", "--resolve", "a=1", "b=2"]),
        # --info: a value only if it is one of its choices; bare, spelled out as its const
        (["a=1", "--info", "defaults", "b=2"], ["--info", "defaults", "a=1", "b=2"]),
        (["a=1", "--info", "b=2"], ["--info=all", "a=1", "b=2"]),
        (["a=1", "-i", "searchpath"], ["-i", "searchpath", "a=1"]),
        (["--info=plugins", "a=1"], ["--info=plugins", "a=1"]),
        # a unique prefix of a long flag, as argparse allows
        (["a=1", "--multi", "b=2"], ["--multi", "a=1", "b=2"]),
        # flags keep their order, overrides theirs
        (["b=2", "-m", "a=1", "--cfg", "job", "c=3"], ["-m", "--cfg", "job", "b=2", "a=1", "c=3"]),
        # nothing to move
        ([], []),
        (["a=1", "b=2"], ["a=1", "b=2"]),
        (["-m", "a=1", "b=2"], ["-m", "a=1", "b=2"]),
        (["--cfg", "job"], ["--cfg", "job"]),
        # overrides that look a bit like flags are overrides
        (["~logger", "+x=-1", "seed=-3", "-m"], ["-m", "~logger", "+x=-1", "seed=-3"]),
    ],
)
def test_flags_move_before_overrides(argv, expected):
    moved = hydra_argv([PROG, *argv])
    assert moved == [PROG, *expected]
    assert hydra_argv(moved) == moved  # idempotent


@pytest.mark.parametrize(
    "argv",
    [
        ["trait=enhancement", "-m", "hydra.sweep.dir=X"],
        ["a=1", "--cfg", "job", "-p", "trainer", "b=2"],
        ["a=1", "--info", "b=2"],
        ["a=1", "-cd", "/d", "b=2", "--config-name=train", "c=3", "--resolve"],
    ],
)
def test_hydra_parser_accepts_the_result(argv):
    """Rejected by Hydra's parser as typed (overrides on both sides); accepted once moved."""
    with pytest.raises(SystemExit):
        _parsed([PROG, *argv])
    args = _parsed(hydra_argv([PROG, *argv]))
    assert args.overrides == [a for a in argv if "=" in a and not a.startswith("-")]


def test_parsed_values_are_kept():
    args = _parsed(hydra_argv([PROG, "a=1", "--cfg", "job", "-p", "trainer", "-m", "b=2"]))
    assert (args.cfg, args.package, args.multirun) == ("job", "trainer", True)
    assert args.overrides == ["a=1", "b=2"]
    assert _parsed(hydra_argv([PROG, "a=1", "--info", "b=2"])).info == "all"
    assert _parsed(hydra_argv([PROG, "a=1", "--info", "defaults"])).info == "defaults"


def test_program_name_and_empty_argv():
    assert hydra_argv([]) == []
    assert hydra_argv(["/abs/train.py"]) == ["/abs/train.py"]
    # after `--` argparse takes everything as positional: left as it is
    assert hydra_argv([PROG, "a=1", "-m", "--", "b=2"]) == [PROG, "-m", "a=1", "--", "b=2"]


@pytest.mark.parametrize("m_first", [False, True], ids=["override_m_override", "m_first"])
def test_sweep_with_overrides_on_both_sides_of_m(m_first, cache_dir, tmp_path):
    """`python train.py trait=enhancement -m hydra.sweep.dir=X ...` runs like `-m` first."""
    sweep = tmp_path / "sweep"
    rest = [f"hydra.sweep.dir={sweep}", *TINY, "n_folds=2"]
    args = ["-m", "trait=enhancement", *rest] if m_first else ["trait=enhancement", "-m", *rest]
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(cache_dir)}
    proc = subprocess.run(
        [sys.executable, "train.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = pd.read_csv(sweep / "summary" / "cv_summary.csv")
    assert len(table) == 1 and table["n_jobs"].iloc[0] == 2
    jobs = sorted(p.parent.name for p in sweep.glob("*/metrics.json"))
    assert len(jobs) == 2 and all("trait=enhancement" in job for job in jobs)


# ------------------------------------------------ failures before our code: one line, exit 2


def _entry(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "train.py", *args]
    return subprocess.run(
        cmd, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["trait=enhancment"],
            "config error: trait=enhancment is not one of classical, column, "
            "edema, enhancement, enhancing_volume, infiltration, mesenchymal, multifocal, ncet, "
            "necrosis, neural, proneural, subtype; did you mean 'enhancement'?",
        ),
        (
            ["-m", "model=nnn"],
            "config error: model=nnn is not one of logit_l1, logit_l2, nn, "
            "ordinal_logit, rf, svm, xgboost; did you mean 'nn'?",
        ),
        (["-m", "trait=edema,enhancment"], "config error: trait=enhancment is not one of"),
    ],
)
def test_unknown_group_option_is_one_line_exit_2(tmp_path, args, line):
    proc = _entry(tmp_path, *args)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]  # one line
    assert proc.stderr.startswith(line)


def test_group_check_leaves_known_and_computed_values_alone():
    assert (
        check_group_choices(["trait=edema,enhancement", "model=nn", "debug=tiny"], CONFIGS) is None
    )
    assert (
        check_group_choices(["trait=choice(edema,x)", "model.name=zz", "fold=1"], CONFIGS) is None
    )
    assert check_group_choices(["--config-dir", "/x", "trait=mine"], CONFIGS) is None
    assert check_group_choices(["hydra/launcher=submitit_local", "data=null"], CONFIGS) is None
    assert "did you mean" not in check_group_choices(["model=zzzz"], CONFIGS)


def test_sweep_dir_that_is_a_file_is_one_line_exit_2(tmp_path):
    blocker = tmp_path / "sweep"
    blocker.write_text("a file\n")
    proc = _entry(tmp_path, "-m", *TINY, "n_folds=2", f"hydra.sweep.dir={blocker}")
    assert proc.returncode == 2, proc.stderr[-3000:]
    (line,) = [x for x in proc.stderr.splitlines() if x.strip()]
    assert line.startswith(f"environment error: cannot write {blocker} (it is a file, not a dir")


def test_run_dir_that_cannot_be_made_is_one_line_exit_2(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file\n")
    run_dir = blocker / "run"  # a parent is a file: what a read-only mount also ends in
    proc = _entry(tmp_path, *TINY, f"hydra.run.dir={run_dir}")
    assert proc.returncode == 2, proc.stderr[-3000:]
    (line,) = [x for x in proc.stderr.splitlines() if x.strip()]
    assert line.startswith(f"environment error: cannot write {run_dir} (")
    assert "Traceback" not in proc.stderr


def test_slurm_without_a_cluster_is_one_line_exit_2(tmp_path):
    if shutil.which("srun"):
        pytest.skip("a SLURM client is installed here")
    proc = _entry(
        tmp_path,
        "-m",
        "hydra/launcher=slurm",
        *TINY,
        "n_folds=2",
        "fold=0",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    )
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = [x for x in proc.stderr.splitlines() if "error" in x]
    assert lines == [lines[0]] and lines[0].startswith(
        "environment error: hydra/launcher=slurm cannot submit jobs ("
    )


@pytest.mark.parametrize(
    ("err", "start"),
    [
        (
            OSError(errno.ENOSPC, "No space left on device", "/o/.hydra/config.yaml"),
            "environment error: cannot write /o/.hydra/config.yaml (no space left on device)",
        ),
        (
            PermissionError(errno.EACCES, "Permission denied", "/ro/run"),
            "environment error: cannot write /ro/run (permission denied)",
        ),
        (
            OSError(errno.EROFS, "Read-only file system", "/ro/run"),
            "environment error: cannot write /ro/run (read-only file system)",
        ),
    ],
)
def test_disk_full_or_read_only_while_hydra_writes_is_one_line(err, start, capsys):
    def hydra_main() -> None:
        raise err

    before = os.environ.get("HYDRA_FULL_ERROR")
    with pytest.raises(SystemExit) as exit_info:
        run_main(hydra_main, CONFIGS, argv=[])
    assert exit_info.value.code == 2
    out = capsys.readouterr().err
    assert out.startswith(start) and out.count("\n") == 1
    assert os.environ.get("HYDRA_FULL_ERROR") == before  # restored


def test_other_errors_are_not_swallowed():
    def hydra_main() -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        run_main(hydra_main, CONFIGS, argv=[])
