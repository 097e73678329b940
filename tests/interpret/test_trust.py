"""Issue 17: null labels, masking tail p, sanity checks, agreement."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from radiogenomics.data.splits import make_fold_split, null_labels
from radiogenomics.evaluation.tails import control_fit, per_size, tail_p
from radiogenomics.interpret.agreement import agreement_matrix, pooled_importances, square
from radiogenomics.interpret.importance_null import top_k_overlap
from radiogenomics.interpret.masking import (
    mask_gene_sets,
    mask_nested_controls,
    random_gene_sets,
    random_permutations,
)
from radiogenomics.interpret.sanity import (
    layer_names,
    model_randomization,
    plain_attributor,
    randomization_steps,
    randomized,
    verdict,
)
from radiogenomics.models.classifier import ClassifierModule


def test_null_labels_permute_training_patients_only_and_share_across_folds():
    y = np.repeat([0, 1], 30)
    splits = [make_fold_split(y, 5, f, 425, 0.2) for f in range(5)]
    permuted = [null_labels(y, s, 425, 3) for s in splits]
    for split, labels in zip(splits, permuted, strict=True):
        assert np.array_equal(labels[split.test], y[split.test])  # held-out untouched
        assert not np.array_equal(labels[split.train], y[split.train])
        assert set(labels[split.fit]) == set(labels[split.val]) == {0, 1}
    both = np.intersect1d(splits[0].train, splits[1].train)
    assert np.array_equal(permuted[0][both], permuted[1][both])  # one permutation per null id
    assert np.array_equal(null_labels(y, splits[0], 425, 3), permuted[0])
    assert not np.array_equal(null_labels(y, splits[0], 425, 4), permuted[0])
    with pytest.raises(ValueError, match="null_permutation"):
        null_labels(y, splits[0], 425, -1)


def test_nested_controls_equal_gathered_sets_and_tail_p(toy_job):
    net, dm = toy_job(seed=2)
    net.eval()
    x = dm.x["test"]
    sizes = [3, 7, 20]
    controls = random_gene_sets(x.shape[1], sizes, 12, seed=5)
    ref = mask_gene_sets(net, x, [c for s in sizes for c in controls[s]])
    new = mask_nested_controls(net, x, random_permutations(x.shape[1], 12, 5), sizes)
    np.testing.assert_allclose(new, ref, atol=1e-6)
    rng = np.random.default_rng(0)
    null = {5: rng.normal(0.5, 0.05, 2000)}
    p = per_size(tail_p, np.array([0.75, 0.5, 0.6]), np.array([5, 5, 5]), null)
    assert p[0] < 1 / 2001 and p[1] == pytest.approx(0.5, abs=0.03)  # below u: empirical
    assert p[2] == pytest.approx(0.023, abs=0.01)  # 2 sd above the mean, from the tail fit
    fit = control_fit(null)
    assert fit.loc[0, "n_controls"] == 2000 and fit.loc[0, "gpd_exceedances"] == 200
    assert fit.loc[0, "gpd_ks_p"] > 0.01 and fit.loc[0, "shapiro_p"] > 0.001


def _hand_built(n_genes: int = 40) -> ClassifierModule:
    """A network whose logit depends on genes 0..4 only (the known answer)."""
    torch.manual_seed(0)
    net = ClassifierModule(n_genes, 2, [6, 4], dropout=0.0, input_dropout=0.0)
    with torch.no_grad():
        first = net.blocks[0][0]
        first.weight.zero_()
        first.weight[:, :5] = torch.linspace(0.5, 1.5, 5)
        first.bias.zero_()
    return net.eval()


def test_sanity_checks_on_a_hand_built_network():
    net = _hand_built()
    x = torch.randn(64, 40, generator=torch.Generator().manual_seed(1))
    attributions = plain_attributor("saliency")(net, x)
    top = np.argsort(-np.abs(attributions[0]).mean(axis=0))[:5]
    assert set(top.tolist()) == set(range(5))  # the planted genes rank first
    assert layer_names(net) == ["block0", "block1", "head"]
    assert [s[1] for s in randomization_steps(net)][:3] == ["head", "head+block1", "all"]
    again = randomized(net, ["head"], seed=0)
    assert not torch.equal(again.head.weight, net.head.weight)
    assert torch.equal(net.blocks[0][0].weight, _hand_built().blocks[0][0].weight)  # untouched
    table = model_randomization(net, x, plain_attributor("saliency")).assign(method="saliency")
    full = table[(table["kind"] == "cascading") & (table["step"] == "all")]
    assert abs(full["spearman_abs"].iloc[0]) < 0.2
    # an "attribution" that ignores the model (|input|) survives every randomization
    blind = model_randomization(net, x, lambda m, v: v.abs().numpy()[None]).assign(method="blind")
    verdicts = verdict(pd.concat([table, blind])).set_index("method")
    assert verdicts.loc["saliency", "model_dependent"]
    assert not verdicts.loc["blind", "model_dependent"]


def test_agreement_of_methods_and_overlap():
    net = _hand_built()
    x = torch.randn(30, 40, generator=torch.Generator().manual_seed(2))
    y = (x[:, :5].sum(dim=1) > 0).long().numpy()
    genes, sets, means = pooled_importances(
        [(net, x[:15], y[:15]), (net, x[15:], y[15:])],
        [np.arange(5), np.arange(5, 15)],
        methods=("saliency", "input_x_gradient"),
        n_steps=4,
    )
    assert list(genes.columns) == ["saliency", "input_x_gradient", "masking"]
    assert sets["masking"].iloc[0] > 0.8 and means.shape == (2, 40)
    table = agreement_matrix(genes, top=5)
    assert len(table) == 3 and table["top5_overlap"].between(0, 1).all()
    matrix = square(table)
    assert matrix.shape == (3, 3) and np.allclose(np.diag(matrix), 1)
    assert top_k_overlap(np.arange(10), np.arange(10), 3) == 1.0
