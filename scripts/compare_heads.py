"""Compare the binary, ordinal and multi-task networks of the same traits at the paper's cut.

    python scripts/compare_heads.py --binary <sweep> [...] --ordinal <sweep> [...] \
        --multitask <sweep> --out <dir>

Per trait: pooled out-of-fold AUROC [95% CI] of each kind at the paper's binarization (the
ordinal network's P(y >= cut) from its level probabilities); ordinal minus binary paired by
patient (stratified bootstrap) and by fold (Nadeau-Bengio corrected t-test; the same folds);
multi-task minus binary paired by patient over the patients both scored (its folds differ);
and the summed job time of each kind (one multi-task network serves every trait: its total is
shared). Writes heads_comparison.csv, heads_cost.csv and heads_comparison.md to --out and prints
the Markdown. See radiogenomics.evaluation.heads_comparison.
"""

from __future__ import annotations

from pathlib import Path

from radiogenomics.evaluation.heads_comparison import N_BOOT
from radiogenomics.script_args import ScriptParser, int_at_least, sweep_dir
from radiogenomics.summaries.heads import HeadsReport, write_heads_comparison


def main(argv: list[str] | None = None) -> HeadsReport:
    """Parse the command line, write the comparison and print it."""
    parser = ScriptParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--binary", nargs="+", type=sweep_dir, required=True, help="binary network sweeps"
    )
    parser.add_argument(
        "--ordinal", nargs="*", type=sweep_dir, default=[], help="trait.kind=ordinal sweeps"
    )
    parser.add_argument(
        "--multitask", nargs="*", type=sweep_dir, default=[], help="multitask=... sweeps"
    )
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument(
        "--n-boot", type=int_at_least(1), default=N_BOOT, help="bootstrap resamples"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resamples")
    args = parser.parse_args(argv)
    report = write_heads_comparison(
        args.out, args.binary, args.ordinal, args.multitask, args.n_boot, args.seed
    )
    print(report.text, f"\n\nwritten to {report.out}", sep="", flush=True)
    return report


if __name__ == "__main__":
    main()
