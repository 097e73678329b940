"""Batched ensemble layers: k member networks run as one model with a leading member dimension.

``model.ensemble=k`` (k > 1) builds the classifier from these blocks; activations have shape
(k, batch, features) and every layer is one batched matmul over all members.

* ``packed``: every member has its own weights, stacked as (k, out, in) (the "TabM-packed"
  ensemble of Gorishniy et al., ICLR 2025: k independent networks computed as one).
* ``batch``: BatchEnsemble (Wen et al., ICLR 2020) on every linear layer, as in TabM (Gorishniy et
  al. 2025, the paper's recommended default over TabM-mini, which keeps only the first adapter):
  one shared weight W (out, in) and per-member rank-1 multiplicative adapters r (k, in) and
  s (k, out) plus per-member biases, member j computing ``((x * r_j) @ W.T) * s_j + b_j``. As in
  TabM, the first layer's r are random signs (+-1) and every other adapter starts at 1.
  Parameters: about one network's, compute: about k networks'.

Why not the ``tabm`` package's layers: our blocks need per-member BatchNorm (with running
statistics that gene masking folds into the first layer), autoencoder weights copied into every
member or into the shared weight, frozen layers, an input gene mask that zeroes first-layer
columns, a first-layer penalty per member and a per-member snapshot of the stacked parameters
(``member_split=kfold``). All of these need the (k, out, in) layout under our control; the layers
are a few lines each, so they are written here rather than wrapped.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from radiogenomics.models.blocks import activation

ENSEMBLE_STYLES = ("packed", "batch")  # model.ensemble_style
MEMBER_SPLITS = ("shared", "kfold")  # model.member_split


class EnsembleLinear(nn.Module):
    """k linear maps applied to (k, n, in) inputs -> (k, n, out)."""

    def __init__(self, k: int, in_dim: int, out_dim: int, style: str = "packed", first=False):
        super().__init__()
        if style not in ENSEMBLE_STYLES:
            raise ValueError(f"unknown ensemble style {style!r}; choose one of {ENSEMBLE_STYLES}")
        self.k, self.in_features, self.out_features, self.style = k, in_dim, out_dim, style
        bound = 1.0 / math.sqrt(in_dim)
        if style == "packed":
            # each member drawn as its own nn.Linear (same init, its own generator draws)
            layers = [nn.Linear(in_dim, out_dim) for _ in range(k)]
            self.weight = nn.Parameter(torch.stack([m.weight.detach() for m in layers]))
            self.bias = nn.Parameter(torch.stack([m.bias.detach() for m in layers]))
        else:
            shared = nn.Linear(in_dim, out_dim)
            self.weight = nn.Parameter(shared.weight.detach().clone())
            self.bias = nn.Parameter(torch.empty(k, out_dim).uniform_(-bound, bound))
            r = torch.ones(k, in_dim)
            if first:  # TabM: random-sign first adapters make the members differ from step 0
                r = torch.randint(0, 2, (k, in_dim)).float() * 2 - 1
            self.r = nn.Parameter(r)
            self.s = nn.Parameter(torch.ones(k, out_dim))

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Fresh nn.Linear-style weights and biases (the model-randomization sanity check)."""
        bound = 1.0 / math.sqrt(self.in_features)
        weights = self.weight if self.style == "packed" else self.weight[None]
        for w in weights:
            nn.init.kaiming_uniform_(w, a=math.sqrt(5))
        self.bias.uniform_(-bound, bound)

    def member_weight(self) -> torch.Tensor:
        """Each member's effective weight, (k, out, in)."""
        if self.style == "packed":
            return self.weight
        return self.s[:, :, None] * self.weight[None] * self.r[:, None, :]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.style == "packed":
            return torch.baddbmm(self.bias[:, None, :], x, self.weight.transpose(1, 2))
        k, n, _ = x.shape
        h = (x * self.r[:, None, :]).reshape(k * n, -1) @ self.weight.T
        return h.view(k, n, -1) * self.s[:, None, :] + self.bias[:, None, :]

    @torch.no_grad()
    def load_linear(self, linear: nn.Linear) -> None:
        """Copy one nn.Linear into every member (packed) or into the shared weight (batch)."""
        if self.style == "packed":
            self.weight.copy_(linear.weight.expand_as(self.weight))
        else:
            self.weight.copy_(linear.weight)
            self.r.fill_(1.0)  # the transferred map itself in every member
            self.s.fill_(1.0)
        self.bias.copy_(linear.bias.expand_as(self.bias))


class EnsembleBatchNorm(nn.Module):
    """BatchNorm1d per member over (k, n, features): statistics and affine kept per member."""

    def __init__(self, k: int, features: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        self.k, self.eps, self.momentum = k, eps, momentum
        self.weight = nn.Parameter(torch.ones(k, features))
        self.bias = nn.Parameter(torch.zeros(k, features))
        self.register_buffer("running_mean", torch.zeros(k, features))
        self.register_buffer("running_var", torch.ones(k, features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, n, f = x.shape
        if self.training:
            self.num_batches_tracked.add_(1)
        flat = x.permute(1, 0, 2).reshape(n, k * f)  # members' channels side by side
        out = nn.functional.batch_norm(
            flat,
            self.running_mean.view(-1),  # views: the in-place statistics update lands here
            self.running_var.view(-1),
            self.weight.view(-1),
            self.bias.view(-1),
            self.training,
            self.momentum,
            self.eps,
        )
        return out.view(n, k, f).permute(1, 0, 2)

    @torch.no_grad()
    def load_batchnorm(self, norm: nn.BatchNorm1d) -> None:
        """Copy one BatchNorm1d (affine and running statistics) into every member."""
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(self, name).copy_(getattr(norm, name).expand(self.k, -1))
        self.num_batches_tracked.copy_(norm.num_batches_tracked)

    def scale_shift(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Eval-mode BatchNorm as ``x * scale + shift``, each (k, features)."""
        scale = torch.rsqrt(self.running_var + self.eps) * self.weight
        return scale, self.bias - self.running_mean * scale


class EnsembleBlock(nn.Sequential):
    """EnsembleLinear -> EnsembleBatchNorm (optional) -> activation -> Dropout (optional)."""

    def __init__(
        self, k, in_dim, out_dim, act, batchnorm=True, dropout=0.0, style="packed", first=False
    ) -> None:
        super().__init__()
        self.add_module("linear", EnsembleLinear(k, in_dim, out_dim, style, first))
        if batchnorm:
            self.add_module("norm", EnsembleBatchNorm(k, out_dim))
        self.add_module("act", activation(act))
        if dropout > 0:
            self.add_module("drop", nn.Dropout(dropout))

    def load_block(self, block: nn.Sequential) -> None:
        """Copy a DenseBlock (Linear, BatchNorm) into every member."""
        self.linear.load_linear(block.linear)
        if hasattr(self, "norm"):
            if not hasattr(block, "norm"):
                raise ValueError("cannot transfer a block without BatchNorm into one with it")
            self.norm.load_batchnorm(block.norm)

    def affine(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Eval-mode linear + BatchNorm as per-member (k, out, in) weight and (k, out) bias."""
        weight = self.linear.member_weight().detach()
        bias = self.linear.bias.detach()
        if hasattr(self, "norm"):
            scale, shift = (t.detach() for t in self.norm.scale_shift())
            weight, bias = weight * scale[:, :, None], bias * scale + shift
        return weight, bias


def build_ensemble_blocks(
    k, in_dim, hidden_dims, act="tanh", batchnorm=True, dropout=0.0, style="packed"
) -> nn.ModuleList:
    """Stack of EnsembleBlocks ``in_dim -> hidden_dims[0] -> ... -> hidden_dims[-1]``."""
    if not hidden_dims:
        raise ValueError("hidden_dims must name at least one layer size")
    dims = [in_dim, *hidden_dims]
    return nn.ModuleList(
        EnsembleBlock(k, a, b, act, batchnorm, dropout, style, first=i == 0)
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:], strict=True))
    )


def mean_probability_logits(member_logits: torch.Tensor, binary: bool) -> torch.Tensor:
    """Logits whose sigmoid (binary) / softmax (multiclass) is the members' mean probability.

    ``member_logits``: (k, n) binary or (k, n, K). Computed in log space (no 0/1 overflow):
    binary ``log mean sigmoid(z) - log mean sigmoid(-z)``; multiclass ``log mean softmax(z)``.
    """
    log_k = math.log(member_logits.shape[0])
    if binary:
        log_p = torch.logsumexp(nn.functional.logsigmoid(member_logits), dim=0) - log_k
        log_q = torch.logsumexp(nn.functional.logsigmoid(-member_logits), dim=0) - log_k
        return log_p - log_q
    return torch.logsumexp(torch.log_softmax(member_logits, dim=-1), dim=0) - log_k
