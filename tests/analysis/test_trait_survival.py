"""Survival by radiogenomic trait on a fabricated sweep summary with one planted association."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest

from radiogenomics.analysis.trait_survival import (
    SurvivalOptions,
    load_sweep_traits,
    survival_table,
)
from radiogenomics.data.clinical import read_clinical
from radiogenomics.errors import DataError

from ..conftest import ROOT
from ..helpers.clinical import write_bcr

N = 80
CONFIG = {"trait": "enhancement", "model": "nn", "config_hash": "0a1b2c3d4e5f", "bootstrap": "none"}
PLANTED, SMALL, NOT_ASSOC = "PLANTED_SET", "SMALL_SET", "NOT_AN_ASSOCIATION"
NULLS = [f"NULL_SET_{k}" for k in range(6)]
BASE_HAZARD = 1 / 400  # per day
PLANTED_HR = 3.0
FOLLOW_UP = 1500  # days: administrative censoring
N_NEGATIVE = 6  # planted-pair patients enriched with negative NES (not traits by default)
N_NO_CLINICAL = 4  # held-out patients missing from the clinical table


def _ids() -> list[str]:
    return [f"TCGA-ZZ-{i:04d}" for i in range(N)]


def fabricate(root, seed: int = 0):
    """A sweep dir with summary/{radiogenomic_traits.parquet, associations.csv} + a clinical file."""
    rng = np.random.default_rng(seed)
    ids = _ids()
    planted = np.zeros(N, dtype=bool)
    planted[: N // 2] = True
    rows = []

    def add(name: str, enriched: np.ndarray, nes: np.ndarray) -> None:
        fdr = np.where(enriched, rng.uniform(0, 0.04, N), rng.uniform(0.1, 1, N))
        for k, pid in enumerate(ids):
            rows.append(
                {
                    **CONFIG,
                    "patient_id": pid,
                    "fold": k % 5,
                    "y_true": k % 2,
                    "class": "1",
                    "collection": "hallmark",
                    "set": name,
                    "nes": nes[k],
                    "fdr": fdr[k],
                }
            )

    nes = np.where(planted, 2.0, rng.normal(0, 1, N))
    negative = np.flatnonzero(~planted)[:N_NEGATIVE]
    nes[negative] = -2.0
    add(PLANTED, planted | np.isin(np.arange(N), negative), nes)
    for name in NULLS:
        add(name, rng.random(N) < 0.5, np.full(N, 1.5))
    add(SMALL, (np.arange(N) >= 10) & (np.arange(N) < 13), np.full(N, 1.5))
    add(NOT_ASSOC, rng.random(N) < 0.5, np.full(N, 1.5))
    traits = pd.DataFrame(rows)
    traits["enriched"] = traits["fdr"] < 0.05
    summary = root / "summary"
    summary.mkdir(parents=True)
    traits.to_parquet(summary / "radiogenomic_traits.parquet")
    assoc = traits.groupby(["class", "collection", "set"], as_index=False).agg(
        n_patients=("patient_id", "size"), n_enriched=("enriched", "sum")
    )
    assoc = assoc.assign(**CONFIG)[[*CONFIG, *assoc.columns]]
    assoc["association"] = assoc["set"] != NOT_ASSOC
    assoc["null_p"] = 0.01  # a column added by someone else is ignored
    assoc.to_csv(summary / "associations.csv", index=False)

    hazard = BASE_HAZARD * np.where(planted, PLANTED_HR, 1.0)
    time = rng.exponential(1 / hazard)
    dead = time <= FOLLOW_UP
    clinical = [
        [
            "uuid",
            pid,
            rng.choice(["MALE", "FEMALE"]),
            rng.choice(["WHITE", "WHITE", "WHITE", "ASIAN", "[Not Available]"]),
            "Dead" if d else "Alive",
            "[Not Available]" if d else FOLLOW_UP,
            round(t) if d else "[Not Applicable]",
            int(rng.normal(60, 10)),
        ]
        for pid, t, d in zip(
            ids[N_NO_CLINICAL:], time[N_NO_CLINICAL:], dead[N_NO_CLINICAL:], strict=True
        )
    ]
    clinical.append(["uuid", "TCGA-ZZ-9999", "MALE", "WHITE", "Dead", 10, 5, 50])  # not in sweep
    return root, write_bcr(root / "clinical.txt", clinical)


@pytest.fixture
def sweep(tmp_path):
    return fabricate(tmp_path / "sweep")


def test_planted_association_found_and_nulls_quiet(sweep):
    root, clinical_file = sweep
    clinical = read_clinical(clinical_file).patients
    table = survival_table(load_sweep_traits(root / "summary"), clinical, SurvivalOptions())
    table = table.set_index("set")
    assert NOT_ASSOC not in table.index and len(table) == 2 + len(NULLS)
    assert (table["trait"] == CONFIG["trait"]).all() and (
        table["config_hash"] == "0a1b2c3d4e5f"
    ).all()
    hit = table.loc[PLANTED]
    assert hit["status"] == "tested" and hit["cox_status"] == "ok"
    assert hit["logrank_q"] < 0.05 and hit["cox_q"] < 0.05
    assert 1.5 < hit["hr"] < 8 and hit["hr_low"] > 1
    assert hit["median_enriched"] < hit["median_not"]
    assert hit["n_no_clinical"] == N_NO_CLINICAL
    # positive NES only: the N_NEGATIVE negatively enriched patients are in the other group
    assert hit["n_enriched"] == N // 2 - N_NO_CLINICAL
    assert hit["n_not"] == N // 2
    assert hit["cox_n"] < hit["n_enriched"] + hit["n_not"]  # race "[Not Available]" dropped
    assert "age" in hit["cox_covariates"] and "race_" in hit["cox_covariates"]
    nulls = table.loc[NULLS]
    assert (nulls["status"] == "tested").all()
    assert (nulls["logrank_q"] < 0.05).sum() <= 1 and (nulls["cox_q"] < 0.05).sum() <= 1
    assert nulls["logrank_p"].min() > hit["logrank_p"] * 100


def test_small_group_is_skipped_with_reason(sweep):
    root, clinical_file = sweep
    clinical = read_clinical(clinical_file).patients
    table = survival_table(load_sweep_traits(root / "summary"), clinical, SurvivalOptions())
    small = table.set_index("set").loc[SMALL]
    assert small["status"].startswith("skipped: enriched group has 3 patient(s)")
    assert np.isnan(small["logrank_p"]) and np.isnan(small["logrank_q"])
    assert small["cox_status"] == "not fitted"


def test_direction_any_moves_negative_nes_patients(sweep):
    root, clinical_file = sweep
    clinical = read_clinical(clinical_file).patients
    options = SurvivalOptions(direction="any")
    table = survival_table(load_sweep_traits(root / "summary"), clinical, options)
    assert table.set_index("set").loc[PLANTED, "n_enriched"] == N // 2 - N_NO_CLINICAL + N_NEGATIVE


def test_cox_failure_is_recorded_not_raised(sweep, monkeypatch):
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError

    def fail(*args, **kwargs):
        raise ConvergenceError("matrix is singular")

    monkeypatch.setattr(CoxPHFitter, "fit", fail)
    root, clinical_file = sweep
    clinical = read_clinical(clinical_file).patients
    table = survival_table(load_sweep_traits(root / "summary"), clinical, SurvivalOptions())
    tested = table[table["status"] == "tested"]
    assert tested["cox_status"].str.startswith("failed: ConvergenceError").all()
    assert tested["cox_q"].isna().all() and tested["logrank_q"].notna().all()


def _script():
    spec = importlib.util.spec_from_file_location("survival", ROOT / "scripts" / "survival.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_writes_table_and_plot(sweep, capsys):
    root, clinical_file = sweep
    table = _script().main([str(root), "--clinical", str(clinical_file)])
    out = root / "summary" / "survival"
    written = pd.read_csv(out / "survival.csv", dtype={"config_hash": str})
    assert len(written) == len(table) and written["config_hash"].eq("0a1b2c3d4e5f").all()
    plots = sorted(p.name for p in out.glob("km_*.png"))
    assert any(PLANTED in p for p in plots)
    printed = capsys.readouterr().out
    assert f"{N_NO_CLINICAL} held-out patient(s) without clinical data" in printed
    assert PLANTED in printed and "skipped" in printed
    assert (out / "clinical_issues.csv").exists()
    assert len(pd.read_csv(out / "patients_without_clinical.csv")) == N_NO_CLINICAL


def test_cli_without_saliency_outputs_says_so(tmp_path, capsys):
    (tmp_path / "summary").mkdir()
    with pytest.raises(SystemExit) as info:
        _script().main([str(tmp_path)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "no saliency outputs" in err and len(err.splitlines()) == 1
    with pytest.raises(DataError, match="radiogenomic_traits.parquet"):
        load_sweep_traits(tmp_path / "summary")


def test_script_is_the_package_function(tmp_path, capsys):
    """scripts/survival.py only parses: write_survival alone writes the same files and text."""
    from radiogenomics.pipelines.survival import write_survival
    from radiogenomics.results import layout

    script = _script()
    assert _functions(script) == ["main"]
    by_script, clinical_file = fabricate(tmp_path / "script")
    by_package, _ = fabricate(tmp_path / "package")
    script.main([str(by_script), "--clinical", str(clinical_file), "--alpha", "0.2"])
    printed = capsys.readouterr().out
    report = write_survival(by_package, SurvivalOptions(alpha=0.2), str(clinical_file))
    assert report.out == layout.survival_dir(by_package)
    assert printed == f"{report.text}\nwritten to {layout.survival_dir(by_script)}\n"
    names = sorted(p.name for p in layout.survival_dir(by_script).iterdir())
    assert names == sorted(p.name for p in report.out.iterdir())
    assert sorted(p.name for p in report.written) == names
    assert {layout.SURVIVAL, layout.CLINICAL_ISSUES, layout.PATIENTS_WITHOUT_CLINICAL} < set(names)
    for name in names:
        if name.endswith(".csv"):
            pd.testing.assert_frame_equal(
                pd.read_csv(layout.survival_dir(by_script) / name), pd.read_csv(report.out / name)
            )


def test_script_defaults_are_the_package_defaults(sweep, monkeypatch, capsys):
    script = _script()
    seen = {}

    def fake(sweep_dir, options, clinical_file, out):
        seen.update(options=options, clinical_file=clinical_file, out=out)
        raise DataError("stop here")

    monkeypatch.setattr(script, "write_survival", fake)
    with pytest.raises(SystemExit) as info:
        script.main([str(sweep[0])])
    assert info.value.code == 2
    assert capsys.readouterr().err.endswith(": error: stop here\n")
    assert seen == {"options": SurvivalOptions(), "clinical_file": None, "out": None}


def _functions(module) -> list[str]:
    """Names of the functions a module defines itself (not the ones it imports)."""
    import inspect

    return sorted(
        name
        for name, obj in vars(module).items()
        if inspect.isfunction(obj) and obj.__module__ == module.__name__
    )


def test_cli_on_a_missing_dir_says_it_does_not_exist(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        _script().main([str(tmp_path / "nope")])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.endswith(f"{tmp_path / 'nope'}: no such directory\n")
    assert len(err.splitlines()) == 1 and "saliency" not in err
