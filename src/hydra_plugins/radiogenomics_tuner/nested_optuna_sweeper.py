"""``hydra/sweeper=nested_optuna``: one seeded Optuna TPE study per outer job, trials through the
launcher, studies in ``<sweep>/tuning/``. Chosen by ``hparams_search=nn_optuna``.

A thin adapter over :func:`radiogenomics.tuning.nested.tune` (current Optuna, driven directly:
``hydra-optuna-sweeper`` pins optuna 2.10 and an SQLAlchemy its sqlite storage cannot use).
``params`` is the outer grid (folds, and anything else swept on the command line), expanded as
the basic sweeper does; ``search_space`` is sampled for every outer job separately, and each trial
is an ordinary finetune job, launched by the configured ``hydra/launcher`` into the sweep dir.
Only the job's inner-validation objective (``val_auroc``) is read back and told to the study.
"""

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional  # noqa: UP035 (OmegaConf structured config)

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.sweeper import Sweeper
from omegaconf import DictConfig, OmegaConf

from radiogenomics.launch.sweep_status import stop_signal
from radiogenomics.results import layout
from radiogenomics.tuning.nested import TunerSettings, tune

log = logging.getLogger(__name__)


@dataclass
class NestedOptunaSweeperConf:
    """``hydra.sweeper`` keys of ``hydra/sweeper=nested_optuna``."""

    _target_: str = "hydra_plugins.radiogenomics_tuner.nested_optuna_sweeper.NestedOptunaSweeper"
    n_trials: int = 20  # completed trials per outer-fold study
    n_startup_trials: int = 8  # random trials before TPE
    batch_size: int = 1  # trials per study launched together (all studies' trials in one batch)
    seed: int = 0
    objective: str = "val_auroc"  # inner validation only; test_* is refused
    max_failures: int = 5
    # the outer grid, e.g. fold: range(0,10); the search space; overrides added to every trial
    params: Optional[Dict[str, str]] = None  # noqa: UP006, UP045
    search_space: Dict[str, Any] = field(default_factory=dict)  # noqa: UP006
    trial_overrides: List[str] = field(default_factory=list)  # noqa: UP006
    enqueue: List[Any] = field(default_factory=list)  # noqa: UP006  # params tried first


ConfigStore.instance().store(
    group="hydra/sweeper",
    name="nested_optuna",
    node=NestedOptunaSweeperConf,
    provider="radiogenomics",
)


class NestedOptunaSweeper(Sweeper):
    """One Optuna study per outer job; each trial is a finetune job run by the launcher."""

    def __init__(
        self,
        n_trials: int = 20,
        n_startup_trials: int = 8,
        batch_size: int = 1,
        seed: int = 0,
        objective: str = "val_auroc",
        max_failures: int = 5,
        params: Any = None,
        search_space: Any = None,
        trial_overrides: Any = None,
        enqueue: Any = None,
    ) -> None:
        self.settings = TunerSettings(
            n_trials=int(n_trials),
            n_startup_trials=int(n_startup_trials),
            batch_size=int(batch_size),
            seed=int(seed),
            objective=str(objective),
            max_failures=int(max_failures),
            enqueue=tuple(_plain(enqueue) or ()),
        )
        self.params = _plain(params) or {}
        self.search_space = _plain(search_space) or {}
        self.trial_overrides = [str(o) for o in (_plain(trial_overrides) or [])]
        self.config: DictConfig | None = None
        self.launcher = None
        self.job_idx = 0

    def setup(self, *, hydra_context: Any, task_function: Any, config: DictConfig) -> None:
        """Keep the config and instantiate the configured launcher."""
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def outer_jobs(self, arguments: list[str]) -> list[list[str]]:
        """The outer grid (``params`` and the command line's sweeps), as the basic sweeper."""
        lines = [f"{k}={v}" for k, v in self.params.items()] + list(arguments)
        parsed = OverridesParser.create().parse_overrides(lines)
        return [list(job) for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]

    def run_batch(self, batch: list[list[str]]) -> list[dict | None]:
        """Launch the trials and read each one's metrics.json (None: failed)."""
        assert self.launcher is not None
        returns = self.launcher.launch(batch, initial_job_idx=self.job_idx)
        self.job_idx += len(batch)
        signum = stop_signal()
        if signum is not None:  # SIGINT/SIGTERM stopped the launcher: no further round starts
            log.error("nested tuning stopped by a signal; rerun the same command to resume")
            raise SystemExit(128 + signum)
        return [job_metrics(ret) for ret in returns]

    def sweep(self, arguments: list[str]) -> list[dict]:
        """Tune every outer job's study; return the study records (also in tuning.json)."""
        assert self.config is not None
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        jobs = self.outer_jobs(arguments)
        log.info(
            "nested tuning: %d studies x %d trials (%s), studies in %s",
            len(jobs),
            self.settings.n_trials,
            self.settings.objective,
            layout.tuning_dir(sweep_dir),
        )
        return tune(
            jobs,
            self.search_space,
            self.run_batch,
            self.settings,
            layout.tuning_dir(sweep_dir),
            self.trial_overrides,
        )


def _plain(value: Any) -> Any:
    """OmegaConf containers as plain dicts and lists."""
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def job_metrics(ret: JobReturn) -> dict | None:
    """A finished job's metrics.json (from its output dir), or None if it failed."""
    if ret.status != JobStatus.COMPLETED or ret.hydra_cfg is None:
        return None
    hydra_cfg = ret.hydra_cfg  # the job's ``hydra`` node (or a config holding it)
    out_dir = OmegaConf.select(hydra_cfg, "runtime.output_dir") or OmegaConf.select(
        hydra_cfg, "hydra.runtime.output_dir"
    )
    if not out_dir:
        return None
    out = Path(str(out_dir)) / layout.METRICS
    try:
        return json.loads(out.read_text())
    except (OSError, ValueError):
        return None
