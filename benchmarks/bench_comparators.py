"""Benchmark section: a full 5-model x 10-fold sweep of one trait through the user's command.

    python train.py -m trait=enhancement model=nn,logit_l2,svm,rf,xgboost

runs in a subprocess on the default cohort (Hydra basic launcher: one job at a time); reported are
the sweep's wall time against the 10-minute target, each model's summed job time (metrics.json
``elapsed_s``: data loading, tuning, scoring) and its mean fold AUROC. A cached
autoencoder is reused as in any second run; ``ae_cached`` says whether one was there.

Run alone: ``python benchmarks/bench_comparators.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from radiogenomics.results import layout

ROOT = Path(__file__).resolve().parents[1]
MODELS = "nn,logit_l2,svm,rf,xgboost"
TARGET_S = 600.0
QUICK = ["debug=tiny", "n_folds=2"]  # a smoke run: tiny cohort and networks, 2 folds


def bench_comparators(quick: bool = False) -> dict:
    """Time the sweep; return wall time, per-model job time and AUROC."""
    sweep = ROOT / "outputs" / "benchmark" / f"comparators-{time.strftime('%Y%m%d-%H%M%S')}"
    ae_cached = any((ROOT / ".cache" / "autoencoders").glob("ae-*.pt"))
    command = [
        sys.executable,
        "train.py",
        "-m",
        "trait=enhancement",
        f"model={MODELS}",
        *(QUICK if quick else []),
        f"hydra.sweep.dir={sweep}",
    ]
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"sweep failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    jobs = pd.DataFrame(json.loads(p.read_text()) for p in sweep.glob(f"*/{layout.METRICS}"))
    per_model = {
        model: {
            "jobs": int(len(group)),
            "job_s": round(float(group["elapsed_s"].sum()), 1),
            "max_job_s": round(float(group["elapsed_s"].max()), 1),
            "mean_auroc": round(float(group["test_auroc"].mean()), 3),
        }
        for model, group in jobs.groupby("model")
    }
    return {
        "command": "python " + " ".join(command[1:]),
        "sweep_dir": str(sweep),
        "sweep_wall_s": round(wall, 1),
        "target_s": TARGET_S,
        "within_target": wall <= TARGET_S,
        "n_jobs": int(len(jobs)),
        "ae_cached": ae_cached,
        "per_model": per_model,
        "comparators_job_s": round(float(jobs.loc[jobs["model"] != "nn", "elapsed_s"].sum()), 1),
        # >1 means the config files changed during the sweep (a shared tree): timing is suspect
        "config_hashes_per_model": int(jobs.groupby("model")["config_hash"].nunique().max()),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="debug=tiny, 2 folds (smoke run)")
    print(json.dumps(bench_comparators(parser.parse_args().quick), indent=2))
