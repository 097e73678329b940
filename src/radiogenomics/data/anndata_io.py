"""AnnData (``.h5ad``) input and output: the scverse way of storing an expression cohort.

Reading (``data.expression_file=cohort.h5ad``): ``X`` (or ``data.layer``) is the samples (obs) x
genes (var) matrix, dense or sparse; ``obs`` columns are label columns (``trait.column`` may name
one); gene names are ``var_names`` (or ``data.var_names_column``). Writing: an atomic
:func:`write_h5ad`, and :func:`cohort_to_anndata` for exporting a cohort given as text files.

``anndata`` is imported inside the functions: reading a text cohort never pays for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from radiogenomics.data.files import check_file
from radiogenomics.errors import DataError
from radiogenomics.utils import atomic_write

if TYPE_CHECKING:
    import anndata

H5AD_SUFFIX = ".h5ad"
N_LISTED = 10  # how many layer / column names an error lists


@dataclass
class H5adContent:
    """What an .h5ad file holds for training: sample ids, gene names, values, obs labels."""

    samples: list[str]
    genes: list[str]
    values: np.ndarray  # samples x genes, float64, dense
    labels: pd.DataFrame  # obs columns as strings (None where missing), indexed by sample id
    source: str  # "X" or "layers['<name>']"
    sparse: bool


def _listed(names: list[str]) -> str:
    """Up to ``N_LISTED`` names, then how many more."""
    more = f" (+{len(names) - N_LISTED} more)" if len(names) > N_LISTED else ""
    return f"{names[:N_LISTED]}{more}" if names else "none"


def _load(path: Path) -> anndata.AnnData:
    import anndata

    check_file(path)
    try:
        return anndata.read_h5ad(path)
    except Exception as err:  # h5py and anndata raise many types for a damaged file
        raise DataError(
            f"{path}: cannot read as AnnData .h5ad ({type(err).__name__}: {err}); expected a "
            "file written by anndata/scanpy (adata.write_h5ad)"
        ) from None


def _matrix(adata: anndata.AnnData, path: Path, layer: str | None) -> tuple[object, str]:
    """``X`` or the named layer; a clear error when it is absent."""
    if layer is None:
        if adata.X is None:
            raise DataError(
                f"{path}: X is empty; name the layer holding expression with data.layer=NAME "
                f"(layers: {_listed(list(adata.layers.keys()))})"
            )
        return adata.X, "X"
    if layer not in adata.layers:
        raise DataError(
            f"{path}: data.layer={layer!r} is not a layer of this file; layers: "
            f"{_listed(list(adata.layers.keys()))} (or leave data.layer unset to read X)"
        )
    return adata.layers[layer], f"layers[{layer!r}]"


def _dense(values: object, path: Path, source: str) -> tuple[np.ndarray, bool]:
    """A float64 dense copy of a dense or scipy-sparse matrix, and whether it was sparse."""
    from scipy import sparse

    is_sparse = sparse.issparse(values)
    dense = values.toarray() if is_sparse else np.asarray(values)
    if not np.issubdtype(dense.dtype, np.number) or np.issubdtype(dense.dtype, np.complexfloating):
        raise DataError(f"{path}: {source} holds {dense.dtype} values; expected numbers")
    return dense.astype(np.float64, copy=False), is_sparse


def _gene_names(adata: anndata.AnnData, path: Path, var_names_column: str | None) -> list[str]:
    """``var_names`` or a var column; duplicates are an error naming them."""
    if var_names_column is None:
        genes, where = [str(g).strip() for g in adata.var_names], "var_names"
    else:
        if var_names_column not in adata.var.columns:
            raise DataError(
                f"{path}: data.var_names_column={var_names_column!r} is not a var column; var "
                f"columns: {_listed([str(c) for c in adata.var.columns])}"
            )
        column = adata.var[var_names_column]
        genes = ["" if pd.isna(g) else str(g).strip() for g in column]
        where = f"var[{var_names_column!r}]"
    index = pd.Index(genes)
    repeated = index[index.duplicated() & (index != "")].unique()
    if len(repeated):
        raise DataError(
            f"{path}: {where} repeats {len(repeated)} gene name(s), e.g. {list(repeated[:5])}; "
            "expected one column per gene: make them unique (adata.var_names_make_unique(), or "
            "aggregate the duplicates) or pick another column with data.var_names_column"
        )
    return genes


def _text(value: object) -> str | None:
    """A label cell as a string (integral floats without '.0'); None when missing or blank."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, float | np.floating) and float(value).is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def obs_labels(obs: pd.DataFrame) -> pd.DataFrame:
    """obs as a label table: every cell a string or None, like :func:`io.read_label_table`."""
    labels = pd.DataFrame(
        {str(c): [_text(v) for v in obs[c].astype(object)] for c in obs.columns},
        index=pd.Index([str(i) for i in obs.index], name="patient_id"),
    )
    return labels.astype(object)


def read_h5ad(
    path: str | Path, layer: str | None = None, var_names_column: str | None = None
) -> H5adContent:
    """Read an .h5ad file's matrix (X or ``layer``), gene names and obs labels."""
    path = Path(path)
    adata = _load(path)
    matrix, source = _matrix(adata, path, layer)
    values, was_sparse = _dense(matrix, path, source)
    if values.ndim != 2 or values.shape != (adata.n_obs, adata.n_vars):
        raise DataError(
            f"{path}: {source} has shape {values.shape}; expected obs x var = "
            f"{(adata.n_obs, adata.n_vars)}"
        )
    if adata.n_obs == 0 or adata.n_vars == 0:
        raise DataError(f"{path}: {adata.n_obs} obs x {adata.n_vars} var; expected both > 0")
    samples = pd.Index([str(i).strip() for i in adata.obs_names])
    repeated = samples[samples.duplicated()].unique()
    if len(repeated):
        raise DataError(
            f"{path}: obs_names repeat {len(repeated)} sample id(s), e.g. {list(repeated[:5])}; "
            "expected one row per sample: make them unique (adata.obs_names_make_unique()) or "
            "keep one profile per sample"
        )
    return H5adContent(
        samples=list(samples),
        genes=_gene_names(adata, path, var_names_column),
        values=values,
        labels=obs_labels(adata.obs),
        source=source,
        sparse=was_sparse,
    )


def write_h5ad(path: str | Path, adata: anndata.AnnData) -> Path:
    """Write ``adata`` atomically (a temp file renamed onto ``path``), gzip-compressed."""
    return atomic_write(path, lambda tmp: adata.write_h5ad(tmp, compression="gzip"))


def cohort_to_anndata(
    expression: pd.DataFrame, labels: pd.DataFrame | None = None, sparse: bool = False
) -> anndata.AnnData:
    """An AnnData of patients x genes (float32) with ``labels`` (aligned to the patients) as obs.

    Patients without a label row get missing obs values (expression-only patients stay so).
    """
    import anndata
    from scipy import sparse as sp

    obs = pd.DataFrame(index=pd.Index([str(p) for p in expression.index], name=None))
    if labels is not None and len(labels.columns):
        aligned = labels.reindex(expression.index)
        for column in aligned.columns:
            obs[str(column)] = pd.Categorical(aligned[column].to_numpy(dtype=object))
    values = expression.to_numpy(np.float32)
    X = sp.csr_matrix(values) if sparse else values
    var = pd.DataFrame(index=pd.Index([str(g) for g in expression.columns], name=None))
    return anndata.AnnData(X=X, obs=obs, var=var)
