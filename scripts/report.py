"""Write a sweep's report page (and model card), or several sweeps side by side, as one HTML file.

    python scripts/report.py outputs/finetune/multiruns/<sweep>
    python scripts/report.py outputs/checks/edema_real outputs/checks/edema_perm   # + null verdicts

One sweep: rewrites <sweep>/summary/report.html and model_card.md (the sweep summary writes them
too). Several: one page with each section of every sweep in a row, plus the null-control verdicts
of a sweep and its permuted twin; written to --out (default:
<first sweep>/summary/report_side_by_side.html). The page is self-contained: open it from the
file, offline, in any browser.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from radiogenomics.report.page import NotASweepError, write_report
from radiogenomics.script_args import ScriptParser

BYTES_PER_KB = 1 << 10
BYTES_PER_MB = 1 << 20


def _size(n_bytes: int) -> str:
    """``0.73 MB`` or ``3 KB``."""
    if n_bytes >= BYTES_PER_MB:
        return f"{n_bytes / BYTES_PER_MB:.2f} MB"
    return f"{n_bytes / BYTES_PER_KB:.0f} KB"


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, write the page and print where it is (exit 2 on a bad sweep)."""
    parser = ScriptParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sweeps", type=Path, nargs="+", help="summarized sweep dirs")
    parser.add_argument("--out", type=Path, default=None, help="path of the HTML page")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        written = write_report(args.sweeps, out=args.out)
    except NotASweepError as err:
        print(f"report: {err}", file=sys.stderr)
        return 2
    for path in written:
        print(f"written: {path} ({_size(path.stat().st_size)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
