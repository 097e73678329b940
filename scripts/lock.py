"""Write or check requirements/lock.txt, the exact versions behind the README's numbers.

    python scripts/lock.py                          # fresh venv, README install without the lock
    python scripts/lock.py --from-freeze FREEZE.txt # the lock from an existing `pip freeze`
    python scripts/lock.py --check                  # this environment against the lock

The first form makes a venv in a temporary directory with the Python running this script,
installs ``torch==<--torch>`` and then ``-e ".[dev]"`` (the README's Quickstart without ``-c``),
and writes its ``pip freeze`` without the project's line (minutes). ``--check`` lists every
difference between the installed distributions and the lock and exits 1 if there is one. See
radiogenomics.lock.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from radiogenomics.lock import (
    LOCK_FILE,
    drift,
    fresh_freeze,
    installed,
    lock_text,
    public,
    read_pins,
)

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    """Parse the command line; write the lock, or check this environment against it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / LOCK_FILE, help="lock file to write")
    parser.add_argument("--torch", help="torch version (default: the one the lock pins now)")
    parser.add_argument("--from-freeze", type=Path, help="write the lock from this pip freeze")
    parser.add_argument("--check", action="store_true", help="compare this environment")
    args = parser.parse_args(argv)
    lock_path = args.out
    if args.check:
        if not lock_path.is_file():
            parser.error(f"{lock_path}: no lock file")
        lines = drift(read_pins(lock_path.read_text()), installed())
        print("\n".join(lines) if lines else f"this environment matches {lock_path}")
        return 1 if lines else 0
    torch = args.torch
    if torch is None and lock_path.is_file():
        torch = read_pins(lock_path.read_text()).get("torch", (None, None))[1]
    if torch is None:
        parser.error("--torch VERSION: no lock to take it from")
    if args.from_freeze is not None:
        if not args.from_freeze.is_file():
            parser.error(f"--from-freeze {args.from_freeze}: no such file")
        freeze = args.from_freeze.read_text()
    else:
        freeze = fresh_freeze(ROOT, public(torch))
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock_path.write_text(lock_text(freeze, public(torch)))
    print(f"wrote {lock_path} ({len(read_pins(lock_path.read_text()))} pins)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
