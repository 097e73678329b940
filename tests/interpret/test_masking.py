"""Gene masking: equivalence with a naive loop, scores, controls, tables, callback, sweep pooling."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from radiogenomics.callbacks import interpretation as masking_callback
from radiogenomics.data.genesets import write_gmt
from radiogenomics.evaluation.metrics import auroc_rows, average_precision_rows
from radiogenomics.evaluation.multitest import bh_qvalues
from radiogenomics.evaluation.tails import empirical_p, per_size
from radiogenomics.interpret.masking import (
    mask_gene_sets,
    mask_single_genes,
    random_gene_sets,
    score_masked,
)
from radiogenomics.interpret.masking_tables import (
    matrix_from_frame,
    probs_frame,
    score_sets,
    write_masking,
)
from radiogenomics.models.classifier import ClassifierModule
from radiogenomics.pipelines.sweep_summary import summarize
from radiogenomics.results import layout
from radiogenomics.results.sweep import GROUP_KEYS
from radiogenomics.summaries import masking as masking_summary
from radiogenomics.tasks import run

from ..conftest import ROOT
from ..helpers.interpreters import callback_of, options_of

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
    p = per_size(empirical_p, observed, np.array([5, 5, 20, 20, 5]), null)
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
    job = sweep / "fold=0" / layout.MASKING_DIR
    patients = pd.read_csv(job / layout.PATIENTS)
    metrics = json.loads((sweep / "fold=0" / layout.METRICS).read_text())
    assert len(patients) == metrics["n_test"] and (patients["part"] == "test").all()
    preds = pd.read_csv(sweep / "fold=0" / layout.PREDICTIONS)
    np.testing.assert_allclose(patients["model_prob"], preds["y_prob"], atol=1e-6)
    scores = pd.read_csv(job / layout.masking_scores("verhaak"))
    for column in ("set", "n_genes", "coverage", "auroc", "ap", "empirical_p", "q"):
        assert column in scores, column
    assert scores["empirical_p"].between(1 / 21 - 1e-9, 1).all()  # R = 20 controls
    probs = pd.read_parquet(job / layout.masking_probs("verhaak"))
    assert list(probs["set"]) == list(scores["set"])
    assert set(patients["patient_id"].astype(str)) <= set(probs.columns)
    genes = pd.read_csv(job / layout.masking_scores(layout.SINGLE_GENES))
    assert len(genes) == 1500 and genes["rank"].min() == 1
    cahoy = pd.read_csv(job / layout.masking_scores("cahoy"))
    sizes = set(scores["n_genes"]) | set(cahoy["n_genes"])
    controls = pd.read_csv(job / layout.masking_scores(layout.CONTROLS))
    assert len(controls) == 20 * len(sizes)  # shared by both

    summarize(sweep, n_boot=50)
    summary = layout.summary_dir(sweep)
    pooled = pd.read_csv(summary / layout.masking_table("verhaak"))
    fold1 = json.loads((sweep / "fold=1" / layout.METRICS).read_text())
    assert (pooled["n_patients"] == metrics["n_test"] + fold1["n_test"]).all()
    assert pooled["rank"].is_monotonic_increasing and pooled["q"].between(0, 1).all()
    assert list(summary.glob("masking_verhaak_*.png"))
    assert (summary / layout.masking_table(layout.SINGLE_GENES)).exists()


@pytest.mark.slow
def test_planted_driver_ranks_top3_on_default_cohort(tmp_path):
    """The issue's check: default cohort, 10-fold sweep, planted driver in the top 3 hallmark sets."""
    sweep = tmp_path / "sweep"
    cmd = [
        sys.executable,
        "train.py",
        "-m",
        "trait=enhancement",
        "+interpret=masking",
        "interpret.masking.single_genes=false",
        "logger=none",
        f"hydra.sweep.dir={sweep}",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=dict(os.environ), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cohort = json.loads(next(sweep.glob("*/cohort.json")).read_text())
    truth = json.loads((Path(cohort["expression_file"]).parent / "truth.json").read_text())
    driver = truth["traits"]["enhancement"]["driver_set"]
    pooled = pd.read_csv(layout.summary_dir(sweep) / layout.masking_table("hallmark"))
    pooled = pooled.set_index("set")
    assert pooled.loc[driver, "rank"] <= 3, pooled.head()


# --- the job's tables as a plain function, the callback as a hook, one score for job and sweep --


def test_control_names_carry_their_size():
    for size in (1, 5, 17, 500, 12042):
        for draw in (0, 7, 199, 1234):
            assert layout.control_size(layout.control_name(size, draw)) == size
    with pytest.raises(ValueError, match="not a control set name"):
        layout.control_size("VERHAAK_NEURAL")


def toy_collections(tmp_path: Path, genes: list[str]) -> list[str]:
    """The shipped Verhaak signatures and a small .gmt file of the toy genes (sizes 3, 7, 12)."""
    path = tmp_path / "toy_sets.gmt"
    write_gmt({"TOY_A": genes[:3], "TOY_B": genes[100:107], "TOY_C": genes[-12:]}, path)
    return ["verhaak", str(path)]


def job_tables(folder: Path) -> dict[str, pd.DataFrame]:
    return {
        p.name: pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p)
        for p in sorted(folder.iterdir())
    }


@pytest.mark.parametrize("n_classes", [2, 3])
def test_pooling_one_job_gives_its_test_scores(toy_job, tmp_path, n_classes):
    """Job tables and pooled sweep tables score with one function: one job pools to itself."""
    assert masking_summary.score_sets is score_sets
    net, dm = toy_job(n_classes)
    options = options_of(
        "masking",
        collections=toy_collections(tmp_path, dm.genes),
        min_size=1,
        n_random=40,
        parts=["test", "fit"],
    )
    job = tmp_path / "sweep" / "job0"
    write_masking(net, dm, options, fold=0, out_dir=job)
    controls = pd.read_csv(job / layout.MASKING_DIR / layout.masking_scores(layout.CONTROLS))
    assert controls["set"].map(layout.control_size).tolist() == controls["n_genes"].tolist()

    key = {"trait": "toy", "model": "nn", "config_hash": "abc", "bootstrap": "none"}
    metrics = pd.DataFrame([{**key, "job": "job0", "classes": dm.class_names}])
    written = masking_summary.summarize_masking(tmp_path / "sweep", metrics, GROUP_KEYS)
    summary = layout.summary_dir(tmp_path / "sweep")
    assert sorted(p.name for p in written) == sorted(
        layout.masking_table(label) for label in ("verhaak", "toy_sets", layout.SINGLE_GENES)
    )
    assert (summary / layout.masking_heatmap("toy_sets", key)).exists()
    for label, name in (("verhaak", "set"), ("toy_sets", "set"), (layout.SINGLE_GENES, "gene")):
        scores = pd.read_csv(job / layout.MASKING_DIR / layout.masking_scores(label))
        scores = scores[scores["part"] == "test"].set_index(name)
        pooled = pd.read_csv(summary / layout.masking_table(label)).set_index(name)
        assert (pooled["n_patients"] == len(dm.x["test"])).all()
        tests = ("q", "competitive_p", "self_contained_p", "significant")
        columns = [c for c in scores if c.startswith(("auroc", "ap", "empirical_p", *tests))]
        assert "empirical_p" in columns or label == layout.SINGLE_GENES
        assert len(columns) == (2 if n_classes == 2 else 2 + 2 * n_classes) + len(tests) + (
            label != layout.SINGLE_GENES
        )
        pd.testing.assert_frame_equal(pooled.loc[scores.index, columns], scores[columns])


def test_callback_is_a_hook_over_write_masking(toy_job, tmp_path):
    """The callback validates, indexes in setup and writes exactly what write_masking writes."""
    net, dm = toy_job(2, seed=3)
    settings = dict(
        collections=toy_collections(tmp_path, dm.genes),
        min_size=3,
        n_random=15,
        random_seed=4,
        parts=["test", "val"],
        batch_size=64,
    )
    callback = callback_of("masking", fold=2, out_dir=tmp_path / "hook", **settings)
    trainer = SimpleNamespace(datamodule=dm)
    callback.setup(trainer, net.train(), "fit")
    assert sorted(callback.indexed) == ["toy_sets", "verhaak"]
    callback.on_test_end(trainer, net)
    assert net.training  # the mode is restored
    folder = write_masking(
        net, dm, options_of("masking", **settings), fold=2, out_dir=tmp_path / "plain"
    )
    assert folder == tmp_path / "plain" / layout.MASKING_DIR
    hook, plain = job_tables(tmp_path / "hook" / layout.MASKING_DIR), job_tables(folder)
    assert sorted(hook) == sorted(plain) and len(plain) == 11
    for name, frame in plain.items():
        pd.testing.assert_frame_equal(hook[name], frame)
    patients = plain[layout.PATIENTS]
    assert (
        patients["part"].tolist() == ["test"] * 10 + ["val"] * 6 and (patients["fold"] == 2).all()
    )
    # no table logic left in the callback module
    assert not {"pd", "np", "torch", "write_csv", "score_masked"} & set(vars(masking_callback))


def test_masking_options_validate_as_the_callback_did():
    with pytest.raises(ValueError, match="non-empty subset"):
        callback_of("masking", parts=["test", "train"])
    with pytest.raises(ValueError, match="non-empty subset"):
        options_of("masking", parts=[])
    with pytest.raises(ValueError, match="n_random must be >= 0"):
        callback_of("masking", n_random=-1)
    with pytest.raises(ValueError, match="distinct file labels"):
        callback_of("masking", collections=["verhaak", "elsewhere/Verhaak.gmt"])
    with pytest.raises(ValueError, match="distinct file labels"):
        options_of("masking", collections=["controls.gmt"])
    options = callback_of("masking", collections=("hallmark",), parts=("fit", "test")).options
    assert options.collections == ("hallmark",) and options.parts == ("fit", "test")
