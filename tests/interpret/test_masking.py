"""Gene masking: equivalence with a naive loop, scores, controls, callback and sweep pooling."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from radiogenomics.callbacks.masking import matrix_from_frame, probs_frame
from radiogenomics.evaluation.multitest import bh_qvalues
from radiogenomics.interpret.masking import (
    auroc_rows,
    average_precision_rows,
    empirical_p,
    mask_gene_sets,
    mask_single_genes,
    random_gene_sets,
    score_masked,
)
from radiogenomics.models.classifier import ClassifierModule
from radiogenomics.reporting.summary import summarize
from radiogenomics.tasks import run

from ..conftest import ROOT

N_GENES = 60


def small_network(n_classes: int, seed: int = 0) -> ClassifierModule:
    """Three blocks with BatchNorm (non-trivial running statistics) and dropout, in eval mode."""
    torch.manual_seed(seed)
    net = ClassifierModule(N_GENES, n_classes, [16, 12, 8], dropout=0.3, input_dropout=0.2)
    for block in net.blocks:
        block.norm.running_mean.normal_()
        block.norm.running_var.uniform_(0.5, 2.0)
        block.norm.weight.data.uniform_(0.5, 1.5)
        block.norm.bias.data.normal_()
    return net.eval()


def naive_masking(net: ClassifierModule, x: torch.Tensor, sets: list[np.ndarray]) -> np.ndarray:
    """The definition: for each set and patient, zero every other gene and run the network."""
    out = []
    with torch.no_grad():
        for genes in sets:
            rows = []
            for patient in x:
                masked = torch.zeros_like(patient)
                masked[genes] = patient[genes]
                rows.append(net.probabilities(net(masked[None]))[0].numpy())
            out.append(np.stack(rows))
    return np.stack(out)


@pytest.mark.parametrize("n_classes", [2, 4])
def test_set_masking_equals_naive_loop(n_classes):
    net = small_network(n_classes)
    x = torch.randn(9, N_GENES)
    rng = np.random.default_rng(0)
    sets = [np.sort(rng.choice(N_GENES, s, replace=False)) for s in (1, 4, 17, 4, 30, N_GENES)]
    expected = naive_masking(net, x, sets)
    for batch_size in (7, 50, 10_000):  # chunks smaller than a set, mixed, everything at once
        got = mask_gene_sets(net, x, sets, batch_size=batch_size)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-6)
    assert net.training is False


@pytest.mark.parametrize("n_classes", [2, 3])
def test_single_genes_equal_size_one_sets_and_naive_loop(n_classes):
    net = small_network(n_classes, seed=1)
    x = np.random.default_rng(1).standard_normal((11, N_GENES)).astype(np.float32)
    singles = mask_single_genes(net, x, batch_size=23)
    as_sets = mask_gene_sets(net, x, [np.array([g]) for g in range(N_GENES)])
    np.testing.assert_allclose(singles, as_sets, atol=1e-6)
    np.testing.assert_allclose(
        singles[:5], naive_masking(net, torch.from_numpy(x), [[g] for g in range(5)]), atol=1e-6
    )
    subset = mask_single_genes(net, x, genes=[3, 7])
    np.testing.assert_allclose(subset, singles[[3, 7]], atol=1e-7)


def test_masking_refuses_train_mode():
    net = small_network(2).train()
    with pytest.raises(ValueError, match="eval mode"):
        mask_single_genes(net, torch.randn(3, N_GENES))


def test_vectorised_scores_match_sklearn_with_ties():
    rng = np.random.default_rng(0)
    scores = rng.random((40, 15)).round(1)  # many ties
    y = np.array([0, 1] * 7 + [1])
    auc, ap = auroc_rows(scores, y == 1), average_precision_rows(scores, y == 1)
    for i in range(len(scores)):
        assert auc[i] == pytest.approx(roc_auc_score(y, scores[i]))
        assert ap[i] == pytest.approx(average_precision_score(y, scores[i]))
    probs = rng.dirichlet(np.ones(3), size=(5, 15))
    y3 = np.arange(15) % 3
    table = score_masked(probs, y3, ["a", "b", "c"])
    expected = roc_auc_score(y3 == 1, probs[2, :, 1])
    assert table.loc[2, "auroc_b"] == pytest.approx(expected)
    per_class = table[["auroc_a", "auroc_b", "auroc_c"]].mean(axis=1)
    np.testing.assert_allclose(table["auroc"], per_class)


def test_random_controls_and_multiple_testing():
    controls = random_gene_sets(100, [5, 20, 5], n_random=30, seed=3)
    assert sorted(controls) == [5, 20]
    for size, draws in controls.items():
        assert len(draws) == 30
        assert all(len(np.unique(d)) == size and d.max() < 100 for d in draws)
    again = random_gene_sets(100, [20], n_random=30, seed=3)
    assert all((a == b).all() for a, b in zip(again[20], controls[20], strict=True))
    null = {5: np.linspace(0.3, 0.7, 30), 20: np.linspace(0.4, 0.6, 30)}
    observed = np.array([0.9, 0.5, 0.2, 0.61, np.nan])
    p = empirical_p(observed, np.array([5, 5, 20, 20, 5]), null)
    assert np.all((p[:4] > 0) & (p[:4] <= 1)) and np.isnan(p[4])
    assert p[0] == pytest.approx(1 / 31) and p[2] == 1.0
    q = bh_qvalues(p)
    order = np.argsort(p[:4])
    assert np.all(np.diff(q[order]) >= 0) and np.all(q[:4] >= p[:4]) and np.isnan(q[4])


def test_planted_set_ranks_first():
    """A network whose output reads only set A's genes: masking ranks set A first."""
    rng = np.random.default_rng(0)
    sets = [np.arange(i, i + 6) for i in range(0, 48, 6)]  # 8 disjoint sets
    driver = 5
    x = rng.standard_normal((80, N_GENES)).astype(np.float32)
    y = (x[:, sets[driver]].sum(axis=1) > 0).astype(int)
    net = ClassifierModule(N_GENES, 2, [4], batchnorm=True).eval()
    with torch.no_grad():
        linear, head = net.blocks[0].linear, net.head
        linear.weight.normal_(0, 0.01)
        linear.weight[0, sets[driver]] = 0.3
        linear.bias.zero_()
        head.weight.zero_()
        head.weight[0, 0] = 5.0
        head.bias.zero_()
    scores = score_masked(mask_gene_sets(net, x, sets), y, ["0", "1"])
    assert scores["auroc"].idxmax() == driver
    assert scores.loc[driver, "auroc"] > 0.99
    assert scores.drop(index=driver)["auroc"].max() < 0.8


def test_probs_frame_round_trip():
    rng = np.random.default_rng(0)
    for probs, classes in (
        (rng.random((3, 4)), ["lo", "hi"]),
        (rng.random((3, 4, 3)), list("abc")),
    ):
        frame = probs_frame(probs, ["s1", "s2", "s3"], ["p1", "p2", "p3", "p4"], classes)
        names, back = matrix_from_frame(frame, ["p1", "p2", "p3", "p4"], len(classes))
        assert names == ["s1", "s2", "s3"]
        np.testing.assert_allclose(back, probs, atol=1e-6)


MASKING = [
    "+interpret=masking",
    "interpret.masking.collections=[verhaak,cahoy]",
    "interpret.masking.n_random=20",
]


def test_callback_writes_tables_and_sweep_pools_them(make_cfg, tmp_path):
    sweep = tmp_path / "sweep"
    for fold in (0, 1):
        run(make_cfg("n_folds=2", f"fold={fold}", *MASKING, out=sweep / f"fold={fold}"))
    job = sweep / "fold=0" / "masking"
    patients = pd.read_csv(job / "patients.csv")
    metrics = json.loads((sweep / "fold=0" / "metrics.json").read_text())
    assert len(patients) == metrics["n_test"] and (patients["part"] == "test").all()
    preds = pd.read_csv(sweep / "fold=0" / "predictions.csv")
    np.testing.assert_allclose(patients["model_prob"], preds["y_prob"], atol=1e-6)
    scores = pd.read_csv(job / "verhaak_scores.csv")
    for column in ("set", "n_genes", "coverage", "auroc", "ap", "empirical_p", "q"):
        assert column in scores, column
    assert scores["empirical_p"].between(1 / 21 - 1e-9, 1).all()  # R = 20 controls
    probs = pd.read_parquet(job / "verhaak_probs.parquet")
    assert list(probs["set"]) == list(scores["set"])
    assert set(patients["patient_id"].astype(str)) <= set(probs.columns)
    genes = pd.read_csv(job / "single_genes_scores.csv")
    assert len(genes) == 1500 and genes["rank"].min() == 1
    sizes = set(scores["n_genes"]) | set(pd.read_csv(job / "cahoy_scores.csv")["n_genes"])
    assert len(pd.read_csv(job / "controls_scores.csv")) == 20 * len(sizes)  # shared by both

    summarize(sweep, n_boot=50)
    pooled = pd.read_csv(sweep / "summary" / "masking_verhaak.csv")
    n_patients = (
        metrics["n_test"] + json.loads((sweep / "fold=1/metrics.json").read_text())["n_test"]
    )
    assert (pooled["n_patients"] == n_patients).all()
    assert pooled["rank"].is_monotonic_increasing and pooled["q"].between(0, 1).all()
    assert list((sweep / "summary").glob("masking_verhaak_*.png"))
    assert (sweep / "summary" / "masking_single_genes.csv").exists()


@pytest.mark.slow
def test_planted_driver_ranks_top3_on_default_cohort(tmp_path):
    """The issue's check: default cohort, 10-fold sweep, planted driver in the top 3 hallmark sets."""
    sweep = tmp_path / "sweep"
    cmd = [sys.executable, "train.py", "-m", "trait=enhancement", "+interpret=masking",
           "interpret.masking.single_genes=false", "logger=none", f"hydra.sweep.dir={sweep}"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, env=dict(os.environ), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cohort = json.loads(next(sweep.glob("*/cohort.json")).read_text())
    truth = json.loads((Path(cohort["expression_file"]).parent / "truth.json").read_text())
    driver = truth["traits"]["enhancement"]["driver_set"]
    pooled = pd.read_csv(sweep / "summary" / "masking_hallmark.csv").set_index("set")
    assert pooled.loc[driver, "rank"] <= 3, pooled.head()
