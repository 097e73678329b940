"""Interpretation of a comparator job: the hook ``tasks/finetune`` calls after fitting one.

Comparators are fitted without a Lightning trainer, so the interpretation callbacks never run for
them; this hook reads the same ``interpret.*`` sections (``+interpret=masking``,
``+interpret=attribution``) and calls
:func:`radiogenomics.interpret.comparator_tables.interpret_comparator` on the job's held-out (and,
if asked, training) patients.
"""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from radiogenomics.data.cohort import TraitCohort
from radiogenomics.data.splits import FoldSplit
from radiogenomics.interpret.comparator_tables import (
    SALIENCY_REFUSED,
    comparator_patients,
    interpret_comparator,
)

log = logging.getLogger(__name__)

INTERPRETERS = ("masking", "saliency", "attribution")
CALLBACK_KEYS = ("_target_", "enabled", "fold", "out_dir")  # the callback's, not the options'


def interpretation_sections(cfg: DictConfig) -> dict[str, dict]:
    """name -> settings of every enabled interpreter in ``cfg.interpret``."""
    found = {}
    for name in INTERPRETERS:
        section = OmegaConf.select(cfg, f"interpret.{name}")
        if not isinstance(section, DictConfig) or not section.get("enabled", True):
            continue
        settings = OmegaConf.to_container(section, resolve=True)
        found[name] = {k: v for k, v in settings.items() if k not in CALLBACK_KEYS}
    if "saliency" in found:  # a single run was refused by validation; a mixed sweep goes on
        log.warning("%s", SALIENCY_REFUSED.replace("interpret.saliency: ", "skipped: "))
        del found["saliency"]
    return found


def interpret_comparator_job(
    cfg: DictConfig, pipeline, tc: TraitCohort, split: FoldSplit, out_dir: Path
) -> None:
    """Masking / native attribution of a fitted comparator (nothing when none is enabled)."""
    sections = interpretation_sections(cfg)
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
