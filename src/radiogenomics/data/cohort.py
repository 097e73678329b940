"""Cohorts: join expression with labels, build one trait's patients, and the autoencoder cohort."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from radiogenomics.data.io import DataError, read_expression, read_label_table
from radiogenomics.data.synthetic import SyntheticConfig, ensure_synthetic
from radiogenomics.data.traits import TraitSpec, class_counts, encode_labels, permute
from radiogenomics.utils import file_digest

log = logging.getLogger(__name__)


@dataclass
class Cohort:
    """Every patient's expression and every label column, as read from the data files."""

    expression: pd.DataFrame  # patients x genes, float32
    labels: pd.DataFrame  # patients x label columns, raw category strings
    expression_file: Path
    label_files: list[Path]
    digest: str  # identifies the expression data (for caches)

    @property
    def genes(self) -> list[str]:
        """Gene symbols in column order."""
        return list(self.expression.columns)


@dataclass
class TraitCohort:
    """The patients with expression and a usable label for one trait, as arrays."""

    X: np.ndarray  # patients x genes, float32, unscaled
    y: np.ndarray  # int64 class index
    patient_ids: list[str]
    genes: list[str]
    spec: TraitSpec
    report: dict = field(default_factory=dict)


def data_files(data_cfg: Mapping, cache_dir: str | Path) -> tuple[Path, list[Path]]:
    """Resolve (expression file, label files) from the data config, generating synthetic data if asked."""
    if data_cfg.get("synthetic"):
        files = ensure_synthetic(SyntheticConfig.from_config(data_cfg["synthetic"]), cache_dir)
        return files.expression, [files.vasari, files.subtypes]
    if not data_cfg.get("expression_file"):
        raise DataError("data.expression_file is not set: point it at your expression matrix")
    labels = data_cfg.get("label_files") or []
    return Path(data_cfg["expression_file"]), [Path(p) for p in labels]


def load_cohort(data_cfg: Mapping, cache_dir: str | Path) -> Cohort:
    """Read the expression matrix and all label tables named by the data config."""
    expression_file, label_files = data_files(data_cfg, cache_dir)
    expression = read_expression(expression_file, data_cfg.get("orientation", "auto"))
    tables = [read_label_table(p) for p in label_files]
    labels = pd.DataFrame(index=pd.Index([], name="patient_id"))
    for path, table in zip(label_files, tables, strict=True):
        clash = labels.columns.intersection(table.columns)
        if len(clash):
            raise DataError(
                f"{path}: label column(s) {list(clash)} also appear in an earlier label file"
            )
        labels = labels.join(table, how="outer")
    return Cohort(
        expression=expression,
        labels=labels,
        expression_file=expression_file,
        label_files=label_files,
        digest=file_digest(expression_file),
    )


def labelled_patients(cohort: Cohort) -> set[str]:
    """Patients with at least one non-missing label in any label file."""
    return set(cohort.labels.index[cohort.labels.notna().any(axis=1)])


def pretrain_patients(cohort: Cohort) -> list[str]:
    """Autoencoder cohort: expression patients with no label at all (as in the paper)."""
    labelled = labelled_patients(cohort)
    return [p for p in cohort.expression.index if p not in labelled]


def trait_cohort(cohort: Cohort, spec: TraitSpec) -> TraitCohort:
    """Patients with expression and a mapped label for ``spec``; labels permuted if asked."""
    source = ", ".join(str(p) for p in cohort.label_files) or "label files"
    if spec.column not in cohort.labels.columns:
        raise DataError(
            f"{source}: trait {spec.name!r} needs column {spec.column!r}, which is missing; "
            f"columns present: {list(cohort.labels.columns)}"
        )
    column = cohort.labels[spec.column]
    column = column[column.notna()]
    encoded = encode_labels(column, spec, source=source)
    shared = [p for p in encoded.labels.index if p in cohort.expression.index]
    if not shared:
        raise DataError(
            f"no patient has both expression ({cohort.expression_file}) and a {spec.name!r} label "
            f"({source}); example ids: expression {list(cohort.expression.index[:3])}, "
            f"labels {list(encoded.labels.index[:3])}"
        )
    labels = encoded.labels.loc[shared]
    if spec.permute_labels:
        labels = permute(labels, spec.permute_seed)
    y = labels.to_numpy(np.int64)
    if len(np.unique(y)) < 2:
        raise DataError(
            f"{source}: trait {spec.name!r} has only class {spec.class_names[int(y[0])]!r} left "
            f"after dropping {encoded.dropped}; nothing to classify"
        )
    report = {
        "trait": spec.name,
        "column": spec.column,
        "n_patients": len(shared),
        "class_counts": class_counts(y, spec),
        "dropped_values": encoded.dropped,
        "labelled_without_expression": int(len(encoded.labels) - len(shared)),
        "n_genes": int(cohort.expression.shape[1]),
        "permuted_labels": spec.permute_labels,
    }
    return TraitCohort(
        X=cohort.expression.loc[shared].to_numpy(np.float32),
        y=y,
        patient_ids=shared,
        genes=cohort.genes,
        spec=spec,
        report=report,
    )
