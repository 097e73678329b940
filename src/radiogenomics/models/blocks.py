"""Dense encoder blocks shared by the autoencoder and the trait classifier."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
    "sigmoid": nn.Sigmoid,
    "selu": nn.SELU,
}

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "adadelta": torch.optim.Adadelta,
    "nadam": torch.optim.NAdam,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}
# optimizers whose multi-tensor (foreach) step gives the per-tensor loop's weights bit for bit
SAME_FOREACH = ("adam", "adamw", "adadelta", "sgd", "rmsprop")


def activation(name: str) -> nn.Module:
    """A fresh activation module by name (a distinct instance per use, as DeepLift needs)."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}"
        ) from None


class DenseBlock(nn.Sequential):
    """Linear -> BatchNorm (optional) -> activation -> Dropout (optional)."""

    def __init__(
        self, in_dim: int, out_dim: int, act: str, batchnorm: bool = True, dropout: float = 0.0
    ) -> None:
        layers: dict[str, nn.Module] = {"linear": nn.Linear(in_dim, out_dim)}
        if batchnorm:
            layers["norm"] = nn.BatchNorm1d(out_dim)
        layers["act"] = activation(act)
        if dropout > 0:
            layers["drop"] = nn.Dropout(dropout)
        super().__init__()
        for name, layer in layers.items():
            self.add_module(name, layer)


def build_blocks(
    in_dim: int,
    hidden_dims: Sequence[int],
    act: str = "tanh",
    batchnorm: bool = True,
    dropout: float = 0.0,
) -> nn.ModuleList:
    """Stack of DenseBlocks ``in_dim -> hidden_dims[0] -> ... -> hidden_dims[-1]``."""
    if not hidden_dims:
        raise ValueError("hidden_dims must name at least one layer size")
    dims = [in_dim, *hidden_dims]
    return nn.ModuleList(
        DenseBlock(a, b, act, batchnorm, dropout) for a, b in zip(dims[:-1], dims[1:], strict=True)
    )


def build_optimizer(params, cfg: Mapping) -> torch.optim.Optimizer:
    """Optimizer from ``{name: adam, lr: 1e-3, ...}`` (other keys passed through).

    ``foreach`` defaults to true for the optimizers of ``SAME_FOREACH``: each update step is a
    few multi-tensor kernels over every parameter instead of a Python loop of per-tensor ops,
    with the same weights bit for bit (tests/models/test_models.py). Torch's own default turns
    it on for GPU tensors only; on CPU the per-tensor loop made Adam about half of a training
    step of a 12,000-gene network (benchmarks/bench_ensemble.py). ``foreach: false`` restores
    the loop; nadam keeps torch's default (its multi-tensor path rounds differently)."""
    kwargs = dict(cfg)
    name = str(kwargs.pop("name", "adam")).lower()
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {sorted(OPTIMIZERS)}")
    if name in SAME_FOREACH:
        kwargs.setdefault("foreach", True)
    return OPTIMIZERS[name](params, **kwargs)
