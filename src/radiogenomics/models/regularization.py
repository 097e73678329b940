"""A regularization cocktail for small n (Kadra et al. 2021, "Well-tuned simple nets excel on
tabular datasets"): mixup, label smoothing and weight averaging (SWA), each off by default.

The classifier's ``training_step`` calls :func:`training_loss` only when a
:class:`Regularization` with something to do is attached (``module.regularization``); with every
option off the network trains on the plain class-balanced loss exactly as before. Weight
averaging is :class:`WeightAverage` (the math) driven by ``callbacks/weight_averaging.py``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Regularization:
    """Training-only options (never part of the saved architecture: prediction ignores them).

    ``mixup``: alpha of Beta(alpha, alpha); 0 = off. ``label_smoothing``: epsilon in [0, 1).
    """

    mixup: float = 0.0
    label_smoothing: float = 0.0

    def __post_init__(self) -> None:
        if not (self.mixup >= 0 and math.isfinite(self.mixup)):
            raise ValueError(f"mixup={self.mixup} must be a finite alpha >= 0")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing={self.label_smoothing} must be in [0, 1)")

    @property
    def active(self) -> bool:
        return self.mixup > 0 or self.label_smoothing > 0


def soft_targets(y: torch.Tensor, n_classes: int, smoothing: float = 0.0) -> torch.Tensor:
    """Class indices as (n, K) probability rows, smoothed: ``onehot * (1 - eps) + eps / K``.

    Binary traits use K = 2 as well (column 1 is the positive class), so a smoothed binary target
    is ``y * (1 - eps) + eps / 2``.
    """
    onehot = nn.functional.one_hot(y.long(), n_classes).float()
    if smoothing > 0:
        onehot = onehot * (1.0 - smoothing) + smoothing / n_classes
    return onehot


def mixup_batch(
    x: torch.Tensor, targets: torch.Tensor, alpha: float
) -> tuple[torch.Tensor, torch.Tensor, float, torch.Tensor]:
    """Mixup within one batch: ``(lam * x + (1 - lam) * x[perm], same for targets, lam, perm)``.

    One ``lam ~ Beta(alpha, alpha)`` per batch and a random permutation of the batch's own rows
    (Zhang et al. 2018), so every mixed row and its soft label are the same convex combination of
    two rows of the same batch. Draws from torch's global RNG (seeded per network). ``alpha = 0``:
    the batch unchanged (lam = 1, identity permutation), nothing drawn.
    """
    n = len(x)
    if alpha <= 0 or n < 2:
        return x, targets, 1.0, torch.arange(n, device=x.device)
    lam = float(torch.distributions.Beta(float(alpha), float(alpha)).sample())
    perm = torch.randperm(n).to(x.device)
    mixed_x = lam * x + (1.0 - lam) * x[perm]
    mixed_t = lam * targets + (1.0 - lam) * targets[perm]
    return mixed_x, mixed_t, lam, perm


def soft_target_loss(
    logits: torch.Tensor, targets: torch.Tensor, class_weights: torch.Tensor
) -> torch.Tensor:
    """Class-weighted cross-entropy with (n, K) probability targets.

    Each class's term is weighted by its class weight: ``-sum_k w_k t_k log p_k`` per patient,
    so a mixup of hard labels is exactly ``lam * loss(a) + (1 - lam) * loss(b)`` of the class-
    balanced loss. The reduction follows the hard-label loss of ``ClassifierModule.loss``: binary
    (logits of shape (n,)) divides by n, multiclass by ``sum_i sum_k w_k t_ik`` (as
    ``cross_entropy(weight=...)``), so one-hot targets give that loss exactly.
    """
    w = class_weights.to(logits.dtype)
    if logits.dim() == 1:  # binary: one logit, p = sigmoid
        t = targets[:, 1].to(logits.dtype)
        log_p1 = nn.functional.logsigmoid(logits)
        log_p0 = nn.functional.logsigmoid(-logits)
        per_patient = -(w[1] * t * log_p1 + w[0] * (1.0 - t) * log_p0)
        return per_patient.mean()
    weighted = targets.to(logits.dtype) * w
    per_patient = -(weighted * nn.functional.log_softmax(logits, dim=-1)).sum(dim=-1)
    return per_patient.sum() / weighted.sum()


def training_loss(module, x: torch.Tensor, y: torch.Tensor, reg: Regularization) -> torch.Tensor:
    """The cocktail's training loss of a batch of fit patients (standardised ``x``, classes ``y``).

    Targets are one-hot rows, smoothed, then mixed (with ``x``) within the batch.
    """
    targets = soft_targets(y, module.n_classes, reg.label_smoothing).to(x.device)
    x, targets, _, _ = mixup_batch(x, targets, reg.mixup)
    return soft_target_loss(module(x), targets, module.class_weights)


CORRUPTIONS = ("none", "mask", "gaussian")  # pretrain.corruption.kind


def corrupt(x: torch.Tensor, kind: str, rate: float) -> torch.Tensor:
    """A denoising autoencoder's input (``x`` standardised per gene; torch's global RNG).

    ``mask``: each entry zeroed (set to its gene's mean) with probability ``rate``, as a
    masked autoencoder; ``gaussian``: N(0, rate^2) noise added (rate in standard deviations).
    ``none`` or ``rate = 0``: ``x`` itself, nothing drawn.
    """
    if kind == "none" or rate <= 0:
        return x
    if kind == "mask":
        keep = torch.rand(x.shape, device=x.device) >= rate
        return x * keep
    if kind == "gaussian":
        return x + rate * torch.randn(x.shape, device=x.device)
    raise ValueError(f"unknown corruption {kind!r}; choose one of {list(CORRUPTIONS)}")


class WeightAverage:
    """Running mean of a module's floating-point state (weights and BatchNorm statistics).

    ``update`` adds one snapshot; ``state`` is the mean of every snapshot added (integer buffers,
    such as BatchNorm's batch counters, are taken from the latest snapshot).
    """

    def __init__(self) -> None:
        self.n = 0
        self._mean: dict[str, torch.Tensor] = {}

    def update(self, state: Mapping[str, torch.Tensor]) -> None:
        self.n += 1
        for key, value in state.items():
            value = value.detach()
            if not value.is_floating_point() or key not in self._mean:
                self._mean[key] = value.clone().to(
                    torch.float64 if value.is_floating_point() else value.dtype
                )
                continue
            self._mean[key] += (value.to(torch.float64) - self._mean[key]) / self.n

    def state(self, like: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The mean state, in the dtypes and devices of ``like`` (the module's state_dict)."""
        if self.n == 0:
            raise RuntimeError("no snapshot averaged yet")
        return {k: self._mean[k].to(dtype=v.dtype, device=v.device) for k, v in like.items()}
