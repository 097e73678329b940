"""Gene saliency: attributions vs autograd, eval mode, per class, GSEA, associations, callback."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from radiogenomics.callbacks import interpretation as saliency_callback
from radiogenomics.interpret.associations import associations, trait_matrices
from radiogenomics.interpret.gsea import break_ties, prerank, prerank_patients
from radiogenomics.interpret.saliency import METHODS, attribute, ranking_scores
from radiogenomics.interpret.saliency_tables import write_saliency
from radiogenomics.models.classifier import ClassifierModule
from radiogenomics.pipelines.sweep_summary import summarize
from radiogenomics.results import layout
from radiogenomics.tasks import run

from ..helpers.interpreters import callback_of, options_of

N_GENES = 40


def small_network(n_classes: int, seed: int = 0) -> ClassifierModule:
    """Two tanh blocks with BatchNorm (non-trivial statistics) and heavy dropout."""
    torch.manual_seed(seed)
    net = ClassifierModule(N_GENES, n_classes, [12, 8], dropout=0.5, input_dropout=0.5)
    for block in net.blocks:
        block.norm.running_mean.normal_()
        block.norm.running_var.uniform_(0.5, 2.0)
    return net


def autograd_gradients(net: ClassifierModule, x: torch.Tensor) -> np.ndarray:
    """d logit_k / d x for every output column, eval mode: (outputs, patients, genes)."""
    net.eval()
    x = x.clone().requires_grad_()
    logits = net(x)
    logits = logits[:, None] if logits.ndim == 1 else logits
    grads = [
        torch.autograd.grad(logits[:, k].sum(), x, retain_graph=True)[0]
        for k in range(logits.shape[1])
    ]
    return torch.stack(grads).numpy()


@pytest.mark.parametrize("n_classes", [2, 4])
def test_saliency_equals_autograd_in_eval_mode(n_classes):
    net = small_network(n_classes).train()  # left in train mode: attribute must switch
    x = torch.randn(7, N_GENES)
    got = attribute(net, x, "saliency")
    assert net.training  # mode restored
    assert got.dtype == np.float32 and got.shape == (1 if n_classes == 2 else 4, 7, N_GENES)
    np.testing.assert_allclose(got, autograd_gradients(net, x), atol=1e-6)
    again = attribute(net.train(), x, "saliency")  # dropout would change a train-mode pass
    np.testing.assert_array_equal(got, again)


def test_per_class_attributions_differ_by_class():
    net = small_network(3, seed=2)
    got = attribute(net, torch.randn(5, N_GENES), "saliency")
    for a, b in ((0, 1), (0, 2), (1, 2)):
        assert np.abs(got[a] - got[b]).max() > 1e-3  # never always node 0


def test_methods_inside_inference_mode():
    """As in a Lightning callback: inference mode, an inference tensor as input."""
    net = small_network(2, seed=1)
    with torch.inference_mode():
        x = torch.randn(6, N_GENES)
        out = {m: attribute(net, x, m, n_steps=200) for m in METHODS}
    x = x.clone()
    # tanh network: guided backprop only alters ReLU backward passes, so it is the gradient
    np.testing.assert_allclose(out["guided_backprop"], out["saliency"], atol=1e-7)
    np.testing.assert_allclose(out["input_x_gradient"], out["saliency"] * x.numpy(), atol=1e-6)
    with torch.no_grad():  # completeness: attributions sum to logit(x) - logit(baseline 0)
        delta = (net.eval()(x) - net(torch.zeros_like(x))).numpy()
    for method in ("integrated_gradients", "deeplift"):
        np.testing.assert_allclose(out[method][0].sum(axis=1), delta, atol=2e-3)
    assert np.array_equal(ranking_scores(out["saliency"], "absolute"), np.abs(out["saliency"]))
    with pytest.raises(ValueError, match="unknown attribution method"):
        attribute(net, x, "occlusion")


def planted_ranking(seed: int, shift: float = 1.5) -> tuple[np.ndarray, list[str], dict]:
    """2000 random scores with one of 30 disjoint 40-gene sets shifted upwards."""
    rng = np.random.default_rng(seed)
    genes = [f"G{i}" for i in range(2000)]
    order = rng.permutation(2000)
    sets = {f"SET{k:02d}": [genes[i] for i in order[k * 40 : (k + 1) * 40]] for k in range(30)}
    scores = rng.standard_normal(2000)
    scores[[genes.index(g) for g in sets["SET07"]]] += shift
    return scores, genes, sets


def test_gsea_finds_planted_set_and_not_random_sets():
    scores, genes, sets = planted_ranking(0)
    table = prerank(scores, genes, sets, seed=1).set_index("set")
    assert len(table) == 30 and (table["n_genes"] == 40).all()
    assert table.loc["SET07", "fdr"] < 0.05 and table.loc["SET07", "nes"] > 0
    assert (table.drop(index="SET07")["fdr"] >= 0.05).all()
    lead = table.loc["SET07", "leading_edge"].split(";")
    assert set(lead) <= set(sets["SET07"]) and len(lead) == table.loc["SET07", "n_leading_edge"]
    np.testing.assert_allclose(table["fdr"], np.minimum(1, table["fdr"]))  # BH within patient
    # descending ranking: the planted set at the bottom gives a negative NES
    flipped = prerank(-scores, genes, sets, seed=1).set_index("set")
    assert flipped.loc["SET07", "nes"] < 0 and flipped.loc["SET07", "fdr"] < 0.05


def test_gsea_of_an_all_positive_ranking_keeps_nan_p_out_of_the_fdr():
    """|attribution| rankings (the paper's) are all >= 0: a set with no null of its sign gets
    p = NaN from gseapy, which must stay NaN rather than break the BH step."""
    scores, genes, sets = planted_ranking(0)
    table = prerank(np.abs(scores) + 1e-3, genes, sets, seed=1).set_index("set")
    assert table.loc["SET07", "nes"] > 0 and table.loc["SET07", "fdr"] < 0.05
    assert (table["p"].isna() == table["fdr"].isna()).all()
    assert table["fdr"].dropna().between(0, 1).all()


def test_break_ties_keeps_order_and_separates_equal_scores():
    scores = np.array([1.0, 0.0, 1.0, 1.0, -2.0, 0.0])
    out = break_ties(scores)
    assert len(np.unique(out)) == 6 and np.abs(out - scores).max() < 1e-12
    assert np.all(np.argsort(out, kind="stable")[[0, 1, 2]] == [4, 1, 5])


def test_per_patient_gsea_seeded_by_patient_not_position():
    scores = np.stack([planted_ranking(s)[0] for s in (0, 1, 2)])
    _, genes, sets = planted_ranking(0)
    ids = ["p0", "p1", "p2"]
    table = prerank_patients(scores, genes, ids, sets, n_jobs=1, seed=3)
    assert list(table.columns[:2]) == ["patient_id", "set"] and len(table) == 90
    reordered = prerank_patients(scores[::-1], genes, ids[::-1], sets, n_jobs=1, seed=3)
    key = ["patient_id", "set"]
    pd.testing.assert_frame_equal(
        table.sort_values(key).reset_index(drop=True),
        reordered.sort_values(key).reset_index(drop=True),
    )


def toy_gsea() -> pd.DataFrame:
    """8 patients (classes 0 0 0 0 1 1 1 1), two sets; fdr < 0.05 marks enrichment."""
    rows = []
    fdr_a = [0.01, 0.2, 0.3, 0.5, 0.01, 0.02, 0.001, 0.04]  # enriched: p0 and all of class 1
    nes_a = [-1.8, 0.2, 0.1, -0.3, 2.0, 1.9, 2.5, 1.7]
    for i in range(8):
        rows.append((f"p{i}", i // 4, "hi", "hm", "A", nes_a[i], fdr_a[i]))
        rows.append((f"p{i}", i // 4, "hi", "hm", "B", 0.5, 0.5))
    cols = ["patient_id", "y_true", "class", "collection", "set", "nes", "fdr"]
    return pd.DataFrame(rows, columns=cols)


def test_association_counts_on_toy_matrix():
    table = associations(toy_gsea(), ["lo", "hi"], min_patients=5).set_index("set")
    a = table.loc["A"]
    assert (a["n_patients"], a["n_enriched"], a["n_enriched_pos"], a["n_enriched_neg"]) == (
        8,
        5,
        4,
        1,
    )
    assert (a["n_target"], a["n_enriched_target"], a["n_enriched_other"]) == (4, 4, 1)
    assert a["share_enriched"] == pytest.approx(5 / 8)
    assert a["mean_nes"] == pytest.approx(np.mean([-1.8, 0.2, 0.1, -0.3, 2.0, 1.9, 2.5, 1.7]))
    assert a["mean_nes_enriched"] == pytest.approx(np.mean([-1.8, 2.0, 1.9, 2.5, 1.7]))
    # class 1 ("hi", the attributed class) has every NES of A above class 0's: AUC 1, p = 1/70
    assert a["class_auc"] == 1.0 and a["class_p"] == pytest.approx(1 / 70)
    assert a["mean_nes_target"] == pytest.approx(np.mean([2.0, 1.9, 2.5, 1.7]))
    assert table.loc["B", "class_auc"] == 0.5 and table.loc["B", "n_enriched"] == 0
    assert not table["association"].any()  # A is enriched with positive NES in 4 < 5 patients
    table = associations(toy_gsea(), ["lo", "hi"], min_patients=4).set_index("set")
    assert bool(table.loc["A", "paper_rule"]) and bool(table.loc["A", "association"])
    assert not bool(table.loc["B", "association"])
    nes, enriched = trait_matrices(toy_gsea())
    assert nes.shape == (8, 2) and enriched.to_numpy().sum() == 5
    with pytest.raises(ValueError, match="not in"):
        associations(toy_gsea(), ["x", "y"])


def simulated_gsea(
    rng: np.random.Generator, n_patients: int = 40, n_sets: int = 50, shift: float = 0.0
) -> pd.DataFrame:
    """Every set positively enriched in every patient (a network's generic sensitivity, as on
    permuted labels); set S0's NES is ``shift`` higher in class 1, the attributed class."""
    y = rng.permutation(np.arange(n_patients) % 2)
    patient_level = rng.normal(0, 0.3, size=(n_patients, 1))  # shared per-patient variation
    nes = 2.5 + patient_level + rng.normal(0, 0.3, size=(n_patients, n_sets))
    nes[:, 0] += shift * y
    frame = pd.DataFrame(
        {
            "patient_id": np.repeat([f"p{i}" for i in range(n_patients)], n_sets),
            "y_true": np.repeat(y, n_sets),
            "class": "hi",
            "collection": "hm",
            "set": np.tile([f"S{k}" for k in range(n_sets)], n_patients),
            "nes": nes.ravel(),
        }
    )
    return frame.assign(fdr=0.001)


def test_associations_keep_fdr_where_the_paper_rule_fires_on_everything():
    rng = np.random.default_rng(0)
    n_sets, reps = 50, 100
    false_calls, any_call, paper = 0, 0, 0
    for _ in range(reps):
        table = associations(simulated_gsea(rng, n_sets=n_sets), ["lo", "hi"])
        false_calls += int(table["association"].sum())
        any_call += bool(table["association"].any())
        paper += int(table["paper_rule"].sum())
    assert paper == reps * n_sets  # the paper's rule alone calls every set on null labels
    assert any_call <= 0.10 * reps  # BH at 0.05 under the global null: P(any call) <= 0.05
    assert false_calls / (reps * n_sets) < 0.01
    planted = [
        bool(
            associations(simulated_gsea(rng, shift=1.0), ["lo", "hi"])
            .set_index("set")
            .loc["S0", "association"]
        )
        for _ in range(20)
    ]
    assert sum(planted) >= 18  # a real class difference in one set's NES is found


SALIENCY = [
    "+interpret=saliency",
    "interpret.saliency.collections=[verhaak]",
    "interpret.saliency.n_jobs=1",
]


def test_callback_writes_tables_and_sweep_pools_them(make_cfg, tmp_path):
    sweep = tmp_path / "sweep"
    for fold in (0, 1):
        run(make_cfg("n_folds=2", f"fold={fold}", *SALIENCY, out=sweep / f"fold={fold}"))
    job = sweep / "fold=0" / layout.SALIENCY_DIR
    metrics = json.loads((sweep / "fold=0" / layout.METRICS).read_text())
    patients = pd.read_csv(job / layout.PATIENTS)
    assert len(patients) == metrics["n_test"] and (patients["part"] == "test").all()
    attributions = pd.read_parquet(job / layout.ATTRIBUTIONS)
    assert len(attributions) == 1500 and (attributions["class"] == "high").all()
    ids = patients["patient_id"].astype(str).tolist()
    assert all(attributions[ids].dtypes == np.float32)
    gsea = pd.read_parquet(job / layout.GSEA)
    assert set(gsea["patient_id"]) == set(ids) and gsea["fdr"].between(0, 1).all()
    assert gsea["n_genes"].between(15, 500).all()
    means = pd.read_parquet(job / layout.MEAN_ATTRIBUTION)
    np.testing.assert_allclose(
        means["mean_test"], attributions[ids].to_numpy().mean(axis=1), atol=1e-6
    )
    assert (means["n_all"] > means["n_test"]).all()

    summarize(sweep, n_boot=50)
    out = layout.summary_dir(sweep)
    traits = pd.read_parquet(out / layout.TRAITS)
    fold1 = json.loads((sweep / "fold=1" / layout.METRICS).read_text())
    n_test = metrics["n_test"] + fold1["n_test"]
    assert traits["patient_id"].nunique() == n_test
    assoc = pd.read_csv(out / layout.ASSOCIATIONS)
    assert (assoc["n_patients"] == n_test).all() and "class_q" in assoc
    stability = json.loads((out / layout.STABILITY).read_text())["configurations"][0]
    assert stability["classes"]["high"]["mean_all"]["n_pairs"] == 1
    assert -1 <= stability["classes"]["high"]["mean_all"]["spearman_mean"] <= 1
    assert len(pd.read_csv(out / layout.COHORT_GSEA)) > 0
    assert list(out.glob("saliency_dots_*.png")) and list(out.glob("saliency_heatmap_*.png"))


def job_tables(folder: Path) -> dict[str, pd.DataFrame | str]:
    tables = {}
    for path in sorted(folder.iterdir()):
        if path.suffix == ".parquet":
            tables[path.name] = pd.read_parquet(path)
        elif path.suffix == ".csv":
            tables[path.name] = pd.read_csv(path)
        else:
            tables[path.name] = path.read_text()
    return tables


@pytest.mark.parametrize("n_classes", [2, 3])
def test_callback_is_a_hook_over_write_saliency(toy_job, tmp_path, n_classes):
    """The callback validates, indexes in setup and writes exactly what write_saliency writes."""
    net, dm = toy_job(n_classes, seed=1)
    settings = dict(
        method="input_x_gradient",
        collections=["verhaak"],
        gsea_method="permutation",
        permutation_num=20,
        n_jobs=1,
        seed=5,
        parts=["test", "val"],
    )
    callback = callback_of("saliency", fold=1, out_dir=tmp_path / "hook", **settings)
    trainer = SimpleNamespace(datamodule=dm)
    callback.setup(trainer, net.train(), "fit")
    assert list(callback.indexed) == ["verhaak"]
    callback.on_test_end(trainer, net)
    assert net.training  # the mode is restored
    options = options_of("saliency", **settings)
    folder = write_saliency(net, dm, options, fold=1, out_dir=tmp_path / "plain")
    assert folder == tmp_path / "plain" / layout.SALIENCY_DIR
    hook, plain = job_tables(tmp_path / "hook" / layout.SALIENCY_DIR), job_tables(folder)
    expected = [layout.PATIENTS, layout.ATTRIBUTIONS, layout.GSEA, layout.MEAN_ATTRIBUTION]
    expected += [layout.coverage("verhaak"), layout.gmt("verhaak")]
    assert sorted(hook) == sorted(plain) == sorted(expected)
    for name, table in plain.items():
        if isinstance(table, str):
            assert hook[name] == table
        else:
            pd.testing.assert_frame_equal(hook[name], table)
    gsea = plain[layout.GSEA]
    assert gsea["class"].nunique() == (1 if n_classes == 2 else n_classes)
    assert set(gsea["part"]) == {"test", "val"} and (gsea["fold"] == 1).all()
    # no GSEA: no collections indexed, attributions and means only
    bare = callback_of("saliency", out_dir=tmp_path / "bare", **{**settings, "gsea": False})
    bare.setup(trainer, net, "fit")
    bare.on_test_end(trainer, net)
    assert bare.indexed == {}
    assert sorted(p.name for p in (tmp_path / "bare" / layout.SALIENCY_DIR).iterdir()) == sorted(
        [layout.PATIENTS, layout.ATTRIBUTIONS, layout.MEAN_ATTRIBUTION]
    )
    # no table logic left in the callback module
    assert not {"pd", "np", "torch", "write_csv", "attribute"} & set(vars(saliency_callback))


def test_saliency_options_validate_as_the_callback_did():
    with pytest.raises(ValueError, match="unknown attribution method"):
        callback_of("saliency", method="occlusion")
    with pytest.raises(ValueError, match="ranking must be"):
        options_of("saliency", ranking="rank")
    with pytest.raises(ValueError, match="unknown GSEA method"):
        callback_of("saliency", gsea_method="fgsea")
    with pytest.raises(ValueError, match="non-empty subset"):
        callback_of("saliency", parts=["all"])
    with pytest.raises(ValueError, match="distinct file labels"):
        callback_of("saliency", collections=["hallmark", "x/hallmark.gmt.gz"])
    options = options_of("saliency", min_size=10, max_size=200, n_jobs=3, seed=7, n_steps=8)
    assert options.filters == {"min_coverage": 0.0, "min_size": 10, "max_size": 200}
    assert options.gsea_kwargs == {
        "method": "multilevel",
        "min_size": 10,
        "max_size": 200,
        "permutation_num": 1000,
        "n_jobs": 3,
        "seed": 7,
    }
    assert options.attr_kwargs == {"n_steps": 8, "internal_batch_size": None}
