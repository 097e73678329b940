"""Input representations for small n (``model.input``): genes (default), in-fold PCA, gene-set layer.

Every representation is part of the network, so the network always takes standardised gene
expression and gene masking / saliency still act per gene:

* ``pca``: a frozen affine map genes -> ``pca_components`` whitened principal components
  (:class:`FixedLinear`, buffers only), fit on the fold's fit patients' standardised expression
  plus the cohort's expression-only patients (never inner-validation or held-out patients), then
  the usual hidden layers on the components;
* ``gene_sets``: a first layer (:class:`MaskedLinear`) that connects each gene only to the
  ``units_per_set`` units of every set it belongs to (a fixed 0/1 connectivity multiplied into the
  weight; genes in no set are dropped: their columns are 0), then the usual hidden layers.
  ``random_mask`` shuffles the gene -> set memberships among genes of equal degree (seeded): every
  set keeps its size and every gene its number of sets, so the same genes enter the network and
  only the grouping is random (the control of arXiv 2505.04300).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from radiogenomics.config_schema import InputOptions
from radiogenomics.models.blocks import DenseBlock, build_blocks

INPUT_KINDS = ("genes", "pca", "gene_sets")  # model.input.kind


class FixedLinear(nn.Module):
    """A frozen affine map ``x @ weight.T + bias`` (buffers: saved, never trained)."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.register_buffer("weight", torch.zeros(out_dim, in_dim))
        self.register_buffer("bias", torch.zeros(out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight, self.bias)


class MaskedLinear(nn.Linear):
    """A Linear layer whose weight is multiplied by a fixed 0/1 ``connectivity`` (out x in).

    Weights outside the connectivity are kept at exactly 0 and receive no gradient (the product
    in ``forward``), so the stored weight is the effective one (masking kernels read it).
    """

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__(in_dim, out_dim)
        self.register_buffer("connectivity", torch.ones(out_dim, in_dim))

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """PyTorch's default init with each unit's fan-in = its number of connected genes."""
        super().reset_parameters()
        if hasattr(self, "connectivity"):  # nn.Linear.__init__ calls this before the buffer
            self._rescale()

    @torch.no_grad()
    def _rescale(self) -> None:
        fan_in = self.connectivity.sum(dim=1).clamp(min=1)
        scale = torch.sqrt(self.in_features / fan_in)  # default bound 1/sqrt(fan_in) per unit
        self.weight.mul_(scale[:, None] * self.connectivity)
        self.bias.mul_(scale)

    @torch.no_grad()
    def set_connectivity(self, mask: np.ndarray | torch.Tensor) -> None:
        """Fix the connectivity (0/1, out x in) and zero (and rescale) the weights outside it."""
        mask = torch.as_tensor(np.asarray(mask, dtype=np.float32))
        if mask.shape != self.connectivity.shape:
            raise ValueError(
                f"connectivity has shape {tuple(mask.shape)}, expected "
                f"{tuple(self.connectivity.shape)}"
            )
        self.connectivity.copy_(mask)
        self._rescale()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight * self.connectivity, self.bias)


def build_input(
    kind: str,
    n_genes: int,
    units: int,
    hidden_dims: Sequence[int],
    act: str,
    batchnorm: bool,
    dropout: float,
) -> tuple[FixedLinear | None, nn.ModuleList]:
    """(frozen input map or None, DenseBlocks) of a network with input representation ``kind``.

    ``genes`` builds exactly the default blocks (same modules, same random draws).
    """
    if kind == "genes":
        return None, build_blocks(n_genes, hidden_dims, act, batchnorm, dropout)
    if kind not in INPUT_KINDS:
        raise ValueError(f"unknown input kind {kind!r}; choose one of {list(INPUT_KINDS)}")
    if not isinstance(units, int) or units < 1:
        raise ValueError(f"input kind {kind!r} needs input_units >= 1, got {units!r}")
    if kind == "pca":
        return FixedLinear(n_genes, units), build_blocks(
            units, hidden_dims, act, batchnorm, dropout
        )
    first = DenseBlock(n_genes, units, act, batchnorm, dropout)
    first.linear = MaskedLinear(n_genes, units)  # replaces the Linear in place (same position)
    return None, nn.ModuleList([first, *build_blocks(units, hidden_dims, act, batchnorm, dropout)])


def effective_weight(linear: nn.Linear) -> torch.Tensor:
    """A first Linear's weight as applied (a MaskedLinear's times its connectivity)."""
    mask = getattr(linear, "connectivity", None)
    return linear.weight if mask is None else linear.weight * mask


def compose_input(
    module: nn.Module, weight: torch.Tensor, bias: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The first block's affine map (out x in) in gene space: through a frozen input map, if any."""
    layer = getattr(module, "input_layer", None)
    if layer is None:
        return weight, bias
    return weight @ layer.weight, bias + weight @ layer.bias


def gene_weights(module: nn.Module) -> torch.Tensor:
    """The network's first affine map on the genes (units x genes), as applied."""
    weight = effective_weight(module.blocks[0][0]).detach()
    return compose_input(module, weight, module.blocks[0][0].bias.detach())[0]


# ------------------------------------------------------------------------------------ PCA


def pca_limit(n_patients: int, n_genes: int) -> int:
    """The most principal components a PCA of ``n_patients`` (centred) on ``n_genes`` can have."""
    return min(n_patients - 1, n_genes)


def pca_projection(rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(weight k x genes, bias k): whitened principal-component scores of ``rows``.

    ``rows`` are the standardised patients the PCA is fit on; scores ``x @ weight.T + bias``
    have mean 0 and variance 1 over them. Signs are fixed (largest loading positive).
    """
    X = np.asarray(rows, dtype=np.float64)
    n, n_genes = X.shape
    if not np.isfinite(X).all():
        raise ValueError("the PCA patients' expression holds non-finite values")
    most = pca_limit(n, n_genes)
    if not 1 <= k <= most:
        raise ValueError(f"pca_components={k}: expected 1..{most} ({n} patients, {n_genes} genes)")
    mean = X.mean(axis=0)
    _, s, vt = np.linalg.svd(X - mean, full_matrices=False)
    vt = vt[:k]
    signs = np.sign(vt[np.arange(k), np.abs(vt).argmax(axis=1)])
    vt = vt * np.where(signs == 0, 1.0, signs)[:, None]
    sd = s[:k] / math.sqrt(n - 1)
    scale = np.where(sd > sd[0] * 1e-6, 1.0 / np.maximum(sd, 1e-300), 0.0)  # no-variance: off
    weight = vt * scale[:, None]
    return weight.astype(np.float32), (-weight @ mean).astype(np.float32)


# ----------------------------------------------------------------------------- gene sets


def gene_set_membership(
    genes: Sequence[str], collections: Sequence[str]
) -> tuple[np.ndarray, list[str]]:
    """(sets x genes boolean membership, set names) of the collections' sets on the array.

    Sets with no gene on the array are left out; a collection with none raises ValueError.
    A name repeated across collections is prefixed with its collection.
    """
    from radiogenomics.data.genesets import index_gene_sets, load_collection

    names: list[str] = []
    rows: list[np.ndarray] = []
    for collection in collections:
        indexed = index_gene_sets(load_collection(collection), genes, collection=str(collection))
        for name, idx in zip(indexed.names, indexed.indices, strict=True):
            names.append(name if name not in names else f"{collection}:{name}")
            rows.append(idx)
    membership = np.zeros((len(rows), len(genes)), dtype=bool)
    for i, idx in enumerate(rows):
        membership[i, idx] = True
    return membership, names


def shuffle_membership(membership: np.ndarray, seed: int) -> np.ndarray:
    """Random memberships with every set's size and every gene's degree kept.

    Genes are permuted among genes in the same number of sets (seeded): gene ``g``'s sets go to
    another gene of its degree. Genes in no set stay in none.
    """
    rng = np.random.default_rng(seed)
    degree = membership.sum(axis=0)
    out = np.zeros_like(membership)
    for d in np.unique(degree):
        if d == 0:
            continue
        genes = np.flatnonzero(degree == d)
        out[:, rng.permutation(genes)] = membership[:, genes]
    return out


_CONNECTIVITY: dict[tuple, tuple[np.ndarray, list[str]]] = {}


def gene_set_connectivity(
    genes: Sequence[str], options: InputOptions
) -> tuple[np.ndarray, list[str]]:
    """(units x genes 0/1 float32 connectivity, unit names): ``units_per_set`` units per set.

    Remembered per (genes, options) within the process (ensemble members, folds).
    """
    key = (
        tuple(genes),
        tuple(options.collections),
        options.random_mask,
        options.random_seed,
        options.units_per_set,
    )
    if key not in _CONNECTIVITY:
        membership, names = gene_set_membership(genes, options.collections)
        if options.random_mask:
            membership = shuffle_membership(membership, options.random_seed)
        u = int(options.units_per_set)
        if u < 1:
            raise ValueError(f"units_per_set={u}: expected an integer >= 1")
        units = [f"{name}#{j}" if u > 1 else name for name in names for j in range(u)]
        _CONNECTIVITY.clear()
        _CONNECTIVITY[key] = (np.repeat(membership, u, axis=0).astype(np.float32), units)
    return _CONNECTIVITY[key]


# ---------------------------------------------------------------------- network set-up


def input_arguments(options: InputOptions, genes: Sequence[str]) -> dict:
    """ClassifierModule keyword arguments for ``options`` (none for the default genes input)."""
    if options.kind == "genes":
        return {}
    if options.kind == "pca":
        return {"input_kind": "pca", "input_units": int(options.pca_components)}
    return {"input_kind": "gene_sets", "input_units": len(gene_set_connectivity(genes, options)[1])}


def fit_input_layer(
    module: nn.Module,
    options: InputOptions,
    genes: Sequence[str],
    x_fit: np.ndarray,
    x_unlabelled: np.ndarray | None = None,
) -> None:
    """Set the input representation's fixed tensors: the PCA from ``x_fit`` (standardised fit
    patients) plus ``x_unlabelled`` (expression-only patients, same scaling), or the gene-set
    connectivity. Nothing for ``genes``."""
    if options.kind == "pca":
        parts = [np.asarray(x_fit)]
        if x_unlabelled is not None and len(x_unlabelled):
            parts.append(np.asarray(x_unlabelled))
        rows = np.concatenate(parts)
        k = int(options.pca_components)
        most = pca_limit(len(rows), rows.shape[1])
        if not 1 <= k <= most:
            extra = f" + {len(parts[1])} expression-only" if len(parts) > 1 else ""
            raise ValueError(
                f"model.input.pca_components={k}: the fold has {len(x_fit)} fit{extra} patients "
                f"(centred: at most {len(rows) - 1} components) and {rows.shape[1]} genes; "
                f"choose 1..{most}"
            )
        weight, bias = pca_projection(rows, k)
        with torch.no_grad():
            module.input_layer.weight.copy_(torch.from_numpy(weight))
            module.input_layer.bias.copy_(torch.from_numpy(bias))
    elif options.kind == "gene_sets":
        connectivity, _ = gene_set_connectivity(genes, options)
        module.blocks[0].linear.set_connectivity(connectivity)
