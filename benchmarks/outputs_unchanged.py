"""Refactors keep numbers: run a fixed set of seeded commands, then compare two such runs table by table.

    python benchmarks/outputs_unchanged.py run OUT_BEFORE        # on the old commit
    python benchmarks/outputs_unchanged.py run OUT_AFTER         # on the new one
    python benchmarks/outputs_unchanged.py compare OUT_BEFORE OUT_AFTER

`run` executes every command of ``COMMANDS`` (the default sweep; masking, saliency and a K=3
permutation null on enhancement; the edema null-control twins with survival and the null
report; a comparator sweep and compare.py; the network and two comparators on the shipped real
data (data=verhaak840); task=predict/interpret/refit from a saved sweep;
an ordinal, a continuous and a multi-task sweep) with a private model cache under OUT.
`compare` reads every CSV, Parquet and JSON file both runs wrote and lists those that differ,
ignoring columns and keys that hold timings, dates, paths, versions or config hashes (which
change legitimately when the config tree does), with the run's own folder written as {root};
numbers are equal to 1e-12 relative (a float's last bits are not a number) and rows and
records are compared in a canonical order (configurations are listed by config hash). Exit status 1 when
any table differs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TINY = ["debug=tiny", "n_folds=3", "logger=none"]

# name -> list of commands (argv after `python`); {out} is the run's root
COMMANDS: dict[str, list[list[str]]] = {
    "default": [["train.py", "trait=enhancement", "-m", "hydra.sweep.dir={out}/default"]],
    "interpret": [
        [
            "train.py",
            "-m",
            *TINY,
            "trait=enhancement",
            "+interpret=[masking,saliency,permutation_null]",
            "interpret.permutation_null.n_permutations=3",
            "hydra.sweep.dir={out}/interpret",
        ],
    ],
    "edema_twins": [
        [
            "train.py",
            "-m",
            *TINY,
            "trait=edema",
            "+interpret=[masking,saliency]",
            "interpret.saliency.method=input_x_gradient",
            "interpret.masking.n_random=100",
            "interpret.masking.single_genes=false",
            "hydra.sweep.dir={out}/edema_real",
        ],
        [
            "train.py",
            "-m",
            *TINY,
            "trait=edema",
            "trait.permute_labels=true",
            "+interpret=[masking,saliency]",
            "interpret.saliency.method=input_x_gradient",
            "interpret.masking.n_random=100",
            "interpret.masking.single_genes=false",
            "hydra.sweep.dir={out}/edema_perm",
        ],
        ["scripts/survival.py", "{out}/edema_real"],
        ["scripts/survival.py", "{out}/edema_perm"],
        ["scripts/null_report.py", "{out}/edema_real", "{out}/edema_perm"],
    ],
    "comparators": [
        [
            "train.py",
            "-m",
            *TINY,
            "trait=enhancement",
            "model=nn,logit_l2,svm,rf,xgboost",
            "+interpret=masking",
            "interpret.masking.n_random=50",
            "hydra.sweep.dir={out}/comparators",
        ],
        ["scripts/compare.py", "{out}/comparators"],
    ],
    "real_data": [
        [
            "train.py",
            "-m",
            "data=verhaak840",
            "trait=proneural",
            "model=nn,logit_l2,rf",
            "n_folds=3",
            "logger=none",
            "hydra.sweep.dir={out}/real_data",
        ],
    ],
    "use_model": [
        [
            "train.py",
            "task=predict",
            "predict.sweep={out}/interpret",
            *TINY[:1],
            "trait=enhancement",
            "hydra.run.dir={out}/predict",
        ],
        [
            "train.py",
            "task=interpret",
            "interpret.sweep={out}/interpret",
            "+interpret=masking",
            "interpret.masking.n_random=50",
            "hydra.run.dir={out}/task_interpret",
        ],
        ["train.py", "task=refit", "refit.sweep={out}/interpret", "hydra.run.dir={out}/refit"],
    ],
    "kinds": [
        [
            "train.py",
            "-m",
            *TINY,
            "trait=enhancement",
            "trait.kind=ordinal",
            "+interpret=masking",
            "interpret.masking.n_random=50",
            "hydra.sweep.dir={out}/ordinal",
        ],
        [
            "train.py",
            "-m",
            *TINY,
            "trait=enhancing_volume",
            "+interpret=masking",
            "interpret.masking.n_random=50",
            "hydra.sweep.dir={out}/continuous",
        ],
        ["train.py", "-m", *TINY, "multitask=vasari", "hydra.sweep.dir={out}/multitask"],
    ],
}

# columns / keys whose values legitimately change between two runs of the same numbers
VOLATILE = re.compile(
    r"(time|seconds|_s$|duration|wall|elapsed|date|stamp|hash|version|path|dir$|host|"
    r"started|finished|created|cpu|memory|rss|git|commit|python|torch|platform)",
    re.IGNORECASE,
)
RTOL = 1e-12
CONFIG_HASH = re.compile(r"(?<![0-9a-f])[0-9a-f]{12}(?![0-9a-f])")
TABLES = (".csv", ".tsv", ".parquet", ".json")


def run(out: Path, only: list[str] | None) -> int:
    """Run every command (or those of ``only``) into ``out``; return the first failing status."""
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(out / "cache"), "WANDB_MODE": "offline"}
    for name, commands in COMMANDS.items():
        if only and name not in only:
            continue
        for command in commands:
            argv = [sys.executable, *(part.format(out=out) for part in command)]
            start = time.time()
            log = out / f"{name}.log"
            with log.open("a") as handle:
                status = subprocess.call(argv, cwd=ROOT, env=env, stdout=handle, stderr=handle)
            print(f"{name}: {' '.join(command[:3])} ... -> {status} ({time.time() - start:.0f} s)")
            if status != 0:
                print(f"failed; see {log}")
                return status
    return 0


def _read(path: Path) -> object:
    if path.suffix != ".parquet" and not path.read_bytes().strip():
        return ""
    if path.suffix == ".json":
        return json.loads(path.read_text())
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",")


def _strip(value: object, root: str) -> object:
    """The value with volatile keys and columns removed and the run's root written as {root}."""
    if isinstance(value, pd.DataFrame):
        keep = [c for c in value.columns if not VOLATILE.search(str(c))]
        frame = value[keep].reset_index(drop=True)
        for column in frame.select_dtypes(include="object").columns:
            frame[column] = frame[column].map(lambda v: _strip(v, root))
        # rows in a canonical order: configurations are listed by their config hash
        try:
            return frame.sort_values(list(frame.columns), kind="stable").reset_index(drop=True)
        except TypeError:  # mixed types in a column: keep the written order
            return frame
    if isinstance(value, dict):
        kept = {
            _strip(k, root): _strip(v, root)
            for k, v in value.items()
            if not VOLATILE.search(str(k))
        }
        if any(CONFIG_HASH.search(str(k)) for k in kept):  # keyed by configuration
            items = [[CONFIG_HASH.sub("<hash>", str(k)), v] for k, v in kept.items()]
            return sorted(items, key=lambda kv: json.dumps(kv, sort_keys=True, default=str))
        return kept
    if isinstance(value, list):
        items = [_strip(v, root) for v in value]
        if all(isinstance(v, dict) for v in items):  # records (configurations): canonical order
            items.sort(key=lambda v: json.dumps(v, sort_keys=True, default=str))
        return items
    if isinstance(value, str):
        return value.replace(root, "{root}")
    return value


def _equal(a: object, b: object) -> bool:
    """Equal values; numbers to ``RTOL`` relative (last-bit float differences are not numbers)."""
    if isinstance(a, pd.DataFrame) and isinstance(b, pd.DataFrame):
        if list(a.columns) != list(b.columns) or a.shape != b.shape:
            return False
        try:
            pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=RTOL, atol=0.0)
        except AssertionError:
            return False
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=RTOL, abs_tol=0.0) or (math.isnan(a) and math.isnan(b))
    return a == b


def tables(root: Path) -> set[Path]:
    """Every table file under ``root`` (the model cache and hydra's own files excluded)."""
    found = set()
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if path.suffix in TABLES and rel.parts[0] != "cache" and ".hydra" not in rel.parts:
            found.add(rel)
    return found


def _same(before: Path, after: Path, rel_a: Path, rel_b: Path) -> bool:
    """Whether table ``rel_a`` of one run equals ``rel_b`` of the other (unreadable: differ)."""
    try:
        return _equal(
            _strip(_read(before / rel_a), str(before.resolve())),
            _strip(_read(after / rel_b), str(after.resolve())),
        )
    except (ValueError, json.JSONDecodeError, pd.errors.ParserError):
        return False


def _renamed(before: Path, after: Path, only_a: list, only_b: list) -> list[tuple[Path, Path]]:
    """Pairs of one-sided tables whose paths differ only in config hashes and whose contents
    are equal (a config hash in a file name changes when the config tree does)."""
    pairs, left = [], list(only_b)
    for rel in only_a:
        key = CONFIG_HASH.sub("<hash>", str(rel))
        match = next(
            (
                other
                for other in left
                if CONFIG_HASH.sub("<hash>", str(other)) == key and _same(before, after, rel, other)
            ),
            None,
        )
        if match is not None:
            pairs.append((rel, match))
            left.remove(match)
    return pairs


def compare(before: Path, after: Path) -> int:
    """Print the tables that differ or exist on one side only; 1 if any does."""
    a, b = tables(before), tables(after)
    only_a, only_b = sorted(a - b), sorted(b - a)
    differ = [rel for rel in sorted(a & b) if not _same(before, after, rel, rel)]
    renamed = _renamed(before, after, only_a, only_b)
    only_a = [rel for rel in only_a if rel not in {x for x, _ in renamed}]
    only_b = [rel for rel in only_b if rel not in {y for _, y in renamed}]
    print(
        f"{len(a & b)} tables in both runs, {len(a & b) - len(differ)} equal; "
        f"{len(renamed)} more equal under a new config hash in their path"
    )
    for label, rels in (("differ", differ), ("only before", only_a), ("only after", only_b)):
        for rel in rels:
            print(f"  {label}: {rel}")
    return 1 if differ or only_a or only_b else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="run the seeded commands into OUT")
    run_parser.add_argument("out", type=Path)
    run_parser.add_argument("--only", nargs="+", choices=sorted(COMMANDS), default=None)
    compare_parser = sub.add_parser("compare", help="compare two runs' tables")
    compare_parser.add_argument("before", type=Path)
    compare_parser.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    if args.command == "run":
        return run(args.out.resolve(), args.only)
    return compare(args.before, args.after)


if __name__ == "__main__":
    sys.exit(main())
