"""The sweep report: one self-contained HTML page (and a model card) per sweep, or several sweeps.

:func:`write_sweep_report` writes ``summary/report.html`` and ``summary/model_card.md`` of one
sweep (the sweep summary calls it last); :func:`write_report` puts several sweeps side by side
(``scripts/report.py REAL PERMUTED``: each section of every sweep in one row, plus the
null-control verdicts of a sweep and its permuted twin). Figures and styles are inline, nothing is
fetched and no JavaScript runs: the page opens from a file path, offline, and prints.

The page is :data:`SECTIONS`, in order: each :class:`Builder` returns a
:class:`~radiogenomics.report.blocks.Section` or None when its sweep lacks the data, so a
new table or figure is one more builder (:func:`register_section`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from radiogenomics.progress import Progress
from radiogenomics.report.blocks import Section, Text
from radiogenomics.report.model_card import card_section, model_card
from radiogenomics.report.regression_section import regression_section
from radiogenomics.report.sections import (
    clinical_section,
    interpretation_section,
    model_agreement_section,
    null_control_section,
    null_twin_section,
    performance_section,
    provenance_section,
)
from radiogenomics.report.trust_section import trust_section
from radiogenomics.results import layout
from radiogenomics.results.sweep import SweepData
from radiogenomics.utils import atomic_write, error_line

log = logging.getLogger(__name__)

PAGE_TEMPLATE = "report_page.html.j2"
CARD_TEMPLATE = "card.md.j2"
TEMPLATE_PACKAGE = ("radiogenomics.report", "templates")
ABSENT = "Not in this sweep."
FAILED = "This section could not be built"


class NotASweepError(ValueError):
    """A directory that is not a summarized sweep (scripts/report.py exits 2 with its message)."""


@dataclass(frozen=True)
class Builder:
    """A section builder: ``build(sweep)``, or ``build(sweeps)`` when ``across`` sweeps."""

    build: Callable
    across: bool = False


SECTIONS: list[Builder] = [
    Builder(provenance_section),
    Builder(performance_section),
    Builder(regression_section),
    Builder(interpretation_section),
    Builder(model_agreement_section),
    Builder(trust_section),
    Builder(clinical_section),
    Builder(null_control_section),
    Builder(null_twin_section, across=True),
    Builder(card_section),
]


def register_section(build: Callable, across: bool = False, before: Callable | None = None) -> None:
    """Add a section builder to the page (before ``before``'s section, else before the card)."""
    anchor = before or card_section
    index = next((i for i, b in enumerate(SECTIONS) if b.build is anchor), len(SECTIONS))
    SECTIONS.insert(index, Builder(build, across))


@dataclass
class Row:
    """One section of the page: its title and, per sweep, that sweep's section (or None)."""

    key: str
    title: str
    cells: list[tuple[str, Section | None]]


def check_sweep(path: str | Path) -> SweepData:
    """The sweep at ``path``; :class:`NotASweepError` unless it is a summarized sweep dir."""
    path = Path(path)
    if not path.is_dir():
        raise NotASweepError(f"{path} is not a directory")
    sweep = SweepData(path)
    if sweep.cv is None and sweep.regression_cv is None:
        if not (path / layout.MULTIRUN).is_file() and not sweep.summary.is_dir():
            raise NotASweepError(
                f"{path} is not a sweep dir (no {layout.MULTIRUN}, no {layout.SUMMARY_DIR}/)"
            )
        raise NotASweepError(
            f"{path} has no {layout.SUMMARY_DIR}/{layout.CV_SUMMARY}: run `python "
            f"scripts/summarize.py {path}` first (or the sweep has no completed job)"
        )
    return sweep


def build_section(builder: Builder, data: SweepData | list[SweepData]) -> Section | None:
    """Run one builder; a failure becomes a section saying so (the rest of the page is kept)."""
    try:
        return builder.build(data)
    except Exception as err:  # a report is written at the end of a sweep: never lose it all
        name = builder.build.__name__
        log.warning("sweep report: section %s failed: %s", name, error_line(err))
        return Section(
            name,
            name.removesuffix("_section").replace("_", " ").capitalize(),
            [Text(f"{FAILED}: {type(err).__name__}: {error_line(err)}", note=True)],
        )


def page_rows(sweeps: list[SweepData]) -> list[Row]:
    """Every section of the page in order, each with one cell per sweep (or one across all)."""
    rows = []
    with Progress("sweep report", total=len(SECTIONS) * len(sweeps), unit="sections") as counter:
        for builder in SECTIONS:
            if builder.across:
                section = build_section(builder, sweeps)
                counter.update(len(sweeps))
                if section is not None:
                    rows.append(Row(section.key, section.title, [("", section)]))
                continue
            cells = []
            for sweep in sweeps:
                cells.append((sweep.name, build_section(builder, sweep)))
                counter.update()
            present = [s for _, s in cells if s is not None]
            if present:
                rows.append(Row(present[0].key, present[0].title, cells))
    return rows


def _environment() -> Environment:
    """Jinja2 with the package's templates; HTML templates autoescaped, Markdown not."""
    return Environment(
        loader=PackageLoader(*TEMPLATE_PACKAGE),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_page(sweeps: list[SweepData]) -> str:
    """The report page of ``sweeps`` (one or several, side by side) as HTML."""
    from importlib.metadata import version

    rows = page_rows(sweeps)
    names = [s.name for s in sweeps]
    title = "Sweep report: " + " vs ".join(names)
    return (
        _environment()
        .get_template(PAGE_TEMPLATE)
        .render(
            title=title,
            sweeps=[{"name": s.name, "path": str(s.path.resolve())} for s in sweeps],
            rows=rows,
            n_columns=len(sweeps),
            absent=ABSENT,
            generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            version=version("radiogenomics"),
        )
    )


def render_card(sweep: SweepData) -> str | None:
    """The sweep's model card as Markdown; None without a CV table."""
    parts = model_card(sweep)
    if parts is None:
        return None
    return _environment().get_template(CARD_TEMPLATE).render(sweep=sweep.name, parts=parts)


def _write_text(path: Path, text: str) -> Path:
    """Write text atomically (UTF-8)."""
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_sweep_report(sweep_dir: str | Path) -> list[Path]:
    """Write ``summary/report.html`` and ``summary/model_card.md`` of one summarized sweep."""
    sweep = check_sweep(sweep_dir)
    out = layout.summary_dir(sweep.path)
    written = [_write_text(out / layout.REPORT_HTML, render_page([sweep]))]
    card = render_card(sweep)
    if card is not None:
        written.append(_write_text(out / layout.MODEL_CARD, card))
    log.info("sweep report: %s (%.1f MB)", written[0], written[0].stat().st_size / (1 << 20))
    return written


def write_report(sweep_dirs: list[str | Path], out: str | Path | None = None) -> list[Path]:
    """One sweep: as :func:`write_sweep_report`. Several: one page, the sweeps side by side.

    ``out`` is the page's path (default: the first sweep's ``summary/report.html``, or
    ``summary/report_side_by_side.html`` for several sweeps).
    """
    sweeps = [check_sweep(d) for d in sweep_dirs]
    if len(sweeps) == 1 and out is None:
        return write_sweep_report(sweeps[0].path)
    name = layout.REPORT_HTML if len(sweeps) == 1 else layout.REPORT_SIDE_BY_SIDE
    path = Path(out) if out is not None else layout.summary_dir(sweeps[0].path) / name
    return [_write_text(path, render_page(sweeps))]


def refresh_report(sweep_dir: str | Path) -> list[Path]:
    """Rewrite a sweep's report and card when it has one (after new results, e.g. survival)."""
    if not (layout.summary_dir(sweep_dir) / layout.REPORT_HTML).is_file():
        return []
    return write_sweep_report(sweep_dir)
