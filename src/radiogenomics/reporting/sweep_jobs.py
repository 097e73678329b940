"""The jobs a sweep was asked to run, read back from its ``multirun.yaml``.

A killed or partly failed sweep leaves no directory for the jobs it never started; listing the
expected jobs from the sweep's own record lets the summary report those as missing too.
"""

from __future__ import annotations

import logging
from pathlib import Path

import yaml
from omegaconf import DictConfig, OmegaConf

from radiogenomics.hydra_resolvers import job_dirname

log = logging.getLogger(__name__)

MULTIRUN_FILE = "multirun.yaml"
OVERRIDES_FILE = Path(".hydra") / "overrides.yaml"


def job_overrides(job_dir: str | Path) -> list[str]:
    """A job's command-line overrides (``key=value``) from its ``.hydra/overrides.yaml``."""
    path = Path(job_dir) / OVERRIDES_FILE
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
    path = Path(sweep_dir) / MULTIRUN_FILE
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
