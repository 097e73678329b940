"""The multi-task network: masked per-trait loss, loss weights, and each trait's view."""

import pytest
import torch

from radiogenomics.data.multitask import MISSING
from radiogenomics.models.classifier import ClassifierModule
from radiogenomics.models.multitask import MultiTaskModule

HEADS = [
    {"name": "a", "kind": "categorical", "n_classes": 2},
    {"name": "b", "kind": "categorical", "n_classes": 3},
]


def _module(**kwargs) -> MultiTaskModule:
    torch.manual_seed(0)
    options = {"batchnorm": False, "dropout": 0.0, "input_dropout": 0.0, **kwargs}
    return MultiTaskModule(n_genes=6, heads=HEADS, hidden_dims=[5, 4], **options)


def _head_grads(module: MultiTaskModule, x, Y) -> list[torch.Tensor]:
    module.zero_grad()
    module.loss(module(x), Y).backward()
    return [p.grad.clone() for p in module.heads[0].parameters()]


def test_a_patient_missing_a_trait_leaves_that_heads_gradient_unchanged():
    module = _module(class_weights=[[1.0, 2.0], [1.0, 1.0, 3.0]])
    x = torch.randn(5, 6)
    Y = torch.tensor([[0, 1], [1, 2], [0, 0], [1, 1], [MISSING, 2]])
    with_patient = _head_grads(module, x, Y)
    without = _head_grads(module, x[:4], Y[:4])
    for g1, g2 in zip(with_patient, without, strict=True):
        torch.testing.assert_close(g1, g2)
    # whatever that patient's expression: head a never sees it
    x2 = x.clone()
    x2[4] = 100.0
    for g1, g2 in zip(with_patient, _head_grads(module, x2, Y), strict=True):
        torch.testing.assert_close(g1, g2)
    # a labelled patient does change it (the check above is not vacuous)
    Y_labelled = Y.clone()
    Y_labelled[4, 0] = 1
    changed = _head_grads(module, x, Y_labelled)
    assert not torch.allclose(changed[0], with_patient[0])


def test_batch_with_no_label_of_a_trait_trains_the_others():
    module = _module()
    Y = torch.tensor([[MISSING, 0], [MISSING, 2]])
    loss = module.loss(module(torch.randn(2, 6)), Y)
    loss.backward()
    assert torch.isfinite(loss) and module.heads[0].weight.grad is None  # untouched
    assert module.heads[1].weight.grad.abs().sum() > 0


def test_loss_is_the_weighted_mean_of_the_traits_losses():
    x, Y = torch.randn(6, 6), torch.tensor([[0, 1], [1, 2], [0, 0], [1, 1], [0, 2], [1, 0]])
    equal, weighted = _module(), _module(loss_weights=[3.0, 1.0])
    outputs = equal(x)
    only_a = _module(loss_weights=[1.0, 0.0]).loss(outputs, Y)
    only_b = _module(loss_weights=[0.0, 1.0]).loss(outputs, Y)
    torch.testing.assert_close(equal.loss(outputs, Y), (only_a + only_b) / 2)
    torch.testing.assert_close(weighted.loss(outputs, Y), (3 * only_a + only_b) / 4)
    with pytest.raises(ValueError, match="loss_weights"):
        _module(loss_weights=[0.0, 0.0])


def test_trait_view_is_a_single_trait_network_with_the_same_outputs():
    module = _module(batchnorm=True, dropout=0.3, input_dropout=0.2, freeze_layers=1).eval()
    x = torch.randn(7, 6)
    with torch.no_grad():
        outputs = module(x)
        for t in range(2):
            view = module.trait_view(t)
            assert isinstance(view, ClassifierModule) and not view.training
            assert view.n_classes == HEADS[t]["n_classes"]
            torch.testing.assert_close(view(x), outputs[t])
    assert outputs[0].shape == (7,) and outputs[1].shape == (7, 3)


def test_frozen_trunk_blocks_stay_in_eval_mode_and_untrained():
    module = _module(batchnorm=True, freeze_layers=1)
    module.train()
    assert not module.blocks[0].training and module.blocks[1].training
    assert not any(p.requires_grad for p in module.blocks[0].parameters())


def test_an_unsupported_trait_kind_has_no_head():
    with pytest.raises(ValueError, match="no continuous head"):
        MultiTaskModule(
            n_genes=3, heads=[{"name": "v", "kind": "continuous", "n_classes": 0}], hidden_dims=[2]
        )
