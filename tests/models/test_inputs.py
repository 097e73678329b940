"""model.input: in-fold PCA and the gene-set-sparse first layer (with its random-mask control).

Both are parts of the network: it still takes standardised gene expression, so bundles, gene
masking and saliency work per gene. The default (genes) leaves every number unchanged.
"""

import hashlib
import logging

import numpy as np
import pandas as pd
import pytest
import pytorch_lightning as pl
import torch

from radiogenomics.data.cohort import TraitCohort, load_cohort, trait_cohort
from radiogenomics.data.datamodules import TraitDataModule
from radiogenomics.data.genesets import load_collection, load_gene_universe, write_gmt
from radiogenomics.data.splits import make_fold_split
from radiogenomics.data.traits import TraitSpec
from radiogenomics.errors import ConfigError
from radiogenomics.evaluation.metrics import auroc
from radiogenomics.interpret.masking import mask_gene_sets, mask_single_genes
from radiogenomics.models import inputs
from radiogenomics.models.bundle import load_bundle
from radiogenomics.models.classifier import ClassifierModule
from radiogenomics.models.inputs import InputOptions, gene_set_membership, shuffle_membership
from radiogenomics.results import layout
from radiogenomics.tasks import run
from radiogenomics.tasks.finetune import build_classifier, set_input_layer
from radiogenomics.tasks.validation import check_gene_sets_on_data, validate_config

NO_TRANSFER = ["model.transfer_layers=0", "model.freeze_layers=0"]
JOB = ["trait=multifocal", "n_folds=5", "fold=0", "logger=none"]
DRIVER = "HALLMARK_INTERFERON_GAMMA_RESPONSE"  # the synthetic multifocal trait's planted program
OTHERS = [
    "HALLMARK_HYPOXIA",
    "HALLMARK_E2F_TARGETS",
    "HALLMARK_OXIDATIVE_PHOSPHORYLATION",
    "HALLMARK_CHOLESTEROL_HOMEOSTASIS",
    "HALLMARK_EPITHELIAL_MESENCHYMAL_TRANSITION",
]


def _data(n=60, n_genes=40, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.standard_normal((n, n_genes)).astype(np.float32)
    X[:, :5] += y[:, None] * 2.0
    return X, y


def _tc(X, y, genes=None):
    tc = TraitCohort.__new__(TraitCohort)
    tc.X, tc.y, tc.genes = X, y, genes or [f"G{j}" for j in range(X.shape[1])]
    tc.spec = TraitSpec.from_config(
        {
            "name": "t",
            "column": "t",
            "classes": [{"name": "a", "values": ["a"]}, {"name": "b", "values": ["b"]}],
        }
    )
    return tc


def test_default_input_is_the_network_without_the_option(make_cfg, tmp_path):
    """model.input at its default builds exactly the network of a config without the option."""
    digests = []
    for extra in ([], ["~model.input"]):
        torch.set_num_threads(1)
        out = tmp_path / f"job{len(digests)}"
        run(make_cfg(*JOB, "save_model=false", *extra, out=out))
        digests.append(hashlib.sha256((out / layout.PREDICTIONS).read_bytes()).hexdigest())
    assert digests[0] == digests[1]


def test_pca_is_fit_on_fit_and_unlabelled_patients_only(make_cfg, monkeypatch):
    X, y = _data()
    unlabelled = np.random.default_rng(5).standard_normal((20, X.shape[1])).astype(np.float32)
    split = make_fold_split(y, 5, 0, 0, 0.2)
    cfg = make_cfg(*NO_TRANSFER, "model.input.kind=pca", "model.input.pca_components=8")
    seen, weights = [], []
    real = inputs.pca_projection
    monkeypatch.setattr(
        inputs, "pca_projection", lambda rows, k: seen.append(rows) or real(rows, k)
    )
    for scramble in (False, True):
        X2 = X.copy()
        if scramble:  # inner-validation and held-out patients: any values
            held = np.concatenate([split.val, split.test])
            X2[held] = np.random.default_rng(1).standard_normal((len(held), X.shape[1])) * 5
        tc, dm = _tc(X2, y), TraitDataModule(X2, y, split, batch_size=8)
        module = build_classifier(cfg, tc, dm)
        set_input_layer(cfg, tc, dm, module, unlabelled)
        weights.append(module.input_layer.weight.clone())
        expected = np.concatenate(
            [dm.scaler.transform(X2[split.fit]), dm.scaler.transform(unlabelled)]
        )
        np.testing.assert_array_equal(seen[-1], expected)  # fit rows, then the unlabelled ones
    assert len(seen[0]) == len(split.fit) + len(unlabelled)
    torch.testing.assert_close(weights[0], weights[1], rtol=0, atol=0)
    z = module.input_layer(torch.from_numpy(seen[-1]))  # whitened scores on the PCA patients
    torch.testing.assert_close(z.mean(0), torch.zeros(8), atol=1e-4, rtol=0)
    torch.testing.assert_close(z.std(0), torch.ones(8), atol=1e-3, rtol=0)


def test_sparse_layer_keeps_zeros_outside_its_mask():
    X, y = _data()
    split = make_fold_split(y, 5, 0, 0, 0.2)
    dm = TraitDataModule(X, y, split, batch_size=8)
    mask = np.random.default_rng(0).random((6, 40)) < 0.3
    module = ClassifierModule(
        40,
        2,
        [4],
        input_kind="gene_sets",
        input_units=6,
        penalty="group_lasso",
        penalty_weight=1e-3,
    )
    module.blocks[0].linear.set_connectivity(mask)
    off = torch.from_numpy(~mask)
    weight = module.blocks[0].linear.weight
    module.loss(module(dm.x["fit"]), dm.y["fit"]).backward()
    assert torch.count_nonzero(weight.grad[off]) == 0 and torch.count_nonzero(weight.grad) > 0
    module.zero_grad()
    pl.seed_everything(0, verbose=False)
    pl.Trainer(
        max_epochs=3,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
    ).fit(module, dm)
    assert torch.count_nonzero(weight.detach()[off]) == 0
    assert torch.count_nonzero(weight.detach()[~off]) == mask.sum()
    module.eval()
    with torch.no_grad():  # a (tampered) weight outside the mask changes nothing
        before = module(dm.x["test"])
        weight[off] = 5.0
        torch.testing.assert_close(module(dm.x["test"]), before, rtol=0, atol=0)


def test_random_mask_keeps_set_sizes_and_gene_degrees():
    genes = load_gene_universe()[:3000]
    real, names = gene_set_membership(genes, ["hallmark"])
    shuffled = shuffle_membership(real, seed=0)
    np.testing.assert_array_equal(real.sum(axis=1), shuffled.sum(axis=1))  # set sizes
    np.testing.assert_array_equal(real.sum(axis=0), shuffled.sum(axis=0))  # gene degrees
    assert (real != shuffled).any(axis=1).all()  # every set's members changed
    assert (shuffled == shuffle_membership(real, seed=0)).all()  # seeded
    assert not (shuffled == shuffle_membership(real, seed=1)).all()
    connectivity, units = inputs.gene_set_connectivity(
        genes,
        InputOptions(
            kind="gene_sets",
            pca_components=64,
            pca_unlabelled=True,
            collections=["hallmark"],
            units_per_set=2,
            random_mask=True,
            random_seed=0,
        ),
    )
    assert connectivity.shape == (2 * len(names), len(genes)) and units[1] == f"{names[0]}#1"


@pytest.mark.parametrize("kind", ["pca", "gene_sets"])
def test_bundle_masking_and_saliency_per_gene(make_cfg, tmp_path, monkeypatch, kind):
    torch.set_num_threads(1)
    rows = []
    real = inputs.pca_projection
    monkeypatch.setattr(inputs, "pca_projection", lambda r, k: rows.append(len(r)) or real(r, k))
    out = tmp_path / kind
    cfg = make_cfg(
        *JOB,
        *NO_TRANSFER,
        f"model.input.kind={kind}",
        "model.input.pca_components=16",
        "+interpret=[masking,saliency]",
        "interpret.masking.n_random=5",
        "interpret.masking.collections=[verhaak]",
        "interpret.saliency.gsea=false",
        out=out,
    )
    metrics = run(cfg)
    cohort = load_cohort(cfg.data, cfg.paths.cache_dir)
    if kind == "pca":
        assert rows == [metrics["n_train"] + len(cohort.pretrain_patients)]
    assert any((out / layout.MASKING_DIR).iterdir()) and any((out / layout.SALIENCY_DIR).iterdir())
    bundle = load_bundle(out / layout.MODEL_DIR)
    assert bundle.manifest["architecture"]["input_kind"] == kind
    predictions = pd.read_csv(out / layout.PREDICTIONS)
    X, missing = bundle.align(cohort.expression.loc[predictions["patient_id"]])
    assert not missing
    probs = bundle.predict_proba(X)
    np.testing.assert_allclose(probs, predictions["y_prob"], rtol=0, atol=1e-6)
    x = torch.from_numpy(bundle.standardize(X))
    every_gene = [np.arange(x.shape[1])]  # masking nothing = the network itself
    np.testing.assert_allclose(mask_gene_sets(bundle.model, x, every_gene)[0], probs, atol=1e-5)
    one = torch.zeros_like(x)
    one[:, 7] = x[:, 7]
    with torch.no_grad():
        alone = bundle.model.probabilities(bundle.model(one)).numpy()
    np.testing.assert_allclose(mask_single_genes(bundle.model, x, [7])[0], alone, atol=1e-5)
    assert bundle.weight_share(bundle.genes[:10]) is not None


def test_planted_driver_set_is_learned_by_the_sparse_layer(make_cfg, tmp_path, caplog):
    """Sets with the multifocal trait's planted program vs its random control vs sets without it."""
    torch.set_num_threads(1)
    hallmark = load_collection("hallmark")
    with_driver, without = tmp_path / "with.gmt", tmp_path / "without.gmt"
    write_gmt({n: hallmark[n] for n in [DRIVER, *OTHERS]}, with_driver)
    write_gmt({n: hallmark[n] for n in OTHERS}, without)
    base = make_cfg("trait=multifocal", *NO_TRANSFER, "model.input.kind=gene_sets")
    tc = trait_cohort(
        load_cohort(base.data, base.paths.cache_dir), TraitSpec.from_config(base.trait)
    )
    scores = {}
    for name, extra in [
        ("real", [f"model.input.collections=[{with_driver}]"]),
        ("random", [f"model.input.collections=[{with_driver}]", "model.input.random_mask=true"]),
        ("without", [f"model.input.collections=[{without}]"]),
    ]:
        cfg = make_cfg("trait=multifocal", *NO_TRANSFER, "model.input.kind=gene_sets", *extra)
        ys, ps = [], []
        for fold in range(3):
            split = make_fold_split(tc.y, 3, fold, 0, 0.1)
            pl.seed_everything(0, verbose=False)
            dm = TraitDataModule(tc.X, tc.y, split, batch_size=16, seed=0)
            module = build_classifier(cfg, tc, dm)
            set_input_layer(cfg, tc, dm, module)
            with caplog.at_level(logging.ERROR):
                pl.Trainer(
                    max_epochs=20,
                    logger=False,
                    enable_checkpointing=False,
                    enable_progress_bar=False,
                    enable_model_summary=False,
                    accelerator="cpu",
                    limit_val_batches=0,
                    num_sanity_val_steps=0,
                ).fit(module, dm)
            with torch.no_grad():
                ps.append(module.eval().probabilities(module(dm.x["test"])).numpy())
            ys.append(dm.y["test"].numpy())
        scores[name] = auroc(np.concatenate(ys), np.concatenate(ps))
    print("pooled 3-fold AUROC:", scores)
    assert scores["real"] > 0.65 and scores["without"] < 0.6, scores
    assert scores["random"] > 0.65, scores  # same genes, random grouping: still learns


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.input.kind=pcs"], "model.input.kind=pcs is not one of"),
        (["model.input.kind=pca"], "add model.transfer_layers=0"),
        (["model.input.kind=gene_sets"], "add model.transfer_layers=0"),
        (
            [*NO_TRANSFER, "model.input.kind=pca", "model.input.pca_components=0"],
            "pca_components=0",
        ),
        (
            [*NO_TRANSFER, "model.input.kind=pca", "model.gene_filter.method=variance"],
            "already reduces the genes",
        ),
        (
            [*NO_TRANSFER, "model.input.kind=gene_sets", "model.input.collections=[hallmarks]"],
            "'hallmarks' is not a shipped collection",
        ),
        (
            [*NO_TRANSFER, "model.input.kind=gene_sets", "model.input.units_per_set=0"],
            "units_per_set=0",
        ),
        (["+model.input.whiten=true"], "model.input.whiten is not an input option"),
    ],
)
def test_bad_input_options_are_config_errors(make_cfg, overrides, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(make_cfg(*overrides))


def test_too_many_pca_components_are_clamped_to_the_fold(make_cfg, tmp_path, caplog):
    """pca_components above what the fold's PCA patients allow trains with the most it allows
    (fit patients - 1 here), with a warning and a note in metrics.json; a size that fits is
    left alone and leaves no note."""
    import json

    asked = 5000  # the tiny cohort has 1500 genes and fewer patients
    out = tmp_path / "job"
    pca = ["model.input.kind=pca", "model.input.pca_unlabelled=false"]
    cfg = make_cfg(*JOB, *NO_TRANSFER, *pca, f"model.input.pca_components={asked}", out=out)
    with caplog.at_level(logging.WARNING):
        run(cfg)
    metrics = json.loads((out / layout.METRICS).read_text())
    most = metrics["n_train"] - 1  # n_train: the fold's fit patients, the PCA's rows
    assert metrics["notes"] == [
        f"model.input.pca_components={asked} clamped to {most}: this fold's PCA is fit on "
        f"{metrics['n_train']} fit patients (at most {most} components) and 1500 genes"
    ]
    assert f"clamped to {most}" in caplog.text
    assert np.isfinite(metrics["test_auroc"])
    architecture = load_bundle(out / layout.MODEL_DIR).manifest["architecture"]
    assert architecture["input_units"] == most  # the network got that many components
    fitting = tmp_path / "fits"
    run(
        make_cfg(
            *JOB,
            *NO_TRANSFER,
            *pca,
            "model.input.pca_components=8",
            "save_model=false",
            out=fitting,
        )
    )
    assert "notes" not in json.loads((fitting / layout.METRICS).read_text())


def test_data_dependent_input_errors(make_cfg, tmp_path):
    X, y = _data()
    split = make_fold_split(y, 5, 0, 0, 0.2)
    cfg = make_cfg(*NO_TRANSFER, "model.input.kind=pca", "model.input.pca_components=500")
    validate_config(cfg)
    tc, dm = _tc(X, y), TraitDataModule(X, y, split, batch_size=8)
    module = ClassifierModule(40, 2, [4], input_kind="pca", input_units=500)
    with pytest.raises(
        ConfigError, match=rf"pca_components=500: the fold has {len(split.fit)} fit"
    ):
        set_input_layer(cfg, tc, dm, module)
    gmt = tmp_path / "alien.gmt"
    write_gmt({"ALIEN": ["NOTAGENE1", "NOTAGENE2"]}, gmt)
    cfg = make_cfg(*NO_TRANSFER, "model.input.kind=gene_sets", f"model.input.collections=[{gmt}]")
    with pytest.raises(ConfigError, match="model.input.collections: .*zero genes on the array"):
        check_gene_sets_on_data(cfg)
    with pytest.raises(ConfigError, match="model.input: .*zero genes on the array"):
        build_classifier(cfg, tc, dm)
