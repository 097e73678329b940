"""Nested tuning: one seeded Optuna TPE study per outer job (trait, fold, ...), inner validation only.

:func:`tune` asks each study for trials, runs them as ordinary finetune jobs through a
``run_batch`` callable (the Hydra sweeper passes its launcher; tests run jobs in-process) and tells
each study only its trial's inner-validation score (``val_auroc`` by default, from the job's
metrics.json). Held-out scores never reach a study: a trial's attributes hold its overrides and
objective only, so the held-out fold cannot steer the search. The studies live in
``<sweep>/tuning/`` (Optuna's journal files: no database, no SQLAlchemy), so a rerun with the same
sweep dir resumes them. The chosen trial per outer fold (best objective) and its held-out
predictions are read back from the job dirs by ``evaluation.selection`` (scripts/select_hparams.py).

With cross-fitted ensembles (``model.member_split=kfold``, ``hparams_search=nn_optuna_kfold``) a
job's ``val_auroc`` is the AUROC of the pooled out-of-fold predictions over every training patient
(each member at its own best epoch), so that is what the study maximises: still training patients
only, and less noisy than one ~25-patient inner split.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from radiogenomics.hydra_resolvers import without_repeat_overrides
from radiogenomics.results import layout
from radiogenomics.tuning.space import as_overrides, check_space, override_key, sample
from radiogenomics.utils import stable_hash, write_json

log = logging.getLogger(__name__)

RunBatch = Callable[[list[list[str]]], list[Mapping[str, Any] | None]]


@dataclass
class TunerSettings:
    """How many trials each study runs and how they are drawn (``hydra.sweeper`` keys)."""

    n_trials: int = 20  # completed trials per study (per outer fold)
    n_startup_trials: int = 8  # random trials before TPE models the results
    batch_size: int = 1  # trials asked per study per round (all studies' trials launch together)
    seed: int = 0  # TPE seed; each study's sampler is seeded from it and the study's name
    objective: str = "val_auroc"  # a metrics.json key measured on the training folds only
    max_failures: int = 5  # failed trials per study before it stops
    enqueue: tuple = ()  # param dicts tried first in every study (e.g. the default network)

    def check(self) -> None:
        """Raise ValueError on a bad setting (the message names it)."""
        if self.objective.startswith("test_"):
            raise ValueError(
                f"objective={self.objective!r} is a held-out score: tune on an inner-validation "
                "metric (val_auroc)"
            )
        for name in ("n_trials", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}={getattr(self, name)}: expected an integer >= 1")
        for name in ("n_startup_trials", "max_failures"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"{name}={getattr(self, name)}: expected an integer >= 0")


def study_name(job: Sequence[str]) -> str:
    """A study's name from its outer job's overrides (sorted), safe as a file name.

    ``repeat=0`` and ``repeats=R`` are left out (as from job dir names): the first CV repeat's
    studies keep the names, and so the seeds, they had before repeated CV.
    """
    text = without_repeat_overrides(",".join(sorted(str(o) for o in job))) or "all"
    safe = re.sub(r"[^A-Za-z0-9=,._-]+", "-", text)
    return safe if len(safe) <= 120 else f"{safe[:100]}~{stable_hash(text, 8)}"


def open_study(storage_dir: Path, name: str, settings: TunerSettings):
    """Load or create the study ``name`` (journal file under ``storage_dir``), seeded TPE."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    from optuna.trial import TrialState

    storage_dir.mkdir(parents=True, exist_ok=True)
    storage = JournalStorage(JournalFileBackend(str(storage_dir / layout.study_journal(name))))
    seed = int(stable_hash([settings.seed, name], 8), 16)
    sampler = optuna.samplers.TPESampler(
        seed=seed, n_startup_trials=settings.n_startup_trials, constant_liar=True
    )
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        sampler=sampler,
        direction="maximize",
        load_if_exists=True,
    )
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.tell(trial.number, state=TrialState.FAIL)  # left by an interrupted run
        log.warning("study %s: trial %d was interrupted; marked failed", name, trial.number)
    return study


def _counts(study) -> tuple[int, int]:
    from optuna.trial import TrialState

    states = [t.state for t in study.get_trials(deepcopy=False)]
    return states.count(TrialState.COMPLETE), states.count(TrialState.FAIL)


def _wanted(study, settings: TunerSettings) -> int:
    done, failed = _counts(study)
    if failed >= settings.max_failures and failed > 0 and settings.max_failures > 0:
        return 0
    return max(0, min(settings.batch_size, settings.n_trials - done))


def tune(
    jobs: Sequence[Sequence[str]],
    space: Mapping[str, Mapping[str, Any]],
    run_batch: RunBatch,
    settings: TunerSettings,
    storage_dir: str | Path,
    trial_overrides: Sequence[str] = (),
) -> list[dict]:
    """Run every outer job's study to ``n_trials`` completed trials; return the study records.

    ``jobs``: each outer job's fixed overrides (its fold, trait, ...); keys they fix are not
    searched. ``trial_overrides`` are added to every trial. ``run_batch`` runs a list of jobs'
    overrides and returns each job's metrics (or None when it failed).
    """
    from optuna.trial import TrialState

    settings.check()
    check_space(space)
    storage_dir = Path(storage_dir)
    start = time.perf_counter()
    studies = [open_study(storage_dir, study_name(job), settings) for job in jobs]
    for study, job in zip(studies, jobs, strict=True):
        enqueue(study, settings.enqueue, space, job)
    n_jobs, rounds = 0, 0
    while True:
        batch: list[list[str]] = []
        pending = []
        for study, job in zip(studies, jobs, strict=True):
            for _ in range(_wanted(study, settings)):
                trial = study.ask()
                overrides = [*job, *as_overrides(sample(trial, space, job)), *trial_overrides]
                trial.set_user_attr("overrides", overrides)
                batch.append(overrides)
                pending.append((study, trial))
        if not batch:
            break
        rounds += 1
        results = run_batch(batch)
        n_jobs += len(batch)
        for (study, trial), metrics in zip(pending, results, strict=True):
            value = None if metrics is None else metrics.get(settings.objective)
            if value is None or value != value:  # failed job, or no objective (NaN)
                study.tell(trial, state=TrialState.FAIL)
            else:
                study.tell(trial, float(value))  # the objective only: never a held-out score
        log.info("tuning: round %d, %d trials run, %d studies", rounds, n_jobs, len(studies))
    records = [study_record(study, job) for study, job in zip(studies, jobs, strict=True)]
    write_json(
        storage_dir / layout.TUNING_REPORT,
        {
            "settings": asdict(settings),
            "search_space": {k: dict(v) for k, v in space.items()},
            "trials_run_now": n_jobs,
            "wall_s_now": round(time.perf_counter() - start, 2),
            "studies": records,
        },
    )
    return records


def enqueue(study, trials: Sequence[Mapping[str, Any]], space: Mapping, job: Sequence[str]) -> None:
    """Queue each of ``trials`` (searched keys only) unless the study already holds it."""
    fixed = {override_key(o) for o in job}
    for params in trials:
        wanted = {k: v for k, v in params.items() if k in space and k not in fixed}
        if wanted:
            study.enqueue_trial(wanted, skip_if_exists=True)


def study_record(study, job: Sequence[str]) -> dict:
    """A study's outcome: trial counts and the best trial's objective, params and overrides."""
    done, failed = _counts(study)
    record: dict[str, Any] = {
        "study": study.study_name,
        "job": list(job),
        "complete": done,
        "failed": failed,
    }
    if done:
        best = study.best_trial
        record.update(
            best_trial=best.number,
            best_value=best.value,
            best_params=best.params,
            best_overrides=best.user_attrs.get("overrides"),
        )
    return record


def trial_history(study) -> list[dict]:
    """Every trial of a study: number, state, objective and params (for tests and reports)."""
    return [
        {"number": t.number, "state": t.state.name, "value": t.value, "params": dict(t.params)}
        for t in study.get_trials(deepcopy=False)
    ]


def fixed_keys(jobs: Sequence[Sequence[str]]) -> set[str]:
    """The keys the outer jobs' overrides fix (not searched)."""
    return {override_key(o) for job in jobs for o in job}
