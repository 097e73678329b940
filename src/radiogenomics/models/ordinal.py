"""Ordinal head: one shared score and K-1 ordered thresholds (CORAL family), as level log-probabilities.

For ordered levels 0 < 1 < ... < K-1 the head models the cumulative probabilities

    S_k = P(y >= k | x) = sigmoid(g(x) + b_k),   k = 1..K-1,

with one shared score ``g(x) = w . h`` (a Linear(h, 1) without bias: ``b_1`` is the intercept)
and thresholds ``b_1 > b_2 > ... > b_{K-1}`` parameterised as ``b_k = b_1 - sum_{j<k} (softplus(d_j)
+ MIN_GAP)``, so they are strictly ordered for every parameter value and ``S_1 >= ... >= S_{K-1}``
for every input (rank consistency, Cao, Mirjalili & Raschka 2020, guaranteed by construction, not
by training). ``forward`` returns the **log level probabilities** (n, K), ``log p_k = log(S_k -
S_{k+1})`` with ``S_0 = 1, S_K = 0``, computed in log space from the cumulative logits:

    log(sigmoid(a) - sigmoid(b)) = a + log(1 - exp(b - a)) - softplus(a) - softplus(b),  a > b,

so ``softmax(forward(h))`` is the level distribution and every consumer of a multiclass network
(ensembles' mean_probability_logits, bundles, predict, masking kernels, saliency) works on its K
columns unchanged.

Loss (:func:`coral_loss`): the CORAL loss, the sum over cuts k of BCE(S_k, 1[y >= k]), weighted per
patient by the balanced weight of its level (the classifier's ``class_weights`` from the fit
patients; ``model.class_balanced=false`` gives plain CORAL) and averaged with those weights, as
the multiclass network's weighted cross-entropy is. It is computed from the log level
probabilities alone (``log S_k = logsumexp_{j>=k} log p_j``, ``log(1 - S_k) = logsumexp_{j<k}
log p_j``), so one function serves the single network, every ensemble member's output and the
kfold member masks.

Why our own and not ``coral-pytorch`` (1.4.0, last released 2022): its CoralLayer has free,
unconstrained thresholds (rank consistency is only what training usually produces), returns the
K-1 cumulative logits rather than level probabilities, and has no per-member (packed ensemble)
form; each would need wrapping, and the layer is a few lines.
"""

from __future__ import annotations

import math

import torch
from torch import nn

MIN_GAP = 1e-4  # smallest gap between consecutive thresholds: strictly ordered in float32 too
INITIAL_GAP = 1.0  # thresholds start one logit apart, centred on 0


class OrdinalHead(nn.Module):
    """Shared score plus ordered thresholds; ``members > 1``: one of each per ensemble member.

    Input (n, hidden) -> log level probabilities (n, K); with members, (k, n, hidden) -> (k, n, K).
    """

    def __init__(self, in_features: int, n_levels: int, members: int = 1) -> None:
        super().__init__()
        if n_levels < 3:
            raise ValueError(f"an ordinal head needs >= 3 levels, got {n_levels} (2: binary)")
        self.in_features, self.n_levels, self.members = in_features, n_levels, int(members)
        shape = (self.members,) if self.members > 1 else ()
        self.weight = nn.Parameter(torch.empty((*shape, in_features)))
        self.first_threshold = nn.Parameter(torch.empty(shape))
        self.gaps = nn.Parameter(torch.empty((*shape, n_levels - 2)))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """nn.Linear-style score weights; thresholds INITIAL_GAP apart, centred on 0."""
        bound = 1.0 / math.sqrt(self.in_features)
        self.weight.uniform_(-bound, bound)
        self.first_threshold.fill_(INITIAL_GAP * (self.n_levels - 2) / 2)
        self.gaps.fill_(math.log(math.expm1(INITIAL_GAP - MIN_GAP)))  # softplus^-1

    def thresholds(self) -> torch.Tensor:
        """b_1 > ... > b_{K-1}: (K-1,), or (members, K-1)."""
        steps = nn.functional.softplus(self.gaps) + MIN_GAP
        first = self.first_threshold.unsqueeze(-1)
        return torch.cat([first, first - torch.cumsum(steps, dim=-1)], dim=-1)

    def cumulative_logits(self, h: torch.Tensor) -> torch.Tensor:
        """logit P(y >= k), k = 1..K-1: (n, K-1), or (members, n, K-1)."""
        if self.members > 1:
            score = torch.einsum("knh,kh->kn", h, self.weight)
            return score.unsqueeze(-1) + self.thresholds()[:, None, :]
        return (h @ self.weight).unsqueeze(-1) + self.thresholds()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Log level probabilities (n, K), or (members, n, K)."""
        return level_log_probs(self.cumulative_logits(h))


def level_log_probs(cumulative: torch.Tensor) -> torch.Tensor:
    """Log level probabilities (..., K) from decreasing cumulative logits (..., K-1), stably."""
    a, b = cumulative[..., :-1], cumulative[..., 1:]  # S_k and S_{k+1} of the middle levels
    middle = a + _log1mexp(a - b) - nn.functional.softplus(a) - nn.functional.softplus(b)
    lowest = nn.functional.logsigmoid(-cumulative[..., :1])  # 1 - S_1
    highest = nn.functional.logsigmoid(cumulative[..., -1:])  # S_{K-1}
    return torch.cat([lowest, middle, highest], dim=-1)


def _log1mexp(x: torch.Tensor) -> torch.Tensor:
    """log(1 - exp(-x)) for x > 0 (Maechler 2012: expm1 near 0, log1p beyond log 2)."""
    x = x.clamp(min=torch.finfo(x.dtype).tiny)
    return torch.where(x < math.log(2), torch.log(-torch.expm1(-x)), torch.log1p(-torch.exp(-x)))


def cumulative_log_probs(log_probs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(log S_k, log(1 - S_k)) for k = 1..K-1 from log level probabilities (..., K)."""
    upper = torch.flip(torch.logcumsumexp(torch.flip(log_probs, [-1]), dim=-1), [-1])
    lower = torch.logcumsumexp(log_probs, dim=-1)
    return upper[..., 1:], lower[..., :-1]


def coral_loss(
    log_probs: torch.Tensor,
    y: torch.Tensor,
    weights: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Weighted mean over patients of the summed cut BCEs, sum_k BCE(S_k, 1[y >= k]).

    ``log_probs``: (n, K) or (members, n, K); ``weights`` per patient (n,); ``mask`` (members, n)
    the patients each member trains on. With members, the mean over members of each one's loss.
    """
    log_s, log_not_s = cumulative_log_probs(log_probs)
    cuts = torch.arange(1, log_probs.shape[-1], device=y.device)
    target = (y[:, None] >= cuts).to(log_s.dtype)  # (n, K-1)
    per = -(target * log_s + (1 - target) * log_not_s).sum(dim=-1)  # (n,) or (members, n)
    w = torch.ones_like(per) if weights is None else weights.to(per.dtype).expand_as(per)
    if mask is not None:
        w = w * mask
    return ((per * w).sum(dim=-1) / w.sum(dim=-1).clamp(min=1e-12)).mean()


def expected_level(log_probs: torch.Tensor) -> torch.Tensor:
    """sum_k k p_k, the expected level (...,) of log level probabilities (..., K)."""
    levels = torch.arange(log_probs.shape[-1], device=log_probs.device, dtype=log_probs.dtype)
    return (torch.softmax(log_probs, dim=-1) * levels).sum(dim=-1)
