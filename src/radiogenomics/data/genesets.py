"""Gene-set collections: readers (GMT, Verhaak ClaNC840, Puchalski CSV), shipped copies, indexing.

Shipped files live in ``data/resources`` (provenance and licences in its SOURCES.md) and are read
through :mod:`importlib.resources`, so they work from an installed package. Nothing is downloaded.
"""

from __future__ import annotations

import csv
import difflib
import gzip
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

GeneSets = dict[str, list[str]]
"""Ordered set name -> unique gene symbols (stripped, upper-cased)."""

_SHIPPED_FILES: dict[str, str] = {
    "hallmark": "hallmark.gmt.gz",
    "c1": "c1.gmt.gz",
    "verhaak": "verhaak.gmt",
    "puchalski": "puchalski.csv",
    "cahoy": "cahoy.gmt",
}
SHIPPED_COLLECTIONS: tuple[str, ...] = tuple(_SHIPPED_FILES)
_UNIVERSE_FILE = "u133a_genes.txt.gz"

# ClaNC840 column 2 code -> signature name, in the paper's subtype order.
VERHAAK_SIGNATURES: dict[str, str] = {
    "PN": "VERHAAK_PRONEURAL",
    "NL": "VERHAAK_NEURAL",
    "CL": "VERHAAK_CLASSICAL",
    "MES": "VERHAAK_MESENCHYMAL",
}
_PUCHALSKI_MISSING = "na"  # placeholder cell of Table S15
_GZIP_MAGIC = b"\x1f\x8b"


def clean_symbols(symbols: Iterable[str]) -> list[str]:
    """Strip and upper-case gene symbols, dropping empty and repeated ones (first occurrence kept)."""
    return list(dict.fromkeys(s.strip().upper() for s in symbols if s.strip()))


@contextmanager
def _open_text(path: str | os.PathLike) -> Iterator[IO[str]]:
    """Open a plain or gzip text file (detected by content), with errors naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"file not found: {path}")
    with path.open("rb") as raw:
        opener = gzip.open if raw.read(2) == _GZIP_MAGIC else open
    handle = opener(path, "rt", encoding="utf-8-sig", newline="")
    try:
        yield handle
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as err:
        raise ValueError(
            f"cannot read {path}: not UTF-8 text or a damaged gzip file ({err})"
        ) from err
    finally:
        handle.close()


def _lines(handle: IO[str]) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, line without its line ending)."""
    for line_no, line in enumerate(handle, start=1):
        yield line_no, line.rstrip("\r\n")


def read_gmt(path: str | os.PathLike) -> GeneSets:
    """Read a .gmt or .gmt.gz file (name, description, genes; tab-separated), skipping blank lines."""
    sets: GeneSets = {}
    first_line: dict[str, int] = {}
    with _open_text(path) as handle:
        for line_no, line in _lines(handle):
            if not line.strip():
                continue
            fields = line.split("\t")
            where = f"{path}:{line_no}"
            if len(fields) < 3:
                raise ValueError(
                    f"{where}: a GMT line needs a set name, a description and at least one gene, "
                    f"separated by tabs; found {len(fields)} field(s) in {line[:60]!r}"
                )
            name = fields[0].strip()
            if not name:
                raise ValueError(f"{where}: empty gene-set name")
            if name in sets:
                raise ValueError(
                    f"{where}: set {name!r} repeats the set of line {first_line[name]}"
                )
            genes = clean_symbols(fields[2:])
            if not genes:
                raise ValueError(f"{where}: set {name!r} lists no genes")
            sets[name] = genes
            first_line[name] = line_no
    if not sets:
        raise ValueError(f"gene-set file {path} contains no gene sets")
    return sets


def write_gmt(sets: GeneSets, path: str | os.PathLike, description: str = "") -> None:
    """Write gene sets as GMT (gzip when the name ends in .gz), one description for every set."""
    path = Path(path)
    text = "".join(
        f"{name}\t{description}\t" + "\t".join(genes) + "\n" for name, genes in sets.items()
    )
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
    else:
        path.write_text(text, encoding="utf-8")


def read_verhaak_signatures(path: str | os.PathLike) -> GeneSets:
    """Derive the four Verhaak 2010 subtype signatures from column 2 of a ClaNC840-layout file."""
    genes_by_code: dict[str, list[str]] = {code: [] for code in VERHAAK_SIGNATURES}
    with _open_text(path) as handle:
        for line_no, line in _lines(handle):
            fields = line.split("\t")
            if line_no == 1:
                continue  # header: gene column, signature column, sample barcodes
            if line_no == 2:
                if fields[0].strip().lower() != "subtype":
                    raise ValueError(
                        f"{path}:2: expected the ClaNC840 'Subtype' row, found {fields[0][:40]!r}; "
                        "layout: header row, 'Subtype' row, then gene rows with the signature "
                        "code (PN/NL/CL/MES or blank) in column 2"
                    )
                continue
            code = fields[1].strip().upper() if len(fields) > 1 else ""
            if not code:
                continue
            if code not in genes_by_code:
                raise ValueError(
                    f"{path}:{line_no}: unknown signature code {code!r} for gene {fields[0]!r}; "
                    f"expected one of {', '.join(VERHAAK_SIGNATURES)} or blank"
                )
            genes_by_code[code].append(fields[0])
    missing = [code for code, genes in genes_by_code.items() if not clean_symbols(genes)]
    if missing:
        raise ValueError(f"{path}: no genes carry signature code(s) {', '.join(missing)}")
    return {VERHAAK_SIGNATURES[code]: clean_symbols(genes) for code, genes in genes_by_code.items()}


def read_puchalski(path: str | os.PathLike) -> GeneSets:
    """Read a wide CSV of gene sets (Puchalski 2018 Table S15): header = set names, 'na' cells ignored."""
    with _open_text(path) as handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise ValueError(f"gene-set file {path} is empty")
    names = [name.strip() for name in rows[0]]
    if "" in names:
        raise ValueError(f"{path}:1: column {names.index('') + 1} has no set name")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"{path}:1: repeated set name(s) {', '.join(repeated)}")
    columns: list[list[str]] = [[] for _ in names]
    for line_no, row in enumerate(rows[1:], start=2):
        if len(row) > len(names) and any(cell.strip() for cell in row[len(names) :]):
            raise ValueError(f"{path}:{line_no}: {len(row)} cells but only {len(names)} set names")
        for column, cell in zip(columns, row, strict=False):  # short rows are ragged padding
            if cell.strip().lower() != _PUCHALSKI_MISSING:
                column.append(cell)
    sets = {name: clean_symbols(column) for name, column in zip(names, columns, strict=True)}
    empty = [name for name, genes in sets.items() if not genes]
    if empty:
        raise ValueError(f"{path}: set(s) {', '.join(empty)} list no genes")
    return sets


@contextmanager
def _shipped_path(*parts: str) -> Iterator[Path]:
    """A real filesystem path to a file under data/resources (extracted if the package is zipped)."""
    resource = resources.files("radiogenomics.data") / "resources"
    for part in parts:
        resource = resource / part
    with resources.as_file(resource) as path:
        yield path


def load_gene_universe() -> list[str]:
    """The 12,042 HT_HG-U133A gene symbols shipped with the package (original order; see SOURCES.md)."""
    with _shipped_path(_UNIVERSE_FILE) as path, _open_text(path) as handle:
        return [line.strip() for _, line in _lines(handle) if line.strip()]


def _read_by_suffix(path: Path) -> GeneSets:
    """Dispatch on the file name: .gmt/.gmt.gz -> GMT, .csv -> Puchalski layout."""
    name = path.name.lower()
    if name.endswith((".gmt", ".gmt.gz")):
        return read_gmt(path)
    if name.endswith(".csv"):
        return read_puchalski(path)
    raise ValueError(
        f"cannot tell the format of gene-set file {path}: expected a .gmt, .gmt.gz or .csv "
        "(Puchalski layout) name; for a ClaNC840 file use read_verhaak_signatures"
    )


def load_collection(name_or_path: str | os.PathLike) -> GeneSets:
    """Load a shipped collection by name, or a .gmt/.gmt.gz/.csv file by path; never downloads."""
    key = str(name_or_path).strip().lower()
    if key in _SHIPPED_FILES:
        with _shipped_path("genesets", _SHIPPED_FILES[key]) as path:
            return _read_by_suffix(path)
    path = Path(name_or_path).expanduser()
    looks_like_path = path.suffix != "" or len(path.parts) > 1
    if not looks_like_path and not path.exists():
        close = difflib.get_close_matches(key, SHIPPED_COLLECTIONS, n=1)
        raise ValueError(
            f"unknown gene-set collection {str(name_or_path)!r}; shipped collections: "
            f"{', '.join(SHIPPED_COLLECTIONS)}; or give a path to a .gmt, .gmt.gz or .csv file"
            + (f"; did you mean {close[0]!r}?" if close else "")
        )
    if not path.is_file():
        raise FileNotFoundError(f"gene-set file not found: {path}")
    return _read_by_suffix(path)


@dataclass
class IndexedGeneSets:
    """Gene sets mapped to column positions of an expression matrix, with a coverage report."""

    names: list[str]
    indices: list[np.ndarray]
    coverage: pd.DataFrame

    def __len__(self) -> int:
        """Number of kept sets."""
        return len(self.names)


def _column_positions(genes: Sequence[str]) -> dict[str, int]:
    """Upper-cased symbol -> column position; refuses symbols that repeat ignoring case."""
    positions: dict[str, int] = {}
    repeated: list[str] = []
    for position, gene in enumerate(genes):
        symbol = str(gene).strip().upper()
        if symbol in positions:
            repeated.append(str(gene))
        elif symbol:
            positions[symbol] = position
    if repeated:
        raise ValueError(
            f"the gene list repeats {len(repeated)} symbol(s) (ignoring case), e.g. "
            f"{', '.join(repeated[:5])}; average or drop duplicate genes before indexing gene sets"
        )
    return positions


def _status(
    n_on_array: int, coverage: float, min_coverage: float, min_size: int, max_size: int | None
) -> str:
    """Why a set is kept or skipped."""
    if n_on_array == 0:
        return "skipped: no genes on the array"
    if coverage < min_coverage:
        return f"skipped: coverage {coverage:.2f} < min {min_coverage:g}"
    if n_on_array < min_size:
        return f"skipped: size {n_on_array} < min {min_size}"
    if max_size is not None and n_on_array > max_size:
        return f"skipped: size {n_on_array} > max {max_size}"
    return "kept"


def index_gene_sets(
    sets: GeneSets,
    genes: Sequence[str],
    min_coverage: float = 0.0,
    min_size: int = 1,
    max_size: int | None = None,
    *,
    collection: str | None = None,
) -> IndexedGeneSets:
    """Map each set's symbols (case-insensitive) to sorted int64 column positions of ``genes``."""
    label = f"gene-set file {collection}" if collection else "gene sets"
    if not 0.0 <= min_coverage <= 1.0:
        raise ValueError(f"min_coverage must lie in [0, 1], got {min_coverage}")
    if min_size < 1:
        raise ValueError(f"min_size must be at least 1, got {min_size}")
    if max_size is not None and max_size < min_size:
        raise ValueError(f"max_size ({max_size}) is smaller than min_size ({min_size})")
    if not sets:
        raise ValueError(f"{label}: no gene sets to index")
    if len(genes) == 0:
        raise ValueError(f"{label}: the gene list to index against is empty")
    positions = _column_positions(genes)

    rows, names, indices = [], [], []
    for name, symbols in sets.items():
        symbols = clean_symbols(symbols)
        found = np.array(sorted(positions[s] for s in symbols if s in positions), dtype=np.int64)
        coverage = len(found) / len(symbols) if symbols else 0.0
        status = _status(len(found), coverage, min_coverage, min_size, max_size)
        rows.append((name, len(symbols), len(found), coverage, status))
        if status == "kept":
            names.append(name)
            indices.append(found)
    report = pd.DataFrame(rows, columns=["set", "n_genes", "n_on_array", "coverage", "status"])

    if report["n_on_array"].sum() == 0:
        raise ValueError(
            f"{label} has zero genes on the array ({len(sets)} sets, e.g. "
            f"{', '.join(list(sets)[:3])}; array genes look like {', '.join(map(str, genes[:3]))}): "
            "are both given as HGNC symbols?"
        )
    if not names:
        reasons = report["status"].value_counts().head(3).to_dict()
        raise ValueError(
            f"{label}: every gene set was skipped by the filters (min_coverage={min_coverage}, "
            f"min_size={min_size}, max_size={max_size}); reasons: {reasons}"
        )
    return IndexedGeneSets(names=names, indices=indices, coverage=report)
