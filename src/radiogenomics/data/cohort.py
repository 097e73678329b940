"""Cohorts: join expression with labels, build one trait's patients, and the autoencoder cohort."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from radiogenomics.data.files import file_problem
from radiogenomics.data.io import (
    ExpressionData,
    patient_id,
    read_expression_data,
    read_label_table,
    resolve_path,
)
from radiogenomics.data.synthetic import SyntheticConfig, ensure_synthetic
from radiogenomics.data.traits import (
    TraitSpec,
    class_counts,
    encode_labels,
    permute,
    resolve_spec,
)
from radiogenomics.errors import DataError
from radiogenomics.utils import file_digest, stable_hash

log = logging.getLogger(__name__)


@dataclass
class Cohort:
    """Every patient's expression and every label column, as read from the data files."""

    expression: pd.DataFrame  # patients x genes, float32
    labels: pd.DataFrame  # patients x label columns, raw category strings
    expression_file: Path
    label_files: list[Path]
    digest: str  # identifies the expression data (for caches)
    report: dict = field(default_factory=dict)  # what was read, kept and dropped (cohort.json)
    pretrain_patients: list[str] = field(default_factory=list)  # expression only, no label
    clinical_file: Path | None = None  # the clinical table that goes with the data (survival)

    @property
    def genes(self) -> list[str]:
        """Gene symbols in column order."""
        return list(self.expression.columns)


@dataclass
class TraitCohort:
    """The patients with expression and a usable label for one trait, as arrays."""

    X: np.ndarray  # patients x genes, float32, unscaled
    y: np.ndarray  # int64 class (or ordinal level) index; float64 for a continuous trait
    patient_ids: list[str]
    genes: list[str]
    spec: TraitSpec
    report: dict = field(default_factory=dict)


def data_files(data_cfg: Mapping, cache_dir: str | Path) -> tuple[Path, list[Path]]:
    """Resolve (expression file, label files) from the data config, generating synthetic data if asked.

    Label files come from ``data.label_files`` (a list) and/or ``data.traits_file`` (one file);
    ``resource:<name>`` names a file shipped with the package.
    """
    if data_cfg.get("synthetic"):
        files = ensure_synthetic(SyntheticConfig.from_config(data_cfg["synthetic"]), cache_dir)
        return files.expression, [files.vasari, files.subtypes]
    if not data_cfg.get("expression_file"):
        raise DataError(
            "data.expression_file is not set: point it at your expression matrix, e.g. "
            "data=tcga_gbm data.expression_file=/path/to/expression.tsv.gz"
        )
    labels = list(data_cfg.get("label_files") or [])
    if data_cfg.get("traits_file"):
        labels.append(data_cfg["traits_file"])
    paths = [resolve_path(p) for p in [data_cfg["expression_file"], *labels]]
    problems = {p: file_problem(p) for p in paths}
    missing = [str(p) for p, problem in problems.items() if problem == "file not found"]
    for p, problem in problems.items():  # a FIFO, a device, an unreadable file
        if problem is not None and problem != "file not found":
            raise DataError(f"{p}: {problem}")
    if missing:  # before reading anything: a typo should not cost a read of the big matrix
        raise DataError(f"file(s) not found: {', '.join(missing)}")
    return paths[0], paths[1:]


def clinical_file(data_cfg: Mapping, cache_dir: str | Path) -> Path | None:
    """The clinical patient table that goes with the data (survival), or None if there is none.

    Synthetic data carry their own (with a planted survival effect); real data name one in
    ``data.clinical_file`` (the shipped TCGA-GBM BCR table by default).
    """
    if data_cfg.get("synthetic"):
        return ensure_synthetic(
            SyntheticConfig.from_config(data_cfg["synthetic"]), cache_dir
        ).clinical
    if data_cfg.get("clinical_file"):
        return resolve_path(data_cfg["clinical_file"])
    return None


def _read_expression(
    path: Path,
    data_cfg: Mapping,
    label_ids: Collection[str] = (),
    known_genes: Collection[str] = (),
) -> ExpressionData:
    """Read one expression file with the data config's reader options."""
    return read_expression_data(
        path,
        orientation=data_cfg.get("orientation", "auto"),
        format=data_cfg.get("format", "auto"),
        impute=data_cfg.get("impute"),
        sample_type=data_cfg.get("sample_type"),
        layer=data_cfg.get("layer"),
        var_names_column=data_cfg.get("var_names_column"),
        transform=data_cfg.get("transform"),
        label_ids=label_ids,
        known_genes=known_genes,
    )


def _add_pretrain_file(
    main: ExpressionData, path: Path, data_cfg: Mapping
) -> tuple[pd.DataFrame, dict]:
    """Append the patients of a separate pretraining file (genes: those both files share)."""
    extra = _read_expression(path, data_cfg, known_genes=main.expression.columns)
    genes = main.expression.columns.intersection(extra.expression.columns, sort=False)
    if len(genes) == 0:
        raise DataError(
            f"{path}: no gene symbol in common with {main.report['file']} (e.g. "
            f"{list(extra.expression.columns[:3])} vs {list(main.expression.columns[:3])}); "
            "expected the same gene-level platform"
        )
    new = extra.expression.index.difference(main.expression.index, sort=False)
    expression = pd.concat([main.expression[genes], extra.expression.loc[new, genes]])
    n_lost = main.expression.shape[1] - len(genes)
    if n_lost:
        log.warning("%d gene(s) of the expression file are not in %s: dropped", n_lost, path)
    report = {
        **extra.report,
        "patients_added": len(new),
        "patients_already_in_expression_file": int(len(extra.expression) - len(new)),
        "genes_not_in_pretrain_file": n_lost,
    }
    return expression, report


# the last cohort read in this process: sequential sweep jobs share it instead of re-reading
_LAST_COHORT: dict[tuple, Cohort] = {}


def load_cohort(data_cfg: Mapping, cache_dir: str | Path) -> Cohort:
    """Read the expression matrix and all label tables named by the data config.

    Jobs of a sweep that run in one process (the basic launcher) reuse the cohort read by the
    previous job when the data config and every file's size and modification time are unchanged.
    """
    expression_file, label_files = data_files(data_cfg, cache_dir)
    settings = (
        OmegaConf.to_container(data_cfg, resolve=True)
        if isinstance(data_cfg, DictConfig)
        else dict(data_cfg)
    )
    files = [expression_file, *label_files]
    if data_cfg.get("pretrain_expression_file"):
        files.append(resolve_path(data_cfg["pretrain_expression_file"]))
    key = (
        stable_hash(settings),
        *((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files),
    )
    if key not in _LAST_COHORT:
        _LAST_COHORT.clear()
        cohort = _read_cohort(data_cfg, expression_file, label_files)
        cohort.clinical_file = clinical_file(data_cfg, cache_dir)
        _LAST_COHORT[key] = cohort
    return _LAST_COHORT[key]


def _read_cohort(data_cfg: Mapping, expression_file: Path, label_files: list[Path]) -> Cohort:
    """Read and join the files of a cohort (see ``load_cohort``)."""
    tables = [(p, read_label_table(p)) for p in label_files]  # first: their ids orient the matrix
    label_ids = {str(i) for _, table in tables for i in table.index}
    main = _read_expression(expression_file, data_cfg, label_ids=label_ids)
    expression, digest = main.expression, file_digest(expression_file)
    report: dict = {"expression": main.report}
    if data_cfg.get("pretrain_expression_file"):
        pretrain_file = resolve_path(data_cfg["pretrain_expression_file"])
        expression, report["pretrain_expression"] = _add_pretrain_file(
            main, pretrain_file, data_cfg
        )
        digest = stable_hash([digest, file_digest(pretrain_file)], length=16)
    if main.labels is not None:  # e.g. the ClaNC840 subtype row
        tables.insert(0, (expression_file, main.labels))
        label_files = [expression_file, *label_files]
    labels = pd.DataFrame(index=pd.Index([], name="patient_id"))
    for path, table in tables:
        clash = labels.columns.intersection(table.columns)
        if len(clash):
            raise DataError(
                f"{path}: label column(s) {list(clash)} also appear in an earlier label file"
            )
        labels = labels.join(table, how="outer")
        report.setdefault("label_files", {})[str(path)] = {
            "n_patients": len(table),
            "n_without_expression": int((~table.index.isin(expression.index)).sum()),
            "columns": [str(c) for c in table.columns],
        }
    cohort = Cohort(
        expression=expression,
        labels=labels,
        expression_file=expression_file,
        label_files=label_files,
        digest=digest,
        report=report,
    )
    report["n_expression_patients"] = len(expression)
    report["n_genes"] = int(expression.shape[1])
    labelled = set(labels.index[labels.notna().any(axis=1)])
    # the autoencoder cohort: expression patients with no label at all (as in the paper)
    cohort.pretrain_patients = [p for p in expression.index if p not in labelled]
    report["n_labelled_patients"] = len(labelled)
    report["n_pretrain_patients"] = len(cohort.pretrain_patients)
    return cohort


def _check_continuous(y: np.ndarray, spec: TraitSpec, source: str, n_folds: int | None) -> None:
    """A continuous target needs spread and, with CV, at least n_folds patients."""
    if n_folds is not None and len(y) < n_folds:
        raise DataError(
            f"{source}: continuous trait {spec.name!r} has {len(y)} patients with expression, "
            f"fewer than n_folds={n_folds}"
        )
    if len(np.unique(y)) < 2:
        raise DataError(
            f"{source}: continuous trait {spec.name!r} has the single value {y[0]:g} for every "
            "patient with expression; nothing to predict"
        )


def _target_summary(y: np.ndarray) -> dict[str, float]:
    """Median and range of a continuous target (cohort.json)."""
    return {k: float(f(y)) for k, f in (("min", np.min), ("median", np.median), ("max", np.max))}


def trait_cohort(cohort: Cohort, spec: TraitSpec, n_folds: int | None = None) -> TraitCohort:
    """Patients with expression and a mapped label for ``spec``; labels permuted if asked.

    With ``n_folds``, every class must have at least that many patients (stratified CV).
    An unresolved spec (``trait=column``) gets its classes, or its median threshold, from the
    column's values over every labelled patient; the returned ``TraitCohort.spec`` is concrete.
    """
    source = ", ".join(str(p) for p in cohort.label_files) or "label files"
    if spec.column not in cohort.labels.columns:
        raise DataError(
            f"{source}: trait {spec.name!r} needs column {spec.column!r}, which is missing; "
            f"columns present: {list(cohort.labels.columns)}{_obs_note(cohort)}"
        )
    column = cohort.labels[spec.column]
    n_no_value = int(column.isna().sum())
    column = column[column.notna()]
    if column.empty:
        raise DataError(
            f"{source}: column {spec.column!r} (trait {spec.name!r}) is empty for all "
            f"{n_no_value} patients; expected category strings such as "
            f"{spec.allowed_values[:4]}: is it the right file or column?"
        )
    inferred = not spec.is_resolved
    try:
        spec = resolve_spec(column, spec, source=source)
        encoded = encode_labels(column, spec, source=source)
    except ValueError as err:  # unknown category: the message lists the allowed values
        raise DataError(str(err)) from None
    if inferred:
        log.info(
            "trait %s: classes inferred from column %r: %s%s",
            spec.name,
            spec.column,
            spec.class_names,
            f" (low < {spec.threshold:g} <= high, threshold over all {len(encoded.labels)} "
            "labelled patients)"
            if spec.threshold is not None
            else "",
        )
    shared = [p for p in encoded.labels.index if p in cohort.expression.index]
    no_expression = [p for p in encoded.labels.index if p not in cohort.expression.index]
    if encoded.labels.empty:
        raise DataError(
            f"{source}: every value of column {spec.column!r} is in the drop list of trait "
            f"{spec.name!r} ({encoded.dropped}); no patient is left to classify"
        )
    if not shared:
        raise DataError(
            f"no patient has both expression ({cohort.expression_file}) and a {spec.name!r} label "
            f"({source}); example ids: expression {list(cohort.expression.index[:3])}, "
            f"labels {list(encoded.labels.index[:3])}{_id_hint(cohort)}"
        )
    labels = encoded.labels.loc[shared]
    if spec.permute_labels:
        labels = permute(labels, spec.permute_seed)
    if spec.is_continuous:
        y = labels.to_numpy(np.float64)
        _check_continuous(y, spec, source, n_folds)
        counts = {}
    else:
        y = labels.to_numpy(np.int64)
        counts = class_counts(y, spec)
    if not spec.is_continuous and len(np.unique(y)) < 2:
        raise DataError(
            f"{source}: trait {spec.name!r} has only class {spec.class_names[int(y[0])]!r} left "
            f"after dropping {encoded.dropped}; nothing to classify"
        )
    if n_folds is not None and counts and min(counts.values()) < n_folds:
        small = {name: n for name, n in counts.items() if n < n_folds}
        what, merge = ("class(es)", "merge classes")
        if spec.is_ordinal:
            what, merge = ("level(s)", "merge neighbouring levels (one trait.levels entry)")
        raise DataError(
            f"{source}: trait {spec.name!r} has {what} {small} with fewer patients than "
            f"n_folds={n_folds} (counts {counts}); stratified CV needs at least n_folds "
            f"patients in each: lower n_folds or {merge}"
        )
    report = {
        "trait": spec.name,
        "column": spec.column,
        "n_patients": len(shared),
        "class_counts": counts,
        **({"kind": spec.kind} if spec.kind != "categorical" else {}),
        **({"target": _target_summary(y)} if spec.is_continuous else {}),
        "dropped_values": encoded.dropped,
        "labelled_without_expression": len(no_expression),
        "n_genes": int(cohort.expression.shape[1]),
        "permuted_labels": spec.permute_labels,
        **(
            {
                "threshold": {
                    "value": float(spec.threshold),
                    "rule": "low < threshold <= high",
                    "computed_on": "every labelled patient of the trait (not only those with "
                    "expression); it uses the label values only",
                }
            }
            if spec.threshold is not None
            else {}
        ),
        **({"classes_inferred": spec.class_names} if inferred else {}),
        "patients": {
            "expression": len(cohort.expression),
            "trait_cohort": len(shared),
            "pretrain_cohort": cohort.report.get("n_pretrain_patients"),
        },
        "patients_dropped": {
            "value dropped by the trait's drop list": int(sum(encoded.dropped.values())),
            "no value in the trait column": n_no_value,
            "label but no expression profile": len(no_expression),
        },
        "patients_without_expression": no_expression[:50],
        "data": cohort.report,
    }
    log.info(
        "cohort for trait %s: %d patients %s, %d genes; dropped: %s; %d expression-only patients "
        "for pretraining",
        spec.name,
        len(shared),
        counts,
        cohort.expression.shape[1],
        {k: v for k, v in report["patients_dropped"].items() if v} or "none",
        report["patients"]["pretrain_cohort"] or 0,
    )
    return TraitCohort(
        X=cohort.expression.loc[shared].to_numpy(np.float32),
        y=y,
        patient_ids=shared,
        genes=cohort.genes,
        spec=spec,
        report=report,
    )


def _obs_note(cohort: Cohort) -> str:
    """Where label columns of an .h5ad cohort come from (else '')."""
    if cohort.report.get("expression", {}).get("format") != "h5ad":
        return ""
    return f" (the obs columns of {cohort.expression_file} and of any data.label_files)"


def _id_hint(cohort: Cohort) -> str:
    """Why no label id matches an expression id, when the labels show it (else '')."""
    expression_ids = set(cohort.expression.index)
    for column in cohort.labels.columns:
        values = cohort.labels[column].dropna().astype(str).map(patient_id)
        if expression_ids.intersection(values):
            return (
                f". Column {column!r} holds expression ids: the patient id must be the first "
                "column of a label table"
            )
    prefixed = {f"TCGA-{i}".upper() for i in cohort.labels.index}
    if expression_ids.intersection(prefixed):
        return ". The label ids look like TCGA barcodes without the 'TCGA-' prefix"
    return ""
