"""Rewrite a sweep's ``summary/`` from its job files (after a crash, or with other thresholds).

    python scripts/summarize.py outputs/finetune/multiruns/<sweep> [--fdr FDR] [--min-patients N]

The same code the sweep's Hydra callback runs when ``-m`` ends; nothing is retrained. Jobs without
``metrics.json`` are listed in ``summary/missing_jobs.json``.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from radiogenomics.evaluation.multitest import FDR
from radiogenomics.interpret.associations import MIN_PATIENTS
from radiogenomics.reporting.summary import summarize


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and write the summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep_dir", type=Path)
    parser.add_argument(
        "--fdr",
        type=float,
        default=FDR,
        help="per-patient GSEA FDR (saliency; default %(default)s)",
    )
    parser.add_argument(
        "--min-patients",
        type=int,
        default=MIN_PATIENTS,
        help="patients enriched for an association (default %(default)s)",
    )
    parser.add_argument("--n-boot", type=int, default=2000, help="bootstrap draws for the CI")
    args = parser.parse_args(argv)
    if not args.sweep_dir.is_dir():
        parser.error(f"{args.sweep_dir} is not a directory")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    table = summarize(
        args.sweep_dir, n_boot=args.n_boot, fdr=args.fdr, min_patients=args.min_patients
    )
    if not table.empty:
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()
