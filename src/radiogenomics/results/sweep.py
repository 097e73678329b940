"""Reading a sweep: its job dirs, their metrics and predictions, and the jobs it was asked to run.

A killed or partly failed sweep leaves no directory for the jobs it never started; listing the
expected jobs from the sweep's own record (``multirun.yaml``) lets the summary report those as
missing too. Jobs of one *configuration* share ``GROUP_KEYS`` (all folds of one setting, and
all repeats of a repeated CV, ``repeats=R``); the repeats of a configuration differ in
``REPEAT_KEY``, the outer split seed each job recorded (``split_seed + repeat``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import yaml
from omegaconf import DictConfig, OmegaConf

from radiogenomics.hydra_resolvers import job_dirname
from radiogenomics.results import layout

log = logging.getLogger(__name__)

GROUP_KEYS = ["trait", "model", "config_hash", "bootstrap"]  # one configuration: all its folds
REPEAT_KEY = "split_seed"  # tells the CV repeats of one configuration apart (metrics.json)
REPEAT = "repeat"  # a repeat's number within its configuration: 0 for the lowest split seed


def job_overrides(job_dir: str | Path) -> list[str]:
    """A job's command-line overrides (``key=value``) from its ``.hydra/overrides.yaml``."""
    path = Path(job_dir) / layout.HYDRA_OVERRIDES
    if not path.exists():
        return []
    return [str(line) for line in yaml.safe_load(path.read_text()) or []]


def planned_jobs(cfg: DictConfig) -> list[list[str]]:
    """Each job's overrides, as Hydra's basic sweeper expands a multirun config (with ``hydra``).

    The cartesian product of ``hydra.sweeper.params`` and the command-line sweeps.
    """
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    params = OmegaConf.to_container(cfg.hydra.sweeper.get("params") or {}, resolve=True)
    lines = [f"{k}={v}" for k, v in params.items()] + list(cfg.hydra.overrides.task)
    batches = BasicSweeper.split_arguments(OverridesParser.create().parse_overrides(lines), None)
    return [job for batch in batches for job in batch]


def sweep_jobs(cfg: DictConfig) -> dict[str, list[str]]:
    """Every job of a multirun config as {job dir name: overrides} (see ``planned_jobs``)."""
    from hydra._internal.config_loader_impl import get_overrides_dirname
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    naming = cfg.hydra.job.config.override_dirname
    jobs = {}
    for job in planned_jobs(cfg):
        name = get_overrides_dirname(
            parser.parse_overrides(job),
            exclude_keys=list(naming.exclude_keys),
            item_sep=naming.item_sep,
            kv_sep=naming.kv_sep,
        )
        jobs[job_dirname(name)] = job
    return jobs


def expected_jobs(sweep_dir: str | Path) -> dict[str, list[str]] | None:
    """The jobs recorded in a sweep dir's multirun.yaml (see ``sweep_jobs``); None if unreadable."""
    path = Path(sweep_dir) / layout.MULTIRUN
    if not path.exists():
        return None
    try:
        return sweep_jobs(OmegaConf.load(path))
    except Exception as err:  # a sweep record we cannot replay: fall back to the job dirs
        log.warning("could not list the expected jobs from %s: %s", path, err)
        return None


def never_started(sweep_dir: str | Path, started: list[Path]) -> list[str]:
    """Expected jobs of the sweep that match none of the ``started`` job dirs (by overrides)."""
    expected = expected_jobs(sweep_dir)
    if expected is None:
        return []
    seen = {frozenset(job_overrides(d)) for d in started}
    return [name for name, job in expected.items() if frozenset(job) not in seen]


def job_dirs(sweep_dir: Path) -> list[Path]:
    """Job directories of a sweep: those Hydra started (``.hydra/``) or that hold metrics.json.

    A finished multi-task job (its ``multitask.json``) is not one: its per-trait dirs are.
    """
    found = {p.parent.parent for p in sweep_dir.glob(f"**/{layout.HYDRA_OVERRIDES.as_posix()}")}
    found |= {p.parent for p in sweep_dir.glob(f"**/{layout.METRICS}")}
    return sorted(
        d
        for d in found
        if layout.SUMMARY_DIR not in d.relative_to(sweep_dir).parts
        and d != sweep_dir
        and not (d / layout.MULTITASK_RECORD).is_file()
    )


def collect(sweep_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(per-job metrics, pooled predictions, jobs without metrics.json: started or never run)."""
    sweep_dir = Path(sweep_dir)
    rows, preds, missing = [], [], []
    started = job_dirs(sweep_dir)
    for d in started:
        metrics_file = d / layout.METRICS
        if not metrics_file.exists():
            missing.append(str(d.relative_to(sweep_dir)))
            continue
        m = json.loads(metrics_file.read_text())
        m["job"] = str(d.relative_to(sweep_dir))
        rows.append(m)
        p = pd.read_csv(d / layout.PREDICTIONS)
        for key in (*GROUP_KEYS, REPEAT_KEY):  # a patient appears once per CV repeat
            p[key] = m.get(key)
        preds.append(p)
    missing += never_started(sweep_dir, started)  # e.g. the rest of a killed sweep
    metrics = pd.DataFrame(rows)
    predictions = pd.concat(preds, ignore_index=True) if preds else pd.DataFrame()
    return metrics, predictions, missing


def group_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy whose ``bootstrap`` is "none" for plain CV, so it can key a groupby."""
    df = df.copy()
    df["bootstrap"] = df["bootstrap"].astype(object).where(df["bootstrap"].notna(), "none")
    return df


def repeat_numbers(frame: pd.DataFrame) -> pd.Series:
    """Each row's CV repeat within its configuration: 0, 1, ... in order of split seed.

    Repeat 0 is the configuration's lowest split seed, which is ``split_seed`` itself for a
    complete sweep (``repeats=R`` runs ``split_seed + r``): the single-repeat CV. Rows without
    a split seed (frames from before repeated CV) are all repeat 0.
    """
    if frame.empty or REPEAT_KEY not in frame.columns:
        return pd.Series(0, index=frame.index, dtype=int)
    seeds = frame[REPEAT_KEY].fillna(-1)
    keys = [frame[k].astype(str) for k in GROUP_KEYS if k in frame.columns]
    return seeds.groupby(keys).rank(method="dense").astype(int) - 1


def first_repeat(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of each configuration's first CV repeat (see ``repeat_numbers``).

    A single-repeat sweep is returned whole. Interpretation tables (masking, saliency, AnnData,
    the permutation null) and the ``pooled_*`` columns of the CV summary read the first repeat,
    where every held-out patient appears once.
    """
    return frame[repeat_numbers(frame) == 0]


def load_jobs(sweep_dir: str | Path) -> pd.DataFrame:
    """One row per completed job: its metrics.json, job dir and overrides (bootstrap "none")."""
    sweep_dir = Path(sweep_dir)
    jobs, _, _ = collect(sweep_dir)
    if jobs.empty:
        return jobs
    jobs = group_frame(jobs)
    jobs["overrides"] = [job_overrides(sweep_dir / job) for job in jobs["job"]]
    return jobs


def job_config(job_dir: str | Path) -> DictConfig:
    """A job's composed config, as Hydra saved it (``.hydra/config.yaml``)."""
    path = Path(job_dir) / layout.HYDRA_CONFIG
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: is {job_dir} a job dir of a Hydra sweep?")
    return OmegaConf.load(path)


def model_dirs(path: str | Path) -> list[Path]:
    """Every model bundle at or under ``path`` (a sweep dir, a refit run dir or one bundle)."""
    path = Path(path)
    return sorted(p.parent for p in path.glob(f"**/{layout.BUNDLE_MANIFEST}"))


def bundle_jobs(sweep_dir: str | Path) -> tuple[list[Path], list[Path]]:
    """(completed job dirs holding a model bundle, completed job dirs without one).

    A job is complete when its metrics.json exists; its bundle is ``<job>/model/model.json``
    (absent when the sweep ran with ``save_model=false``).
    """
    done = [d for d in job_dirs(Path(sweep_dir)) if (d / layout.METRICS).is_file()]
    with_bundle = [d for d in done if (d / layout.MODEL_DIR / layout.BUNDLE_MANIFEST).is_file()]
    return with_bundle, [d for d in done if d not in with_bundle]


def multitask_records(sweep_dir: str | Path) -> pd.DataFrame:
    """One row per finished multi-task job of a sweep: its ``multitask.json`` and job dir."""
    sweep_dir = Path(sweep_dir)
    rows = []
    for path in sorted(sweep_dir.glob(f"**/{layout.MULTITASK_RECORD}")):
        if layout.SUMMARY_DIR in path.relative_to(sweep_dir).parts:
            continue
        record = json.loads(path.read_text())
        record["job"] = str(path.parent.relative_to(sweep_dir))
        rows.append(record)
    return pd.DataFrame(rows)
