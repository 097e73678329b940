"""Every bad input gets a DataError naming the file and the offending value, before training.

One row of CASES per case listed in the real-data issue (plus a few more the readers catch).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from radiogenomics.data.cohort import load_cohort, trait_cohort
from radiogenomics.data.genesets import index_gene_sets
from radiogenomics.data.io import read_expression, read_label_table
from radiogenomics.data.traits import TraitSpec
from radiogenomics.errors import DataError
from radiogenomics.tasks import run

from ..conftest import CONFIGS, ROOT

PATIENTS = [f"TCGA-02-{i:04d}" for i in range(1, 13)]
GENES = ["EGFR", "PDGFRA", "NF1", "IDH1", "PTEN"]
ENHANCEMENT = TraitSpec.from_config(
    {
        "name": "enhancement",
        "column": "f5.proportion.enhancing",
        "classes": [
            {"name": "low", "values": ["Minimal", "Less than 1/3"]},
            {"name": "high", "values": ["Between 1/3 and 2/3", "More than 2/3"]},
        ],
        "drop": ["n/a", "indeterminate", ""],
        "positive_class": "high",
    }
)
GOOD_LABELS = ["Minimal", "More than 2/3"] * 6


def expression_file(tmp: Path, text: str | None = None, name: str = "expr.tsv", **edits) -> Path:
    """A valid patients x genes TSV, or ``text`` verbatim; ``edits`` = {(row, col): value}."""
    path = tmp / name
    if text is None:
        rng = np.random.default_rng(0)
        df = pd.DataFrame(rng.normal(size=(12, 5)).round(3), index=PATIENTS, columns=GENES)
        df = df.astype(object)
        for (r, c), value in edits.get("cells", {}).items():
            df.iat[r, c] = value
        if "index" in edits:
            df.index = edits["index"]
        text = df.to_csv(sep="\t")
    path.write_text(text)
    return path


def labels_file(tmp: Path, values=GOOD_LABELS, index=PATIENTS, column=ENHANCEMENT.column) -> Path:
    path = tmp / "vasari.csv"
    pd.DataFrame({column: values}, index=index).to_csv(path)
    return path


def cohort_case(tmp: Path, n_folds: int = 3, **label_kw) -> None:
    data = {
        "expression_file": str(expression_file(tmp)),
        "traits_file": str(labels_file(tmp, **label_kw)),
    }
    trait_cohort(load_cohort(data, tmp), ENHANCEMENT, n_folds=n_folds)


def id_in_second_column(tmp: Path) -> None:
    """A label table whose first column is a study id; the barcodes come second."""
    path = tmp / "vasari.csv"
    frame = pd.DataFrame(
        {
            "study": [f"S{i}" for i in range(12)],
            "barcode": PATIENTS,
            ENHANCEMENT.column: GOOD_LABELS,
        }
    )
    frame.to_csv(path, index=False)
    data = {"expression_file": str(expression_file(tmp)), "traits_file": str(path)}
    trait_cohort(load_cohort(data, tmp), ENHANCEMENT, n_folds=3)


def expr(tmp: Path, orientation: str = "auto", **kw) -> None:
    read_expression(expression_file(tmp, **kw), orientation=orientation)


CASES = {
    "empty file": (lambda t: expr(t, text=""), r"expr\.tsv: file is empty"),
    "only blank lines": (lambda t: expr(t, text="\n \n\n"), r"expr\.tsv: file is empty"),
    "file not found": (lambda t: read_expression(t / "nope.tsv"), r"nope\.tsv: file not found"),
    "wrong delimiter": (
        lambda t: expr(t, text="id;EGFR;NF1\nTCGA-02-0001;1.0;2.0\n"),
        r"expr\.tsv: line 1 has no tab or comma.*';'-separated",
    ),
    "ragged row": (
        lambda t: expr(t, text="id\tEGFR\tNF1\nTCGA-02-0001\t1\t2\nTCGA-02-0002\t1\n"),
        r"expr\.tsv: line 3 \(id 'TCGA-02-0002'\) has 2 fields; expected 3",
    ),
    "non-numeric expression cell": (
        lambda t: expr(t, cells={(3, 2): "high"}),
        r"expr\.tsv: non-numeric value 'high' at line 5, row 'TCGA-02-0004', column 'NF1'",
    ),
    "decimal comma": (
        lambda t: expr(t, cells={(0, 0): "1,5"}),
        r"non-numeric value '1,5' at line 2, row 'TCGA-02-0001', column 'EGFR'",
    ),
    "missing expression value": (
        lambda t: expr(t, cells={(2, 4): "NA"}),
        r"expr\.tsv: missing value at patient 'TCGA-02-0003', gene 'PTEN'.*data\.impute=gene_mean",
    ),
    "infinite expression value": (
        lambda t: expr(t, cells={(5, 1): "inf"}),
        r"expr\.tsv: infinite value inf at patient 'TCGA-02-0006', gene 'PDGFRA'",
    ),
    "duplicate patient ids in expression": (
        lambda t: expr(t, index=[*PATIENTS[:11], PATIENTS[0] + "-02A"]),
        r"expr\.tsv: patient id 'TCGA-02-0001' occurs more than once "
        r"\(\['TCGA-02-0001', 'TCGA-02-0001-02A'\]\)",
    ),
    "empty label file": (
        lambda t: read_label_table(expression_file(t, text="\n", name="labels.csv")),
        r"labels\.csv: file is empty",
    ),
    "label table without trait columns": (
        lambda t: read_label_table(expression_file(t, text="id\nTCGA-02-0001\n", name="l.tsv")),
        r"l\.tsv: line 1 has no tab or comma",
    ),
    "duplicate patient ids in labels": (
        lambda t: read_label_table(labels_file(t, index=[*PATIENTS[:11], PATIENTS[3]])),
        r"vasari\.csv: patient id 'TCGA-02-0004' occurs more than once.*one label row",
    ),
    "orientation cannot be determined": (  # neither barcodes nor gene symbols on either axis
        lambda t: expr(t, text="id\tx1\tx2\ns1\t1\t2\ns2\t3\t4\n"),
        r"expr\.tsv: cannot tell whether rows or columns are samples.*data\.orientation=",
    ),
    "unknown orientation": (
        lambda t: expr(t, orientation="rows"),
        r"data\.orientation='rows': expected one of",
    ),
    "no shared patient": (
        lambda t: cohort_case(t, index=[f"TCGA-99-{i:04d}" for i in range(12)]),
        r"no patient has both expression \(.*expr\.tsv\) and a 'enhancement' label",
    ),
    "label ids without the TCGA- prefix": (
        lambda t: cohort_case(t, index=[p.removeprefix("TCGA-") for p in PATIENTS]),
        r"no patient has both expression .*label ids look like TCGA barcodes without the "
        r"'TCGA-' prefix",
    ),
    "patient ids in a later label column": (
        lambda t: id_in_second_column(t),
        r"no patient has both expression .*Column 'barcode' holds expression ids: the patient "
        r"id must be the first column of a label table",
    ),
    "every label value dropped": (
        lambda t: cohort_case(t, values=["n/a"] * 12),
        r"vasari\.csv: every value of column 'f5\.proportion\.enhancing' is in the drop list "
        r"of trait 'enhancement' \(\{'n/a': 12\}\)",
    ),
    "trait column missing": (
        lambda t: cohort_case(t, column="f5.enhancing"),
        r"vasari\.csv: trait 'enhancement' needs column 'f5\.proportion\.enhancing', which is "
        r"missing; columns present: \['f5\.enhancing'\]",
    ),
    "category not in mapping": (
        lambda t: cohort_case(t, values=[*GOOD_LABELS[:11], "Most"]),
        r"vasari\.csv: column 'f5\.proportion\.enhancing' has value\(s\) not in the mapping.*"
        r"TCGA-02-0012: 'Most'.*Allowed values: \['Minimal', 'Less than 1/3', "
        r"'Between 1/3 and 2/3', 'More than 2/3', 'n/a', 'indeterminate', ''\]",
    ),
    "class smaller than n_folds": (
        lambda t: cohort_case(t, n_folds=5, values=["Minimal"] * 9 + ["More than 2/3"] * 3),
        r"vasari\.csv: trait 'enhancement' has class\(es\) \{'high': 3\} with fewer patients "
        r"than n_folds=5",
    ),
    "one class left after dropping n/a": (
        lambda t: cohort_case(t, values=["Minimal"] * 8 + ["n/a"] * 4),
        r"vasari\.csv: trait 'enhancement' has only class 'low' left after dropping \{'n/a': 4\}",
    ),
    "gene-set file with zero genes on the array": (
        lambda t: index_gene_sets({"SET_A": ["FOO1", "BAR2"]}, GENES, collection="custom.gmt"),
        r"gene-set file custom\.gmt has zero genes on the array",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gets_a_specific_error(case, tmp_path):
    make, message = CASES[case]
    expected = ValueError if case.startswith("gene-set") else DataError
    with pytest.raises(expected, match=message):
        make(tmp_path)


def test_run_exits_cleanly_and_writes_no_metrics(cache_dir, tmp_path):
    """A data error ends the job with status 2 before training: no metrics.json, no checkpoint."""
    bad = expression_file(tmp_path, cells={(0, 0): "oops"})
    out = tmp_path / "job"
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=["data=tcga_gbm", "logger=none"])
    with open_dict(cfg):
        cfg.paths.cache_dir, cfg.paths.output_dir = str(cache_dir), str(out)
        cfg.data.expression_file = str(bad)
        cfg.data.traits_file = str(labels_file(tmp_path))
    with pytest.raises(SystemExit) as exit_info:
        run(cfg)
    assert exit_info.value.code == 2
    assert not (out / "metrics.json").exists() and not (out / "checkpoints").exists()


@pytest.mark.slow  # a Python start-up with torch and Lightning imports: ~10-20 s
def test_train_py_prints_the_message_without_a_traceback(cache_dir, tmp_path):
    labels = labels_file(tmp_path, values=[*GOOD_LABELS[:11], "Most"])
    cmd = [
        sys.executable,
        "train.py",
        "data=tcga_gbm",
        "logger=none",
        f"data.expression_file={expression_file(tmp_path)}",
        f"data.traits_file={labels}",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(cache_dir)}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output[-2000:]
    assert "Traceback" not in output
    assert "'Most'" in output and "Allowed values" in output
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_good_files_report_what_was_kept_and_dropped(tmp_path):
    values = ["Minimal", "More than 2/3", "n/a", "Less than 1/3"] * 3
    index = [*PATIENTS[:11], "TCGA-77-0001"]  # one labelled patient without expression
    data = {
        "expression_file": str(expression_file(tmp_path)),
        "traits_file": str(labels_file(tmp_path, values=values, index=index)),
    }
    tc = trait_cohort(load_cohort(data, tmp_path), ENHANCEMENT, n_folds=2)
    report = json.loads(json.dumps(tc.report))  # JSON-serialisable, as cohort.json
    assert report["n_patients"] == 8 and report["class_counts"] == {"low": 5, "high": 3}
    assert report["dropped_values"] == {"n/a": 3}
    assert report["patients_dropped"]["label but no expression profile"] == 1
    assert report["patients_without_expression"] == ["TCGA-77-0001"]
    assert report["patients"] == {"expression": 12, "trait_cohort": 8, "pretrain_cohort": 1}
    assert report["data"]["expression"]["n_genes_kept"] == 5


def test_separate_pretraining_file_extends_the_autoencoder_cohort(tmp_path):
    extra_dir = tmp_path / "extra"
    extra_dir.mkdir()
    rng = np.random.default_rng(1)
    extra_ids = [PATIENTS[0], "TCGA-06-0001", "TCGA-06-0002"]  # one overlaps the main file
    extra = pd.DataFrame(rng.normal(size=(5, 3)), index=[*GENES[1:], "MGMT"], columns=extra_ids)
    extra.to_csv(extra_dir / "more.csv")
    data = {
        "expression_file": str(expression_file(tmp_path)),
        "traits_file": str(labels_file(tmp_path)),
        "pretrain_expression_file": str(extra_dir / "more.csv"),
    }
    cohort = load_cohort(data, tmp_path)
    assert cohort.genes == GENES[1:]  # genes both files hold
    assert cohort.pretrain_patients == ["TCGA-06-0001", "TCGA-06-0002"]
    assert cohort.report["pretrain_expression"]["patients_already_in_expression_file"] == 1
    assert cohort.report["n_pretrain_patients"] == 2
