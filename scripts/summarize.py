"""Rewrite a sweep's ``summary/`` from its job files (after a crash, or with other thresholds).

    python scripts/summarize.py outputs/finetune/multiruns/<sweep> [--fdr FDR] [--min-patients N]

The same code the sweep's Hydra callback runs when ``-m`` ends; nothing is retrained. Jobs without
``metrics.json`` are listed in ``summary/missing_jobs.json``.
"""

from __future__ import annotations

import logging

from radiogenomics.evaluation.multitest import FDR
from radiogenomics.interpret.associations import MIN_PATIENTS
from radiogenomics.pipelines.sweep_summary import summarize
from radiogenomics.script_args import ScriptParser, int_at_least, probability, sweep_dir


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and write the summary."""
    parser = ScriptParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep_dir", type=sweep_dir)
    parser.add_argument(
        "--fdr",
        type=probability,
        default=FDR,
        help="per-patient GSEA FDR (saliency; default %(default)s)",
    )
    parser.add_argument(
        "--min-patients",
        type=int_at_least(1),
        default=MIN_PATIENTS,
        help="patients enriched for an association (default %(default)s)",
    )
    parser.add_argument(
        "--n-boot", type=int_at_least(1), default=2000, help="bootstrap draws for the CI"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    table = summarize(
        args.sweep_dir, n_boot=args.n_boot, fdr=args.fdr, min_patients=args.min_patients
    )
    if not table.empty:
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()
