"""Compare the network with the comparators over one or more sweeps.

    python scripts/compare.py outputs/finetune/multiruns/<cv sweep> [<bootstrap sweep> ...]
    python scripts/compare.py <comparator sweep> --nested <tuning sweep> --reference nn_tuned

Per trait: models x (mean +- sd fold AUROC, pooled out-of-fold AUROC [95% CI], bootstrap mean
[95% percentile interval]); paired differences reference minus each comparator over CV folds
(Nadeau-Bengio corrected resampled t-test; a repeated CV, repeats=R: Bouckaert & Frank's
corrected repeated k-fold t-test over all R*k folds, plus the repeats' pooled AUROC difference,
mean and sd) and over bootstrap replicates (mean, 95% percentile
interval, share of replicates where the reference is not better). A sweep given with --nested
(an Optuna tuning sweep, hparams_search=nn_optuna, or a grid sweep) contributes, per outer fold,
only its job with the best inner-validation AUROC, as model ``<model>_tuned``: its nested estimate
on the same outer folds as the comparators. Writes CSVs, fig2a.png and
fig2b.png to --out (default: <first sweep>/compare) and prints the tables as Markdown. See
radiogenomics.summaries.comparison.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from radiogenomics.script_args import ScriptParser, int_at_least, sweep_dir
from radiogenomics.summaries.comparison import (
    N_BOOT,
    REFERENCE,
    STATISTICS,
    write_comparison,
)


def main(argv: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """Parse the command line, write the comparison and print it."""
    parser = ScriptParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sweeps", nargs="+", type=sweep_dir, help="sweep directories (Hydra -m)")
    parser.add_argument(
        "--nested",
        nargs="*",
        type=sweep_dir,
        default=[],
        help="tuning or grid sweeps: their per-fold choice on inner validation, as <model>_tuned",
    )
    parser.add_argument(
        "--by-model",
        action="store_true",
        help="one row per model whatever its config hash (the config files gained a key mid-sweep)",
    )
    parser.add_argument("--out", type=Path, help="output directory (default <first>/compare)")
    parser.add_argument("--reference", default=REFERENCE, help="model compared against the others")
    parser.add_argument(
        "--statistic",
        choices=STATISTICS,
        default=STATISTICS[0],
        help="per-replicate AUROC: mean over folds (default) or pooled over the replicate's folds",
    )
    parser.add_argument(
        "--n-boot", type=int_at_least(1), default=N_BOOT, help="resamples for pooled CIs"
    )
    args = parser.parse_args(argv)
    report = write_comparison(
        args.sweeps,
        args.out,
        args.reference,
        args.statistic,
        args.n_boot,
        nested=args.nested,
        by_model=args.by_model,
    )
    print(report.text, f"\n\nwritten to {report.out}", sep="", flush=True)
    return report.tables


if __name__ == "__main__":
    main()
