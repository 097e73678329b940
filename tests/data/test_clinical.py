"""The TCGA BCR clinical reader: the shipped GBM table, problem rows reported by barcode, errors."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from radiogenomics.data.clinical import read_clinical
from radiogenomics.data.io import read_expression
from radiogenomics.errors import DataError

from ..helpers.clinical import HEADER, NA, NAPP, row, write_bcr


def test_shipped_table_has_plausible_numbers():
    data = read_clinical()
    p = data.patients
    assert len(p) == 548 and p.index.is_unique
    assert p.index.str.fullmatch(r"TCGA-\w\w-\w{4}").all()
    assert data.report["n_os"] == 546 and int(p["os_event"].sum()) == 411  # 411 deaths
    assert sorted(data.issues["patient_id"]) == ["TCGA-16-0861", "TCGA-28-2499"]
    assert set(data.issues["problem"]) == {"vital status missing"}
    assert p.loc["TCGA-16-0861", "os_issue"] == "vital status missing"
    assert (p["os_time"].dropna() >= 0).all()
    assert 55 <= p["age"].median() <= 62 and p["age"].between(10, 95).all()
    assert p["gender"].value_counts().to_dict() == {"MALE": 335, "FEMALE": 213}
    assert p["race"].isna().sum() == 25  # "[Not Available]" -> missing
    assert "pfs_time" not in p  # this table has no new-tumour-event days column
    from lifelines import KaplanMeierFitter

    ok = p.dropna(subset=["os_time"])
    median = KaplanMeierFitter().fit(ok["os_time"], ok["os_event"]).median_survival_time_
    assert 300 <= median <= 550  # GBM median OS ~ 14 months


def test_shipped_ids_match_the_shipped_expression_cohort():
    expression = read_expression("resource:TCGA_unified_CORE_ClaNC840.txt.gz")
    clinical = read_clinical().patients
    assert expression.index.isin(clinical.index).sum() == 156  # of 173 core samples


def test_bad_rows_are_reported_by_barcode(tmp_path, caplog):
    rows = [
        row("TCGA-AA-0001-01A", "Dead", NA, 300),  # sample barcode -> patient id
        row("TCGA-AA-0002", "Alive", 500, NAPP, age=NA, gender=NA, race="[Unknown]"),
        row("TCGA-AA-0003", "Dead", 100, NAPP),  # dead, no death day
        row("TCGA-AA-0004", "Alive", 200, 150),  # alive with a death day
        row("TCGA-AA-0005", "Dead", NA, -20),  # negative time
        row("TCGA-AA-0006", "Zombie", 80, NAPP),  # unknown vital status
        row("TCGA-AA-0007", "Alive", "soon", NAPP),  # not a number
        row("TCGA-AA-0008", "Dead", 400, 300),  # contact after death
        row("TCGA-AA-0009", "Dead", NA, 90),
        row("TCGA-AA-0009", "Dead", NA, 95),  # duplicated barcode
        row("TCGA-AA-0010", NA, 80, NAPP),  # vital status missing
        row("TCGA-AA-0011", "Alive", NA, NAPP, race="[Not Evaluated]"),  # no follow-up
    ]
    with caplog.at_level(logging.WARNING, logger="radiogenomics.data.clinical"):
        data = read_clinical(write_bcr(tmp_path / "clinical.txt", rows))
    p = data.patients
    assert len(p) == 11  # nothing dropped: one row per patient
    good = ["TCGA-AA-0001", "TCGA-AA-0002"]
    assert p.loc[good, "os_time"].tolist() == [300, 500]
    assert p.loc[good, "os_event"].tolist() == [1, 0]
    assert p.loc["TCGA-AA-0002", ["age", "gender", "race"]].isna().all()
    bad = [f"TCGA-AA-{i:04d}" for i in range(3, 12)]
    assert p.loc[bad, "os_time"].isna().all() and p.loc[bad, "os_event"].isna().all()
    assert p.loc[bad, "os_issue"].notna().all() and p.loc[good, "os_issue"].isna().all()
    assert set(data.issues["patient_id"]) == set(bad)
    problems = dict(zip(data.issues["patient_id"], data.issues["problem"], strict=False))
    assert problems["TCGA-AA-0003"] == "dead without a death day"
    assert problems["TCGA-AA-0004"] == "alive with a death day"
    assert problems["TCGA-AA-0005"] == "negative number of days"
    assert problems["TCGA-AA-0006"] == "unknown vital status"
    assert problems["TCGA-AA-0007"] == "not a number of days"
    assert problems["TCGA-AA-0008"] == "last contact after death"
    assert problems["TCGA-AA-0009"] == "barcode occurs in 2 rows"
    assert problems["TCGA-AA-0011"] == "alive without a last contact day"
    assert p.loc["TCGA-AA-0009", "os_issue"] == "barcode occurs in 2 rows"
    logged = caplog.text
    assert all(b in logged for b in bad) and "TCGA-AA-0001" not in logged


def test_progression_free_survival_when_new_tumour_days_exist(tmp_path):
    header = [*HEADER, "new_tumor_event_dx_days_to"]
    rows = [
        [*row("TCGA-AA-0001", "Dead", NA, 300), 120],  # progressed, then died
        [*row("TCGA-AA-0002", "Alive", 500, NAPP), NA],  # censored
        [*row("TCGA-AA-0003", "Dead", NA, 200), NA],  # death counts as progression
        [*row("TCGA-AA-0004", "Alive", 100, NAPP), 400],  # after last contact
    ]
    p = read_clinical(write_bcr(tmp_path / "c.txt", rows, header, descriptors=False)).patients
    assert p["pfs_time"].tolist()[:3] == [120, 500, 200]
    assert p["pfs_event"].tolist()[:3] == [1, 0, 1]
    assert np.isnan(p.loc["TCGA-AA-0004", "pfs_time"])
    assert p.loc["TCGA-AA-0004", "pfs_issue"] == "new tumour event after death/last contact"
    assert p.loc["TCGA-AA-0004", "os_time"] == 100  # OS unaffected


def test_missing_column_and_file_name_them(tmp_path):
    header = [c for c in HEADER if c != "death_days_to"]
    path = write_bcr(
        tmp_path / "c.txt",
        [["u", "TCGA-AA-0001", "MALE", "WHITE", "Dead", 1, 60]],
        header,
        descriptors=False,
    )
    with pytest.raises(DataError, match=r"c\.txt: no column 'death_days_to'"):
        read_clinical(path)
    with pytest.raises(DataError, match=r"absent\.txt: file not found"):
        read_clinical(tmp_path / "absent.txt")
