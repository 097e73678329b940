"""Benchmark section: a paper-scale 10-fold sweep on one GPU, K jobs sharing it vs one at a time.

Both sweeps run ``train.py -m`` with ``hydra/launcher=gpus`` on GPU 0 in a fresh sweep dir under
outputs/benchmark/gpu_sweep/, after one ``task=pretrain`` run has cached the autoencoder, so
neither timed sweep pretrains. The parallel sweep uses ``hydra.launcher.jobs_per_gpu=K``, the
reference ``jobs_per_gpu=1`` (one job at a time on the GPU). Settings: K from the ``jobs_per_gpu``
argument or $RADIOGENOMICS_BENCH_JOBS_PER_GPU (default 4), folds from ``n_folds`` or
$RADIOGENOMICS_BENCH_FOLDS (default the issue's 10), the cache from $RADIOGENOMICS_CACHE.
Without CUDA, ``--quick`` runs the same path at tiny size on simulated GPU slots on the CPU.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from statistics import mean

import pandas as pd
from omegaconf import OmegaConf

from radiogenomics.launch.audit import peak_concurrency, read_slot_records
from radiogenomics.results import layout
from radiogenomics.results.sweep import job_config

ROOT = Path(__file__).resolve().parents[1]
OUT_ROOT = ROOT / "outputs" / "benchmark" / "gpu_sweep"  # one fresh dir per run below this
JOBS_ENV = "RADIOGENOMICS_BENCH_JOBS_PER_GPU"
FOLDS_ENV = "RADIOGENOMICS_BENCH_FOLDS"
CACHE_ENV = "RADIOGENOMICS_CACHE"
DEFAULT_CACHE = ROOT / ".cache"  # configs/paths/default.yaml's cache when the variable is unset
DEFAULT_JOBS_PER_GPU = 4
PAPER_FOLDS = 10  # the check: 10-fold CV
QUICK_JOBS_PER_GPU = 2
QUICK_FOLDS = 4
GPU_ID = 0  # the one GPU both sweeps use (an index into the visible devices)
BUDGET_S = 480  # the whole section should take under ~8 minutes on an H200
PAPER_TIMEOUT_S = 1800  # per train.py run; a hung sweep is killed, and recorded as timed out
QUICK_TIMEOUT_S = 300
MEMORY_POLL_S = 0.5  # nvidia-smi sampling interval while a sweep runs
LOG_TAIL_CHARS = 2000  # of a failed run's log, kept in the result
MIB = 2**20
NO_CUDA_NOTE = "no CUDA device: simulated slots on CPU, timings are not GPU timings"

# the paper's architecture on all 12,042 genes; best.ckpt (~0.5 GB a job) is deleted after each job
PAPER = ["experiment=paper", "trait=enhancement", "callbacks.model_checkpoint.save=false"]
QUICK = ["trait=enhancement", "debug=tiny"]  # seconds-long jobs (configs/debug/tiny.yaml)


def read_json(path: Path) -> dict:
    """A JSON file's contents."""
    return json.loads(path.read_text())


def cuda_available() -> bool:
    """Whether this process sees a CUDA device (checked without starting CUDA in the GPU jobs)."""
    import torch

    return torch.cuda.is_available() and torch.cuda.device_count() > 0


def setting(value: int | None, env: str, default: int) -> int:
    """The argument if given, else the environment variable ``env``, else ``default``."""
    if value is not None:
        return int(value)
    return int(os.environ.get(env) or default)


def smi_device() -> str:
    """nvidia-smi's id of GPU_ID: its physical index or UUID, through CUDA_VISIBLE_DEVICES."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    return visible.split(",")[GPU_ID].strip() if visible else str(GPU_ID)


def gpu_memory_used_mib() -> float | None:
    """Memory in use on the benchmark GPU, all processes (nvidia-smi; else torch, device-wide)."""
    if shutil.which("nvidia-smi"):
        query = ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"]
        out = subprocess.run([*query, "-i", smi_device()], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            return float(out.stdout.split()[0])
    import torch

    if not torch.cuda.is_available():
        return None
    free, total = torch.cuda.mem_get_info(GPU_ID)  # starts CUDA here: its context counts too
    return (total - free) / MIB


class MemoryPeak:
    """Samples the GPU's memory in use in a thread while a sweep runs; keeps the peak."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.peak_mib: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            used = gpu_memory_used_mib()
            if used is not None:
                self.peak_mib = max(used, self.peak_mib or 0.0)
            self._stop.wait(MEMORY_POLL_S)

    def __enter__(self) -> MemoryPeak:
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self._stop.set()
            self._thread.join()


def run_logged(args: list[str], log: Path, env: dict[str, str], timeout_s: float) -> dict:
    """Run ``python train.py *args`` with its output in ``log``; a hung run is killed whole."""
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    timed_out = False
    with log.open("w") as out:
        # own process group: a timeout also ends the launcher's forkserver and job processes
        proc = subprocess.Popen(
            [sys.executable, "train.py", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    record = {
        "log": str(log),
        "returncode": proc.returncode,
        "timed_out": timed_out,
        "wall_s": round(time.perf_counter() - start, 2),
    }
    if proc.returncode != 0:
        record["log_tail"] = log.read_text(errors="replace")[-LOG_TAIL_CHARS:]
    return record


def warm_encoder(
    run_dir: Path, overrides: list[str], env: dict[str, str], timeout_s: float
) -> dict:
    """One ``task=pretrain`` run: the sweeps then load the cached autoencoder."""
    started = time.time()
    args = ["task=pretrain", *overrides, f"hydra.run.dir={run_dir}"]
    record = run_logged(args, run_dir.parent / f"{run_dir.name}.log", env, timeout_s)
    done = run_dir / layout.PRETRAIN_REPORT
    if record["returncode"] == 0 and done.exists():
        checkpoint = Path(read_json(done)["checkpoint"])
        report = read_json(checkpoint.with_suffix(".json"))
        record.update(
            checkpoint=str(checkpoint),
            reused=checkpoint.stat().st_mtime < started,  # cached by an earlier run
            fit_s=report.get("elapsed_s"),  # the fit that made it (maybe an earlier run's)
            epochs=report.get("epochs"),
            n_genes=report.get("n_genes"),
        )
    return record


def sweep_args(
    sweep_dir: Path, overrides: list[str], jobs_per_gpu: int, n_folds: int, simulate: bool
) -> list[str]:
    """``train.py -m`` arguments: every fold on GPU_ID, ``jobs_per_gpu`` jobs sharing it."""
    return [
        "-m",
        *overrides,
        "trainer=gpu",
        f"n_folds={n_folds}",
        f"hydra.sweep.dir={sweep_dir}",
        "hydra/launcher=gpus",
        f"hydra.launcher.gpus=[{GPU_ID}]",
        f"hydra.launcher.jobs_per_gpu={jobs_per_gpu}",
        f"hydra.launcher.simulate={str(simulate).lower()}",
    ]


def audit_sweep(sweep_dir: Path) -> dict:
    """What a finished sweep left: jobs per slot.json, peak concurrency, pooled AUROC, job times."""
    records = read_slot_records(sweep_dir)
    metrics = [read_json(p) for p in sorted(sweep_dir.glob(f"*/{layout.METRICS}"))]
    summary = layout.summary_dir(sweep_dir) / layout.CV_SUMMARY
    cv = pd.read_csv(summary) if summary.exists() else None
    hidden = None
    if records:
        config = job_config(sweep_dir / records[0]["job"])
        hidden = list(OmegaConf.select(config, "model.hidden_dims"))
    return {
        "n_jobs": len(records),
        "n_completed": sum(r["status"] == "COMPLETED" for r in records),
        "peak_concurrency": max(peak_concurrency(records, lambda r: r["gpu"]).values(), default=0),
        "peak_per_slot": max(peak_concurrency(records, lambda r: r["slot"]).values(), default=0),
        "slots": sorted({r["slot"] for r in records}),
        "pooled_auroc": float(cv["pooled_auroc"].iloc[0]) if cv is not None else None,
        "mean_auroc": float(cv["mean_auroc"].iloc[0]) if cv is not None else None,
        "mean_job_s": round(mean(m["elapsed_s"] for m in metrics), 2) if metrics else None,
        "mean_epochs": round(mean(m["epochs_run"] for m in metrics), 1) if metrics else None,
        "hidden_dims": hidden,
    }


def run_sweep(
    sweep_dir: Path, args: list[str], env: dict[str, str], timeout_s: float, on_gpu: bool
) -> dict:
    """Run one sweep, timed, sampling GPU memory meanwhile; then audit what it wrote."""
    with MemoryPeak(enabled=on_gpu) as memory:
        record = run_logged(args, sweep_dir.parent / f"{sweep_dir.name}.log", env, timeout_s)
    record["peak_memory_used_mib"] = memory.peak_mib  # whole device, every process on it
    return {"dir": str(sweep_dir), **record, **audit_sweep(sweep_dir)}


def gpu_info() -> dict:
    """Name, total memory and CUDA version of the benchmark GPU (queried after the sweeps)."""
    import torch

    props = torch.cuda.get_device_properties(GPU_ID)
    return {
        "name": torch.cuda.get_device_name(GPU_ID),
        "total_memory_mib": round(props.total_memory / MIB),
        "cuda": torch.version.cuda,
        "torch": torch.__version__,
    }


def bench_gpu_sweep(
    quick: bool = False, jobs_per_gpu: int | None = None, n_folds: int | None = None
) -> dict:
    """Time a CV sweep on one GPU with K jobs sharing it against the same sweep one job at a time."""
    on_gpu = cuda_available()
    if not on_gpu and not quick:
        return {"skipped": "no CUDA device"}
    k = setting(jobs_per_gpu, JOBS_ENV, QUICK_JOBS_PER_GPU if quick else DEFAULT_JOBS_PER_GPU)
    folds = setting(n_folds, FOLDS_ENV, QUICK_FOLDS if quick else PAPER_FOLDS)
    overrides = QUICK if quick else PAPER
    timeout_s = QUICK_TIMEOUT_S if quick else PAPER_TIMEOUT_S
    cache = Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE)
    env = {**os.environ, CACHE_ENV: str(cache), "PYTHONUNBUFFERED": "1"}
    out = OUT_ROOT / time.strftime("%Y%m%d-%H%M%S")
    while out.exists():  # fresh: a finished job in an old sweep dir would be skipped (resume)
        out = out.with_name(out.name + "_")
    # the pretrain run gets no launcher to pin its trainer: trainer=gpu only with a GPU
    print(f"[gpu_sweep] pretraining (or reusing) the autoencoder -> {out / 'pretrain'}", flush=True)
    pretrain = warm_encoder(
        out / "pretrain", [*overrides, *(["trainer=gpu"] if on_gpu else [])], env, timeout_s
    )
    result: dict = {
        "what": (
            f"{folds}-fold CV sweep (trait=enhancement) on one GPU: jobs_per_gpu={k} "
            "vs jobs_per_gpu=1, both from the same cached autoencoder"
        ),
        "scale": "tiny (--quick)" if quick else "paper (experiment=paper, all genes)",
        "jobs_per_gpu": k,
        "n_folds": folds,
        "gpu": None,
        "out_dir": str(out),
        "cache_dir": str(cache),
        "pretrain_s": pretrain["wall_s"],
        "pretrain_reused": pretrain.get("reused"),
        "n_genes": pretrain.get("n_genes"),
        "pretrain": pretrain,
    }
    if not on_gpu:
        result["note"] = NO_CUDA_NOTE
    if pretrain["returncode"] != 0:
        result["error"] = "pretraining failed: see pretrain.log_tail"
        return result
    sweeps = {}
    for name, jobs in (("parallel", k), ("reference", 1)):
        sweep_dir = out / f"jobs_per_gpu_{jobs}"
        print(f"[gpu_sweep] {name} sweep, jobs_per_gpu={jobs} -> {sweep_dir}", flush=True)
        args = sweep_args(sweep_dir, overrides, jobs, folds, simulate=not on_gpu)
        sweeps[name] = run_sweep(sweep_dir, args, env, timeout_s, on_gpu)
    par, ref = sweeps["parallel"], sweeps["reference"]
    both = par["pooled_auroc"] is not None and ref["pooled_auroc"] is not None
    total = pretrain["wall_s"] + par["wall_s"] + ref["wall_s"]
    result.update(
        hidden_dims=par["hidden_dims"],
        parallel_s=par["wall_s"],
        reference_s=ref["wall_s"],
        speedup=round(ref["wall_s"] / par["wall_s"], 3),
        jobs_completed_parallel=par["n_completed"],
        jobs_completed_reference=ref["n_completed"],
        pooled_auroc_parallel=par["pooled_auroc"],
        pooled_auroc_reference=ref["pooled_auroc"],
        auroc_abs_diff=abs(par["pooled_auroc"] - ref["pooled_auroc"]) if both else None,
        peak_concurrency=par["peak_concurrency"],
        reference_peak_concurrency=ref["peak_concurrency"],
        concurrency_within_k=par["peak_concurrency"] <= k,
        concurrency_reached_k=par["peak_concurrency"] == k,
        peak_memory_used_mib=par["peak_memory_used_mib"],
        reference_peak_memory_used_mib=ref["peak_memory_used_mib"],
        budget_s=BUDGET_S,
        within_budget=total <= BUDGET_S,
        ok=all(s["returncode"] == 0 and s["n_completed"] == folds for s in sweeps.values()),
        sweeps=sweeps,
    )
    if not result["within_budget"] and not quick:
        result["budget_note"] = (
            f"pretrain + both sweeps took {total:.0f} s (> {BUDGET_S} s): rerun with fewer "
            f"folds, e.g. {FOLDS_ENV}=5, and compare per-job times (sweeps.*.mean_job_s)"
        )
    if on_gpu:
        result["gpu"] = gpu_info()
        result["gpu_name"] = result["gpu"]["name"]
    return result
