"""Ablation of the paper's transfer learning: pooled AUROC per transferred/frozen scheme.

    python train.py -m experiment=ablation trait=enhancement,edema
    python scripts/ablation.py outputs/finetune/multiruns/<sweep> [--key hparams.layers] [--reference t0]

Per trait and scheme (t0: no pretraining; t<k>f<j>: k autoencoder layers transferred, j of them
frozen): mean fold AUROC, pooled out-of-fold AUROC [95% CI], and the paired difference to the
reference over the same outer folds (Nadeau-Bengio corrected t-test). Writes ablation.csv and
ablation.md to --out (default: <first sweep>/ablation) and prints the table as Markdown.
"""

from __future__ import annotations

from pathlib import Path

from radiogenomics.script_args import ScriptParser, int_at_least, sweep_dir
from radiogenomics.summaries.comparison import (
    ABLATION_KEY,
    ABLATION_REFERENCE,
    N_BOOT,
    write_ablation,
)


def main(argv: list[str] | None = None):
    """Parse the command line, write the ablation table and print it."""
    parser = ScriptParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sweeps", nargs="+", type=sweep_dir, help="sweep directories (Hydra -m)")
    parser.add_argument("--out", type=Path, help="output directory (default <first>/ablation)")
    parser.add_argument("--key", default=ABLATION_KEY, help="the override that labels the jobs")
    parser.add_argument("--reference", default=ABLATION_REFERENCE, help="value compared against")
    parser.add_argument(
        "--n-boot", type=int_at_least(1), default=N_BOOT, help="resamples for pooled CIs"
    )
    args = parser.parse_args(argv)
    try:
        table, text, out = write_ablation(
            args.sweeps, args.out, args.key, args.reference, args.n_boot
        )
    except (FileNotFoundError, ValueError) as err:
        parser.exit(2, f"ablation.py: {err}\n")
    print(text, f"\n\nwritten to {out}", sep="", flush=True)
    return table


if __name__ == "__main__":
    main()
