"""Follow ``cfg`` from ``tasks.run``: which of our functions receive a finetune job's config.

    python benchmarks/cfg_path.py [--out benchmarks/results/cfg_path.json] [OVERRIDE ...]

Runs one tiny finetune job (``debug=tiny n_folds=2 fold=0 logger=none`` plus the overrides) under
``sys.setprofile`` and counts the functions of ``src/`` called with the job config (or a part of
it) as an argument, the files they sit in, and how many of them hand a value back to their
caller. A measure of how far the config travels: fewer files and returns = options resolved
closer to where they are read.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

ROOT = Path(__file__).resolve().parents[1]
SRC = str(ROOT / "src")
JOB = ["debug=tiny", "n_folds=2", "fold=0", "logger=none"]


def _is_job_config(value: object) -> bool:
    if not isinstance(value, DictConfig):
        return False
    root = value._get_root()
    return "task" in root and "model" in root


def trace(overrides: list[str], work: Path) -> dict:
    """Run one job and return the files, functions and returns that saw its config."""
    from radiogenomics.hydra_resolvers import register
    from radiogenomics.tasks import run

    register()
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose("train", overrides=[*JOB, *overrides])
    with open_dict(cfg):
        cfg.paths.cache_dir = str(work / "cache")
        cfg.paths.output_dir = str(work / "job")
    calls: dict[tuple[str, str], int] = {}
    returning: set[tuple[str, str]] = set()
    live: set[int] = set()

    def profile(frame, event, arg):  # noqa: ANN001 (sys.setprofile's signature)
        code = frame.f_code
        if event == "return" and id(frame) in live:
            if arg is not None:
                returning.add((os.path.relpath(code.co_filename, SRC), code.co_name))
            live.discard(id(frame))
        if event != "call" or not code.co_filename.startswith(SRC):
            return
        names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        if any(_is_job_config(frame.f_locals.get(name)) for name in names):
            key = (os.path.relpath(code.co_filename, SRC), code.co_name)
            calls[key] = calls.get(key, 0) + 1
            live.add(id(frame))

    sys.setprofile(profile)
    try:
        run(cfg)
    finally:
        sys.setprofile(None)
    files = sorted({f for f, _ in calls})
    return {
        "overrides": [*JOB, *overrides],
        "files": len(files),
        "functions": len(calls),
        "calls": sum(calls.values()),
        "returning": len(returning),
        "by_file": {f: sorted(n for g, n in calls if g == f) for f in files},
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/cfg_path.json")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        result = trace(args.overrides, Path(work))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"cfg reaches {result['functions']} functions in {result['files']} files "
        f"({result['returning']} return a value); {result['calls']} calls -> {args.out}"
    )
    return result


if __name__ == "__main__":
    main()
