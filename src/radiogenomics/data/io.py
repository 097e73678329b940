"""Readers for expression matrices and label tables, normalising TCGA barcodes to patients.

Accepted expression files (``format="auto"`` picks by name and content):

* ``table``: TSV/CSV/TXT (optionally ``.gz``), one id column then numbers; patients x genes or
  genes x samples (``orientation="auto"``: see :func:`_orient`); a GSEA-style ``DESCRIPTION``
  second column and GEO series-matrix ``!`` lines are skipped;
* ``parquet``: the same table as Parquet (ids in the index or in the first column);
* ``gct``: GCT 1.2 or 1.3 (genes x samples, description / row-metadata columns skipped);
* ``clanc840``: the Verhaak 2010 ClaNC840 layout (header, ``Subtype`` row, gene rows with a signature
  code in column 2); yields the expression and a ``subtype`` label column;
* ``h5ad``: AnnData (samples x genes ``X`` or a layer, dense or sparse; ``obs`` columns become label
  columns; see :mod:`radiogenomics.data.anndata_io`).

Sample ids may be anything: TCGA barcodes are cut to their 12-character patient id, other ids
are kept as they are (stripped).

Every problem with a file raises :class:`DataError` naming the file, the line/row/column or value,
and what was expected, before any training starts.
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import logging
import re
import warnings
import zlib
from collections.abc import Collection
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from radiogenomics.data.files import check_file
from radiogenomics.errors import DataError

log = logging.getLogger(__name__)

BARCODE_RE = re.compile(r"^TCGA-[A-Z0-9]{2}-[A-Z0-9]{4}", re.IGNORECASE)
PATIENT_ID_LENGTH = 12
ORIENTATIONS = ("auto", "patients_x_genes", "genes_x_patients")
FORMATS = ("auto", "table", "parquet", "gct", "clanc840", "h5ad")
TRANSFORMS = (None, "log2p1")  # data.transform: log2p1 = log2(x + 1), negatives floored at 0
DESCRIPTION_COLUMNS = ("description", "desc")  # GSEA .txt: NAME, DESCRIPTION, then samples
GEO_COMMENT = "!"  # GEO series-matrix metadata lines (!Series_..., !series_matrix_table_end)
IMPUTE = (None, "gene_mean")
RESOURCE_PREFIX = "resource:"  # data.*_file values naming a file shipped in data/resources
CLANC_LABEL_COLUMN = "subtype"
FIREHOSE_SECOND_HEADER = "Composite Element REF"  # TCGA Level 3 / Firehose: 2nd header line
# cells read as missing in expression files (label tables keep every string, e.g. "n/a")
NA_TOKENS = ("", "NA", "NaN", "nan", "N/A", "NULL", "null", "-")
_GZIP_MAGIC = b"\x1f\x8b"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"  # the first bytes of every HDF5 file (.h5ad)
FLOAT32_MAX = float(np.finfo(np.float32).max)  # the models train in float32


@dataclass
class ExpressionData:
    """An expression matrix (patients x genes, float32), labels found in the same file, and a report."""

    expression: pd.DataFrame
    labels: pd.DataFrame | None = None  # e.g. the ClaNC840 subtype row
    report: dict = field(default_factory=dict)


def patient_id(barcode: object) -> str:
    """TCGA sample/aliquot barcode -> 12-character patient barcode (other ids pass through)."""
    text = str(barcode).strip().strip('"')
    return text[:PATIENT_ID_LENGTH].upper() if BARCODE_RE.match(text) else text


def resolve_path(path: str | Path) -> Path:
    """A file path, or ``resource:<name>`` for a file shipped in ``radiogenomics/data/resources``."""
    text = str(path)
    if text.startswith(RESOURCE_PREFIX):
        name = text[len(RESOURCE_PREFIX) :]
        shipped = resources.files("radiogenomics.data") / "resources" / name
        if not shipped.is_file():
            raise DataError(f"{text}: no shipped file {name!r} in radiogenomics/data/resources")
        return Path(str(shipped))
    return Path(text).expanduser()


# ---------------------------------------------------------------------------------------- text


def _read_text(path: Path) -> str:
    check_file(path)
    try:
        raw = path.read_bytes()
    except PermissionError:
        raise DataError(f"{path}: cannot read (permission denied)") from None
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror or err})") from None
    try:
        if raw[:2] == _GZIP_MAGIC:
            raw = gzip.decompress(raw)
        return raw.decode("utf-8-sig")
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{path}: cannot decompress ({err}); expected plain text or gzip") from err
    except UnicodeDecodeError as err:
        raise DataError(
            f"{path}: not UTF-8 text (byte {err.start}); expected a tab- or comma-separated text "
            "file, optionally gzipped, or Parquet/GCT"
        ) from err


@dataclass
class _Lines:
    """Non-blank lines of a text file and their 1-based line numbers in the file."""

    text: list[str]
    number: list[int]

    def __getitem__(self, item: slice) -> _Lines:
        return _Lines(self.text[item], self.number[item])

    def __len__(self) -> int:
        return len(self.text)


def _lines(text: str, path: Path) -> _Lines:
    lines = text.splitlines()
    keep = [i for i, line in enumerate(lines) if line.strip()]
    if not keep:
        raise DataError(f"{path}: file is empty")
    return _Lines([lines[i] for i in keep], [i + 1 for i in keep])


def _delimiter(lines: list[str], path: Path) -> str:
    """Tab or comma, whichever splits the first lines consistently; else a DataError."""
    sample = lines[:5]
    for sep in ("\t", ","):
        counts = {line.count(sep) for line in sample}
        if min(counts) > 0 and (len(counts) == 1 or sep == "\t"):
            return sep
    for sep in ("\t", ","):
        if lines[0].count(sep):
            return sep
    other = next((s for s in (";", "|", " ") if s in lines[0]), None)
    found = f"; it looks {'space' if other == ' ' else repr(other)}-separated" if other else ""
    raise DataError(
        f"{path}: line 1 has no tab or comma, so it cannot be split into columns{found}. "
        f"Expected a tab- or comma-separated table; line 1 begins {lines[0][:60]!r}"
    )


def _split_header(line: str, sep: str) -> list[str]:
    return [f.strip() for f in next(csv.reader([line], delimiter=sep))]


def _unquote(text: str) -> str:
    text = text.strip()
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


@dataclass
class _Matrix:
    """A numeric text matrix as read: row ids, column ids, values (rows x columns)."""

    rows: list[str]
    columns: list[str]
    values: np.ndarray  # float64
    row_meta: list[list[str]] = field(default_factory=list)  # skipped columns, per row


def _parse_matrix(lines: _Lines, path: Path, sep: str, meta_cols: int = 0) -> _Matrix:
    """Parse a header line + numeric rows: id, ``meta_cols`` skipped fields, then numbers.

    Fast for wide files: all numbers go through pyarrow's CSV parser as one column.
    """
    header = _split_header(lines.text[0], sep)
    body, numbers = lines.text[1:], lines.number[1:]
    if not body:
        raise DataError(f"{path}: only a header line, no data rows")
    n_fields = body[0].count(sep) + 1
    if len(header) == n_fields:
        columns = header[1 + meta_cols :]
    elif len(header) == n_fields - 1:  # R write.table style: no name above the id column
        if body[0].endswith(sep):
            raise DataError(
                f"{path}: line {numbers[0]} ends with an extra delimiter (one field more than "
                "the header); expected rows without a trailing tab or comma"
            )
        columns = header[meta_cols:]
    else:
        raise DataError(
            f"{path}: line {lines.number[0]} (header) has {len(header)} fields but line "
            f"{numbers[0]} has {n_fields}; expected the same number of columns"
        )
    n_cols = n_fields - 1 - meta_cols
    if n_cols < 1:
        raise DataError(f"{path}: line {numbers[0]} has no value columns after the id")
    rows, rests, meta = [], [], []
    for line in body:
        parts = line.split(sep, 1 + meta_cols)
        rows.append(_unquote(parts[0]))
        meta.append([_unquote(p) for p in parts[1 : 1 + meta_cols]])
        rests.append(parts[-1] if len(parts) == 2 + meta_cols else "")
    flat = "\n".join(rests).replace(sep, "\n")
    if flat.count("\n") + 1 != len(rows) * n_cols:
        for i, rest in enumerate(rests):
            if rest.count(sep) + 1 != n_cols:
                raise DataError(
                    f"{path}: line {numbers[i]} (id {rows[i]!r}) has "
                    f"{rest.count(sep) + 2 + meta_cols} fields; expected {n_fields} like line "
                    f"{numbers[0]}. Is the delimiter ({'tab' if sep == chr(9) else 'comma'}) right?"
                )
    try:
        values = _parse_numbers(flat)
    except pa.ArrowInvalid:
        # what pyarrow refused: numbers padded with other whitespace (a non-breaking space from
        # a spreadsheet is whitespace, as for Python's float) are read; anything else is named
        text = pd.Series(flat.split("\n"))
        stripped = text.str.strip().str.strip('"')
        parsed = pd.to_numeric(stripped.where(~stripped.isin(NA_TOKENS)), errors="coerce")
        wrong = parsed.isna().to_numpy() & ~stripped.isin(NA_TOKENS).to_numpy()
        wrong |= text.str.contains("\x00", regex=False).to_numpy()  # NUL ends a C parser's number
        if not wrong.any():
            return _Matrix(
                rows, columns, parsed.to_numpy(np.float64).reshape(len(rows), n_cols), meta
            )
        bad = int(np.flatnonzero(wrong)[0])
        r, c = divmod(bad, n_cols)
        raise DataError(
            f"{path}: non-numeric value {text.iat[bad]!r} at line {numbers[r]}, row {rows[r]!r}, "
            f"column {columns[c]!r}; expected a number (or a missing value: "
            f"{', '.join(repr(t) for t in NA_TOKENS)})"
        ) from None
    return _Matrix(rows, columns, values.reshape(len(rows), n_cols), meta)


def _parse_numbers(flat: str) -> np.ndarray:
    """One number per line (NA tokens -> NaN) -> float64 array; ArrowInvalid on anything else."""
    table = pa_csv.read_csv(
        io.BytesIO(flat.encode()),
        read_options=pa_csv.ReadOptions(column_names=["v"], block_size=4 << 20),
        parse_options=pa_csv.ParseOptions(ignore_empty_lines=False),
        convert_options=pa_csv.ConvertOptions(
            column_types={"v": pa.float64()}, null_values=list(NA_TOKENS)
        ),
    )
    return table.column(0).to_numpy(zero_copy_only=False)


# ------------------------------------------------------------------------------------ formats


def _is_hdf5(path: Path) -> bool:
    """Whether ``path`` starts with the HDF5 signature (an .h5ad under another name, too)."""
    try:
        with path.open("rb") as handle:
            return handle.read(len(_HDF5_MAGIC)) == _HDF5_MAGIC
    except OSError:
        return False


def detect_format(path: Path, first_lines: list[str] | None = None) -> str:
    """``parquet``/``gct``/``h5ad`` by file name (or HDF5 signature), ``gct``/``clanc840`` by
    content, else ``table``."""
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith(".h5ad") or _is_hdf5(path):
        return "h5ad"
    if name.endswith((".gct", ".gct.gz")):
        return "gct"
    if first_lines:
        if first_lines[0].startswith("#1."):
            return "gct"
        if len(first_lines) > 1 and first_lines[1].split("\t")[0].strip().lower() == "subtype":
            return "clanc840"
    return "table"


def _read_parquet(path: Path) -> _Matrix:
    try:
        df = pd.read_parquet(path)
    except Exception as err:  # pyarrow raises many types for a damaged file
        raise DataError(f"{path}: cannot read as Parquet ({type(err).__name__}: {err})") from err
    if (
        isinstance(df.index, pd.RangeIndex)
        and len(df.columns)
        and not (pd.api.types.is_numeric_dtype(df.iloc[:, 0]))
    ):
        df = df.set_index(df.columns[0])
    if df.empty:
        raise DataError(f"{path}: file is empty")
    for c, column in enumerate(df.columns):
        if not pd.api.types.is_numeric_dtype(df[column]):
            numbers = pd.to_numeric(df[column], errors="coerce")
            bad = np.flatnonzero(numbers.isna().to_numpy() & df[column].notna().to_numpy())
            if len(bad):
                r = int(bad[0])
                raise DataError(
                    f"{path}: non-numeric value {df[column].iat[r]!r} at row {df.index[r]!r} "
                    f"(row {r + 1}), column {column!r} (column {c + 2}); expected a number"
                )
            df[column] = numbers
    return _Matrix(
        [str(i) for i in df.index], [str(c) for c in df.columns], df.to_numpy(np.float64)
    )


def _read_gct(path: Path, lines: _Lines) -> _Matrix:
    version = lines.text[0].strip()
    if version not in ("#1.2", "#1.3") or len(lines) < 4:
        raise DataError(
            f"{path}: line 1 is {lines.text[0][:20]!r}; a GCT file starts with '#1.2' or '#1.3', then "
            "a dimensions line, a header line and data rows"
        )
    layout = (
        "'rows<TAB>columns<TAB>row-metadata<TAB>column-metadata'"
        if version == "#1.3"
        else "'rows<TAB>columns'"
    )
    dims = lines.text[1].split("\t")
    try:
        n_rows, n_cols = int(dims[0]), int(dims[1])
        n_row_meta = int(dims[2]) if version == "#1.3" else 1
        n_col_meta = int(dims[3]) if version == "#1.3" else 0
    except (IndexError, ValueError):
        raise DataError(
            f"{path}: line 2 is {lines.text[1][:40]!r}; GCT {version[1:]} expects {layout}"
        ) from None
    if min(n_rows, n_cols, n_row_meta, n_col_meta) < 0:
        raise DataError(
            f"{path}: line 2 is {lines.text[1][:40]!r}; expected {layout} with counts >= 0"
        )
    if len(lines) < 4 + n_col_meta:
        raise DataError(
            f"{path}: line 2 declares {n_col_meta} column-metadata row(s), but the file has only "
            f"{len(lines) - 3} line(s) after the header; expected the metadata rows, then the "
            "data rows"
        )
    body = _Lines(
        [lines.text[2], *lines.text[3 + n_col_meta :]],
        [lines.number[2], *lines.number[3 + n_col_meta :]],
    )
    matrix = _parse_matrix(body, path, "\t", meta_cols=n_row_meta)
    n_read = len(matrix.rows)
    if n_read != n_rows and n_col_meta and n_read + n_col_meta == n_rows:
        skipped = [line.split("\t")[0] for line in lines.text[3 : 3 + n_col_meta]]
        raise DataError(
            f"{path}: line 2 declares {n_col_meta} column-metadata row(s) after the header, but "
            f"then only {n_read} of the {n_rows} declared data rows remain: lines "
            f"{lines.number[3]}-{lines.number[2 + n_col_meta]} ({skipped[:3]}) look like genes "
            "and would be skipped. Set the 4th field of line 2 to the number of column-metadata "
            "rows really present (0 if none)"
        )
    if n_read != n_rows or len(matrix.columns) != n_cols:
        raise DataError(
            f"{path}: line 2 declares {n_rows} rows x {n_cols} columns, but the file holds "
            f"{n_read} data rows x {len(matrix.columns)} sample columns (lines "
            f"{body.number[1]}-{body.number[-1]}); is the file truncated or its dimensions line "
            "wrong? Expected the counts of line 2 to match the data"
        )
    return matrix


def _read_clanc840(path: Path, lines: _Lines) -> tuple[_Matrix, pd.DataFrame]:
    """Genes x samples with a ``Subtype`` row (line 2) and a signature column (column 2)."""
    subtype_row = lines.text[1].split("\t")
    if subtype_row[0].strip().lower() != "subtype":
        raise DataError(
            f"{path}: line 2 begins {subtype_row[0][:30]!r}; the ClaNC840 layout has a 'Subtype' "
            "row there (header row, Subtype row, then one row per gene)"
        )
    body = _Lines([lines.text[0], *lines.text[2:]], [lines.number[0], *lines.number[2:]])
    matrix = _parse_matrix(body, path, "\t", meta_cols=1)
    subtypes = [s.strip() for s in subtype_row[2:]]
    if len(subtypes) != len(matrix.columns):
        raise DataError(
            f"{path}: line 2 (Subtype) has {len(subtypes)} sample values but the header names "
            f"{len(matrix.columns)} samples; expected one subtype per sample"
        )
    labels = pd.DataFrame(
        {CLANC_LABEL_COLUMN: subtypes}, index=pd.Index(matrix.columns, name="patient_id")
    )
    return matrix, labels


# --------------------------------------------------------------------------------- expression


def _looks_like_patients(ids: list[str]) -> float:
    return float(np.mean([bool(BARCODE_RE.match(_unquote(i))) for i in ids])) if ids else 0.0


GENE_SHARE = 0.5  # an axis whose ids are at least this share gene-like holds the genes
# Ensembl gene ids, RefSeq transcripts, Affymetrix / Illumina probe ids, Affymetrix Gene ST ids
ENSEMBL_OR_PROBE_RE = re.compile(
    r"^(ENS[A-Z]*G\d{6,}(\.\d+)?|N[MR]_\d+(\.\d+)?|[A-Za-z0-9-]+_(s_|x_|a_|[a-z]_)?at"
    r"|ILMN_\d+|\d{7,8}(_st)?)$"
)


@functools.lru_cache(maxsize=1)
def _known_symbols() -> frozenset[str]:
    """Upper-case gene symbols of the shipped HT_HG-U133A universe (12,042 genes)."""
    from radiogenomics.data.genesets import load_gene_universe

    return frozenset(g.upper() for g in load_gene_universe())


def _gene_like_share(ids: list[str], known: frozenset[str]) -> float:
    """Share of ``ids`` that look like genes: a known symbol, an Ensembl or a probe id, a date."""
    if not ids:
        return 0.0
    symbols = _known_symbols() | known
    hits = [
        _unquote(i).upper() in symbols
        or bool(ENSEMBL_OR_PROBE_RE.match(_unquote(i)))
        or bool(EXCEL_DATE_RE.match(_unquote(i)))
        for i in ids
    ]
    return float(np.mean(hits))


def _label_share(ids: list[str], label_ids: frozenset[str]) -> float:
    """Share of ``ids`` whose patient id is in a label table."""
    if not ids or not label_ids:
        return 0.0
    return float(np.mean([patient_id(i) in label_ids for i in ids]))


def _orientation_votes(
    matrix: _Matrix, label_ids: frozenset[str], known_genes: frozenset[str]
) -> tuple[str | None, str]:
    """(orientation or None, the evidence): barcodes first, then label ids, then gene names."""
    rows, cols = _looks_like_patients(matrix.rows), _looks_like_patients(matrix.columns)
    evidence = [f"TCGA barcodes: {rows:.0%} of row ids, {cols:.0%} of column names"]
    if rows > 0.5 >= cols:
        return "patients_x_genes", evidence[0]
    if cols > 0.5 >= rows:
        return "genes_x_patients", evidence[0]
    votes = []
    if label_ids:
        r, c = _label_share(matrix.rows, label_ids), _label_share(matrix.columns, label_ids)
        evidence.append(f"ids in the label table(s): {r:.0%} of row ids, {c:.0%} of column names")
        if r != c:
            votes.append(("patients_x_genes" if r > c else "genes_x_patients", evidence[-1]))
    r, c = (_gene_like_share(ids, known_genes) for ids in (matrix.rows, matrix.columns))
    evidence.append(f"gene symbols or ids: {r:.0%} of row ids, {c:.0%} of column names")
    if c >= GENE_SHARE > r:
        votes.append(("patients_x_genes", evidence[-1]))
    elif r >= GENE_SHARE > c:
        votes.append(("genes_x_patients", evidence[-1]))
    found = {v for v, _ in votes}
    if len(found) == 1:
        return found.pop(), "; ".join(e for _, e in votes)
    return None, "; ".join(evidence) + ("; these disagree" if len(found) > 1 else "")


def _orient(
    matrix: _Matrix,
    orientation: str,
    path: Path,
    label_ids: frozenset[str] = frozenset(),
    known_genes: frozenset[str] = frozenset(),
) -> tuple[str, str, _Matrix]:
    """(orientation, why, the matrix as samples x genes); ``auto`` decides from the ids."""
    if orientation not in ORIENTATIONS:
        raise DataError(f"data.orientation={orientation!r}: expected one of {ORIENTATIONS}")
    reason = "data.orientation"
    if orientation == "auto":
        found, reason = _orientation_votes(matrix, label_ids, known_genes)
        if found is None:
            raise DataError(
                f"{path}: cannot tell whether rows or columns are samples ({reason}; e.g. row "
                f"{matrix.rows[0]!r}, column {matrix.columns[0]!r}); set "
                "data.orientation=patients_x_genes or data.orientation=genes_x_patients"
            )
        orientation = found
        log.info("%s: %s (from %s)", path, orientation, reason)
    if orientation == "genes_x_patients":
        matrix = _Matrix(matrix.columns, matrix.rows, matrix.values.T)
    return orientation, reason, matrix


def _sample_type(sample: str) -> str | None:
    """Sample-type code of a TCGA sample barcode (``TCGA-02-0003-01A`` -> ``01``), else None."""
    text = _unquote(sample)
    return text[13:15] if BARCODE_RE.match(text) and len(text) >= 15 else None


def _keep_sample_type(matrix: _Matrix, sample_type: str | None) -> tuple[_Matrix, int]:
    if sample_type is None:
        return matrix, 0
    code = str(sample_type).zfill(2)
    keep = np.array([_sample_type(r) in (None, code) for r in matrix.rows])
    if keep.all():
        return matrix, 0
    rows = [r for r, k in zip(matrix.rows, keep, strict=True) if k]
    return _Matrix(rows, matrix.columns, matrix.values[keep]), int((~keep).sum())


def _unique_patients(
    raw: list[str], path: Path, what: str, id_column: str | None = None
) -> list[str]:
    """12-character patient ids of ``raw`` ids; a DataError if two rows map to one patient."""
    patients = [patient_id(i) for i in raw]
    index = pd.Index(patients)
    if index.has_duplicates:
        dup = index[index.duplicated()].unique()[0]
        samples = [r for r, p in zip(raw, patients, strict=True) if p == dup]
        n_dup = int(index.duplicated(keep=False).sum())
        if BARCODE_RE.match(_unquote(samples[0])):
            fix = (
                "(for several samples of a patient keep one, e.g. data.sample_type=01 keeps "
                "primary tumours only)"
            )
        else:  # not a barcode: most likely the id column is not the first one
            column = f" (here {id_column!r})" if id_column else ""
            fix = f"with the patient id in the first column{column}: is that column the id?"
        raise DataError(
            f"{path}: patient id {dup!r} occurs more than once ({samples[:5]}); {n_dup} rows "
            "share a patient id after cutting barcodes to 12 characters. Expected one "
            f"{what} per patient {fix}"
        )
    return patients


def _check_values(X: np.ndarray, patients: list[str], genes: list[str], path: Path, impute):
    finite = np.isfinite(X)
    big = np.abs(X, where=finite, out=np.zeros_like(X)) > FLOAT32_MAX
    if big.any():  # finite here, infinite once the models cast to float32
        r, c = np.argwhere(big)[0]
        raise DataError(
            f"{path}: value {X[r, c]:g} at patient {patients[r]!r}, gene {genes[c]!r} is too large "
            f"for float32 (|x| > {FLOAT32_MAX:.3g}; {int(big.sum())} such cell(s)), which the "
            "models compute in; expected log2-scale expression values"
        )
    if finite.all():
        return X, 0
    inf = np.argwhere(np.isinf(X))
    if len(inf):
        r, c = inf[0]
        raise DataError(
            f"{path}: infinite value {X[r, c]} at patient {patients[r]!r}, gene {genes[c]!r} "
            f"({len(inf)} infinite cell(s)); expected finite expression values"
        )
    n_missing = int((~finite).sum())
    if impute is None:
        r, c = np.argwhere(~finite)[0]
        raise DataError(
            f"{path}: missing value at patient {patients[r]!r}, gene {genes[c]!r} ({n_missing} "
            "missing cell(s) in all); expected every cell filled. Set data.impute=gene_mean to "
            "fill them with the gene's mean over patients"
        )
    if impute != "gene_mean":
        raise DataError(f"data.impute={impute!r}: expected null or 'gene_mean'")
    means = np.nanmean(np.where(finite, X, np.nan), axis=0)
    empty = np.flatnonzero(np.isnan(means))
    if len(empty):
        raise DataError(
            f"{path}: gene {genes[empty[0]]!r} has no value for any patient; cannot impute"
        )
    X = np.where(finite, X, means[None, :])
    warnings.warn(f"{path}: imputed {n_missing} missing cell(s) with gene means", stacklevel=3)
    return X, n_missing


# ----------------------------------------------------------------------- plausibility checks

LINEAR_VALUE = 100.0  # log2 expression stays below ~20; many cells above this look linear-scale
LINEAR_SHARE = 0.01  # ... "many": this share of all cells
LOG_MEDIAN = 20.0  # a patient whose median is at most this looks log-scale
MANY_CONSTANT = 0.2  # warn when more than this share of the genes are constant
_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec"
EXCEL_DATE_RE = re.compile(
    rf"^(\d{{1,2}}-({_MONTHS})(-\d{{2,4}})?|({_MONTHS})-\d{{1,2}}|\d{{4}}-\d{{2}}-\d{{2}}"
    r"|\d{1,2}/\d{1,2}/\d{2,4})$",
    re.IGNORECASE,
)


def expression_quality(
    X: np.ndarray, patients: list[str], genes: list[str], source: str | Path = "expression"
) -> dict:
    """Plausibility checks of an expression matrix (patients x genes): warnings, not errors.

    Flags values that look linear-scale (many cells > ``LINEAR_VALUE``, negative intensities),
    a mix of linear and log2 patients (per-patient medians), gene symbols Excel turned into
    dates (``1-Mar``, ``9-Sep``) and constant genes. Each finding is logged as a warning and
    listed under ``warnings`` of the returned report (kept in the expression report).
    """
    X = np.asarray(X)
    found: list[str] = []
    n_cells = max(X.size, 1)
    share_high = float((X > LINEAR_VALUE).sum() / n_cells)
    n_negative = int((X < 0).sum())
    step = max(1, X.shape[1] // 2000) if X.ndim == 2 else 1  # a scale needs no exact median
    medians = np.median(X[:, ::step], axis=1) if X.size else np.zeros(0)
    linear = medians > LINEAR_VALUE
    logged = medians <= LOG_MEDIAN
    if linear.any() and logged.any():
        found.append(
            f"{source}: patients look to be on different scales: {int(linear.sum())} have a "
            f"median value > {LINEAR_VALUE:g} (linear, e.g. {patients[int(np.argmax(linear))]!r}) "
            f"and {int(logged.sum())} a median <= {LOG_MEDIAN:g} (log2, e.g. "
            f"{patients[int(np.argmax(logged))]!r}); put every profile on one scale (log2)"
        )
    elif share_high >= LINEAR_SHARE:
        negative = (
            f", and {n_negative} negative value(s), impossible for intensities"
            if n_negative
            else ""
        )
        counts = " (whole numbers: RNA-seq counts?)" if _whole_numbers(X) else ""
        found.append(
            f"{source}: values look linear-scale{counts} ({share_high:.1%} of the cells are > "
            f"{LINEAR_VALUE:g}, max {float(X.max()):.4g}{negative}); the models expect log2 "
            "expression (e.g. RMA): transform with log2(x + 1), e.g. data.transform=log2p1"
        )
    elif X.size and float(X.max()) > LINEAR_VALUE:
        n_high = int((X > LINEAR_VALUE).sum())
        r, c = np.unravel_index(int(np.argmax(X)), X.shape)
        found.append(
            f"{source}: {n_high} cell(s) are > {LINEAR_VALUE:g} (max {float(X.max()):.4g} at "
            f"patient {patients[r]!r}, gene {genes[c]!r}) while log2 expression stays below ~20: "
            "are some values linear-scale or corrupt?"
        )
    excel = [g for g in genes if EXCEL_DATE_RE.match(str(g).strip())]
    if excel:
        found.append(
            f"{source}: {len(excel)} gene symbol(s) look turned into dates by a spreadsheet "
            f"(e.g. {excel[:5]}; MARCH1 -> 1-Mar, SEPT9 -> 9-Sep): fix the symbols at the source"
        )
    constant = np.flatnonzero(X.max(axis=0) == X.min(axis=0)) if X.size else np.zeros(0, dtype=int)
    if len(genes) and len(constant) > MANY_CONSTANT * len(genes):
        every = "every" if len(constant) == len(genes) else f"{len(constant)} of {len(genes)}"
        found.append(
            f"{source}: {every} gene(s) have the same value for every patient (e.g. "
            f"{[genes[i] for i in constant[:3]]}); nothing to learn from them: filter them "
            "(e.g. genes unexpressed in RNA-seq), or is the matrix filled in or transposed?"
        )
    for message in found:
        log.warning(message)
    return {
        "share_cells_over_100": round(share_high, 6),
        "n_negative_cells": n_negative,
        "n_patients_median_over_100": int(linear.sum()),
        "excel_date_symbols": excel[:20],
        "n_constant_genes": int(len(constant)),
        "warnings": found,
    }


def _whole_numbers(X: np.ndarray) -> bool:
    """Whether every value is a non-negative whole number (read counts)."""
    return bool(X.size) and bool((X >= 0).all()) and bool((X == np.round(X)).all())


def _average_duplicate_genes(X: np.ndarray, genes: list[str], path: Path):
    """Average columns whose symbols match ignoring case (first spelling kept)."""
    codes, uniques = pd.factorize(pd.Index([g.upper() for g in genes]))
    n_dup = len(genes) - len(uniques)
    if not n_dup:
        return X, genes, 0
    first = pd.Series(np.arange(len(genes))).groupby(codes).first().to_numpy()
    X = pd.DataFrame(X.T).groupby(codes, sort=True).mean().to_numpy().T
    repeated = sorted({g for g, d in zip(genes, pd.Index(codes).duplicated(), strict=True) if d})
    warnings.warn(
        f"{path}: {n_dup} duplicate gene symbol column(s) averaged into {len(repeated)} gene(s), "
        f"e.g. {repeated[:5]}",
        stacklevel=3,
    )
    return X, [genes[i] for i in first], n_dup


def _read_table(lines: _Lines, path: Path) -> _Matrix:
    """A delimited text matrix; skips GEO ``!`` lines, a Firehose 2nd header, a DESCRIPTION column."""
    kept = [i for i, line in enumerate(lines.text) if not line.startswith(GEO_COMMENT)]
    if len(kept) < len(lines):
        if not kept:
            raise DataError(f"{path}: only '{GEO_COMMENT}' metadata lines, no expression table")
        lines = _Lines([lines.text[i] for i in kept], [lines.number[i] for i in kept])
    if len(lines) > 2 and lines.text[1].split("\t")[0].strip() == FIREHOSE_SECOND_HEADER:
        lines = _Lines([lines.text[0], *lines.text[2:]], [lines.number[0], *lines.number[2:]])
    sep = _delimiter(lines.text, path)
    header = _split_header(lines.text[0], sep)
    described = len(header) > 2 and _unquote(header[1]).lower() in DESCRIPTION_COLUMNS
    return _parse_matrix(lines, path, sep, meta_cols=1 if described else 0)


def _read_h5ad(
    path: Path, layer: str | None, var_names_column: str | None
) -> tuple[_Matrix, pd.DataFrame | None, str]:
    """(samples x genes matrix, obs labels or None, what was read) of an AnnData file."""
    from radiogenomics.data.anndata_io import read_h5ad

    content = read_h5ad(path, layer=layer, var_names_column=var_names_column)
    labels = content.labels if len(content.labels.columns) else None
    source = f"{content.source} ({'sparse' if content.sparse else 'dense'})"
    return _Matrix(content.samples, content.genes, content.values), labels, source


def transform_values(X: np.ndarray, transform: str | None, path: str | Path) -> np.ndarray:
    """Apply ``data.transform`` (``log2p1``: log2(x + 1), negatives floored at 0, with warnings)."""
    if transform is None:
        return X
    if transform not in TRANSFORMS:
        raise DataError(f"data.transform={transform!r}: expected one of {TRANSFORMS}")
    share_high = float((X > LINEAR_VALUE).mean()) if X.size else 0.0
    if share_high < LINEAR_SHARE and X.size and float(X.max()) <= LOG_MEDIAN:
        log.warning(
            "%s: data.transform=log2p1 on values that already look log-scale (max %.4g, "
            "%.1f%% of the cells > %g): is the file log2 already? Then drop data.transform",
            path,
            float(X.max()),
            100 * share_high,
            LINEAR_VALUE,
        )
    negative = X < 0
    if negative.any():
        log.warning(
            "%s: data.transform=log2p1: %d negative value(s) (min %.4g; background-subtracted "
            "intensities?) floored at 0 before log2(x + 1)",
            path,
            int(negative.sum()),
            float(X.min()),
        )
        X = np.where(negative, 0.0, X)
    return np.log2(X + 1.0)


def read_expression_data(
    path: str | Path,
    orientation: str = "auto",
    format: str = "auto",
    impute: str | None = None,
    sample_type: str | None = None,
    *,
    layer: str | None = None,
    var_names_column: str | None = None,
    transform: str | None = None,
    label_ids: Collection[str] = (),
    known_genes: Collection[str] = (),
) -> ExpressionData:
    """Read an expression file into patients x genes (float32), with any labels it carries.

    Patients are keyed by 12-character TCGA barcodes (other ids as they are); duplicate gene
    symbols are averaged (with a warning saying how many); empty gene symbols are dropped.
    ``sample_type`` (e.g. ``"01"``, primary solid tumour) keeps only TCGA barcodes with that
    sample-type code (characters 14-15; shorter ids are kept), for files holding several samples
    per patient. ``label_ids`` (the label tables' patient ids) and ``known_genes`` help
    ``orientation="auto"`` decide which axis holds the samples; ``layer`` and
    ``var_names_column`` apply to .h5ad files; ``transform="log2p1"`` takes log2(x + 1) of
    counts or linear intensities. See the module doc.
    """
    path = check_file(resolve_path(path))
    if format not in FORMATS:
        raise DataError(f"data.format={format!r}: expected one of {FORMATS}")
    labels = None
    lines = _Lines([], [])
    source = None
    if format == "auto":
        format = detect_format(path)
        if format not in ("parquet", "h5ad"):
            lines = _lines(_read_text(path), path)
            format = detect_format(path, lines.text[:2])
    elif format not in ("parquet", "h5ad"):
        lines = _lines(_read_text(path), path)
    if format == "parquet":
        matrix = _read_parquet(path)
    elif format == "h5ad":
        if orientation not in ("auto", "patients_x_genes"):
            raise DataError(
                f"data.orientation={orientation}: an .h5ad file ({path}) is samples (obs) x genes "
                "(var); leave data.orientation=auto"
            )
        matrix, labels, source = _read_h5ad(path, layer, var_names_column)
        orientation = "patients_x_genes"
    elif format == "gct":
        matrix, orientation = _read_gct(path, lines), "genes_x_patients"
    elif format == "clanc840":
        (matrix, labels), orientation = _read_clanc840(path, lines), "genes_x_patients"
    else:
        matrix = _read_table(lines, path)
    orientation, orientation_from, matrix = _orient(
        matrix,
        orientation,
        path,
        frozenset(label_ids),
        frozenset(str(g).upper() for g in known_genes),
    )
    if format in ("h5ad", "gct", "clanc840"):
        orientation_from = f"the {format} layout"
    matrix, n_other_samples = _keep_sample_type(matrix, sample_type)
    patients = _unique_patients(matrix.rows, path, "expression profile")
    genes = [_unquote(g) for g in matrix.columns]
    keep = np.array([bool(g) for g in genes])
    X = matrix.values[:, keep] if not keep.all() else matrix.values
    genes = [g for g, k in zip(genes, keep, strict=True) if k]
    if not genes:
        raise DataError(f"{path}: no gene columns with a symbol")
    X, n_imputed = _check_values(X, patients, genes, path, impute)
    X = transform_values(X, transform, path)
    X, genes, n_dup = _average_duplicate_genes(X, genes, path)
    quality = expression_quality(X, patients, genes, path)
    expression = pd.DataFrame(
        X.astype(np.float32, copy=False),
        index=pd.Index(patients, name="patient_id"),
        columns=pd.Index(genes, name="gene"),
    )
    if labels is not None:  # rows of the samples kept, in matrix order
        labels = labels.loc[matrix.rows].set_axis(pd.Index(patients, name="patient_id"))
    report = {
        "file": str(path),
        "format": format,
        **({"matrix": source} if source else {}),
        "orientation": orientation,
        "orientation_from": orientation_from,
        "transform": transform,
        "n_patients": len(patients),
        "n_genes_read": len(matrix.columns),
        "n_genes_kept": len(genes),
        "genes_dropped": {"empty symbol": int((~keep).sum()), "duplicate (averaged)": n_dup},
        "n_cells_imputed": n_imputed,
        "samples_dropped": {f"sample type not {sample_type}": n_other_samples},
        "quality": quality,
    }
    return ExpressionData(expression=expression, labels=labels, report=report)


def read_expression(path: str | Path, **options) -> pd.DataFrame:
    """Read an expression file as patients x genes (float32); see :func:`read_expression_data`."""
    return read_expression_data(path, **options).expression


# ------------------------------------------------------------------------------------- labels


def read_label_table(path: str | Path) -> pd.DataFrame:
    """Read a label table: first column = patient id, other columns = raw category strings.

    Every cell stays a string (``n/a`` is a category the trait decides to drop); empty cells
    become ``None``. TSV/CSV (optionally gzipped) or Parquet.
    """
    path = check_file(resolve_path(path))
    if path.name.lower().endswith((".parquet", ".pq")):
        try:
            df = pd.read_parquet(path)
        except Exception as err:
            raise DataError(f"{path}: cannot read as Parquet ({err})") from err
        if isinstance(df.index, pd.RangeIndex) and len(df.columns):
            df = df.set_index(df.columns[0])
        df.index = df.index.astype(str)
        df = df.astype(str).where(df.notna(), "")
    else:
        lines = _lines(_read_text(path), path)
        sep = _delimiter(lines.text, path)
        header = _split_header(lines.text[0], sep)
        text = lines.text
        if len(lines) > 1 and len(header) == len(_split_header(text[1], sep)) - 1:
            header, text = ["", *header], [sep + text[0], *text[1:]]  # R: no name above the ids
        _refuse_repeated_columns(header[1:], path)
        try:  # index_col=0 would read ids such as 007 as numbers (7): set the index afterwards
            df = pd.read_csv(
                io.StringIO("\n".join(text)),
                sep=sep,
                dtype=str,
                keep_default_na=False,
                engine="c",
            )
        except (pd.errors.ParserError, ValueError) as err:
            raise DataError(f"{path}: cannot parse as a {sep!r}-separated table: {err}") from None
        if len(df.columns):
            df = df.set_index(df.columns[0])
            if str(df.index.name).startswith("Unnamed: "):  # no name above the id column
                df.index.name = None
    if df.empty or not len(df.columns):
        raise DataError(
            f"{path}: no label rows or columns; expected a patient id column then trait columns"
        )
    raw = [str(i) for i in df.index]
    id_column = str(df.index.name) if df.index.name is not None else None
    try:
        patients = _unique_patients(raw, path, "label row", id_column=id_column)
    except DataError:
        column = barcode_column(df)
        if column is None or _looks_like_patients(raw) > 0.5:
            raise
        ids = pd.Index([patient_id(i) for i in raw])
        repeated = ids[ids.duplicated()][0]
        raise DataError(
            f"{path}: the first column ({id_column or 'unnamed'}) repeats values such as "
            f"{repeated!r}, while column {column!r} holds TCGA barcodes; expected the patient "
            f"id in the first column of a label table: move {column!r} first"
        ) from None
    df.index = pd.Index(patients, name="patient_id")
    df.columns = [str(c).strip() for c in df.columns]
    df = df.apply(lambda s: s.str.strip()).astype(object)
    return df.where(df != "", None)


def _refuse_repeated_columns(columns: list[str], path: Path) -> None:
    """Two label columns of one name: a trait would silently read only one of them."""
    seen: set[str] = set()
    for column in columns:
        if column in seen:
            raise DataError(
                f"{path}: column {column!r} appears more than once in the header; expected "
                "unique column names (rename or drop the copy)"
            )
        seen.add(column)


def barcode_column(table: pd.DataFrame) -> str | None:
    """The first column of ``table`` whose values are mostly TCGA barcodes, or None."""
    for column in table.columns:
        values = [str(v) for v in table[column].dropna() if str(v).strip()]
        if values and _looks_like_patients(values) > 0.5:
            return str(column)
    return None
