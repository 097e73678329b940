"""What the sweep report is made of: a sweep's files read once, and the blocks a section holds.

:class:`SweepData` reads a finished sweep lazily (each file at most once, ``None`` when absent);
a section is a :class:`Section` of blocks (:class:`Text`, :class:`Facts`, :class:`Table`,
:class:`Figure`) that the HTML template and the model card render. Figures are embedded as base64
PNG ``data:`` URIs, so the page needs no other file.
"""

from __future__ import annotations

import base64
import io
import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import DictConfig, ListConfig, OmegaConf

from radiogenomics.results import layout
from radiogenomics.results.sweep import GROUP_KEYS, job_config, job_dirs

MAX_IMAGE_PIXELS = 1600  # a figure wider or taller than this is scaled down before embedding
TOP_ROWS = 20  # rows of a long table shown in the report (the CSV next to it has all)
P_COLUMNS = (
    "p",
    "q",
    "empirical_p",
    "competitive_q",
    "self_contained_q",
    "fdr",
    "class_p",
    "class_q",
)  # shown as 2 significant digits
P_SUFFIXES = ("_p", "_q")
DIGITS = 3
TEXT_COLUMNS = {"config_hash": str, "trait": str, "model": str}  # a hash may look like a number


# ------------------------------------------------------------------------------------- blocks


@dataclass
class Text:
    """A paragraph (plain text; ``note`` renders it smaller, as a caveat or pointer)."""

    text: str
    note: bool = False
    kind: str = "text"


@dataclass
class Facts:
    """A definition list: (label, value) pairs; a value may be a list (shown one per line)."""

    items: list[tuple[str, Any]]
    title: str = ""
    kind: str = "facts"


@dataclass
class Table:
    """A table of formatted cells, with the number of rows left out and where the rest is."""

    columns: list[str]
    rows: list[list[str]]
    title: str = ""
    note: str = ""
    numeric: list[bool] = field(default_factory=list)
    kind: str = "table"


@dataclass
class Figure:
    """An embedded PNG (``data:`` URI) with its title and alt text."""

    uri: str
    title: str
    alt: str
    caption: str = ""
    kind: str = "figure"


@dataclass
class Details:
    """A collapsed block of preformatted text (a file shown in full on demand)."""

    title: str
    text: str
    kind: str = "details"


@dataclass
class Section:
    """One part of the report: ``key`` aligns the same section of several sweeps side by side."""

    key: str
    title: str
    blocks: list[Any]
    intro: str = ""


# ---------------------------------------------------------------------------- formatting


def cell(value: Any, column: str = "") -> str:
    """A table cell: floats rounded (p and q values to 2 significant digits), NaN empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if column in P_COLUMNS or column.endswith(P_SUFFIXES):
            return f"{value:.2g}"
        return f"{value:.0f}" if value.is_integer() and abs(value) >= 1 else f"{value:.{DIGITS}f}"
    return str(value)


def table_block(
    frame: pd.DataFrame,
    title: str = "",
    columns: list[str] | None = None,
    rows: int | None = TOP_ROWS,
    source: str = "",
) -> Table:
    """A DataFrame as a :class:`Table`: chosen ``columns`` (those present), the first ``rows``."""
    shown = [c for c in (columns or list(frame.columns)) if c in frame.columns]
    head = frame if rows is None else frame.head(rows)
    note = ""
    if rows is not None and len(frame) > rows:
        note = f"first {rows} of {len(frame)} rows"
        note += f"; all in {source}" if source else ""
    elif source:
        note = f"from {source}"
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in shown]
    cells = [[cell(v, c) for c, v in zip(shown, row, strict=True)] for row in head[shown].values]
    return Table(columns=shown, rows=cells, title=title, note=note, numeric=numeric)


def config_label(key: dict) -> str:
    """``edema / nn (3f2a9c1b07de)``, with the bootstrap replicate when there is one."""
    text = f"{key['trait']} / {key['model']} ({key['config_hash']})"
    if str(key.get("bootstrap", "none")) != "none":
        text += f", bootstrap {key['bootstrap']}"
    return text


def png_uri(data: bytes) -> str:
    """A PNG's bytes as a ``data:`` URI, scaled down first when larger than MAX_IMAGE_PIXELS."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        if max(image.size) > MAX_IMAGE_PIXELS:
            image.thumbnail((MAX_IMAGE_PIXELS, MAX_IMAGE_PIXELS))
            buffer = io.BytesIO()
            image.save(buffer, format="PNG", optimize=True)
            data = buffer.getvalue()
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def figure_block(path: Path, title: str, alt: str, caption: str = "") -> Figure | None:
    """A PNG file as an embedded :class:`Figure`; None when the file is absent."""
    if not path.is_file():
        return None
    return Figure(uri=png_uri(path.read_bytes()), title=title, alt=alt, caption=caption)


# ---------------------------------------------------------------------------------- a sweep


def _read_csv(path: Path) -> pd.DataFrame:
    """A CSV; an empty frame for a file without columns (an empty table written as such)."""
    try:
        return pd.read_csv(path, dtype=TEXT_COLUMNS)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


class SweepData:
    """A finished sweep's files, each read at most once; ``None`` (or empty) when absent."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.summary = layout.summary_dir(self.path)
        self._tables: dict[Path, pd.DataFrame | None] = {}

    @property
    def name(self) -> str:
        """The sweep dir's name."""
        return self.path.resolve().name

    def table(self, path: Path) -> pd.DataFrame | None:
        """A CSV of the sweep (cached); None when absent."""
        if path not in self._tables:
            self._tables[path] = _read_csv(path) if path.is_file() else None
        return self._tables[path]

    def summary_table(self, name: str) -> pd.DataFrame | None:
        """A CSV under ``summary/``."""
        return self.table(self.summary / name)

    def summary_json(self, name: str) -> dict | None:
        """A JSON file under ``summary/``."""
        path = self.summary / name
        return json.loads(path.read_text()) if path.is_file() else None

    @cached_property
    def cv(self) -> pd.DataFrame | None:
        """``cv_summary.csv``'s classifier rows (AUROC), ``bootstrap`` as text (``none``: plain CV)."""
        return self._cv_rows("pooled_auroc")

    @cached_property
    def regression_cv(self) -> pd.DataFrame | None:
        """``cv_summary.csv``'s continuous-trait rows (pooled R², Spearman, MAE), if any."""
        return self._cv_rows("pooled_r2")

    def _cv_rows(self, headline: str) -> pd.DataFrame | None:
        """The cv_summary rows whose ``headline`` column is filled (one kind of trait)."""
        table = self.summary_table(layout.CV_SUMMARY)
        if table is None or table.empty or headline not in table:
            return None
        table = table[table[headline].notna()]
        if table.empty:
            return None
        return table.assign(bootstrap=table["bootstrap"].fillna("none").astype(str))

    @cached_property
    def folds(self) -> pd.DataFrame | None:
        """``folds.csv``: one row per completed job."""
        return self.summary_table(layout.FOLDS)

    @cached_property
    def predictions(self) -> pd.DataFrame | None:
        """Pooled out-of-fold predictions with ``bootstrap`` as text."""
        table = self.summary_table(layout.PREDICTIONS)
        if table is None:
            return None
        return table.assign(bootstrap=table["bootstrap"].fillna("none").astype(str))

    @cached_property
    def missing(self) -> list[str]:
        """Jobs without metrics.json (failed, killed or never started)."""
        record = self.summary_json(layout.MISSING_JOBS)
        return list(record.get("jobs", [])) if record else []

    @cached_property
    def jobs(self) -> list[Path]:
        """Completed job dirs (those with metrics.json)."""
        return [d for d in job_dirs(self.path) if (d / layout.METRICS).is_file()]

    @cached_property
    def job_metrics(self) -> list[dict]:
        """Every completed job's metrics.json."""
        return [json.loads((d / layout.METRICS).read_text()) for d in self.jobs]

    @cached_property
    def cohorts(self) -> list[dict]:
        """Every completed job's cohort.json (in job order)."""
        return [
            json.loads((d / layout.COHORT).read_text())
            for d in self.jobs
            if (d / layout.COHORT).is_file()
        ]

    @cached_property
    def config(self) -> DictConfig | None:
        """The first completed job's composed config (``.hydra/config.yaml``)."""
        for d in self.jobs:
            try:
                return job_config(d)
            except FileNotFoundError:
                continue
        return None

    @cached_property
    def multirun(self) -> DictConfig | None:
        """Hydra's record of the sweep (``multirun.yaml``)."""
        path = self.path / layout.MULTIRUN
        return OmegaConf.load(path) if path.is_file() else None

    @cached_property
    def manifest(self) -> dict | None:
        """The first job's model bundle manifest (versions, architecture), if bundles were saved."""
        for d in self.jobs:
            path = d / layout.MODEL_DIR / layout.BUNDLE_MANIFEST
            if path.is_file():
                return json.loads(path.read_text())
        return None

    @cached_property
    def environment(self) -> str | None:
        """``summary/environment.txt`` (every installed package, machine facts), if written."""
        path = self.summary / layout.ENVIRONMENT
        return path.read_text() if path.is_file() else None

    @cached_property
    def permuted(self) -> bool:
        """Whether the sweep's labels were permuted (a null-control twin)."""
        return any(bool(m.get("permuted_labels")) for m in self.job_metrics)

    def configurations(self) -> list[dict]:
        """The configurations of the CV table (``GROUP_KEYS`` of each row)."""
        if self.cv is None:
            return []
        return [dict(zip(GROUP_KEYS, row, strict=True)) for row in self.cv[GROUP_KEYS].values]

    def option(self, key: str, default: Any = None) -> Any:
        """A value of the first job's config (dotted ``key``), unresolved interpolations as None."""
        if self.config is None:
            return default
        try:
            value = OmegaConf.select(self.config, key, default=default)
        except Exception:  # an interpolation that needs Hydra's runtime (e.g. ${hydra:...})
            return default
        if isinstance(value, DictConfig | ListConfig):
            return OmegaConf.to_container(value)
        return value
