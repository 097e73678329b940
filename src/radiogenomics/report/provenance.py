"""Where a sweep's numbers come from: its command, overrides vs defaults, code, data and cohort."""

from __future__ import annotations

import logging
import shlex
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import DictConfig, ListConfig, OmegaConf

import radiogenomics
from radiogenomics.environment import NUMERIC_PACKAGES, read_freeze
from radiogenomics.report.blocks import Details, Facts, Table, cell, table_block
from radiogenomics.results import layout
from radiogenomics.results.sweep import SweepData
from radiogenomics.utils import error_line, file_digest

log = logging.getLogger(__name__)

ENTRY_POINT = ["python", "train.py", "-m"]
HIDDEN_HYDRA_OVERRIDES = ("hydra.mode=",)  # implied by -m
PER_JOB_KEYS = ("fold", "paths.")  # differ by job or machine: not a setting of the sweep
MAX_CHANGED = 60  # rows of the changed-values table
MAX_FOLD_ROWS = 50  # rows of the per-fold cohort table (bootstrap sweeps have many more)
GIT_TIMEOUT_S = 5
BYTES_PER_MB = 1 << 20
NOT_SET = "(none)"
ABSENT = "(absent)"


def sweep_command(sweep: SweepData) -> str | None:
    """The sweep's command line, rebuilt from Hydra's record (``multirun.yaml``)."""
    if sweep.multirun is None:
        return None
    overrides = sweep.multirun.hydra.overrides
    words = [str(o) for o in overrides.task]
    words += [str(o) for o in overrides.hydra if not str(o).startswith(HIDDEN_HYDRA_OVERRIDES)]
    return " ".join(shlex.quote(w) for w in [*ENTRY_POINT, *words])


def git_commit() -> str | None:
    """The commit of the radiogenomics source tree (``+ changes`` when dirty); None if no git."""
    source = Path(radiogenomics.__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
        )
        if head.returncode:
            return None
        status = subprocess.run(
            ["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    dirty = " + uncommitted changes" if status.returncode == 0 and status.stdout.strip() else ""
    return head.stdout.strip() + dirty


def _config_dir(sweep: SweepData) -> str | None:
    """The config dir the sweep was composed from (Hydra's ``main`` config source)."""
    if sweep.multirun is None:
        return None
    sources = OmegaConf.select(sweep.multirun, "hydra.runtime.config_sources") or []
    return next((str(s.path) for s in sources if s.provider == "main" and s.schema == "file"), None)


@lru_cache(maxsize=4)
def default_config(config_dir: str) -> DictConfig:
    """The training config with no override (Hydra's loader, no global Hydra state needed)."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.utils import create_config_search_path
    from hydra.types import RunMode

    loader = ConfigLoaderImpl(config_search_path=create_config_search_path(config_dir))
    return loader.load_configuration(config_name="train", overrides=[], run_mode=RunMode.RUN)


def _text(value: Any) -> str:
    """A config value as text (lists and dicts in YAML flow style)."""
    if isinstance(value, DictConfig | ListConfig):
        value = OmegaConf.to_container(value, resolve=False)
    return NOT_SET if value is None else str(value)


def _select(cfg: DictConfig, key: str) -> Any:
    """A key of a config without resolving it (None when absent)."""
    return OmegaConf.select(cfg, key, default=None, throw_on_resolution_failure=False)


def overrides_table(sweep: SweepData, defaults: DictConfig) -> Table | None:
    """Each command-line override and sweep-grid value next to the default it replaced."""
    if sweep.multirun is None:
        return None
    choices = _select(defaults, "hydra.runtime.choices") or {}
    grid = OmegaConf.to_container(sweep.multirun.hydra.sweeper.get("params") or {}) or {}
    given = [("command line", str(o)) for o in sweep.multirun.hydra.overrides.task]
    given += [("sweep grid (config)", f"{k}={v}") for k, v in grid.items()]
    rows = []
    for source, override in given:
        key, _, value = override.partition("=")
        if key.startswith("+"):  # a group or key the defaults do not have
            default = NOT_SET
        elif key.lstrip("~") in choices:
            default = _text(choices[key.lstrip("~")])
        else:
            default = _text(_select(defaults, key.lstrip("~")))
        rows.append([key.lstrip("+~"), value, default, source])
    return Table(["key", "this sweep", "default", "from"], rows, "Overrides vs defaults")


def _leaves(container: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts to dotted keys (lists stay values)."""
    if not isinstance(container, dict):
        return {prefix: container}
    out = {}
    for key, value in container.items():
        out.update(
            _leaves(value, f"{prefix}{key}." if isinstance(value, dict) else f"{prefix}{key}")
        )
    return out


def _leaf_text(value: Any) -> str:
    """A config leaf as text: ``null`` for None (as in the YAML files)."""
    return "null" if value is None else cell(value)


def changed_table(sweep: SweepData, defaults: DictConfig) -> Table | None:
    """Every setting of the job config that differs from the default config (group choices too)."""
    if sweep.config is None:
        return None
    base = OmegaConf.to_container(defaults, resolve=False)
    base.pop("hydra", None)
    mine, theirs = _leaves(OmegaConf.to_container(sweep.config, resolve=False)), _leaves(base)
    parents = {key.rpartition(".")[0] for key in theirs}
    changed, added = [], set()
    for key in sorted(set(mine) | set(theirs)):
        if mine.get(key, ABSENT) == theirs.get(key, ABSENT) or key.startswith(PER_JOB_KEYS):
            continue
        parent = key.rpartition(".")[0]
        if key not in theirs and parent and parent not in parents:
            added.add(parent)  # a whole group added with +group=...: its overrides row says so
            continue
        changed.append(
            [key, _leaf_text(mine.get(key, ABSENT)), _leaf_text(theirs.get(key, ABSENT))]
        )
    notes = [f"first {MAX_CHANGED} of {len(changed)}"] if len(changed) > MAX_CHANGED else []
    if added:
        notes.append(f"settings of the added groups {', '.join(sorted(added))} are not listed")
    notes.append(
        f"{ABSENT}: the key is not in that config (a group added it, or the config files "
        "changed since the sweep ran)"
    )
    title = "Settings that differ from the defaults (after composing the groups)"
    return Table(["key", "this sweep", "default"], changed[:MAX_CHANGED], title, "; ".join(notes))


def default_diff_tables(sweep: SweepData) -> list[Table]:
    """The overrides and changed-settings tables (a note when the defaults cannot be composed)."""
    config_dir = _config_dir(sweep)
    if config_dir is None or not Path(config_dir).is_dir():
        return []
    try:
        defaults = default_config(config_dir)
    except Exception as err:  # a config dir changed since the sweep: report, don't fail
        log.warning("report: could not compose the default config: %s", error_line(err))
        return []
    return [t for t in (overrides_table(sweep, defaults), changed_table(sweep, defaults)) if t]


def data_file_table(sweep: SweepData) -> Table | None:
    """The data files of the sweep (from cohort.json) with size and SHA-256 now."""
    if not sweep.cohorts:
        return None
    cohort = sweep.cohorts[0]
    files = [("expression", cohort.get("expression_file"))]
    files += [("labels", f) for f in cohort.get("label_files") or []]
    files += [("clinical", cohort.get("clinical_file"))]
    rows = []
    for role, name in files:
        if not name:
            continue
        path = Path(name)
        if path.is_file():
            size = f"{path.stat().st_size / BYTES_PER_MB:.2f} MB"
            rows.append([role, str(path), size, file_digest(path)])
        else:
            rows.append([role, str(path), "", "file not found now"])
    title = "Data files (SHA-256, first 16 hex digits, computed when the report was written)"
    return Table(["role", "file", "size", "sha256"], rows, title)


def cohort_blocks(sweep: SweepData) -> list:
    """Per trait: cohort size, classes, dropped values; per job: patients per class per part."""
    blocks: list = []
    seen: set[str] = set()
    parts = []
    for metrics, job_cohort in zip(sweep.job_metrics, sweep.job_cohorts, strict=True):
        cohort = next((c for c in sweep.cohorts if c.get("trait") == metrics["trait"]), None)
        if cohort is None:
            continue
        if metrics["trait"] not in seen:
            seen.add(metrics["trait"])
            blocks.append(Facts(_cohort_facts(cohort), f"Cohort: {metrics['trait']}"))
        parts.append(_fold_counts(metrics, job_cohort))
    frame = pd.DataFrame([p for p in parts if p])
    if not frame.empty:  # the configurations of one model share each fold's split
        frame = frame.drop_duplicates().sort_values(["trait", "model", "bootstrap", "fold"])
        title = "Patients per class in each fold's parts (fit / inner validation / held-out test)"
        blocks.append(table_block(frame, title, rows=MAX_FOLD_ROWS))
    return blocks


def _cohort_facts(cohort: dict) -> list[tuple[str, Any]]:
    """A trait cohort's size, classes and dropped patients."""
    counts = cohort.get("class_counts", {})
    dropped = {k: v for k, v in (cohort.get("patients_dropped") or {}).items() if v}
    return [
        ("label column", cohort.get("column", "")),
        ("patients (trait cohort)", cohort.get("n_patients")),
        ("per class", [f"{k}: {v}" for k, v in counts.items()]),
        (
            "dropped values",
            [f"{k}: {v}" for k, v in (cohort.get("dropped_values") or {}).items()] or "none",
        ),
        ("patients dropped", [f"{k}: {v}" for k, v in dropped.items()] or "none"),
        ("genes", cohort.get("n_genes")),
        ("patients for autoencoder pretraining", cohort.get("n_pretrain_patients")),
        ("labels permuted", "yes" if cohort.get("permuted_labels") else "no"),
    ]


def _fold_counts(metrics: dict, cohort: dict | None) -> dict:
    """One job's patients per part and class (from its cohort.json; None: no such file)."""
    if cohort is None:
        return {}
    counts = cohort.get("fold_class_counts") or {}
    row = {k: metrics.get(k) for k in ("trait", "model", "fold")}
    replicate = metrics.get("bootstrap")
    row["bootstrap"] = "none" if replicate is None else str(replicate)  # text: sortable
    for part, per_class in counts.items():
        for name, n in per_class.items():
            row[f"{part}: {name}"] = n
    return row


def _distinct(values: list[Any]) -> list[str]:
    """The distinct values (as text), in order of first appearance."""
    return list(dict.fromkeys(str(v) for v in values))


def job_environment_facts(job_metrics: list[dict]) -> list[tuple[str, Any]]:
    """What the jobs recorded (metrics.json ``environment``): CPU capability, numeric packages.

    A value that differs between jobs lists every variant with its job count: jobs on machines
    with other SIMD kernels or package versions need not give the same floats.
    """
    recorded = [m["environment"] for m in job_metrics if isinstance(m.get("environment"), dict)]
    if not recorded:
        return [("environment (jobs)", f"not recorded (jobs' {layout.METRICS} predate it)")]

    def counted(values: list[Any]) -> str:
        texts = [str(v) for v in values]
        variants = _distinct(texts)
        if len(variants) == 1:
            return variants[0]
        return "DIFFERS between jobs: " + ", ".join(
            f"{v} ({texts.count(v)} jobs)" for v in variants
        )

    facts = [
        (
            "CPU capability (torch kernels, jobs)",
            counted([e.get("cpu_capability") for e in recorded]),
        ),
        ("CUDA device (jobs)", counted([e.get("cuda_device") or "none" for e in recorded])),
        ("torch threads (jobs)", counted([e.get("torch_threads") for e in recorded])),
    ]
    packages = [
        f"{name} {counted([(e.get('packages') or {}).get(name) for e in recorded])}"
        for name in NUMERIC_PACKAGES
    ]
    facts.append(("numeric package versions (jobs)", packages))
    if len(recorded) < len(job_metrics):
        facts.append(("environment (jobs)", f"{len(job_metrics) - len(recorded)} job(s) without"))
    return facts


def environment_blocks(sweep: SweepData) -> tuple[list[tuple[str, Any]], list[Details]]:
    """Facts about ``summary/environment.txt`` and the file itself, collapsed; none if absent."""
    text = sweep.environment
    if text is None:
        return [(layout.ENVIRONMENT, "not written (summarized before it existed)")], []
    facts, packages = read_freeze(text)
    where = f"{layout.SUMMARY_DIR}/{layout.ENVIRONMENT}"
    return [
        ("CPU capability (summary)", facts.get("cpu_capability", "not recorded")),
        (
            "environment (summary)",
            f"Python {facts.get('python', '?')} on {facts.get('platform', '?')}, "
            f"{len(packages)} installed distributions: {where}",
        ),
    ], [Details(f"{where}: every installed package (pip freeze format)", text)]
