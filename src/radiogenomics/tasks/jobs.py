"""One job's identity and state: its config hash, its data fingerprints, whether it finished.

Shared by every task that writes a job dir (finetune, multitask), the config validation that
skips finished jobs, and the launchers.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from radiogenomics.data.io import resolve_path
from radiogenomics.errors import DataError
from radiogenomics.interpreters import job_adding
from radiogenomics.launch.sweep_status import record_stale
from radiogenomics.utils import stable_hash

log = logging.getLogger(__name__)

# keys that vary between the jobs of one configuration (the CV repeat too: all repeats of a
# configuration are one configuration, told apart by their split_seed in metrics.json; the number
# of repeats only says how many jobs a sweep has), or that change no number (summary thresholds,
# whether the model bundle is written, whether a finished job may be replaced): they do not
# enter the config hash
PER_JOB_KEYS = (
    "fold",
    "bootstrap",
    "repeat",
    "repeats",
    "paths",
    "resume",
    "logger",
    "thresholds",
    "save_model",
    "overwrite",
)


def config_hash(cfg: DictConfig) -> str:
    """Hash of the config minus per-job keys: equal across the folds of one setting.

    Interpolations stay unresolved so that per-job output paths do not enter the hash; the
    settings of an interpreter that adds jobs (the permutation null: how many null replicates the
    sweep adds) do not either, so a real job is the same job with or without its null.
    """
    container = OmegaConf.to_container(cfg, resolve=False)
    container = {k: v for k, v in container.items() if k not in PER_JOB_KEYS}
    if isinstance(container.get("interpret"), dict):
        adding = job_adding()
        container["interpret"] = {
            k: v for k, v in container["interpret"].items() if k not in adding
        }
    return stable_hash(container)


def training_hash(cfg: DictConfig) -> str:
    """Config hash without interpretation settings and null id: a real model and its nulls share it."""
    container = OmegaConf.to_container(cfg, resolve=False)
    skip = {*PER_JOB_KEYS, "interpret", "null_permutation"}
    return stable_hash({k: v for k, v in container.items() if k not in skip})


@dataclass(frozen=True)
class FinishedJob:
    """The finished job a job dir holds (its record, written last), seen by the config about to
    run there."""

    record: dict  # the record's fields; ``{}`` when unreadable (counts as another config's)
    same_config: bool  # written by this config (its config hash)
    changed: str | None  # why its data files changed since (same config, ``resume``), else None
    unreadable: str | None  # why the record could not be read, else None
    complete: bool  # this job is done and is skipped: ``resume``, same config, same data


def finished_job(
    cfg: DictConfig, record_path: Path, job_hash: str | None = None
) -> FinishedJob | None:
    """The finished job at ``record_path`` compared with ``cfg`` (hash ``job_hash``, computed when
    not given), or None when none finished there."""
    if not record_path.exists():
        return None
    unreadable = None
    try:
        record = json.loads(record_path.read_text())
    except (OSError, ValueError) as err:
        record, unreadable = {}, f"cannot read {record_path}: {err}"
    record = record if isinstance(record, dict) else {}
    same_config = record.get("config_hash") == (job_hash or config_hash(cfg))
    resume = bool(cfg.resume)
    changed = changed_input(record, cfg, record_path.parent) if same_config and resume else None
    complete = resume and same_config and changed is None
    return FinishedJob(record, same_config, changed, unreadable, complete)


def job_complete(cfg: DictConfig, record_path: Path, job_hash: str | None = None) -> dict | None:
    """The finished job's record when the job of ``cfg`` is complete and will be skipped
    (``resume``, its record exists, written by the same config from the same data), else None.

    The one test of "is this job finished?": the job's own resume, the config validation and
    the SLURM launcher's rerun all ask it.
    """
    found = finished_job(cfg, record_path, job_hash)
    return found.record if found is not None and found.complete else None


def resumable(cfg: DictConfig, out_dir: Path, record_path: Path, job_hash: str) -> dict | None:
    """A finished job's record to return instead of running it again, or None to run it.

    ``record_path`` (written last) marks a finished job. Complete (:func:`job_complete`): its
    record. Same config but changed inputs: refused (recorded as stale) unless
    ``overwrite=true``; another config in the same dir: refused unless ``overwrite=true``.
    """
    found = finished_job(cfg, record_path, job_hash)
    if found is None:
        return None
    if found.complete:
        log.info("job already complete (%s exists): skipping", record_path)
        return found.record
    if found.unreadable is not None:
        log.warning("%s", found.unreadable)
    if found.changed is not None:
        if not cfg.overwrite:
            record_stale(out_dir, found.changed)  # the sweep exits 2, its summary left as it was
            raise DataError(found.changed)
        log.warning("%s; overwrite=true: running the job again", found.changed)
    done = found.record
    if not found.same_config and not cfg.overwrite:
        raise DataError(
            f"{out_dir} already holds a finished job of another config (config_hash "
            f"{done.get('config_hash')}, this job's {job_hash}): run it into another "
            "hydra.sweep.dir, or add overwrite=true to replace it"
        )
    log.warning("%s: replacing the finished job (config_hash %s)", out_dir, done.get("config_hash"))
    return None


DATA_FILE_KEYS = (
    "expression_file",
    "traits_file",
    "label_files",
    "pretrain_expression_file",
    "clinical_file",
)
_DIGESTS: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> sha256, per process


def sha256_of(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes; remembered per (path, size, mtime) within the process."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _DIGESTS:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        _DIGESTS[key] = h.hexdigest()
    return _DIGESTS[key]


def input_fingerprints(cfg: DictConfig) -> dict[str, dict[str, str]]:
    """``{"data.label_files[0]": {"path": ..., "sha256": ...}, ...}``: the job's data files.

    Expression, label, pretraining and clinical files that exist (a synthetic cohort has none).
    Recorded in metrics.json; :func:`changed_input` compares them when a finished job is resumed.
    """
    data = cfg.get("data") or {}
    found: dict[str, dict[str, str]] = {}
    for key in DATA_FILE_KEYS:
        value = data.get(key)
        if value is None or value == "":
            continue
        many = OmegaConf.is_list(value) or isinstance(value, list | tuple)
        values = list(value) if many else [value]
        for i, item in enumerate(values):
            name = f"data.{key}[{i}]" if many else f"data.{key}"
            try:
                path = resolve_path(str(item)).resolve()
                if path.is_file():
                    found[name] = {"path": str(path), "sha256": sha256_of(path)}
            except (OSError, DataError):  # not this check's business: validation reports it
                continue
    return found


def changed_input(done: dict, cfg: DictConfig, out_dir: Path) -> str | None:
    """Why the finished job ``done`` (its metrics.json) is stale, or None if its inputs are unchanged.

    Compares the sha256 recorded for each data file with the file's bytes now; a job finished
    before the fingerprints were recorded counts as unchanged.
    """
    recorded = done.get("inputs")
    if not isinstance(recorded, dict) or not recorded:
        return None
    now = input_fingerprints(cfg)
    for name, then in recorded.items():
        current = now.get(name)
        if not isinstance(then, dict) or current is None:
            continue
        if then.get("sha256") != current["sha256"]:
            return (
                f"{current['path']} changed since the finished job {out_dir} was run ({name}: "
                f"sha256 {str(then.get('sha256'))[:12]} -> {current['sha256'][:12]}); use a new "
                "hydra.sweep.dir or overwrite=true"
            )
    return None
