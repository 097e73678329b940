"""Issue 17 through the real entry points on a small cohort (slow: `pytest -m slow`).

A sweep holds the real jobs and K = 4 permutation-null replicates (`null_permutation=range(0,4)`);
the summary keeps the nulls out of the CV table and writes the null tables; `scripts/trust.py`
runs the sanity check (the fully randomized network's ranking no longer matches), the method
agreement, and stability selection over bootstrap replicates. The planted driver (edema: EMT)
tops the masking null.
"""

import json
import os
import sys

import pandas as pd
import pytest

from radiogenomics.results import layout

from ..conftest import TINY
from ..helpers.commands import run_ok

pytestmark = pytest.mark.slow

EMT = "HALLMARK_EPITHELIAL_MESENCHYMAL_TRANSITION"
SMALL = [o for o in TINY if "n_annotated" not in o and "n_pretrain" not in o] + [
    "data.synthetic.n_annotated=120",
    "data.synthetic.n_pretrain=80",
    "n_folds=3",
    "trait=edema",
    "+interpret=[masking,saliency]",
    "interpret.saliency.gsea_patients=false",
    "interpret.masking.n_random=50",
    "interpret.masking.collections=[hallmark]",
]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A real sweep and its 4 null replicates in one sweep dir, summarized."""
    base = tmp_path_factory.mktemp("imp_null")
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(base / "cache")}
    path = base / "sweep"
    run_ok([sys.executable, "train.py", "-m", *SMALL, f"hydra.sweep.dir={path}"], env)
    run_ok([sys.executable, "train.py", "-m", *SMALL, "null_permutation=range(0,4)",
          "interpret.saliency.gsea=false", "interpret.masking.n_random=0",
          f"hydra.sweep.dir={path}"], env)  # fmt: skip
    return path, env


def test_null_tables_and_summary(sweep):
    path, _ = sweep
    summary = layout.summary_dir(path)
    assert len(pd.read_csv(summary / layout.CV_SUMMARY)) == 1  # nulls are not configurations
    models = pd.read_csv(summary / layout.IMPORTANCE_NULL_MODELS)
    assert sorted(models["null_permutation"]) == [0, 1, 2, 3]
    sets = pd.read_csv(summary / layout.IMPORTANCE_NULL_SETS)
    masking = sets[sets["importance"] == "masking_auroc"].set_index("set")
    assert masking["observed"].idxmax() == EMT and (masking["n_null"] == 4).all()
    assert set(sets["importance"]) == {"masking_auroc", "saliency_nes"}
    genes = pd.read_csv(summary / layout.IMPORTANCE_NULL_GENES)
    assert {"saliency_mean", "saliency_mean_abs", "masking_auroc"} <= set(genes["importance"])
    report = json.loads((summary / layout.IMPORTANCE_NULL_JSON).read_text())
    assert report["configurations"][0]["n_null"] == 4
    assert (summary / layout.MASKING_CONTROL_FIT).exists()


def test_sanity_and_agreement_scripts(sweep):
    path, env = sweep
    run_ok([sys.executable, "scripts/trust.py", "sanity", str(path)], env)
    table = pd.read_csv(layout.summary_dir(path) / layout.SANITY_TABLE)
    full = table[(table["kind"] == "cascading") & (table["step"] == "all")]
    assert full["spearman_abs"].abs().mean() < 0.2
    run_ok([sys.executable, "scripts/trust.py", "agreement", str(path)], env)
    agreement = pd.read_csv(layout.summary_dir(path) / layout.AGREEMENT_GENES)
    assert len(agreement) == 10  # 4 attribution methods and masking, pairwise


def test_stability_selection_over_bootstrap_replicates(tmp_path_factory):
    base = tmp_path_factory.mktemp("stab")
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(base / "cache")}
    path = base / "boot"
    run_ok([sys.executable, "train.py", "-m", *SMALL, "bootstrap=range(0,4)",
          "interpret.saliency.gsea=false", f"hydra.sweep.dir={path}"], env)  # fmt: skip
    run_ok([sys.executable, "scripts/trust.py", "stability", str(path), "--threshold", "0.75"], env)
    table = pd.read_csv(layout.summary_dir(path) / layout.STABILITY_SELECTION)
    masking = table[table["importance"] == "masking_auroc"].set_index("item")
    assert masking.loc[EMT, "frequency"] >= 0.75
