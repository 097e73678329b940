"""scripts/ check their arguments like train.py: one line, exit status 2, nothing written."""

from __future__ import annotations

import importlib.util

import pytest

from radiogenomics.results import layout

from .conftest import ROOT
from .evaluation.test_comparison import write_sweeps

SCRIPTS = ROOT / "scripts"


def script(name: str):
    """scripts/<name>.py as a module (scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(f"script_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def refused(name: str, args: list, capsys) -> str:
    """The one error line of ``scripts/<name>.py args`` (exit status 2)."""
    with pytest.raises(SystemExit) as info:
        script(name).main([str(a) for a in args])
    err = capsys.readouterr().err
    assert info.value.code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.fixture
def sweeps(tmp_path):
    return write_sweeps(tmp_path)


def test_compare_refuses_a_missing_dir(tmp_path, capsys):
    err = refused("compare", [tmp_path / "nope"], capsys)
    assert f"argument sweeps: {tmp_path / 'nope'}: no such directory" in err


def test_compare_refuses_a_dir_that_is_not_a_sweep(tmp_path, capsys):
    (tmp_path / "plain").mkdir()
    err = refused("compare", [tmp_path / "plain"], capsys)
    assert "plain: not a sweep directory (no multirun.yaml and no job with metrics.json)" in err
    assert not (tmp_path / "plain" / "compare").exists()


def test_compare_refuses_when_one_of_two_sweeps_is_missing(sweeps, tmp_path, capsys):
    cv, _ = sweeps
    err = refused("compare", [cv, tmp_path / "boot_typo"], capsys)
    assert "boot_typo: no such directory" in err
    assert not (cv / "compare").exists()


@pytest.mark.parametrize("value", ["-5", "0", "many"])
def test_compare_refuses_a_bad_n_boot(sweeps, value, capsys):
    cv, _ = sweeps
    err = refused("compare", [cv, "--n-boot", value], capsys)
    assert "argument --n-boot:" in err and "expected an integer >= 1" in err


def test_summarize_refuses_a_dir_that_is_not_a_sweep_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("x")
    err = refused("summarize", [tmp_path / "notes"], capsys)
    assert "not a sweep directory" in err
    assert not (tmp_path / "notes" / layout.SUMMARY_DIR).exists()


@pytest.mark.parametrize("fdr", ["5", "0", "1", "nan", "-0.1"])
def test_summarize_refuses_an_fdr_outside_0_1(sweeps, fdr, capsys):
    cv, _ = sweeps
    err = refused("summarize", [cv, "--fdr", fdr], capsys)
    assert "argument --fdr:" in err and "expected a number in (0, 1)" in err
    assert not (cv / layout.SUMMARY_DIR).exists()


@pytest.mark.parametrize(
    "name, args",
    [
        ("ablation", ["{missing}"]),
        ("ablation", ["{cv}", "--n-boot", "-1"]),
        ("null_report", ["{missing}", "{cv}"]),
        ("null_report", ["{cv}", "{cv}", "--alpha", "2"]),
        ("select_hparams", ["{missing}"]),
        ("select_hparams", ["{plain}"]),
        ("masking_calibration", ["{cv}", "--alpha", "5"]),
        ("survival", ["{cv}", "--min-group", "0"]),
        ("survival", ["{cv}", "--penalizer", "-1"]),
        ("trust", ["stability", "{missing}"]),
        ("trust", ["stability", "{cv}", "--top-sets", "0"]),
        ("trust", ["stability", "{cv}", "--threshold", "1.5"]),
        ("trust", ["sanity", "{cv}", "--seed", "-1"]),
        ("summarize", ["{cv}", "--min-patients", "0"]),
    ],
)
def test_every_script_refuses_bad_arguments_in_one_line(name, args, sweeps, tmp_path, capsys):
    cv, _ = sweeps
    (tmp_path / "plain").mkdir()
    paths = {"cv": cv, "missing": tmp_path / "missing", "plain": tmp_path / "plain"}
    err = refused(name, [a.format(**paths) for a in args], capsys)
    assert "error: argument" in err


def test_compare_heads_refuses_a_dir_that_is_no_sweep(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    err = refused(
        "compare_heads", ["--binary", tmp_path / "empty", "--out", tmp_path / "o"], capsys
    )
    assert "--binary" in err and "not a sweep directory" in err
    assert not (tmp_path / "o").exists()
