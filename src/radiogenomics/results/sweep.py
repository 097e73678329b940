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
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from omegaconf import DictConfig, ListConfig, OmegaConf

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


# A finished sweep as the page, the exports and the analyses read it: its summary/ files and its
# jobs' records.
TEXT_COLUMNS = {"config_hash": str, "trait": str, "model": str}  # a hash may look like a number


def _read_csv(path: Path) -> pd.DataFrame:
    """A CSV; an empty frame for a file without columns (an empty table written as such)."""
    try:
        return pd.read_csv(path, dtype=TEXT_COLUMNS)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


class SweepData:
    """A finished sweep's files, each read at most once; ``None`` (or empty) when absent."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.summary = layout.summary_dir(self.path)
        self._tables: dict[Path, pd.DataFrame | None] = {}

    @property
    def name(self) -> str:
        """The sweep dir's name."""
        return self.path.resolve().name

    def table(self, path: Path) -> pd.DataFrame | None:
        """A CSV of the sweep (cached); None when absent."""
        if path not in self._tables:
            self._tables[path] = _read_csv(path) if path.is_file() else None
        return self._tables[path]

    def summary_table(self, name: str) -> pd.DataFrame | None:
        """A CSV under ``summary/``."""
        return self.table(self.summary / name)

    def summary_json(self, name: str) -> dict | None:
        """A JSON file under ``summary/``."""
        path = self.summary / name
        return json.loads(path.read_text()) if path.is_file() else None

    def masking_tables(self) -> dict[str, pd.DataFrame]:
        """Every pooled masking table under ``summary/`` (``masking_<label>.csv``), by label."""
        prefix = Path(layout.masking_table("")).stem
        paths = sorted(self.summary.glob(layout.masking_table("*")))
        return {path.stem.removeprefix(prefix): _read_csv(path) for path in paths}

    @cached_property
    def survival(self) -> pd.DataFrame | None:
        """The survival table ``scripts/survival.py`` writes by default under ``summary/``."""
        return self.table(layout.survival_dir(self.path) / layout.SURVIVAL)

    @cached_property
    def tuning(self) -> dict | None:
        """A tuning sweep's Optuna record (``tuning/tuning.json``); None for a grid sweep."""
        path = layout.tuning_dir(self.path) / layout.TUNING_REPORT
        return json.loads(path.read_text()) if path.is_file() else None

    @cached_property
    def cv(self) -> pd.DataFrame | None:
        """``cv_summary.csv``'s classifier rows (AUROC), ``bootstrap`` as text (``none``: plain CV)."""
        return self._cv_rows("pooled_auroc")

    @cached_property
    def regression_cv(self) -> pd.DataFrame | None:
        """``cv_summary.csv``'s continuous-trait rows (pooled R², Spearman, MAE), if any."""
        return self._cv_rows("pooled_r2")

    def _cv_rows(self, headline: str) -> pd.DataFrame | None:
        """The cv_summary rows whose ``headline`` column is filled (one kind of trait)."""
        table = self.summary_table(layout.CV_SUMMARY)
        if table is None or table.empty or headline not in table:
            return None
        table = table[table[headline].notna()]
        if table.empty:
            return None
        return table.assign(bootstrap=table["bootstrap"].fillna("none").astype(str))

    @cached_property
    def folds(self) -> pd.DataFrame | None:
        """``folds.csv``: one row per completed job."""
        return self.summary_table(layout.FOLDS)

    @cached_property
    def predictions(self) -> pd.DataFrame | None:
        """Pooled out-of-fold predictions with ``bootstrap`` as text."""
        table = self.summary_table(layout.PREDICTIONS)
        if table is None:
            return None
        return table.assign(bootstrap=table["bootstrap"].fillna("none").astype(str))

    @cached_property
    def missing(self) -> list[str]:
        """Jobs without metrics.json (failed, killed or never started)."""
        record = self.summary_json(layout.MISSING_JOBS)
        return list(record.get("jobs", [])) if record else []

    @cached_property
    def jobs(self) -> list[Path]:
        """Completed job dirs (those with metrics.json)."""
        return [d for d in job_dirs(self.path) if (d / layout.METRICS).is_file()]

    @cached_property
    def job_metrics(self) -> list[dict]:
        """Every completed job's metrics.json."""
        return [json.loads((d / layout.METRICS).read_text()) for d in self.jobs]

    @cached_property
    def job_cohorts(self) -> list[dict | None]:
        """Each completed job's cohort.json, one per job of ``jobs`` (None where absent)."""
        return [
            json.loads((d / layout.COHORT).read_text()) if (d / layout.COHORT).is_file() else None
            for d in self.jobs
        ]

    @cached_property
    def cohorts(self) -> list[dict]:
        """Every completed job's cohort.json (in job order)."""
        return [c for c in self.job_cohorts if c is not None]

    @cached_property
    def config(self) -> DictConfig | None:
        """The first completed job's composed config (``.hydra/config.yaml``)."""
        for d in self.jobs:
            try:
                return job_config(d)
            except FileNotFoundError:
                continue
        return None

    @cached_property
    def multirun(self) -> DictConfig | None:
        """Hydra's record of the sweep (``multirun.yaml``)."""
        path = self.path / layout.MULTIRUN
        return OmegaConf.load(path) if path.is_file() else None

    @cached_property
    def manifest(self) -> dict | None:
        """The first job's model bundle manifest (versions, architecture), if bundles were saved."""
        for d in self.jobs:
            path = d / layout.MODEL_DIR / layout.BUNDLE_MANIFEST
            if path.is_file():
                return json.loads(path.read_text())
        return None

    @cached_property
    def environment(self) -> str | None:
        """``summary/environment.txt`` (every installed package, machine facts), if written."""
        path = self.summary / layout.ENVIRONMENT
        return path.read_text() if path.is_file() else None

    @cached_property
    def permuted(self) -> bool:
        """Whether the sweep's labels were permuted (a null-control twin)."""
        return any(bool(m.get("permuted_labels")) for m in self.job_metrics)

    def configurations(self) -> list[dict]:
        """The configurations of the CV table (``GROUP_KEYS`` of each row)."""
        if self.cv is None:
            return []
        return [dict(zip(GROUP_KEYS, row, strict=True)) for row in self.cv[GROUP_KEYS].values]

    def option(self, key: str, default: Any = None) -> Any:
        """A value of the first job's config (dotted ``key``), unresolved interpolations as None."""
        if self.config is None:
            return default
        try:
            value = OmegaConf.select(self.config, key, default=default)
        except Exception:  # an interpolation that needs Hydra's runtime (e.g. ${hydra:...})
            return default
        if isinstance(value, DictConfig | ListConfig):
            return OmegaConf.to_container(value)
        return value
