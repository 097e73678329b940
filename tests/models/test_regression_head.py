"""The continuous head: fit-patient target scale, outputs in the target's units, ensembles, loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from radiogenomics.errors import DataError
from radiogenomics.interpret.masking import mask_gene_sets
from radiogenomics.interpret.saliency import attribute
from radiogenomics.models.classifier import ClassifierModule
from radiogenomics.models.regression_head import (
    fit_continuous_head,
    regression_training_loss,
    select_on,
    target_scale,
)
from radiogenomics.models.regularization import Regularization


def network(**kwargs) -> ClassifierModule:
    torch.manual_seed(0)
    module = ClassifierModule(n_genes=6, n_classes=0, hidden_dims=[5, 3], **kwargs)
    module.set_target_scale(100.0, 20.0)
    return module.eval()


def test_outputs_are_predictions_in_the_target_units():
    module = network()
    x = torch.randn(7, 6)
    standardised = module(x)
    assert standardised.shape == (7,)
    pred = module.probabilities(standardised)
    torch.testing.assert_close(pred, standardised * 20 + 100)
    y = pred.detach() + 20  # one sd off everywhere: MSE 1 on the standardised scale
    assert float(module.loss(standardised, y)) == pytest.approx(1.0, rel=1e-5)
    assert {"target_mean", "target_sd"} <= set(module.state_dict())
    assert module.selection_metric == "val_r2"
    assert module.selection_score(y.numpy(), pred.detach().numpy()) < 0  # worse than the mean


def test_target_scale_is_the_fit_patients_and_label_smoothing_is_refused():
    assert target_scale(np.array([1.0, 3.0])) == (2.0, 1.0)
    assert target_scale(np.array([5.0, 5.0])) == (5.0, 1.0)  # constant: unit scale
    module = network()

    class Data:
        y = {"fit": torch.tensor([10.0, 30.0], dtype=torch.float64)}

    fit_continuous_head(module, Data())
    assert float(module.target_mean) == 20.0 and float(module.target_sd) == 10.0
    module.regularization = Regularization(label_smoothing=0.1)
    with pytest.raises(DataError, match=r"label_smoothing=0.1.*continuous"):
        fit_continuous_head(module, Data())
    loss = regression_training_loss(
        module.train(), torch.randn(8, 6), torch.randn(8).double(), Regularization(mixup=0.4)
    )
    assert torch.isfinite(loss)


def test_ensemble_averages_member_predictions_and_masking_agrees():
    module = network(ensemble=3)
    x = torch.randn(5, 6)
    members = module.member_logits(x)
    assert members.shape == (3, 5)
    torch.testing.assert_close(module(x), members.mean(dim=0))
    # masking every gene kept (one set of all genes) reproduces the unmasked prediction
    masked = mask_gene_sets(module, x, [np.arange(6)])
    np.testing.assert_allclose(
        masked[0], module.probabilities(module(x)).detach().numpy(), rtol=1e-4
    )


def test_saliency_is_the_gradient_of_the_predicted_value():
    module = network()
    x = torch.randn(4, 6)
    grads = attribute(module, x, "saliency")
    assert grads.shape == (1, 4, 6)
    inputs = x.clone().requires_grad_()
    module.probabilities(module(inputs)).sum().backward()
    np.testing.assert_allclose(grads[0], inputs.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_selection_callbacks_are_pointed_at_val_r2():
    class Watcher:
        monitor = "val_auroc"

    watchers = [Watcher(), Watcher()]
    select_on(watchers, "val_r2")
    assert [w.monitor for w in watchers] == ["val_r2", "val_r2"]
