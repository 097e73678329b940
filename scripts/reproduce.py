"""Rerun every command behind a README number and check the number against its tolerance.

    python scripts/reproduce.py                       # every claim of benchmarks/claims.yaml
    python scripts/reproduce.py --quick               # the default sweep and its permuted twin
    python scripts/reproduce.py --only default_sweep  # runs or claims by name (run.claim)
    python scripts/reproduce.py --out DIR --markdown  # README-ready rows of the Numbers table

Each run's commands write into <out>/<run> (default out: outputs/reproduce); rerun into the same
--out, finished sweep jobs are skipped. Prints and writes reproduce.csv and reproduce.md
(expected | measured | tolerance | ok) and environment.txt. Exit status 0 if every claim is
within its tolerance, 1 if one is not (or a command failed), 2 for bad arguments or registry
entries (one line). See radiogenomics.reproduce.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from radiogenomics.reproduce import CLAIMS_FILE, DEFAULT_OUT, ReproduceError, markdown, reproduce

ROOT = Path(__file__).resolve().parents[1]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints the usage too)
        print(f"reproduce: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, reproduce the claims, print the table; the exit status."""
    parser = _Parser(description=__doc__.split("\n\n")[0])
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--quick", action="store_true", help="only the runs marked quick (~4 min)")
    which.add_argument("--only", nargs="+", metavar="NAME", help="runs or claims (run.claim)")
    parser.add_argument("--out", type=Path, default=ROOT / DEFAULT_OUT, help="output root")
    parser.add_argument("--claims", type=Path, default=ROOT / CLAIMS_FILE, help="claims registry")
    parser.add_argument("--cache", type=Path, help="RADIOGENOMICS_CACHE for the commands")
    parser.add_argument("--markdown", action="store_true", help="print README-ready table rows")
    args = parser.parse_args(argv)
    try:
        outcome = reproduce(
            ROOT,
            args.out,
            claims_file=args.claims,
            quick=args.quick,
            only=args.only,
            cache=args.cache,
        )
    except ReproduceError as err:
        print(f"reproduce: error: {err}", file=sys.stderr)
        return 2
    print(markdown(outcome.rows))
    if args.markdown:
        print("\n" + "\n".join(outcome.readme_rows))
    failed = [r["claim"] for r in outcome.rows if not r["ok"]]
    verdict = (
        f"{len(failed)} of {len(outcome.rows)} claims off: {', '.join(failed)}"
        if failed
        else (f"all {len(outcome.rows)} claims within tolerance")
    )
    print(f"\n{verdict} on {outcome.machine}; written to {outcome.out}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
