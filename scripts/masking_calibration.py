"""Is the masking call calibrated? Count calls on many permuted-label twins of one sweep.

    python train.py -m trait=enhancement +interpret=masking interpret.masking.single_genes=false \\
        hydra.sweep.dir=outputs/calib/real
    python train.py -m trait=enhancement +interpret=masking interpret.masking.single_genes=false \\
        trait.permute_labels=true 'trait.permute_seed=range(0,20)' hydra.sweep.dir=outputs/calib/twins
    python scripts/masking_calibration.py outputs/calib/twins --real outputs/calib/real \\
        --driver HALLMARK_HYPOXIA

Writes masking_calibration.csv (per twin: sets called and smallest q by each test),
masking_calibration_summary.csv (per test: twins with any call against the number allowed) and
masking_calibration.png to --out (default: <twins>/summary). Exit status 1 when the call (``q``)
is not calibrated or the driver is not called.
"""

from __future__ import annotations

import sys
from pathlib import Path

from radiogenomics.analysis.masking_calibration import (
    calibration_summary,
    calibration_table,
    set_q,
)
from radiogenomics.evaluation.multitest import FDR
from radiogenomics.figures.masking_calibration import calibration_figure
from radiogenomics.results import layout
from radiogenomics.script_args import ScriptParser, probability
from radiogenomics.summaries.markdown import markdown
from radiogenomics.utils import write_csv


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, count the twins' calls, write the tables and the figure."""
    parser = ScriptParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("twins", type=Path, help="sweep of permuted twins (one per permute_seed)")
    parser.add_argument("--real", type=Path, default=None, help="the sweep with the real labels")
    parser.add_argument("--collection", default="hallmark", help="masking collection (hallmark)")
    parser.add_argument("--driver", default=None, help="a set that the real sweep should call")
    parser.add_argument("--alpha", type=probability, default=FDR, help="q-value threshold (0.05)")
    parser.add_argument("--out", type=Path, default=None, help="default: <twins>/summary")
    args = parser.parse_args(argv)
    if not 0 < args.alpha < 1:
        parser.error(f"--alpha must be in (0, 1), got {args.alpha}")
    for sweep in (args.twins, args.real):
        if sweep is not None and not sweep.is_dir():
            parser.error(f"{sweep} is not a sweep directory")
    try:
        twins = calibration_table(args.twins, args.collection, args.alpha)
        real = calibration_table(args.real, args.collection, args.alpha) if args.real else None
        driver = set_q(args.real, args.collection, args.driver) if args.driver else None
    except (FileNotFoundError, ValueError) as err:
        parser.error(str(err))
    summary = calibration_summary(twins, real, args.alpha)
    out = args.out or layout.summary_dir(args.twins)
    write_csv(out / layout.MASKING_CALIBRATION, twins)
    write_csv(out / layout.MASKING_CALIBRATION_SUMMARY, summary)
    calibration_figure(twins, real, out / layout.MASKING_CALIBRATION_PLOT, args.alpha)
    print(markdown(summary.drop(columns=["real_called_sets"], errors="ignore")))
    ok = bool(summary.set_index("test").loc["q", "calibrated"])
    if driver is not None:
        print(
            f"\n{args.driver} on real labels: "
            + ", ".join(f"{k} {v:.3g}" for k, v in driver.items())
        )
        ok = ok and driver["q"] < args.alpha
    print(
        f"\ncall (q) calibrated on {len(twins)} twins{' and driver called' if driver else ''}: {ok}"
    )
    print(f"written: {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
