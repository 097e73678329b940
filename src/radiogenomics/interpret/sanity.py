"""Sanity checks of attributions (Adebayo et al. 2018): do they change when the weights do?

Model randomization re-initialises layers of a trained network (a deep copy; the original is not
touched) and recomputes the attributions of the same patients:

* *cascading*, from the top down: the head, then the head and the last hidden block, ... until
  every layer is random;
* *independent*: each layer alone.

A layer is re-initialised with its own ``reset_parameters`` (PyTorch's default init) under a fixed
seed; BatchNorm running statistics and affine parameters stay (they rescale, they do not rank).
Each step is compared with the trained model's attributions by the Spearman correlation of the
gene rankings (mean absolute attribution over the patients, and mean signed attribution) and the
overlap of their top-100 genes. Attributions that still agree with the trained model once every
layer is random do not depend on what the model learned (:func:`verdict`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr
from torch import nn

from radiogenomics.interpret.importance_null import top_k_overlap
from radiogenomics.interpret.saliency import PLAIN_GRADIENT, attribute

RANDOM_SPEARMAN = 0.2  # a fully randomized model's ranking must correlate less than this
TOP_GENES = 100

Attributor = Callable[[nn.Module, torch.Tensor], np.ndarray]  # -> (outputs, patients, genes)


def layer_names(module: nn.Module) -> list[str]:
    """The randomizable layers of a ClassifierModule, bottom up: ``block0``.. then ``head``."""
    return [f"block{i}" for i in range(len(module.blocks))] + ["head"]


def randomized(module: nn.Module, layers: Sequence[str], seed: int = 0) -> nn.Module:
    """A deep copy of ``module`` with the Linear layers of ``layers`` re-initialised."""
    copy_ = copy.deepcopy(module)
    generator_state = torch.random.get_rng_state()
    try:
        for i, name in enumerate(layers):
            torch.manual_seed(seed + 7919 * i)
            linear = copy_.head if name == "head" else copy_.blocks[int(name[5:])][0]
            linear.reset_parameters()
    finally:
        torch.random.set_rng_state(generator_state)
    return copy_.eval()


def randomization_steps(module: nn.Module) -> list[tuple[str, str, list[str]]]:
    """(kind, step label, layers randomized): cascading top-down, then each layer alone."""
    names = layer_names(module)
    steps = []
    for depth in range(1, len(names) + 1):
        layers = names[::-1][:depth]
        label = "all" if depth == len(names) else "+".join(layers)
        steps.append(("cascading", label, layers))
    steps += [("independent", name, [name]) for name in names]
    return steps


def plain_attributor(method: str = PLAIN_GRADIENT, **kwargs) -> Attributor:
    """Captum attributions of one method (:func:`~radiogenomics.interpret.saliency.attribute`)."""
    return lambda module, x: attribute(module, x, method, **kwargs)


def ranking_similarity(trained: np.ndarray, other: np.ndarray, top: int = TOP_GENES) -> dict:
    """Spearman (mean |attribution| and mean signed) and top-k overlap of two (.., patients, genes)."""
    a = np.abs(trained).mean(axis=(0, 1))
    b = np.abs(other).mean(axis=(0, 1))
    signed_a, signed_b = trained.mean(axis=(0, 1)), other.mean(axis=(0, 1))
    return {
        "spearman_abs": float(spearmanr(a, b).statistic),
        "spearman_signed": float(spearmanr(signed_a, signed_b).statistic),
        f"top{top}_overlap": top_k_overlap(a, b, top),
    }


def model_randomization(
    module: nn.Module, x: torch.Tensor, attributor: Attributor, seed: int = 0
) -> pd.DataFrame:
    """One row per randomization step: kind, step, layers, similarity to the trained model."""
    module = module.eval()
    trained = attributor(module, x)
    rows = [
        {"kind": "trained", "step": "none", "layers": "", **ranking_similarity(trained, trained)}
    ]
    for kind, label, layers in randomization_steps(module):
        other = attributor(randomized(module, layers, seed), x)
        rows.append(
            {
                "kind": kind,
                "step": label,
                "layers": ",".join(layers),
                **ranking_similarity(trained, other),
            }
        )
    return pd.DataFrame(rows)


def verdict(table: pd.DataFrame, threshold: float = RANDOM_SPEARMAN) -> pd.DataFrame:
    """Per method: mean Spearman of the fully randomized model; model-dependent if below threshold."""
    full = table[(table["kind"] == "cascading") & (table["step"] == "all")]
    rows = []
    for method, part in full.groupby("method", sort=True):
        rho = float(part["spearman_abs"].mean())
        rows.append(
            {
                "method": method,
                "n_models": len(part),
                "spearman_abs_fully_random": rho,
                "top100_overlap_fully_random": float(part[f"top{TOP_GENES}_overlap"].mean()),
                "model_dependent": bool(abs(rho) < threshold),
                "verdict": "depends on the learned weights"
                if abs(rho) < threshold
                else "survives randomization: NOT model-dependent",
            }
        )
    return pd.DataFrame(rows)
