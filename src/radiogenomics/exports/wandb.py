"""Weights & Biases dashboards (``logger=wandb``): one run per job, one summary run per sweep.

Runs are offline unless ``logger.wandb.offline=false`` (``WANDB_MODE=disabled`` turns them off),
never capture the console and collect no system, git or machine metadata. The runs of one sweep
share ``group`` (the sweep dir's name and a hash of its path); a job's ``job_type`` is
``<trait>/<model>``, the summary run's is ``summary``.

Logged per job: the epoch curves (train/val loss, val AUROC, through Lightning's WandbLogger on
the job's run), the resolved config (without paths), the job's test metrics (run summary), the
per-set gene masking scores and the per-set saliency association counts (tables), and any PNG the
job wrote. "Without paths": no key named like a path (``*_file``, ``*_dir``, ``dirpath``, ...)
and no value that looks like one (see :func:`job_config`). Logged per sweep: the CV table, per-fold metrics, per-class, pooled masking, association
and cohort GSEA tables, pooled metrics (run summary) and every summary PNG.

Never logged: expression values, predictions (per patient), masked probabilities, attributions or
per-patient GSEA. Tables come from an allow-list of per-set / per-configuration files, and a table
with a ``patient_id`` column is refused.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from radiogenomics.evaluation.multitest import FDR
from radiogenomics.interpret.associations import MIN_PATIENTS, associations
from radiogenomics.results import layout
from radiogenomics.results.sweep import SweepData
from radiogenomics.utils import stable_hash

log = logging.getLogger(__name__)

LOGGER_KEY = "wandb"  # the logger section that turns W&B on
SUMMARY_JOB_TYPE = "summary"
GROUP_HASH_LENGTH = 8
MAX_TABLE_ROWS = 1000  # tables are summaries: the top rows in their own ranking order
PATIENT_COLUMN = "patient_id"
CONFIG_DROP = {"paths", "hydra", "logger"}  # top-level config sections not logged
# keys whose values are paths: never logged, whatever their value (data.expression_file, ...)
PATH_KEY_SUFFIXES = ("_file", "_files", "_dir", "_dirs", "dirpath", "_path", "_paths", "_folder")
# a section whose strings are label vocabulary ("Less than 1/3", "n/a"), not paths: only its
# path-named keys are dropped
VOCABULARY_SECTIONS = {"trait"}
# keys of the logger section that WandbLogger takes but wandb.init does not
LIGHTNING_KEYS = {
    "_target_",
    "offline",
    "save_dir",
    "log_model",
    "prefix",
    "checkpoint_name",
    "add_file_policy",
    "experiment",
    "version",
    "anonymous",
}
QUIET_SETTINGS = {
    "console": "off",  # job logs stay local (no output.log in the run)
    "silent": True,
    "x_disable_stats": True,  # no system metrics (and no cloud metadata probe)
    "x_disable_meta": True,  # no program path, command line, git state
    "x_disable_machine_info": True,
    "x_save_requirements": False,
    "disable_git": True,
    "disable_code": True,
    "save_code": False,
}
SUMMARY_TABLES = (
    layout.CV_SUMMARY,
    layout.PER_CLASS,
    layout.FOLDS,
    layout.ASSOCIATIONS,
    layout.COHORT_GSEA,
)  # logged as summary/<file name without .csv>


def enabled(cfg: DictConfig) -> bool:
    """Whether the job's config selects the W&B logger."""
    return LOGGER_KEY in (cfg.get("logger") or {})


def group_id(sweep_dir: str | Path) -> str:
    """W&B group of a sweep: its dir name plus a short hash of its absolute path."""
    path = Path(sweep_dir).resolve()
    return f"{path.name}-{stable_hash(str(path), length=GROUP_HASH_LENGTH)}"


def job_sweep_dir(output_dir: str | Path) -> Path:
    """The sweep dir of a Hydra multirun job (its output dir minus the job subdir), else ``output_dir``."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return Path(output_dir).resolve()
    hydra_cfg = HydraConfig.get()
    depth = len(Path(str(hydra_cfg.sweep.subdir)).parts)
    job_dir = Path(hydra_cfg.runtime.output_dir).resolve()
    return job_dir.parents[depth - 1] if depth else job_dir


def job_name(cfg: DictConfig) -> str:
    """Run name of a job: ``<trait>-<model>-fold<k>`` plus ``-boot<b>`` for bootstrap replicates."""
    name = f"{cfg.trait.name}-{cfg.model.name}-fold{cfg.fold}"
    return name if cfg.get("bootstrap") is None else f"{name}-boot{cfg.bootstrap}"


def run_mode(offline: bool) -> str | None:
    """wandb.init mode: offline when asked, unless ``WANDB_MODE=disabled``; else wandb's default."""
    if os.environ.get("WANDB_MODE") == "disabled":
        return "disabled"
    return "offline" if offline else None


def init_kwargs(section: Mapping[str, Any], **overrides: Any) -> dict:
    """wandb.init arguments from a logger section (WandbLogger's keys mapped or dropped)."""
    import wandb

    kwargs = {k: v for k, v in section.items() if k not in LIGHTNING_KEYS}
    kwargs.update(overrides)
    save_dir = Path(kwargs.pop("dir", None) or section.get("save_dir") or ".")
    save_dir.mkdir(parents=True, exist_ok=True)
    return {
        **kwargs,
        "dir": str(save_dir),
        "mode": run_mode(bool(section.get("offline", True))),
        "settings": wandb.Settings(**QUIET_SETTINGS),
    }


def lightning_logger(**kwargs: Any) -> Any:
    """Lightning's WandbLogger on the job's run (see :func:`start_job_run`), quiet and grouped."""
    import wandb
    from pytorch_lightning.loggers import WandbLogger

    if kwargs.get("group") is None:
        kwargs["group"] = group_id(job_sweep_dir(kwargs.get("save_dir") or "."))
    kwargs.setdefault("settings", wandb.Settings(**QUIET_SETTINGS))
    if wandb.run is None and run_mode(bool(kwargs.get("offline", True))) == "disabled":
        kwargs["mode"] = "disabled"
    return WandbLogger(experiment=wandb.run, **kwargs)


def job_config(cfg: DictConfig) -> dict:
    """The job's resolved config without paths and without the logger and hydra sections.

    Dropped: every key named like a path (``*_file``, ``*_files``, ``*_dir``, ``dirpath``, ...)
    and every string value (or list item) that looks like a path: one holding a path separator,
    one starting with ``~`` or naming a URL, or one that exists on disk. In ``trait`` (category
    names such as ``Less than 1/3``) only the path-named keys are dropped.
    """
    container = OmegaConf.to_container(cfg, resolve=True)
    return {
        k: _without_paths(v, values=k not in VOCABULARY_SECTIONS)
        for k, v in container.items()
        if k not in CONFIG_DROP and not is_path_key(k) and not is_path_value(v)
    }


def is_path_key(key: Any) -> bool:
    """Whether a config key names a path (its value is never logged)."""
    return isinstance(key, str) and key.lower().endswith(PATH_KEY_SUFFIXES)


def is_path_value(value: Any) -> bool:
    """Whether a config value looks like a path (a separator, ``~``, a URL, or it exists)."""
    if not isinstance(value, str) or not value:
        return False
    if "/" in value or "\\" in value or os.sep in value or value.startswith("~"):
        return True
    try:
        return os.path.exists(value)
    except (OSError, ValueError):  # a name the OS refuses is not a file of ours
        return False


def _without_paths(obj: Any, values: bool = True) -> Any:
    """``obj`` without path-named keys and, when ``values``, without path-like values."""
    if isinstance(obj, dict):
        return {
            k: _without_paths(v, values)
            for k, v in obj.items()
            if not is_path_key(k) and not (values and is_path_value(v))
        }
    if isinstance(obj, list | tuple):
        return [_without_paths(v, values) for v in obj if not (values and is_path_value(v))]
    return obj


def start_job_run(cfg: DictConfig) -> Any:
    """Start the job's run (no-op unless ``logger=wandb``); Lightning's logger then reuses it."""
    if not enabled(cfg):
        return None
    import wandb

    finish_run()  # a run left open by an earlier job of this process is closed, never merged
    section = cfg.logger[LOGGER_KEY]
    kwargs = init_kwargs(
        section,
        group=section.get("group") or group_id(job_sweep_dir(cfg.paths.output_dir)),
        name=section.get("name") or job_name(cfg),
        config=job_config(cfg),
    )
    run = wandb.init(**kwargs)
    run.define_metric("trainer/global_step")
    run.define_metric("*", step_metric="trainer/global_step", step_sync=True)
    return run


def finish_run() -> None:
    """Finish the active run (exit code 1 while an exception propagates); no-op without one."""
    wandb = sys.modules.get("wandb")
    if wandb is None or wandb.run is None:
        return
    exc = sys.exc_info()[1]
    failed = exc is not None and not (isinstance(exc, SystemExit) and exc.code in (0, None))
    wandb.finish(exit_code=1 if failed else 0)


def job_summary(metrics: Mapping[str, Any]) -> dict:
    """Scalar job metrics for the run summary: ``test_*`` as ``test/*``, the rest as ``job/*``."""
    scalars = {k: v for k, v in metrics.items() if isinstance(v, int | float | str | bool)}
    return {
        (f"test/{k.removeprefix('test_')}" if k.startswith("test_") else f"job/{k}"): v
        for k, v in scalars.items()
    }


def summary_table(frame: pd.DataFrame, sort_by: str | None = None, ascending: bool = True) -> Any:
    """A wandb.Table of at most MAX_TABLE_ROWS rows; refuses patient-level tables."""
    import wandb

    if PATIENT_COLUMN in frame.columns:
        raise ValueError("refusing to log a per-patient table to W&B")
    if sort_by in frame.columns:
        frame = frame.sort_values(sort_by, ascending=ascending, kind="stable")
    return wandb.Table(dataframe=frame.head(MAX_TABLE_ROWS).reset_index(drop=True))


def association_thresholds() -> tuple[float, int]:
    """(fdr, min_patients) of saliency associations: the sweep summary callback's (which
    configs/hydra/default.yaml takes from the job config's ``thresholds``), else the defaults."""
    from hydra.core.hydra_config import HydraConfig

    section = {}
    if HydraConfig.initialized():
        section = (HydraConfig.get().get("callbacks") or {}).get("sweep_summary") or {}
    return (
        float(section.get("fdr", FDR)),
        int(section.get("min_patients", MIN_PATIENTS)),
    )


def job_tables(out_dir: Path, classes: list[str]) -> dict:
    """The job's masking per-set scores and saliency per-set association counts, as tables."""
    tables = {}
    for path in sorted((out_dir / layout.MASKING_DIR).glob(layout.masking_scores("*"))):
        label = path.name.removesuffix(layout.masking_scores(""))
        if label != layout.CONTROLS:  # random control sets: not logged
            frame = pd.read_csv(path)
            tables[f"masking/{label}"] = summary_table(frame, "auroc", ascending=False)
    gsea_path = out_dir / layout.SALIENCY_DIR / layout.GSEA
    if gsea_path.exists():
        gsea = pd.read_parquet(gsea_path)
        fdr, min_patients = association_thresholds()
        table = associations(
            gsea[gsea["part"] == "test"], [str(c) for c in classes], fdr, min_patients
        )
        tables["saliency/associations"] = summary_table(table)
    return tables


def images(folder: Path, recursive: bool = False) -> dict:
    """PNG files of a folder (not inside W&B's own dirs) as wandb.Image, keyed by name."""
    import wandb

    found = folder.rglob("*.png") if recursive else folder.glob("*.png")
    return {
        f"plots/{p.stem}": wandb.Image(str(p))
        for p in sorted(found)
        if LOGGER_KEY not in p.relative_to(folder).parts
    }


def log_job(cfg: DictConfig, out_dir: str | Path, metrics: Mapping[str, Any]) -> None:
    """Log a finished job's metrics, summary tables and plots to its run (no-op without one)."""
    wandb = sys.modules.get("wandb")
    if not enabled(cfg) or wandb is None or wandb.run is None:
        return
    out_dir = Path(out_dir)
    wandb.run.summary.update(job_summary(metrics))
    payload = {**job_tables(out_dir, list(metrics.get("classes") or [])), **images(out_dir, True)}
    if payload:
        wandb.run.log(payload)


def pooled_summary(cv: pd.DataFrame) -> dict:
    """Pooled metrics per configuration: ``pooled/<trait>/<model>[/<hash>][/boot<b>]/<metric>``."""
    repeated = cv.duplicated(["trait", "model"], keep=False)
    out = {}
    for (_, row), twice in zip(cv.iterrows(), repeated, strict=True):
        prefix = f"pooled/{row['trait']}/{row['model']}"
        prefix += f"/{row['config_hash']}" if twice else ""
        prefix += f"/boot{row['bootstrap']}" if str(row["bootstrap"]) != "none" else ""
        for key, value in row.items():
            if key not in ("trait", "model", "config_hash", "bootstrap"):
                out[f"{prefix}/{key.removeprefix('pooled_')}"] = _scalar(value)
    return out


def _scalar(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def log_sweep(config: DictConfig, sweep_dir: str | Path) -> None:
    """One ``summary`` run per sweep: CV and pooled tables, pooled metrics and summary plots."""
    if not enabled(config):
        return
    sweep = SweepData(sweep_dir)
    summary = sweep.summary
    cv = sweep.summary_table(layout.CV_SUMMARY)
    if cv is None:
        log.warning("no %s in %s: no W&B summary run", layout.CV_SUMMARY, summary)
        return
    import wandb

    finish_run()
    section = config.logger[LOGGER_KEY]
    group = section.get("group") or group_id(sweep_dir)
    literal = {k: section.get(k) for k in ("project", "entity", "tags", "offline") if k in section}
    kwargs = init_kwargs(
        literal,
        dir=str(summary),
        group=group,
        job_type=SUMMARY_JOB_TYPE,
        name=f"summary-{group}",
        config={"sweep": group},
    )
    wandb.init(**kwargs)
    try:
        wandb.run.summary.update(pooled_summary(cv))
        tables = {
            f"summary/{Path(name).stem}": summary_table(table)
            for name in SUMMARY_TABLES
            if (table := sweep.summary_table(name)) is not None
        }
        for label, table in sweep.masking_tables().items():
            tables[f"summary/{Path(layout.masking_table(label)).stem}"] = summary_table(
                table, "rank"
            )
        wandb.run.log({**tables, **images(summary)})
    finally:
        finish_run()
