"""Compare the network with the comparators over one or more sweeps.

    python scripts/compare.py outputs/finetune/multiruns/<cv sweep> [<bootstrap sweep> ...]

Per trait: models x (mean +- sd fold AUROC, pooled out-of-fold AUROC [95% CI], bootstrap mean
[95% percentile interval]); paired differences reference minus each comparator over CV folds
(Nadeau-Bengio corrected resampled t-test) and over bootstrap replicates (mean, 95% percentile
interval, share of replicates where the reference is not better). Writes CSVs, fig2a.png and
fig2b.png to --out (default: <first sweep>/compare) and prints the tables as Markdown.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from radiogenomics.evaluation import comparison as stats
from radiogenomics.reporting.markdown import markdown
from radiogenomics.reporting.plots import auroc_by_model_plot, paired_difference_plot
from radiogenomics.utils import atomic_write, write_csv


def main(argv: list[str] | None = None) -> dict[str, pd.DataFrame]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sweeps", nargs="+", type=Path, help="sweep directories (Hydra -m)")
    parser.add_argument("--out", type=Path, help="output directory (default <first>/compare)")
    parser.add_argument("--reference", default="nn", help="model compared against the others")
    parser.add_argument(
        "--statistic",
        choices=["mean_auroc", "pooled_auroc"],
        default="mean_auroc",
        help="per-replicate AUROC: mean over folds (default) or pooled over the replicate's folds",
    )
    parser.add_argument("--n-boot", type=int, default=2000, help="resamples for pooled CIs")
    args = parser.parse_args(argv)
    out = args.out or args.sweeps[0] / "compare"

    metrics, predictions = stats.load_sweeps(args.sweeps)
    replicates = stats.replicate_table(metrics, predictions)
    tables = {
        "models": stats.model_table(metrics, predictions, replicates, args.statistic, args.n_boot),
        "replicates": replicates,
    }
    tables["paired_cv"], cv_diffs = stats.paired_cv(metrics, predictions, args.reference)
    tables["paired_bootstrap"], boot_diffs = stats.paired_bootstrap(
        replicates, predictions, args.reference, args.statistic
    )
    for name, table in tables.items():
        write_csv(out / f"{name}.csv", table)
    write_csv(out / "paired_diffs.csv", pd.concat([cv_diffs, boot_diffs], ignore_index=True))

    auroc_by_model_plot(out / "fig2a.png", tables["models"], "AUROC per trait and model (95% CI)")
    diffs, source = (boot_diffs, "bootstrap replicates") if len(boot_diffs) else (cv_diffs, "folds")
    if len(diffs):
        title = f"{args.reference} minus comparator, over {source}"
        paired_difference_plot(out / "fig2b.png", diffs, title)

    text = "\n\n".join(
        f"## {title}\n\n{markdown(tables[name])}"
        for name, title in [
            ("models", "AUROC per model"),
            ("paired_cv", f"{args.reference} minus comparator over CV folds (corrected t-test)"),
            ("paired_bootstrap", f"{args.reference} minus comparator over bootstrap replicates"),
        ]
    )
    atomic_write(out / "compare.md", lambda p: p.write_text(text + "\n"))
    print(text, f"\n\nwritten to {out}", sep="", flush=True)
    return tables


if __name__ == "__main__":
    main()
