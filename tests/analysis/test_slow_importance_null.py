"""Issue 17 through the real entry points on a small cohort (slow: `pytest -m slow`).

A sweep holds the real jobs and, added to it later by `+interpret=[...,permutation_null]`, K = 4
permutation-null replicates (the real jobs are found finished and kept);
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
    real_jobs = sorted(p.name for p in path.iterdir() if (p / layout.METRICS).exists())
    stamps = [(path / j / layout.METRICS).stat().st_mtime_ns for j in real_jobs]
    with_null = [o.replace("saliency]", "saliency,permutation_null]") for o in SMALL]
    run_ok(
        [
            sys.executable,
            "train.py",
            "-m",
            *with_null,
            "interpret.permutation_null.n_permutations=4",
            f"hydra.sweep.dir={path}",
        ],
        env,
    )
    # the real jobs kept their dirs and were not retrained; each fold got 4 null jobs
    assert [(path / j / layout.METRICS).stat().st_mtime_ns for j in real_jobs] == stamps
    jobs = [p for p in path.iterdir() if (p / layout.METRICS).exists()]
    assert len(jobs) == len(real_jobs) * 5
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
    assert set(sets["importance"]) == {
        "masking_auroc",
        "masking_slope",
        "saliency_nes",
        "saliency_nes_abs",
        "saliency_share",
    }
    slope = sets[sets["importance"] == "masking_slope"].set_index("set")
    assert slope["observed"].idxmax() == EMT
    genes = pd.read_csv(summary / layout.IMPORTANCE_NULL_GENES)
    assert {"saliency_mean", "saliency_mean_abs", "masking_auroc", "masking_slope"} <= set(
        genes["importance"]
    )
    report = json.loads((summary / layout.IMPORTANCE_NULL_JSON).read_text())
    config = report["configurations"][0]
    assert config["n_null"] == 4
    assert config["pooled_auroc"] > 0.5 and 1 / 5 <= config["pooled_auroc_empirical_p"] <= 1
    assert config["checks"]["set/masking_slope/high/hallmark"]["checked"]
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
    run_ok(
        [
            sys.executable,
            "train.py",
            "-m",
            *SMALL,
            "bootstrap=range(0,4)",
            "interpret.saliency.gsea=false",
            f"hydra.sweep.dir={path}",
        ],
        env,
    )
    run_ok([sys.executable, "scripts/trust.py", "stability", str(path), "--threshold", "0.75"], env)
    table = pd.read_csv(layout.summary_dir(path) / layout.STABILITY_SELECTION)
    masking = table[table["importance"] == "masking_auroc"].set_index("item")
    assert masking.loc[EMT, "frequency"] >= 0.75
