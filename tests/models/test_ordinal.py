"""The ordinal head: valid, rank-consistent level probabilities, the CORAL loss, ensembles."""

import numpy as np
import pytest
import torch

from radiogenomics.models.classifier import ClassifierModule
from radiogenomics.models.ordinal import (
    OrdinalHead,
    coral_loss,
    cumulative_log_probs,
    expected_level,
    level_log_probs,
)


@pytest.mark.parametrize("members", [1, 3])
def test_level_probabilities_are_valid_and_rank_consistent(members):
    torch.manual_seed(0)
    head = OrdinalHead(6, 5, members=members)
    with torch.no_grad():  # far from the initial values: large scores, uneven gaps
        head.weight.normal_(0, 5)
        head.gaps.normal_(0, 3)
    h = torch.randn(members, 200, 6) * 10 if members > 1 else torch.randn(200, 6) * 10
    log_p = head(h)
    assert log_p.shape[-1] == 5 and torch.isfinite(log_p).all()
    p = log_p.exp()
    assert (p >= 0).all() and torch.allclose(p.sum(-1), torch.ones(()), atol=1e-5)
    log_s, _ = cumulative_log_probs(log_p)
    s = log_s.exp()
    assert (s[..., :-1] >= s[..., 1:] - 1e-6).all()  # P(y >= k) never rises with k
    assert torch.allclose(s, torch.sigmoid(head.cumulative_logits(h)), atol=1e-5)
    b = head.thresholds()
    assert (b[..., :-1] > b[..., 1:]).all()  # strictly ordered for any parameters


def test_extreme_cumulative_logits_stay_finite():
    cumulative = torch.tensor([[80.0, 79.9999, -80.0], [-5.0, -5.0001, -90.0]])
    log_p = level_log_probs(cumulative)
    assert torch.isfinite(log_p).all()
    assert torch.allclose(log_p.exp().sum(-1), torch.ones(2), atol=1e-5)


def test_coral_loss_is_the_sum_of_cut_bces():
    torch.manual_seed(1)
    head = OrdinalHead(4, 4)
    h, y = torch.randn(30, 4), torch.randint(0, 4, (30,))
    z = head.cumulative_logits(h)
    target = (y[:, None] >= torch.arange(1, 4)).float()
    bce = torch.nn.functional.binary_cross_entropy_with_logits(z, target, reduction="none")
    assert torch.allclose(coral_loss(head(h), y), bce.sum(-1).mean(), atol=1e-5)
    w = torch.rand(30) + 0.5  # weighted mean over patients
    weighted = (bce.sum(-1) * w).sum() / w.sum()
    assert torch.allclose(coral_loss(head(h), y, w), weighted, atol=1e-5)


def test_expected_level():
    log_p = torch.log(torch.tensor([[1.0, 0, 0], [0, 0, 1.0], [0.25, 0.5, 0.25]]) + 1e-12)
    assert torch.allclose(expected_level(log_p), torch.tensor([0.0, 2.0, 1.0]), atol=1e-6)


def test_two_levels_are_the_binary_network():
    module = ClassifierModule(n_genes=10, n_classes=2, hidden_dims=[8], head="ordinal")
    assert not module.ordinal and isinstance(module.head, torch.nn.Linear)
    assert module(torch.randn(3, 10)).shape == (3,)


def test_unknown_head_is_one_line():
    with pytest.raises(ValueError, match="unknown head 'cumulative'"):
        ClassifierModule(n_genes=10, n_classes=3, hidden_dims=[8], head="cumulative")


@pytest.mark.parametrize(
    ("style", "split"), [("packed", "shared"), ("batch", "shared"), ("packed", "kfold")]
)
def test_ensemble_of_ordinal_members(style, split):
    torch.manual_seed(2)
    module = ClassifierModule(
        n_genes=12,
        n_classes=4,
        hidden_dims=[8, 6],
        head="ordinal",
        ensemble=3,
        ensemble_style=style,
        member_split=split,
    ).eval()
    x, y = torch.randn(7, 12), torch.tensor([0, 1, 2, 3, 0, 1, 2])
    members = module.member_logits(x)
    assert members.shape == (3, 7, 4)
    mean = members.exp().mean(0)
    assert torch.allclose(module.probabilities(module(x)), mean, atol=1e-5)
    loss = module.member_loss(members, y)
    assert torch.isfinite(loss)
    per_member = [coral_loss(members[j], y, module.class_weights[y]) for j in range(3)]
    assert torch.allclose(loss, torch.stack(per_member).mean(), atol=1e-5)
    keys = module.member_state_keys()
    assert {"head.weight", "head.first_threshold", "head.gaps"} <= set(keys)
    state = module.state_dict()
    assert all(state[k].shape[0] == 3 for k in keys)


def test_training_reduces_the_loss_and_learns_the_order():
    torch.manual_seed(3)
    x = torch.randn(300, 5)
    latent = x[:, 0] + 0.3 * torch.randn(300)
    y = torch.bucketize(latent, torch.tensor([-0.8, 0.0, 0.8]))
    module = ClassifierModule(n_genes=5, n_classes=4, hidden_dims=[8], head="ordinal")
    opt = torch.optim.Adam(module.parameters(), lr=0.1)
    first = None
    for _ in range(50):
        opt.zero_grad()
        loss = module.loss(module(x), y)
        first = float(loss) if first is None else first
        loss.backward()
        opt.step()
    assert float(loss) < 0.6 * first
    module.eval()
    level = expected_level(module(x)).detach().numpy()
    assert np.corrcoef(level, y.numpy())[0, 1] > 0.8


@pytest.mark.parametrize("ensemble", [1, 3])
def test_masking_kernel_and_saliency_read_the_ordinal_head(ensemble):
    from radiogenomics.interpret.masking import MaskableNetwork
    from radiogenomics.interpret.saliency import attribute

    torch.manual_seed(4)
    module = ClassifierModule(
        n_genes=12, n_classes=4, hidden_dims=[8, 6], head="ordinal", ensemble=ensemble
    ).eval()
    x = torch.randn(5, 12)
    net = MaskableNetwork.from_classifier(module)
    with torch.no_grad():
        expected = module.probabilities(module(x))
        assert torch.allclose(net.tail(x @ net.weight_t + net.bias), expected, atol=1e-5)
    saliency = attribute(module, x)  # one output: d expected level / d gene
    inputs = x.clone().requires_grad_()
    expected_level(module(inputs)).sum().backward()
    assert saliency.shape == (1, 5, 12)
    np.testing.assert_allclose(saliency[0], inputs.grad.numpy(), atol=1e-5)
