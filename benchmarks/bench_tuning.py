"""Benchmark section: the cost of nested Optuna tuning, and how close it gets to a grid's estimate.

    python train.py -m experiment=ablation trait=enhancement hparams.layers=t0,t1f1,t2f1 \
        model.dropout=0.0,0.3,0.6                                   # exhaustive: 9 configs x folds
    python train.py -m hparams_search=nn_optuna_grid trait=enhancement   # TPE: 3 trials per fold

both run in subprocesses (one job at a time) over the same 9 configurations and outer folds. For
each: wall time, jobs, and the nested estimate (per fold the configuration with the best
inner-validation AUROC, its held-out predictions pooled: evaluation.selection). Reported: Optuna's
share of the grid's jobs and wall time, and the difference of the two nested pooled AUROCs.

Run alone: ``python benchmarks/bench_tuning.py [--quick]`` (quick: debug=tiny, 3 folds).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from radiogenomics.evaluation.selection import select
from radiogenomics.results import layout

ROOT = Path(__file__).resolve().parents[1]
GRID = ["experiment=ablation", "hparams.layers=t0,t1f1,t2f1", "model.dropout=0.0,0.3,0.6"]
OPTUNA = ["hparams_search=nn_optuna_grid"]
QUICK = ["debug=tiny", "n_folds=3"]


def _run(name: str, overrides: list[str], quick: bool, root: Path) -> dict:
    """One sweep in a subprocess: wall time, jobs, nested estimate."""
    sweep = root / name
    command = [
        sys.executable,
        "train.py",
        "-m",
        "trait=enhancement",
        *overrides,
        *(QUICK if quick else []),
        "save_model=false",
        f"hydra.sweep.dir={sweep}",
    ]
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{name} sweep failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    chosen, groups = select(sweep)
    group = groups[0]
    report = layout.tuning_dir(sweep) / layout.TUNING_REPORT  # Optuna only: trials asked
    studies = json.loads(report.read_text())["studies"] if report.exists() else []
    return {
        "trials": sum(s["complete"] for s in studies) if studies else None,
        "command": "python " + " ".join(command[1:]),
        "wall_s": round(wall, 1),
        # distinct jobs: a trial repeating an earlier trial's configuration reuses its job
        "jobs": int(sum(1 for _ in sweep.glob(f"*/{layout.METRICS}"))),
        "nested_pooled_auroc": group["nested_pooled_test_auroc"],
        "nested_mean_auroc": round(group["nested_mean_test_auroc"], 4),
        "chosen_configs": group["chosen_configs"],
    }


def bench_tuning(quick: bool = False) -> dict:
    """Run the grid and the Optuna sweep; return their costs and nested estimates."""
    root = ROOT / "outputs" / "benchmark" / f"tuning-{time.strftime('%Y%m%d-%H%M%S')}"
    grid = _run("grid", GRID, quick, root)
    optuna = _run("optuna", OPTUNA, quick, root)
    return {
        "grid": grid,
        "optuna": optuna,
        "job_share": round(optuna["jobs"] / grid["jobs"], 3),
        "wall_share": round(optuna["wall_s"] / grid["wall_s"], 3),
        "nested_pooled_diff": round(optuna["nested_pooled_auroc"] - grid["nested_pooled_auroc"], 4),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="debug=tiny, 3 folds (smoke run)")
    print(json.dumps(bench_tuning(parser.parse_args().quick), indent=2))
