"""Gene masking: keep one gene set's expression, zero every other gene, read the network's output.

Inputs are z-scored with training statistics, so 0 is the training mean of every gene. A masked
profile ``x * m_S`` reaches the first hidden layer as ``x[:, S] @ W[:, S].T + b``: only the set's
columns of ``W`` matter. So instead of building masked copies of the input we

* gene sets: gather the set's columns of ``x`` and ``W`` (sets padded to a common length, padding
  pointing at a zero column) and run one batched matmul per chunk of sets;
* single genes: form the outer product ``x[:, g] * W[:, g] + b`` for a chunk of genes;

then push the (set, patient) rows through the rest of the network (BatchNorm in eval mode,
activation, later blocks, head) in chunks of at most ``batch_size`` rows. There is no Python loop
over patients or over the genes of a set; the loop over chunks bounds memory.

Scores: :func:`score_masked` gives AUROC and AP of the masked probabilities against the labels
(per class and macro for multiclass), vectorised over sets; random size-matched gene sets
(:func:`random_gene_sets`) give each set an empirical p-value and, next to it, a smooth-tail
p-value from the same controls (a generalized Pareto fit to their upper tail, checked per size;
:mod:`radiogenomics.evaluation.tails`). The reported score, with the Benjamini-Hochberg q, is
:func:`radiogenomics.interpret.masking_tables.score_sets`, for a job's tables and the sweep's
pooled tables alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
import torch
from torch import nn

from radiogenomics.evaluation.metrics import (
    auroc_rows,
    average_precision_rows,
    discrimination_slope_rows,
)
from radiogenomics.evaluation.multitest import bh_qvalues
from radiogenomics.evaluation.tails import empirical_p, per_size, tail_p
from radiogenomics.models.inputs import compose_input, effective_weight
from radiogenomics.progress import Progress

DEFAULT_BATCH_SIZE = 4096


@dataclass
class MaskableNetwork:
    """A classifier split after its first affine map: ``probs = tail(x @ weight_t + bias)``."""

    weight_t: torch.Tensor  # (genes, hidden): first Linear (BatchNorm folded in), transposed
    bias: torch.Tensor  # (hidden,)
    tail: Callable[[torch.Tensor], torch.Tensor]  # first-layer outputs -> probabilities
    n_classes: int

    @classmethod
    def from_classifier(cls, module: nn.Module | MaskableNetwork) -> MaskableNetwork:
        """Split a :class:`~radiogenomics.models.classifier.ClassifierModule` (eval mode required)."""
        if isinstance(module, MaskableNetwork):  # already split (e.g. a linear comparator)
            return module
        for name in ("input_dropout", "blocks", "head", "probabilities"):
            if not hasattr(module, name):
                raise TypeError(
                    f"{type(module).__name__} has no {name!r}: masking expects a ClassifierModule "
                    "(input dropout, DenseBlocks starting with a Linear layer, head)"
                )
        if module.training:
            raise ValueError(
                "masking needs the network in eval mode (BatchNorm running statistics, no "
                "dropout): call module.eval() on the best checkpoint first"
            )
        if getattr(module, "ensemble", 1) > 1:
            return cls._from_ensemble(module)
        affine = [_block_affine(block) for block in module.blocks]
        (weight, bias, first_act), later = affine[0], affine[1:]
        weight, bias = compose_input(module, weight, bias)  # a PCA input: genes -> components

        def tail(z: torch.Tensor) -> torch.Tensor:
            h = first_act(z)
            for w, b, act in later:
                h = act(nn.functional.linear(h, w, b))
            logits = module.head(h)  # linear, or the ordinal head's level log-probabilities
            one = module.n_classes in (0, 2)  # binary logit, or a continuous prediction
            return module.probabilities(logits.squeeze(-1) if one else logits)

        # (genes, hidden) layout: a gene's weights are one contiguous row to gather
        return cls(weight.T.contiguous(), bias, tail, int(module.n_classes))

    @classmethod
    def _from_ensemble(cls, module: nn.Module) -> MaskableNetwork:
        """A batched ensemble: the members' first layers side by side as one (genes, k * hidden)
        map; the tail runs every member (one batched matmul per layer) and returns the mean of
        the members' probabilities, which is what the ensemble outputs."""
        from radiogenomics.models.ensemble import mean_probability_logits

        k = module.ensemble
        affine = [block.affine() for block in module.blocks]  # (k, out, in), (k, out) each
        (weight, bias), later = affine[0], affine[1:]
        acts = [block.act for block in module.blocks]
        hidden = weight.shape[1]

        def tail(z: torch.Tensor) -> torch.Tensor:
            h = acts[0](z.view(len(z), k, hidden).transpose(0, 1))  # (k, rows, hidden)
            for (w, b), act in zip(later, acts[1:], strict=True):
                h = act(torch.baddbmm(b[:, None, :], h, w.transpose(1, 2)))
            logits = module.head(h)  # per member: (k, rows, outputs)
            logits = logits.squeeze(-1) if module.n_classes in (0, 2) else logits
            if module.n_classes == 0:  # continuous: the members' mean prediction
                return module.probabilities(logits.mean(dim=0))
            return module.probabilities(mean_probability_logits(logits, module.n_classes == 2))

        weight_t = weight.permute(2, 0, 1).reshape(weight.shape[2], k * hidden).contiguous()
        return cls(weight_t, bias.reshape(-1), tail, int(module.n_classes))

    def probs(self, pre_activations: torch.Tensor, batch_size: int) -> torch.Tensor:
        """Apply the tail to (rows, hidden) pre-activations in chunks of ``batch_size`` rows."""
        return torch.cat([self.tail(chunk) for chunk in pre_activations.split(batch_size)])


def _block_affine(block: nn.Sequential) -> tuple[torch.Tensor, torch.Tensor, nn.Module]:
    """A DenseBlock in eval mode as (weight, bias, activation): BatchNorm folded, Dropout a no-op."""
    layers = list(block)
    if not isinstance(layers[0], nn.Linear):
        raise TypeError(f"a block must start with nn.Linear, found {type(layers[0]).__name__}")
    weight, bias = effective_weight(layers[0]).detach(), layers[0].bias.detach()
    rest = [layer for layer in layers[1:] if not isinstance(layer, nn.Dropout)]
    if rest and isinstance(rest[0], nn.BatchNorm1d):
        weight, bias = _fold_batchnorm(weight, bias, rest.pop(0))
    if len(rest) != 1:
        raise TypeError(f"expected Linear [BatchNorm] activation [Dropout], found {layers}")
    return weight, bias, rest[0]


def _fold_batchnorm(
    weight: torch.Tensor, bias: torch.Tensor, norm: nn.BatchNorm1d
) -> tuple[torch.Tensor, torch.Tensor]:
    """Linear followed by eval-mode BatchNorm as one affine map."""
    scale = torch.rsqrt(norm.running_var + norm.eps)
    if norm.weight is not None:
        scale = scale * norm.weight
    shift = -norm.running_mean * scale
    if norm.bias is not None:
        shift = shift + norm.bias
    return weight * scale[:, None], bias * scale + shift


def _as_tensor(x: np.ndarray | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(x).to(device=like.device, dtype=like.dtype)


def _reshape_out(probs: torch.Tensor, n_items: int, n_patients: int) -> np.ndarray:
    """(items * patients[, K]) -> numpy (items, patients[, K])."""
    return probs.reshape(n_items, n_patients, *probs.shape[1:]).float().cpu().numpy()


def mask_gene_sets(
    module: nn.Module,
    x: np.ndarray | torch.Tensor,
    sets: Sequence[np.ndarray],
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> np.ndarray:
    """Masked probabilities for every (set, patient): shape (sets, patients) or (sets, patients, K).

    ``x`` is the standardised (patients x genes) matrix; each set is an array of column positions.
    ``batch_size`` bounds the rows (set-patient pairs) and the gathered weights per chunk.
    """
    net = MaskableNetwork.from_classifier(module)
    x = _as_tensor(x, net.weight_t)
    n_patients, n_genes = x.shape
    if not len(sets):
        return np.zeros((0, n_patients, *(() if net.n_classes in (0, 2) else (net.n_classes,))))
    sizes = np.array([len(s) for s in sets])
    if sizes.min() < 1:
        raise ValueError("every gene set needs at least one gene on the array")
    # gene-major copies padded with row n_genes (zero expression): a set gathers whole rows
    xt_pad = torch.cat([x.T, x.new_zeros(1, n_patients)]).contiguous()  # (genes + 1, patients)
    wt_pad = torch.cat([net.weight_t, net.weight_t.new_zeros(1, net.weight_t.shape[1])])
    order = np.argsort(sizes, kind="stable")  # similar sizes share a chunk: little padding
    out = None
    counter = Progress("masking gene sets", total=len(sets), unit="sets")
    with torch.inference_mode(), counter:
        for chunk in _set_chunks(sizes[order], n_patients, batch_size):
            members = order[chunk]
            width = int(sizes[members[-1]])
            idx = np.full((len(members), width), n_genes, dtype=np.int64)
            for row, s in enumerate(members):  # index bookkeeping, one row per set
                idx[row, : sizes[s]] = sets[s]
            idx_t = torch.from_numpy(idx).to(x.device)
            xg = xt_pad[idx_t].transpose(1, 2)  # (sets, patients, width)
            wg = wt_pad[idx_t]  # (sets, width, hidden)
            z = torch.baddbmm(net.bias, xg, wg)  # (sets, patients, hidden)
            probs = net.probs(z.reshape(-1, z.shape[-1]), batch_size)
            probs = probs.reshape(len(members), n_patients, *probs.shape[1:])
            if out is None:
                out = probs.new_empty((len(sets), *probs.shape[1:]))
            out[torch.from_numpy(members).to(x.device)] = probs
            counter.update(len(members))
    return out.float().cpu().numpy()


def _set_chunks(sorted_sizes: np.ndarray, n_patients: int, batch_size: int) -> list[slice]:
    """Consecutive runs of size-sorted sets with sets * max(patients, width) <= batch_size."""
    chunks, start = [], 0
    while start < len(sorted_sizes):
        stop = start + 1
        while (
            stop < len(sorted_sizes)
            and (stop + 1 - start) * max(n_patients, int(sorted_sizes[stop])) <= batch_size
        ):
            stop += 1
        chunks.append(slice(start, stop))
        start = stop
    return chunks


def mask_single_genes(
    module: nn.Module,
    x: np.ndarray | torch.Tensor,
    genes: Sequence[int] | np.ndarray | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> np.ndarray:
    """Probabilities with one gene kept: shape (genes, patients) or (genes, patients, K).

    Each gene's first-layer input is the outer product ``x[:, g] * W[:, g] + b``; ``genes``
    (column positions) defaults to every column of ``x``.
    """
    net = MaskableNetwork.from_classifier(module)
    x = _as_tensor(x, net.weight_t)
    n_patients, n_genes = x.shape
    genes = torch.arange(n_genes) if genes is None else torch.as_tensor(np.asarray(genes))
    per_chunk = max(1, batch_size // n_patients)
    out = []
    counter = Progress("masking single genes", total=len(genes), unit="genes")
    with torch.inference_mode(), counter:
        for chunk in genes.to(x.device).split(per_chunk):
            xg = x[:, chunk].T.unsqueeze(-1)  # (genes, patients, 1)
            wg = net.weight_t[chunk].unsqueeze(1)  # (genes, 1, hidden)
            z = torch.addcmul(net.bias, xg, wg)  # (genes, patients, hidden)
            out.append(net.tail(z.reshape(-1, z.shape[-1])))
            counter.update(len(chunk))
    probs = torch.cat(out) if out else torch.zeros(0)
    return _reshape_out(probs, len(genes), n_patients)


def random_gene_sets(
    n_genes: int, sizes: Sequence[int], n_random: int, seed: int = 0
) -> dict[int, list[np.ndarray]]:
    """``n_random`` uniformly random gene sets per size (sorted column positions).

    Draw ``r`` of size ``s`` is the first ``s`` genes of random permutation ``r``: each size gets
    ``n_random`` independent uniform sets (sets of different sizes are nested, which is harmless
    for per-size nulls and makes drawing cheap). The draws depend only on (n_genes, n_random,
    seed), so every fold of a sweep masks the same control sets and their out-of-fold
    probabilities pool.
    """
    sizes = sorted({int(s) for s in sizes})
    if sizes and not 1 <= sizes[0] <= sizes[-1] <= n_genes:
        raise ValueError(f"cannot draw random sets of {sizes[0]}..{sizes[-1]} genes from {n_genes}")
    perms = random_permutations(n_genes, n_random, seed)
    return {size: list(np.sort(perms[:, :size], axis=1)) for size in sizes}


def random_permutations(n_genes: int, n_random: int, seed: int = 0) -> np.ndarray:
    """The (n_random, n_genes) permutations whose prefixes are the random control sets."""
    rng = np.random.default_rng(seed)
    return rng.permuted(np.tile(np.arange(n_genes), (n_random, 1)), axis=1)


def mask_nested_controls(
    module: nn.Module,
    x: np.ndarray | torch.Tensor,
    perms: np.ndarray,
    sizes: Sequence[int],
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> np.ndarray:
    """Masked probabilities of every control set: (sizes * draws, patients[, K]), size-major.

    Control ``(s, r)`` is the first ``s`` genes of permutation ``r`` (:func:`random_gene_sets`),
    so the first-layer input of every size is a running sum along the permutation: one gather of
    ``max(sizes)`` weight rows per permutation instead of one per (size, draw). Row
    ``i * len(perms) + r`` is size ``sorted(sizes)[i]``, draw ``r``; equal to
    :func:`mask_gene_sets` on those sets up to float summation order.
    """
    net = MaskableNetwork.from_classifier(module)
    x = _as_tensor(x, net.weight_t)
    n_patients = x.shape[0]
    sizes = sorted({int(s) for s in sizes})
    n_random = len(perms)
    if not sizes or not n_random:
        return np.zeros((0, n_patients, *(() if net.n_classes in (0, 2) else (net.n_classes,))))
    bounds = [0, *sizes]
    prefix = torch.from_numpy(np.ascontiguousarray(perms[:, : sizes[-1]])).to(x.device)
    per_chunk = max(1, batch_size // (len(sizes) * n_patients))
    out = None
    with torch.inference_mode():
        for start in range(0, n_random, per_chunk):
            idx = prefix[start : start + per_chunk]  # (draws, max size)
            xg = x[:, idx].permute(1, 0, 2)  # (draws, patients, max size)
            wg = net.weight_t[idx]  # (draws, max size, hidden)
            z = net.bias.expand(len(idx), n_patients, -1)
            levels = []
            for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
                z = torch.baddbmm(z, xg[:, :, lo:hi], wg[:, lo:hi])
                levels.append(z)
            stacked = torch.stack(levels)  # (sizes, draws, patients, hidden)
            probs = net.probs(stacked.reshape(-1, stacked.shape[-1]), batch_size)
            probs = probs.reshape(len(sizes), len(idx), n_patients, *probs.shape[1:])
            if out is None:
                out = probs.new_empty((len(sizes), n_random, *probs.shape[2:]))
            out[:, start : start + len(idx)] = probs
    return out.reshape(len(sizes) * n_random, *out.shape[2:]).float().cpu().numpy()


# --- the family-agnostic entry point -----------------------------------------------------------


class Masker(Protocol):
    """What gene masking needs of a model, whatever its family.

    ``x`` is always the standardised (patients x genes) matrix of the model's own in-fold
    standardisation, so a masked gene is 0 (its fit patients' mean) for every family. The network
    is :class:`NetworkMasker`; the comparators' maskers are in
    :mod:`radiogenomics.interpret.comparators`. Each returns probabilities shaped like the
    network's kernels: (items, patients) for binary, (items, patients, K) for multiclass.
    """

    n_classes: int

    def probabilities(self, x: torch.Tensor) -> np.ndarray: ...

    def gene_sets(
        self, x: torch.Tensor, sets: Sequence[np.ndarray], batch_size: int
    ) -> np.ndarray: ...

    def nested_controls(
        self, x: torch.Tensor, perms: np.ndarray, sizes: Sequence[int], batch_size: int
    ) -> np.ndarray: ...

    def single_genes(self, x: torch.Tensor, batch_size: int) -> np.ndarray: ...


class NetworkMasker:
    """The network's vectorised kernels (:func:`mask_gene_sets` and co.) as a :class:`Masker`."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module
        self.n_classes = int(module.n_classes)

    def probabilities(self, x: torch.Tensor) -> np.ndarray:
        module = self.module
        return module.probabilities(module(x.to(module.device))).float().cpu().numpy()

    def gene_sets(self, x, sets, batch_size):
        return mask_gene_sets(self.module, x, sets, batch_size)

    def nested_controls(self, x, perms, sizes, batch_size):
        return mask_nested_controls(self.module, x, perms, sizes, batch_size)

    def single_genes(self, x, batch_size):
        return mask_single_genes(self.module, x, batch_size=batch_size)


def as_masker(model: nn.Module | Masker) -> Masker:
    """A network (``nn.Module``) becomes a :class:`NetworkMasker`; a masker is returned as is."""
    return NetworkMasker(model) if isinstance(model, nn.Module) else model


# --- scores, vectorised over rows (sets) -------------------------------------------------------


def score_masked(
    probs: np.ndarray, y: np.ndarray, class_names: Sequence[str], ordinal: bool = False
) -> pd.DataFrame:
    """AUROC, AP and discrimination slope per row of masked probabilities (items x patients[, K]).

    Binary: the positive-class probability against ``y == 1``. Multiclass: one-vs-rest per
    class (``auroc_<class>``, ``ap_<class>``, ``slope_<class>``) and their macro means
    ``auroc``/``ap``/``slope``. ``ordinal`` (K ordered levels): the same three per cumulative cut
    k, ``P(y >= k)`` against ``y >= k`` (``auroc_cut_<k>``, ...), and their means over the
    defined cuts as ``auroc``/``ap``/``slope``, the trait's metric
    (:mod:`radiogenomics.evaluation.ordinal`). The slope (Yates 1982; Tjur's R^2) is the mean predicted
    probability of the class among its patients minus among the others: unlike AUROC it sees how
    far the set alone moves the model's output, not only the order it puts the patients in.
    """
    y = np.asarray(y)
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim == 2:
        return pd.DataFrame(
            {
                "auroc": auroc_rows(probs, y == 1),
                "ap": average_precision_rows(probs, y == 1),
                "slope": discrimination_slope_rows(probs, y == 1),
            }
        )
    columns = {}
    if ordinal:
        cumulative = np.cumsum(probs[..., ::-1], axis=-1)[..., ::-1]  # P(y >= k), k = 0..K-1
        targets = [(f"cut_{k}", cumulative[..., k], y >= k) for k in range(1, probs.shape[-1])]
    else:
        targets = [(name, probs[..., k], y == k) for k, name in enumerate(class_names)]
    for name, scores, target in targets:
        columns[f"auroc_{name}"] = auroc_rows(scores, target)
        columns[f"ap_{name}"] = average_precision_rows(scores, target)
        columns[f"slope_{name}"] = discrimination_slope_rows(scores, target)
    frame = pd.DataFrame(columns)
    with np.errstate(all="ignore"):
        frame.insert(0, "slope", np.nanmean(frame.filter(like="slope_").to_numpy(), axis=1))
        frame.insert(0, "ap", np.nanmean(frame.filter(like="ap_").to_numpy(), axis=1))
        frame.insert(0, "auroc", np.nanmean(frame.filter(like="auroc_").to_numpy(), axis=1))
    return frame


def call_columns(
    self_p: np.ndarray,
    comp_p: np.ndarray,
    competitive: bool,
    observed: pd.Series,
    sizes: np.ndarray | None,
    null_scores: Mapping[int, np.ndarray] | None,
    fdr: float,
) -> dict[str, np.ndarray]:
    """The call columns of a masking table: q = max of the two tests' BH q (NaN without a
    competitive reference), significant, both tests' p/q, and with the random controls' scores
    by size (``null_scores``) the empirical and generalized-Pareto tail p/q of ``observed``."""
    self_q, comp_q = bh_qvalues(self_p), bh_qvalues(comp_p)
    q = np.fmax(self_q, comp_q) if competitive else np.full(len(self_p), np.nan)
    columns = {
        "q": q,
        "significant": q < fdr,
        "competitive_p": comp_p,
        "competitive_q": comp_q,
        "self_contained_p": self_p,
        "self_contained_q": self_q,
    }
    if null_scores is not None:
        values = np.asarray(observed, dtype=np.float64)
        p = per_size(empirical_p, values, sizes, null_scores)
        tail = per_size(tail_p, values, sizes, null_scores)
        columns.update(
            empirical_p=p, empirical_q=bh_qvalues(p), tail_p=tail, tail_q=bh_qvalues(tail)
        )
    return columns


@dataclass(frozen=True)
class Scoring:
    """How one part's masked outputs are scored, by the trait's kind (see ``mask_part``).

    ``controls(outputs, names)``: the random controls' table and their null; ``items(outputs,
    sizes, null)``: a collection's table (``sizes`` None: single genes, compared with the
    average gene); ``column``: the score the single genes are ranked by.
    """

    controls: Callable[[np.ndarray, list[str]], tuple[pd.DataFrame, object]]
    items: Callable[[np.ndarray, np.ndarray | None, object], pd.DataFrame]
    column: str
