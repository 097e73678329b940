"""What the sweep report is made of: the blocks a section holds, and how cells are written.

A section is a :class:`Section` of blocks (:class:`Text`, :class:`Facts`, :class:`Table`,
:class:`Figure`) that the HTML template and the model card render, built from what
:class:`radiogenomics.results.sweep.SweepData` read. Figures are embedded as base64 PNG ``data:``
URIs, so the page needs no other file.
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

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
