"""Interpretation of a comparator job: the hook ``tasks/finetune`` calls after fitting one.

Comparators are fitted without a Lightning trainer, so the interpretation callbacks never run for
them; this hook reads the same ``interpret.*`` sections and runs the comparator writer of every
enabled interpreter of the registry (:mod:`radiogenomics.interpreters`) on the job's held-out
(and, if asked, training) patients.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from radiogenomics.data.cohort import TraitCohort
from radiogenomics.data.splits import FoldSplit
from radiogenomics.interpret.comparator_tables import ComparatorPatients, comparator_patients
from radiogenomics.interpreters import COMPARATOR, enabled, get

log = logging.getLogger(__name__)


def comparator_sections(sections: Mapping[str, Any] | None) -> dict[str, dict]:
    """name -> settings of every enabled interpreter in ``sections`` (``cfg.interpret``) that
    explains comparators; one a comparator cannot run is skipped with a warning (a single run
    was refused by validation; a mixed sweep goes on)."""
    found = {}
    for entry, section in enabled(sections).items():
        settings = OmegaConf.to_container(section, resolve=True)
        if entry.explains(COMPARATOR):
            found[entry.name] = settings
        elif entry.needs:
            log.warning("skipped: %s", entry.needs)
    return found


def interpret_comparator(
    pipeline,
    patients: ComparatorPatients,
    sections: Mapping[str, Mapping],
    fold: int | None,
    out_dir: str | Path,
) -> dict[str, float]:
    """Run the comparator writer of each interpreter in ``sections`` (name -> settings).

    Returns seconds per interpreter; an interpreter comparators cannot run is a ValueError.
    """
    seconds = {}
    for name, settings in sections.items():
        entry = get(name)
        if not entry.explains(COMPARATOR):
            raise ValueError(entry.refusal())
        start = time.perf_counter()
        options = entry.options_from(settings)
        entry.resolve("comparator_writer")(pipeline, patients, options, fold, out_dir)
        seconds[name] = time.perf_counter() - start
    return seconds


def interpret_comparator_job(
    cfg: DictConfig, pipeline, tc: TraitCohort, split: FoldSplit, out_dir: Path
) -> None:
    """Masking / native attribution of a fitted comparator (nothing when none is enabled)."""
    sections = comparator_sections(cfg.get("interpret"))
    if not sections:
        return
    patients = comparator_patients(
        pipeline,
        tc.X,
        tc.y,
        {"test": split.test, "fit": split.train},
        tc.patient_ids,
        tc.genes,
        tc.spec.class_names,
        kind=tc.spec.kind,
    )
    seconds = interpret_comparator(pipeline, patients, sections, int(cfg.fold), out_dir)
    log.info(
        "model=%s fold=%s interpretation: %s",
        cfg.model.name,
        cfg.fold,
        ", ".join(f"{k} {v:.1f}s" for k, v in seconds.items()),
    )
