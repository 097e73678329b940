"""Survival of patients with vs without each radiogenomic association's trait, over a saliency sweep.

    python scripts/survival.py outputs/finetune/multiruns/<saliency sweep> [--clinical FILE]

For each association of ``summary/associations.csv`` (``association == True``), the held-out
patients are split by whether the set is enriched (FDR < --fdr, positive NES by default) in their
attribution ranking; Kaplan-Meier medians, log-rank test and a Cox model of the enriched flag
adjusted for age, gender and race, with BH q-values across associations. Writes ``survival.csv``,
``clinical_issues.csv``, ``patients_without_clinical.csv`` and KM plots of the significant pairs
to --out (default <sweep>/summary/survival) and prints a short summary. The clinical table
defaults to the one the sweep's data name (cohort.json), else the shipped TCGA-GBM BCR
table. See radiogenomics.analysis.trait_survival.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import pandas as pd

from radiogenomics.analysis.trait_survival import (
    COVARIATES,
    DIRECTIONS,
    ENDPOINTS,
    SurvivalOptions,
    load_sweep_traits,
    patients_without_clinical,
    run_survival,
    significant,
)
from radiogenomics.data.clinical import CLINICAL_FILE, read_clinical
from radiogenomics.data.io import DataError
from radiogenomics.utils import write_csv

SHOWN_IDS = 10  # patient ids printed in the summary; the CSV files have all of them
SHOWN_COLUMNS = ["class", "collection", "set", "n_enriched", "n_not", "logrank_q", "hr", "cox_q"]


def summary_text(table: pd.DataFrame, missing: list[str], n_issues: int, alpha: float) -> str:
    """A few readable lines: pairs tested/skipped, patients without clinical data, hits."""
    tested = table["status"] == "tested"
    lines = [
        f"{len(table)} association(s): {int(tested.sum())} tested, {int((~tested).sum())} skipped"
    ]
    if table.empty:
        lines.append("  (associations.csv has no row with association == True)")
    for reason, n in table.loc[~tested, "status"].value_counts().items():
        lines.append(f"  {n} x {reason}")
    failed = table["cox_status"].str.startswith("failed")
    if failed.any():
        lines.append(f"  Cox fit failed for {int(failed.sum())} tested pair(s) (see cox_status)")
    shown = ", ".join(missing[:SHOWN_IDS]) + (" ..." if len(missing) > SHOWN_IDS else "")
    lines.append(
        f"{len(missing)} held-out patient(s) without clinical data{': ' if missing else ''}{shown}"
    )
    lines.append(f"{n_issues} clinical problem(s) recorded in clinical_issues.csv")
    hits = significant(table, alpha)
    lines.append(f"{len(hits)} pair(s) with log-rank or Cox q < {alpha:g}")
    if len(hits):
        lines.append(hits[SHOWN_COLUMNS].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    return "\n".join(lines)


def sweep_clinical_file(sweep: Path) -> str | None:
    """The clinical table recorded in the sweep's jobs (``cohort.json``), if any."""
    for path in sorted(sweep.glob("**/cohort.json")):
        recorded = json.loads(path.read_text()).get("clinical_file")
        if recorded:
            return recorded
    return None


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep", type=Path, help="sweep directory of a saliency run (Hydra -m)")
    parser.add_argument(
        "--clinical",
        default=None,
        help="TCGA BCR clinical patient table (default: the one the sweep's data name in "
        "cohort.json, e.g. the synthetic cohort's own; else the shipped TCGA-GBM table)",
    )
    parser.add_argument(
        "--out", type=Path, help="output directory (default <sweep>/summary/survival)"
    )
    parser.add_argument(
        "--fdr", type=float, default=0.05, help="set FDR below which a trait is called"
    )
    parser.add_argument(
        "--direction", choices=DIRECTIONS, default="pos", help="NES sign of a trait"
    )
    parser.add_argument("--alpha", type=float, default=0.05, help="q-value for a significant pair")
    parser.add_argument("--min-group", type=int, default=5, help="fewest patients per group")
    parser.add_argument("--endpoint", choices=ENDPOINTS, default="os", help="survival endpoint")
    parser.add_argument(
        "--covariates", nargs="*", default=list(COVARIATES), help="Cox adjustment covariates"
    )
    parser.add_argument("--penalizer", type=float, default=0.01, help="Cox ridge penalty")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    options = SurvivalOptions(
        fdr=args.fdr,
        direction=args.direction,
        alpha=args.alpha,
        min_group=args.min_group,
        endpoint=args.endpoint,
        covariates=tuple(args.covariates),
        penalizer=args.penalizer,
    )
    out = args.out or args.sweep / "summary" / "survival"
    try:
        sweep = load_sweep_traits(args.sweep / "summary")
        clinical = read_clinical(args.clinical or sweep_clinical_file(args.sweep) or CLINICAL_FILE)
        table, _ = run_survival(sweep, clinical.patients, options, out)
    except DataError as err:
        sys.exit(f"error: {err}")
    write_csv(out / "clinical_issues.csv", clinical.issues)
    missing = patients_without_clinical(sweep, clinical.patients)
    write_csv(out / "patients_without_clinical.csv", pd.DataFrame({"patient_id": missing}))
    print(summary_text(table, missing, len(clinical.issues), options.alpha))
    print(f"written to {out}")
    return table


if __name__ == "__main__":
    main()
