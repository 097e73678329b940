"""Null controls through the whole pipeline on a small cohort (slow: `pytest -m slow`).

A sweep with real labels and its permuted twin run CV, masking, saliency + GSEA and survival
through the real entry points; the planted (edema, EMT) pair is found in the real sweep and the
twin stays within what false-discovery-rate control allows.
"""

import json
import os
import sys

import pandas as pd
import pytest

from radiogenomics.analysis.null_controls import null_report

from ..conftest import TINY
from ..helpers.commands import run_ok

pytestmark = pytest.mark.slow

EMT = "HALLMARK_EPITHELIAL_MESENCHYMAL_TRANSITION"
SMALL = [o for o in TINY if "n_annotated" not in o and "n_pretrain" not in o] + [
    "data.synthetic.n_annotated=175",  # enough held-out patients for GSEA and survival
    "data.synthetic.n_pretrain=120",
    "n_folds=3",
    "trait=edema",
    "+interpret=[masking,saliency]",
    "interpret.saliency.method=input_x_gradient",
    "interpret.saliency.n_jobs=2",
    "interpret.masking.single_genes=false",
    "interpret.masking.collections=[hallmark]",
]


@pytest.fixture(scope="module")
def twins(tmp_path_factory):
    """(real sweep, permuted twin), each summarized and run through survival.py."""
    base = tmp_path_factory.mktemp("null")
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(base / "cache")}
    dirs = []
    for name, extra in (("real", []), ("permuted", ["trait.permute_labels=true"])):
        sweep = base / name
        run_ok([sys.executable, "train.py", "-m", *SMALL, *extra, f"hydra.sweep.dir={sweep}"], env)
        run_ok([sys.executable, "scripts/survival.py", str(sweep)], env)
        dirs.append(sweep)
    return dirs


def test_planted_association_and_survival_are_found(twins):
    real, _ = twins
    assoc = pd.read_csv(real / "summary" / "associations.csv").set_index("set")
    assert bool(assoc.loc[EMT, "association"])
    assert assoc.loc[EMT, "class_auc"] > 0.75
    cohort = json.loads(next(real.glob("*/cohort.json")).read_text())
    assert cohort["clinical_file"].endswith("clinical_patient.txt")  # the synthetic table
    survival = pd.read_csv(real / "summary" / "survival" / "survival.csv").set_index("set")
    assert survival.loc[EMT, "status"] == "tested"
    assert survival.loc[EMT, "logrank_q"] < 0.05 and survival.loc[EMT, "hr"] > 1


def test_permuted_twin_stays_within_fdr_control(twins):
    table = null_report(*twins).set_index("stage")
    assert table.loc["associations", "n_found_real"] >= 1
    judged = table["within_fdr"].dropna()
    assert judged.astype(bool).all(), table.to_string()
    assert table.loc["auroc", "n_found_permuted"] == 0
