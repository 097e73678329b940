"""A comparator job's interpretation: its patients as the table writers want them, and its
native-attribution tables.

:func:`comparator_patients` gives the datamodule-like object that
:func:`~radiogenomics.interpret.masking_tables.write_masking` reads (``x[part]`` standardised
with the comparator's own in-fold scaler, so 0 is the fit patients' mean as for the network);
:func:`write_comparator_masking` masks a comparator through
:func:`~radiogenomics.interpret.comparators.comparator_masker`, in training
(``tasks/comparator_interpret``) and in ``task=interpret`` alike; :func:`write_attribution` writes
its native attribution under ``<out_dir>/attribution/`` (names from
:mod:`radiogenomics.results.layout`):

* ``genes.csv``: gene, rank, importance (the family's headline: mean |TreeSHAP| for xgboost,
  |coefficient| for linear models, the held-out permutation AUROC drop for the forest), the
  family's own columns (``coef``, ``mean_contribution``, ``impurity``, ``permutation_sd``...),
  ``method`` and ``part``;
* ``attributions.parquet`` (xgboost and linear models): per-patient attributions, rows (gene,
  class), one column per patient, as the network's saliency writes them;
* ``patients.csv``: patient_id, part, fold, y_true.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from radiogenomics.interpret.comparators import (
    check_masker,
    comparator_masker,
    native_attribution,
    standardize,
)
from radiogenomics.interpret.masking_tables import MaskingOptions, unique_patients, write_masking
from radiogenomics.interpret.saliency_tables import attribution_frame
from radiogenomics.results import layout
from radiogenomics.utils import write_csv, write_parquet

log = logging.getLogger(__name__)

PARTS = ("test", "fit")


@dataclass(frozen=True)
class AttributionOptions:
    """Settings of native attribution (``configs/interpret/attribution.yaml``)."""

    parts: Sequence[str]
    permutation_repeats: int
    seed: int

    @property
    def uses_gene_sets(self) -> bool:
        """Native attribution reads no gene-set collection."""
        return False

    def __post_init__(self) -> None:
        if not self.parts or not set(self.parts) <= set(PARTS):
            raise ValueError(f"parts={list(self.parts)}: choose from {list(PARTS)}")
        if self.permutation_repeats < 1:
            raise ValueError(f"permutation_repeats={self.permutation_repeats}: must be >= 1")


@dataclass
class ComparatorPatients:
    """Datamodule-like patients of a comparator job (``x``/``y``/``patient_ids`` per part)."""

    x: dict[str, torch.Tensor]
    y: dict[str, torch.Tensor]
    patient_ids: dict[str, list[str]]
    genes: list[str]
    class_names: list[str]
    kind: str = "categorical"  # the trait's: masking scores ordinal / continuous traits by it


def comparator_patients(
    pipeline,
    X: np.ndarray,
    y: np.ndarray,
    parts: Mapping[str, np.ndarray],
    patient_ids: Sequence[str],
    genes: Sequence[str],
    class_names: Sequence[str],
    kind: str = "categorical",
) -> ComparatorPatients:
    """Rows ``parts[part]`` of raw ``X`` standardised by the pipeline's own scaler (float64).

    ``y`` is kept as class (level) indices, or as floats for a continuous ``kind``.
    """
    dtype = np.float64 if kind == "continuous" else np.int64

    def scaled(idx: np.ndarray) -> torch.Tensor:
        if not len(idx):  # an empty part (task=interpret on new data has no fit patients)
            return torch.zeros((0, X.shape[1]), dtype=torch.float64)
        return torch.from_numpy(standardize(pipeline, X[idx]))

    return ComparatorPatients(
        x={p: scaled(idx) for p, idx in parts.items()},
        y={p: torch.from_numpy(np.asarray(y)[idx].astype(dtype)) for p, idx in parts.items()},
        patient_ids={p: [str(patient_ids[i]) for i in idx] for p, idx in parts.items()},
        genes=list(genes),
        class_names=list(class_names),
        kind=kind,
    )


def write_comparator_masking(
    pipeline,
    patients: ComparatorPatients,
    options: MaskingOptions,
    fold: int | None = None,
    out_dir: str | Path = ".",
) -> Path:
    """Gene masking of a fitted comparator: the network's tables, through its masker."""
    masker = comparator_masker(pipeline)
    check_masker(masker, patients.x["test"].numpy())
    return write_masking(masker, patients, options, None, fold, out_dir)


def write_attribution(
    pipeline,
    patients: ComparatorPatients,
    options: AttributionOptions,
    fold: int | None = None,
    out_dir: str | Path = ".",
) -> Path | None:
    """The comparator's native attribution tables (module docstring); None: masking only."""
    folder = Path(out_dir) / layout.ATTRIBUTION_DIR
    shutil.rmtree(folder, ignore_errors=True)
    genes_frames, frames, who = [], [], []
    for part in options.parts:
        x, y, ids = unique_patients(
            patients.x[part], patients.y[part].cpu().numpy(), patients.patient_ids[part]
        )
        z = x.numpy().astype(np.float64)
        found = native_attribution(
            pipeline,
            z,
            y,
            patients.genes,
            patients.class_names,
            options.permutation_repeats,
            options.seed,
        )
        if found is None:
            log.info("native attribution: none for this comparator (masking only)")
            return None
        genes_frames.append(found.genes.assign(method=found.method, part=part))
        who.append(pd.DataFrame({"patient_id": ids, "part": part, "fold": fold, "y_true": y}))
        if found.per_patient is not None:
            frames.append(
                attribution_frame(found.per_patient, patients.genes, found.outputs, ids).set_index(
                    ["gene", "class"]
                )
            )
    folder.mkdir(parents=True, exist_ok=True)
    write_csv(folder / layout.ATTRIBUTION_GENES, pd.concat(genes_frames, ignore_index=True))
    write_csv(folder / layout.PATIENTS, pd.concat(who, ignore_index=True))
    if frames:
        write_parquet(folder / layout.ATTRIBUTIONS, pd.concat(frames, axis=1).reset_index())
    log.info("native attribution (%s) written to %s", genes_frames[0]["method"].iloc[0], folder)
    return folder
