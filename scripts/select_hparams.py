"""Nested hyperparameter selection over a sweep of configurations x outer folds.

    python train.py -m experiment=hparams_search trait=enhancement      # a grid, or
    python train.py -m hparams_search=nn_optuna trait=enhancement     # Optuna, one study per fold
    python scripts/select_hparams.py outputs/finetune/multiruns/<sweep> [--metric val_auroc] [--out DIR]

Per (trait, model, bootstrap) and outer fold, picks the configuration with the best
inner-validation AUROC and reports its held-out test AUROC; the mean (and pooled AUROC) of those
is the nested-CV estimate, printed next to the optimistic best-mean-test figure. Writes
selection.csv and selection.json to --out (default: <sweep>/summary).
"""

from __future__ import annotations

from pathlib import Path

from radiogenomics.evaluation.selection import (
    DEFAULT_METRIC,
    format_selection,
    select,
    tuning_summary,
)
from radiogenomics.results import layout
from radiogenomics.script_args import ScriptParser, sweep_dir


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, write the selection files and print the table."""
    parser = ScriptParser(description=__doc__.split("\n")[1].strip() or None)
    parser.add_argument("sweep_dir", type=sweep_dir, help="a multirun dir (hydra.sweep.dir)")
    parser.add_argument(
        "--metric", default=DEFAULT_METRIC, help=f"inner-validation metric in {layout.METRICS}"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help=f"default: SWEEP_DIR/{layout.SUMMARY_DIR}"
    )
    args = parser.parse_args(argv)
    try:
        chosen, groups = select(args.sweep_dir, args.metric, args.out)
    except (FileNotFoundError, ValueError) as err:
        parser.exit(2, f"select_hparams.py: {err}\n")
    print(format_selection(chosen, groups), flush=True)
    tuning = tuning_summary(args.sweep_dir)  # an Optuna sweep (hparams_search=nn_optuna)
    if tuning:
        print(f"\n{tuning}", flush=True)


if __name__ == "__main__":
    main()
