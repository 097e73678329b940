"""Readers for expression matrices and label tables, normalising TCGA barcodes to patients."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

BARCODE_RE = re.compile(r"^TCGA-[A-Z0-9]{2}-[A-Z0-9]{4}", re.IGNORECASE)
PATIENT_ID_LENGTH = 12


class DataError(ValueError):
    """A user-supplied data file is malformed; the message names the file and what is wrong."""


def patient_id(barcode: str) -> str:
    """TCGA sample/aliquot barcode -> 12-character patient barcode (other ids pass through)."""
    text = str(barcode).strip()
    return text[:PATIENT_ID_LENGTH].upper() if BARCODE_RE.match(text) else text


def _read_table(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise FileNotFoundError(f"{path}: file not found")
    suffixes = "".join(path.suffixes).lower()
    if ".parquet" in suffixes:
        return pd.read_parquet(path)
    sep = "," if ".csv" in suffixes else "\t"
    try:
        return pd.read_csv(path, sep=sep, index_col=0, engine="c", low_memory=False)
    except pd.errors.EmptyDataError as err:
        raise DataError(f"{path}: file is empty") from err


def read_expression(path: str | Path, orientation: str = "auto") -> pd.DataFrame:
    """Read an expression table as patients x genes (float32), patients keyed by 12-char barcode.

    ``orientation`` is ``"patients_x_genes"``, ``"genes_x_patients"`` or ``"auto"`` (rows that
    look like TCGA barcodes are patients).
    """
    path = Path(path)
    df = _read_table(path)
    if df.empty:
        raise DataError(f"{path}: no rows or columns of expression values")
    if orientation == "auto":
        rows = np.mean([bool(BARCODE_RE.match(str(i))) for i in df.index])
        cols = np.mean([bool(BARCODE_RE.match(str(c))) for c in df.columns])
        if rows > 0.5 >= cols:
            orientation = "patients_x_genes"
        elif cols > 0.5 >= rows:
            orientation = "genes_x_patients"
        else:
            raise DataError(
                f"{path}: cannot tell whether rows or columns are patients (neither looks like "
                "TCGA barcodes); set data.orientation=patients_x_genes or genes_x_patients"
            )
    if orientation == "genes_x_patients":
        df = df.T
    elif orientation != "patients_x_genes":
        raise ValueError(f"unknown orientation {orientation!r}")
    df.index = [patient_id(i) for i in df.index]
    df.columns = [str(c).strip() for c in df.columns]
    df.index.name, df.columns.name = "patient_id", "gene"
    values = df.apply(pd.to_numeric, errors="coerce") if (df.dtypes == object).any() else df
    if values.isna().to_numpy().any():
        r, c = np.argwhere(values.isna().to_numpy())[0]
        raise DataError(
            f"{path}: non-numeric or missing expression value {df.iat[r, c]!r} at patient "
            f"{df.index[r]!r}, gene {df.columns[c]!r}"
        )
    df = values.astype(np.float32)
    if not np.isfinite(df.to_numpy()).all():
        r, c = np.argwhere(~np.isfinite(df.to_numpy()))[0]
        raise DataError(
            f"{path}: infinite value at patient {df.index[r]!r}, gene {df.columns[c]!r}"
        )
    if df.index.duplicated().any():
        dups = df.index[df.index.duplicated()].unique().tolist()
        raise DataError(f"{path}: duplicate patient ids after barcode normalisation: {dups[:5]}")
    if df.columns.duplicated().any():
        n = int(df.columns.duplicated().sum())
        warnings.warn(f"{path}: {n} duplicate gene symbol column(s) averaged", stacklevel=2)
        df = df.T.groupby(level=0, sort=False).mean().T.astype(np.float32)
    return df


def read_label_table(path: str | Path) -> pd.DataFrame:
    """Read a label table (first column = patient id, other columns = raw category strings)."""
    path = Path(path)
    df = _read_table(path)
    if df.empty:
        raise DataError(f"{path}: no label rows")
    df.index = [patient_id(i) for i in df.index]
    df.index.name = "patient_id"
    if df.index.duplicated().any():
        dups = df.index[df.index.duplicated()].unique().tolist()
        raise DataError(f"{path}: duplicate patient ids: {dups[:5]}")
    return df.astype("object").where(df.notna(), None)
