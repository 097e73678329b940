"""Survival by radiogenomic trait, written out: ``scripts/survival.py``'s tables, plots and summary.

:func:`write_survival` reads a saliency sweep's traits and associations and a clinical table,
runs :func:`radiogenomics.analysis.trait_survival.survival_table` and writes, to
``<sweep>/summary/survival`` by default: ``survival.csv``, a Kaplan-Meier plot per significant
pair, ``clinical_issues.csv`` (problems found while reading the clinical table) and
``patients_without_clinical.csv`` (held-out patients the clinical table lacks). The clinical table
defaults to the one the sweep's jobs recorded (``cohort.json``), else the shipped TCGA-GBM table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from radiogenomics.analysis.trait_survival import (
    PAIR_KEYS,
    TESTED,
    SurvivalOptions,
    SweepTraits,
    load_sweep_traits,
    pair_groups,
    patients_without_clinical,
    significant,
    survival_table,
)
from radiogenomics.data.clinical import CLINICAL_FILE, read_clinical
from radiogenomics.report.page import refresh_report
from radiogenomics.results import layout
from radiogenomics.results.sweep import SweepData
from radiogenomics.utils import write_csv

log = logging.getLogger(__name__)

SHOWN_IDS = 10  # patient ids printed in the summary; the CSV files have all of them
SHOWN_COLUMNS = ["class", "collection", "set", "n_enriched", "n_not", "logrank_q", "hr", "cox_q"]


@dataclass
class SurvivalReport:
    """What :func:`write_survival` found and wrote."""

    table: pd.DataFrame  # survival.csv
    text: str  # the readable summary (see summary_text)
    out: Path
    written: list[Path] = field(default_factory=list)


def write_survival(
    sweep_dir: str | Path,
    options: SurvivalOptions | None = None,
    clinical_file: str | None = None,
    out: str | Path | None = None,
) -> SurvivalReport:
    """Analyse a saliency sweep's associations against survival and write every output.

    Raises :class:`radiogenomics.data.io.DataError` when the sweep has no saliency outputs or the
    clinical table cannot be used.
    """
    sweep_dir = Path(sweep_dir)
    options = options or SurvivalOptions()
    out = Path(out) if out is not None else layout.survival_dir(sweep_dir)
    sweep = load_sweep_traits(layout.summary_dir(sweep_dir))
    clinical = read_clinical(clinical_file or sweep_clinical_file(sweep_dir) or CLINICAL_FILE)
    table, written = run_survival(sweep, clinical.patients, options, out)
    written.append(write_csv(out / layout.CLINICAL_ISSUES, clinical.issues))
    missing = patients_without_clinical(sweep, clinical.patients)
    written.append(
        write_csv(out / layout.PATIENTS_WITHOUT_CLINICAL, pd.DataFrame({"patient_id": missing}))
    )
    text = summary_text(table, missing, len(clinical.issues), options.alpha)
    if out == layout.survival_dir(sweep_dir):  # where the sweep report looks: show it there
        refresh_report(sweep_dir)
    return SurvivalReport(table=table, text=text, out=out, written=written)


def sweep_clinical_file(sweep_dir: str | Path) -> str | None:
    """The clinical table recorded in the sweep's jobs (``cohort.json``), if any."""
    recorded = (c.get("clinical_file") for c in SweepData(sweep_dir).cohorts)
    return next((clinical for clinical in recorded if clinical), None)


def run_survival(
    sweep: SweepTraits, clinical: pd.DataFrame, options: SurvivalOptions, out: str | Path
) -> tuple[pd.DataFrame, list[Path]]:
    """Analyse a sweep, write ``survival.csv`` and KM plots of the significant pairs to ``out``."""
    out = Path(out)
    table = survival_table(sweep, clinical, options)
    written = [write_csv(out / layout.SURVIVAL, table)]
    for _, row in significant(table, options.alpha).iterrows():
        written.append(km_plot(out / plot_name(row, sweep.keys), sweep, row, clinical, options))
    log.info("survival: %s", ", ".join(p.name for p in written))
    return table, written


def km_plot(
    path: Path,
    sweep: SweepTraits,
    row: pd.Series,
    clinical: pd.DataFrame,
    options: SurvivalOptions,
) -> Path:
    """Kaplan-Meier curves (95% CI) of the enriched vs not-enriched patients of one pair."""
    import matplotlib.pyplot as plt
    from lifelines import KaplanMeierFitter

    from radiogenomics.figures.plots import save_figure

    time, event = f"{options.endpoint}_time", f"{options.endpoint}_event"
    groups = pair_groups(sweep, row, clinical, options)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for flag, label in ((True, "enriched"), (False, "not enriched")):
        group = groups[flag]
        fitter = KaplanMeierFitter(label=f"{label} (n={len(group)})")
        fitter.fit(group[time], group[event]).plot_survival_function(ax=ax)
    ax.set_xlabel(f"days ({options.endpoint.upper()})")
    ax.set_ylabel("survival probability")
    ax.set_title(
        f"{row['collection']} / {row['set']} ({row['class']})\n"
        f"log-rank q={row['logrank_q']:.2g}, HR={row['hr']:.2f} "
        f"[{row['hr_low']:.2f}, {row['hr_high']:.2f}], Cox q={row['cox_q']:.2g}",
        fontsize=8,
    )
    return save_figure(fig, path)


def plot_name(row: pd.Series, keys: list[str]) -> str:
    """File name of a pair's KM plot: configuration keys, class, collection, set."""
    parts = [str(row[k]) for k in keys if str(row[k]) not in ("none", "")]
    parts += [str(row[k]) for k in PAIR_KEYS]
    return layout.survival_plot(parts)


def summary_text(table: pd.DataFrame, missing: list[str], n_issues: int, alpha: float) -> str:
    """A few readable lines: pairs tested/skipped, patients without clinical data, hits."""
    tested = table["status"] == TESTED
    lines = [
        f"{len(table)} association(s): {int(tested.sum())} tested, {int((~tested).sum())} skipped"
    ]
    if table.empty:
        lines.append(f"  ({layout.ASSOCIATIONS} has no row with association == True)")
    for reason, n in table.loc[~tested, "status"].value_counts().items():
        lines.append(f"  {n} x {reason}")
    failed = table["cox_status"].str.startswith("failed")
    if failed.any():
        lines.append(f"  Cox fit failed for {int(failed.sum())} tested pair(s) (see cox_status)")
    shown = ", ".join(missing[:SHOWN_IDS]) + (" ..." if len(missing) > SHOWN_IDS else "")
    lines.append(
        f"{len(missing)} held-out patient(s) without clinical data{': ' if missing else ''}{shown}"
    )
    lines.append(f"{n_issues} clinical problem(s) recorded in {layout.CLINICAL_ISSUES}")
    hits = significant(table, alpha)
    lines.append(f"{len(hits)} pair(s) with log-rank or Cox q < {alpha:g}")
    if len(hits):
        lines.append(hits[SHOWN_COLUMNS].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    return "\n".join(lines)
