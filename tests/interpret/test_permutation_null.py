"""Issue 17: the pooled-tail permutation p, its checks, the size-aware importances (discrimination
slope, attribution share) and the one-option null sweep (`+interpret=[...,permutation_null]`)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.types import RunMode

from radiogenomics.hydra_resolvers import job_dirname, null_ids
from radiogenomics.interpret.importance_null import (
    add_qvalues,
    null_checks,
    permutation_p,
    standardized_nulls,
)
from radiogenomics.interpret.masking import score_masked
from radiogenomics.results import layout
from radiogenomics.results.sweep import planned_jobs
from radiogenomics.summaries.importance_null import attribution_share
from radiogenomics.tasks.finetune import null_job_config
from radiogenomics.tasks.jobs import config_hash

from ..conftest import CONFIGS, ROOT


def _heterogeneous_nulls(rng, k: int, items: int) -> tuple[np.ndarray, np.ndarray]:
    """(K x items nulls, locations): every item its own location and scale, one shape."""
    loc = rng.uniform(-3, 3, items)
    scale = rng.uniform(0.05, 2.0, items)
    return loc + scale * rng.standard_normal((k, items)), (loc, scale)


def test_pooled_tail_resolves_below_one_over_k_for_a_real_signal_only():
    rng = np.random.default_rng(0)
    null, (loc, scale) = _heterogeneous_nulls(rng, 20, 50)
    observed = loc + scale * rng.standard_normal(50)
    observed[:3] = loc[:3] + 8 * scale[:3]  # three drivers, 8 null sds out (any scale)
    table = add_qvalues(permutation_p(observed, null))
    assert table.loc[:2, "empirical_p"].tolist() == pytest.approx([1 / 21] * 3)  # the exact floor
    assert (table.loc[:2, "tail_p"] < 1e-3).all() and (table.loc[:2, "q"] < 0.05).all()
    assert table["significant"].sum() == 3
    two = permutation_p(-np.abs(observed), null, two_sided=True)  # two-sided compares sizes
    sizes = permutation_p(np.abs(observed), np.abs(null))
    assert two["tail_p"].tolist() == sizes["tail_p"].tolist() and two.loc[0, "tail_p"] < 1e-3


def test_pooled_tail_is_calibrated_when_items_differ_in_location_and_scale():
    rng = np.random.default_rng(1)
    draws, _ = _heterogeneous_nulls(rng, 21, 3000)  # observed (row 0) exchangeable with 20 nulls
    table = add_qvalues(permutation_p(draws[0], draws[1:]))
    for column in ("tail_p", "empirical_p"):
        assert (table[column] < 0.05).mean() == pytest.approx(0.05, abs=0.015)
    assert (table["tail_p"] < 0.001).mean() < 0.003
    assert table["significant"].sum() <= 2
    checks = null_checks(draws[1:], two_sided=False)
    assert checks["shape_ks_below_0.05"] < 0.1 and checks["gpd_ks_p"] > 0.01
    assert checks["calibration"]["share_with_any"] <= 0.15  # FDR 0.05 under the complete null
    assert checks["tail_ok"] and not checks["problems"]


def test_checks_reject_the_pooled_tail_when_a_replicate_scales_every_item():
    """A per-network gain shared by all items (e.g. single-gene masking slopes of a network with
    larger weights) breaks the pooling: one null replicate scored as real 'finds' nearly every
    item. The checks must see it, so that the summary falls back to the exact empirical q."""
    rng = np.random.default_rng(0)
    gain = np.exp(rng.normal(0, 1, 20))
    null = gain[:, None] * np.abs(rng.normal(1, 0.1, (20, 500)))
    checks = null_checks(null, two_sided=False)
    assert not checks["tail_ok"] and checks["problems"]
    assert max(checks["calibration"]["false_discoveries"]) > 100


def test_standardized_nulls_leave_each_value_out():
    null = np.array([[0.0], [1.0], [2.0], [10.0]])
    z = standardized_nulls(null)[:, 0]
    others = np.array([0.0, 1.0, 2.0])
    assert z[3] == pytest.approx((10 - others.mean()) / others.std(ddof=1))
    assert np.isnan(standardized_nulls(null[:2])).all()  # K < 3: no leave-one-out sd


def test_null_checks_flag_items_whose_null_shape_differs():
    rng = np.random.default_rng(2)
    null = rng.standard_normal((40, 200))
    null[:, :100] = rng.choice([-3.0, 3.0], (40, 100)) + 0.1 * rng.standard_normal((40, 100))
    assert null_checks(null, two_sided=False)["shape_ks_below_0.05"] > 0.3  # bimodal half


def test_discrimination_slope_sees_size_where_auroc_sees_order():
    y = np.array([0, 0, 0, 1, 1, 1])
    strong = np.array([0.1, 0.2, 0.1, 0.9, 0.8, 0.9])
    weak = 0.5 + (strong - 0.5) / 100  # the same order, 100x smaller effect on the output
    scores = score_masked(np.stack([strong, weak]), y, ["low", "high"])
    assert scores["auroc"].tolist() == [1.0, 1.0]
    assert scores.loc[0, "slope"] == pytest.approx(0.9 * 3 / 3 - 0.1 * 1, abs=0.1)
    assert scores.loc[0, "slope"] == pytest.approx(100 * scores.loc[1, "slope"])
    three = np.stack([np.eye(3)[[0, 1, 2, 0, 1, 2]] * 0.8 + 0.2 / 3])  # 1 item x 6 patients x 3
    multi = score_masked(three, np.array([0, 1, 2, 0, 1, 2]), ["a", "b", "c"])
    assert multi.loc[0, "slope"] == pytest.approx(0.8)
    assert {"slope_a", "slope_b", "slope_c"} <= set(multi.columns)


def test_attribution_share_is_relative_to_the_average_gene():
    mean_abs = pd.Series([4.0, 4.0, 1.0, 1.0, 0.0], index=["A", "b", "C", "D", "E"])
    share = attribution_share(mean_abs, {"S": ["A", "B"], "T": ["C", "X"]})
    assert share["S"] == pytest.approx(4 / 2.0) and share["T"] == pytest.approx(1 / 2.0)


# --- the one-option null sweep -------------------------------------------------------------


def _multirun(overrides: list[str]):
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        hydra = GlobalHydra.instance().hydra
        assert hydra is not None
        return hydra.compose_config("train", overrides, run_mode=RunMode.MULTIRUN)


def test_permutation_null_option_plans_real_and_null_jobs_per_fold():
    cfg = _multirun(
        [
            "n_folds=3",
            "+interpret=[saliency,permutation_null]",
            "interpret.permutation_null.n_permutations=2",
        ]
    )
    jobs = planned_jobs(cfg)
    assert len(jobs) == 3 * 3  # per fold: the real job and 2 nulls
    ids = sorted({o for job in jobs for o in job if o.startswith("null_permutation=")})
    assert ids == ["null_permutation=0", "null_permutation=1", "null_permutation=null"]
    assert null_ids(0) == "null" and null_ids(3) == "null,0,1,2"


def test_a_bad_number_of_nulls_stops_the_sweep_with_its_message_alone(tmp_path):
    cmd = [
        sys.executable,
        "train.py",
        "-m",
        "trait=enhancement",
        "logger=none",
        "+interpret=[saliency,permutation_null]",
        "interpret.permutation_null.n_permutations=-1",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output[-2000:]
    assert "Traceback" not in output
    assert "n_permutations=-1: expected an integer >= 0" in output
    assert not (tmp_path / "sweep").exists()


def test_real_jobs_keep_their_dir_and_hash_with_the_null_option(make_cfg):
    name = "+interpret=[masking,saliency,permutation_null],fold=0,null_permutation=null,trait=edema"
    assert job_dirname(name) == "+interpret=[masking,saliency],fold=0,trait=edema"
    null = "+interpret=[saliency,permutation_null],interpret.permutation_null.n_permutations=5,null_permutation=3"
    assert job_dirname(null) == "+interpret=[saliency],null_permutation=3"
    plain = make_cfg("+interpret=[masking,saliency]")
    with_null = make_cfg("+interpret=[masking,saliency,permutation_null]")
    assert config_hash(plain) == config_hash(with_null)
    cheap = null_job_config(with_null)
    assert cheap.interpret.masking.n_random == 0 and cheap.interpret.saliency.gsea_patients is False
    assert with_null.interpret.masking.n_random > 0  # the real job's config is untouched


@pytest.mark.slow  # ~20-50 s: a 9-job sweep and its summary
def test_permutation_null_of_a_comparator_runs_end_to_end(tmp_path, cache_dir):
    """+interpret=permutation_null with a comparator (logit_l2): its null jobs retrain the
    comparator (inner-CV tuning included) on permuted training labels, the summary keeps them out
    of cv_summary.csv and tests the comparator's masking importances against them."""
    sweep = tmp_path / "sweep"
    job = ["debug=tiny", "trait=enhancement", "model=logit_l2", "n_folds=3", "logger=none"]
    interpret = ["+interpret=[masking,permutation_null]"]
    interpret += ["interpret.permutation_null.n_permutations=2", "interpret.masking.n_random=20"]
    interpret += ["interpret.masking.collections=[verhaak]", "interpret.masking.single_genes=false"]
    out = ["save_model=false", f"hydra.sweep.dir={sweep}"]
    cmd = [sys.executable, "train.py", "-m", *job, *interpret, *out]
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(cache_dir)}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    summary = sweep / layout.SUMMARY_DIR
    cv = pd.read_csv(summary / layout.CV_SUMMARY)
    assert list(cv["model"]) == ["logit_l2"] and cv["n_jobs"].tolist() == [3]  # real jobs only
    nulls = pd.read_csv(summary / layout.IMPORTANCE_NULL_MODELS)
    assert sorted(nulls["null_permutation"]) == [0, 1] and (nulls["model"] == "logit_l2").all()
    assert (nulls["n_jobs"] == 3).all()
    real = float(cv["pooled_auroc"].iloc[0])
    assert real > 0.75 and (nulls["pooled_auroc"] < real - 0.15).all()  # labels were permuted
    sets = pd.read_csv(summary / layout.IMPORTANCE_NULL_SETS)
    scored = sets[(sets["model"] == "logit_l2") & (sets["importance"] == "masking_auroc")]
    assert len(scored) and (scored["n_null"] == 2).all() and scored["observed"].notna().all()
