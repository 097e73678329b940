"""Survival of patients with vs without each radiogenomic association's trait, over a saliency sweep.

    python scripts/survival.py outputs/finetune/multiruns/<saliency sweep> [--clinical FILE]

For each association of ``summary/associations.csv`` (``association == True``), the held-out
patients are split by whether the set is enriched (FDR < --fdr, positive NES by default) in their
attribution ranking; Kaplan-Meier medians, log-rank test and a Cox model of the enriched flag
adjusted for age, gender and race, with BH q-values across associations. Writes ``survival.csv``,
``clinical_issues.csv``, ``patients_without_clinical.csv`` and KM plots of the significant pairs
to --out (default <sweep>/summary/survival) and prints a short summary. The clinical table
defaults to the one the sweep's data name (cohort.json), else the shipped TCGA-GBM BCR
table. See radiogenomics.analysis.trait_survival and radiogenomics.pipelines.survival.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from radiogenomics.analysis.trait_survival import DIRECTIONS, ENDPOINTS, SurvivalOptions
from radiogenomics.errors import DataError
from radiogenomics.pipelines.survival import write_survival
from radiogenomics.results import layout
from radiogenomics.script_args import (
    ScriptParser,
    int_at_least,
    number_in,
    probability,
    summarized_dir,
)

DEFAULTS = SurvivalOptions()


def main(argv: list[str] | None = None) -> pd.DataFrame:
    """Parse the command line, write the survival outputs and print their summary."""
    parser = ScriptParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "sweep", type=summarized_dir, help="sweep directory of a saliency run (Hydra -m)"
    )
    parser.add_argument(
        "--clinical",
        default=None,
        help="TCGA BCR clinical patient table (default: the one the sweep's data name in "
        f"{layout.COHORT}, e.g. the synthetic cohort's own; else the shipped TCGA-GBM table)",
    )
    parser.add_argument(
        "--out", type=Path, help="output directory (default <sweep>/summary/survival)"
    )
    parser.add_argument(
        "--fdr",
        type=probability,
        default=DEFAULTS.fdr,
        help="set FDR below which a trait is called",
    )
    parser.add_argument(
        "--direction", choices=DIRECTIONS, default=DEFAULTS.direction, help="NES sign of a trait"
    )
    parser.add_argument(
        "--alpha", type=probability, default=DEFAULTS.alpha, help="q-value for a significant pair"
    )
    parser.add_argument(
        "--min-group",
        type=int_at_least(1),
        default=DEFAULTS.min_group,
        help="fewest patients per group",
    )
    parser.add_argument(
        "--endpoint", choices=ENDPOINTS, default=DEFAULTS.endpoint, help="survival endpoint"
    )
    parser.add_argument(
        "--covariates",
        nargs="*",
        default=list(DEFAULTS.covariates),
        help="Cox adjustment covariates",
    )
    parser.add_argument(
        "--penalizer", type=number_in(0), default=DEFAULTS.penalizer, help="Cox ridge penalty"
    )
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
    try:
        report = write_survival(args.sweep, options, args.clinical, args.out)
    except DataError as err:
        parser.exit(2, f"{parser.prog}: error: {' '.join(str(err).split())}\n")
    print(report.text)
    print(f"written to {report.out}")
    return report.table


if __name__ == "__main__":
    main()
