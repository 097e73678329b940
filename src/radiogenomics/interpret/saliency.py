"""Gene saliency: attribute the network's logit to every input gene, per patient, with Captum.

All patients go through Captum in one call (one forward and one backward pass for gradient
methods; integrated gradients adds ``n_steps`` interpolation points, bounded by
``internal_batch_size``). The model is put in eval mode for the call and restored afterwards, so
dropout and BatchNorm batch statistics never change an attribution. The logit is attributed, not
the sigmoid/softmax probability (which saturates and flattens gradients of confident patients).
Multiclass networks get one attribution per class (output node k for class k; the seed code always
used node 0). An ordinal network (ordered levels) gets one attribution, of its expected level
``sum_k k p_k`` (output ``expected_level``): its logits are level log-probabilities, and the
expected level is the one output that moves monotonically with the trait.

Methods (``METHODS``):

* ``saliency``: the plain gradient d logit / d gene (signed; take ``abs`` for the paper's ranking);
* ``input_x_gradient``: gradient times the standardized expression;
* ``integrated_gradients``: path integral from the baseline (0 = the training mean) to the patient;
* ``deeplift``: DeepLift (rescale rule) against the same baseline;
* ``guided_backprop``: Captum's guided backprop overrides the backward pass of ReLU modules only.
  With the paper's tanh activations there is no ReLU, so it equals the plain gradient (the paper's
  "guided backprop" of a tanh network was, in effect, the plain gradient too).

Lightning runs ``trainer.test`` (and so ``on_test_end``) under ``torch.inference_mode``; Captum
needs autograd, so :func:`attribute` leaves inference mode, enables gradients and clones the
input into a normal tensor.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from captum.attr import (
    DeepLift,
    GuidedBackprop,
    InputXGradient,
    IntegratedGradients,
    Saliency,
)
from torch import nn

from radiogenomics.evaluation.regression import PREDICTED
from radiogenomics.models.ordinal import expected_level

PLAIN_GRADIENT = "saliency"  # Captum's Saliency: the plain input gradient (the paper's)
METHODS = (
    PLAIN_GRADIENT,
    "input_x_gradient",
    "integrated_gradients",
    "deeplift",
    "guided_backprop",
)
_BASELINE_METHODS = {"integrated_gradients", "deeplift"}
EXPECTED_LEVEL = "expected_level"  # an ordinal network's one attributed output


class LogitColumns(nn.Module):
    """A classifier's logits as a (n, outputs) matrix: one column for binary, K for multiclass,
    one (the expected level) for an ordinal network."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module
        self.ordinal = bool(getattr(module, "ordinal", False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.module(x)
        if getattr(self.module, "continuous", False):  # the predicted value, target's units
            logits = self.module.probabilities(logits)
        if self.ordinal:
            return expected_level(logits).unsqueeze(-1)
        return logits.unsqueeze(-1) if logits.ndim == 1 else logits


def output_classes(class_names: Sequence[str], ordinal: bool = False) -> list[str]:
    """Outputs with their own attribution: the positive class (binary), every class
    (multiclass), ``expected_level`` (``ordinal`` with more than two levels), or the predicted
    value ``y_pred`` (a continuous trait: no classes)."""
    if not class_names:
        return [PREDICTED]
    if ordinal and len(class_names) > 2:
        return [EXPECTED_LEVEL]
    return [str(class_names[1])] if len(class_names) == 2 else [str(c) for c in class_names]


@contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """Run with ``module`` in eval mode, restoring its previous mode afterwards."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


def attribute(
    module: nn.Module,
    x: np.ndarray | torch.Tensor,
    method: str = PLAIN_GRADIENT,
    n_steps: int = 50,
    internal_batch_size: int | None = None,
) -> np.ndarray:
    """Attributions of every output logit to every gene: float32 (outputs, patients, genes).

    ``outputs`` is 1 for a binary network (the positive-class logit) and K for a K-class one,
    in class order; 1 for an ordinal network (its expected level). ``x`` is the standardized (patients x genes) matrix; baselines are zeros.
    """
    if method not in METHODS:
        raise ValueError(f"unknown attribution method {method!r}; choose one of {METHODS}")
    if n_steps < 2:
        raise ValueError(f"n_steps must be at least 2, got {n_steps}")
    param = next(module.parameters())
    with torch.inference_mode(False), torch.enable_grad(), eval_mode(module):
        inputs = torch.as_tensor(x).to(device=param.device, dtype=param.dtype).clone()
        if inputs.ndim != 2 or len(inputs) == 0:
            raise ValueError(f"x must be a non-empty (patients x genes) matrix, got {inputs.shape}")
        inputs.requires_grad_()
        wrapped = LogitColumns(module)
        n_outputs = wrapped(inputs[:1]).shape[-1]
        with warnings.catch_warnings():  # Captum announces its (temporary) activation hooks
            warnings.filterwarnings("ignore", message="Setting .*hooks", category=UserWarning)
            return np.stack(
                [
                    _attribute_one(wrapped, inputs, method, k, n_steps, internal_batch_size)
                    for k in range(n_outputs)
                ]
            )


def _attribute_one(
    wrapped: LogitColumns,
    inputs: torch.Tensor,
    method: str,
    target: int,
    n_steps: int,
    internal_batch_size: int | None,
) -> np.ndarray:
    """One output column's attributions for all patients in one Captum call."""
    if method == PLAIN_GRADIENT:
        out = Saliency(wrapped).attribute(inputs, target=target, abs=False)
    elif method == "input_x_gradient":
        out = InputXGradient(wrapped).attribute(inputs, target=target)
    elif method == "guided_backprop":
        out = GuidedBackprop(wrapped).attribute(inputs, target=target)
    elif method == "integrated_gradients":
        out = IntegratedGradients(wrapped).attribute(
            inputs,
            baselines=torch.zeros_like(inputs),
            target=target,
            n_steps=n_steps,
            internal_batch_size=internal_batch_size,
        )
    else:
        out = DeepLift(wrapped).attribute(inputs, baselines=torch.zeros_like(inputs), target=target)
    return out.detach().float().cpu().numpy()


def ranking_scores(attributions: np.ndarray, ranking: str = "signed") -> np.ndarray:
    """The per-gene score GSEA ranks: signed attributions or their absolute values."""
    if ranking == "signed":
        return attributions
    if ranking == "absolute":
        return np.abs(attributions)
    raise ValueError(f"ranking must be 'signed' or 'absolute', got {ranking!r}")
