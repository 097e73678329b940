"""``task=predict``: apply a trained sweep's fold models to a new cohort (external validation).

Every configuration of the trait in ``predict.sweep`` (same model, config hash and bootstrap
replicate; one bundle per fold) scores every patient of ``data.*``: the ensemble probability is
the mean of its fold models. The run dir gets

* ``predictions.csv``: per patient and configuration, the ensemble and each fold model's
  probability, whether a fold model saw the patient in training, and the label if there is one;
* ``coverage.json``: genes the models need that the file lacks (filled with the training mean),
  the cohort's shift against the training statistics, and the overlap with the training cohort;
* with labels: ``external_metrics.json`` (AUROC/AP with bootstrap CIs, Brier, calibration bins,
  ECE and calibration line with ``calibration_summary``, the verdict in words computed from it,
  for all labelled patients and for those unseen in training) and a ROC and reliability plot
  each.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from radiogenomics.data.cohort import Cohort, load_cohort, trait_cohort
from radiogenomics.data.traits import TraitSpec
from radiogenomics.errors import DataError
from radiogenomics.evaluation.metrics import (
    as_prob_matrix,
    distribution_shift,
    prediction_arrays,
    validation_scores,
)
from radiogenomics.evaluation.ordinal import ordinal_record
from radiogenomics.evaluation.regression import external_regression_scores
from radiogenomics.figures.plots import calibration_plot, roc_plot
from radiogenomics.models.bundle import BundleError, ModelBundle, load_bundle, read_manifest
from radiogenomics.report.captions import calibration_caption
from radiogenomics.results import layout
from radiogenomics.results.sweep import GROUP_KEYS, model_dirs
from radiogenomics.tasks.validation import refuse_overlap
from radiogenomics.utils import write_csv, write_json

log = logging.getLogger(__name__)

# cohort shift: a log2 vs linear mix-up moves the typical gene by tens of training sds and
# scales its sd by more than 10x; a cohort drawn like the training one stays near 0 and 1
MAX_STANDARDIZED_MEAN = 1.0  # median |mean_new - mean_train| / sd_train
SD_RATIO_RANGE = (0.5, 2.0)  # median sd_new / sd_train
IN_SAMPLE = "in-sample scores must never pass silently as external validation"
FILLED_WITH = "the training mean of the fold model's fit patients (standardised value 0)"


@dataclasses.dataclass
class Configuration:
    """One trained setting of the trait: its key (GROUP_KEYS) and its fold models' bundle dirs."""

    key: dict
    spec: TraitSpec  # the trait as the models were trained for it (their class order)
    dirs: list[Path]
    folds: list[str]

    @property
    def name(self) -> str:
        """``<trait>_<model>_<hash>[_b<replicate>]``."""
        return layout.config_stem(self.key)


def run_predict(cfg: DictConfig) -> dict:
    """Predict the new cohort with every configuration of ``cfg.trait`` in ``predict.sweep``."""
    out_dir = Path(cfg.paths.output_dir)
    configs = find_configurations(cfg.predict.get("sweep"), str(cfg.trait.name))
    refuse_overlap("predict", "predict.sweep", cfg.predict.sweep, out_dir)
    spec = _spec(configs)
    cohort = load_cohort(cfg.data, cfg.paths.cache_dir)
    labels = external_labels(cfg, cohort, spec)
    max_missing = float(cfg.predict.max_missing_fraction)
    frames, coverage, shift = [], {}, {}
    for config in configs:  # one configuration's models in memory at a time
        bundles = [load_bundle(d) for d in config.dirs]
        coverage[config.name] = gene_coverage(config, bundles, cohort, max_missing)
        shift[config.name] = cohort_shift(bundles, cohort.expression)
        frames.append(predict_configuration(config, bundles, cohort.expression))
    predictions = pd.concat(frames, ignore_index=True)
    if labels is not None:
        true = predictions["patient_id"].map(labels)  # a continuous trait keeps its floats
        predictions["y_true"] = true if spec.is_continuous else true.astype("Int64")
    write_csv(out_dir / layout.PREDICTIONS, predictions)
    overlap = {c.name: overlap_record(c, predictions) for c in configs}
    report = coverage_report(cfg, cohort, coverage, shift, overlap)
    write_json(out_dir / layout.COVERAGE_REPORT, report)
    log_coverage(report, cohort.expression_file)
    metrics = None
    if labels is not None:
        metrics = external_metrics(cfg, configs, predictions, spec, out_dir)
        write_json(out_dir / layout.EXTERNAL_METRICS, metrics)
    log.info(
        "predictions for %d patient(s) x %d configuration(s) written to %s",
        len(cohort.expression),
        len(configs),
        out_dir,
    )
    return {"output_dir": str(out_dir), "coverage": report, "metrics": metrics}


# -------------------------------------------------------------------- the sweep's models


def find_configurations(sweep: str | None, trait: str) -> list[Configuration]:
    """The trait's configurations under ``sweep``, from the bundles' manifests (no weights read)."""
    if not sweep:
        raise DataError(
            "predict.sweep is not set: point it at a sweep dir, a refit run dir or one model "
            "bundle dir, e.g. task=predict predict.sweep=outputs/finetune/multiruns/<date>"
        )
    path = Path(str(sweep)).expanduser()
    if not path.is_dir():
        raise DataError(f"predict.sweep={path}: no such directory")
    dirs = model_dirs(path)
    if not dirs:
        raise DataError(
            f"predict.sweep={path}: no model bundle ({layout.MODEL_DIR}/"
            f"{layout.BUNDLE_MANIFEST}) under it; jobs write one unless run with save_model=false"
        )
    grouped: dict[tuple, Configuration] = {}
    traits = set()
    for d in dirs:
        key, fold, spec = _read_manifest(d)
        traits.add(key["trait"])
        if key["trait"] == trait:
            config = grouped.setdefault(tuple(key.values()), Configuration(key, spec, [], []))
            config.dirs.append(d)
            config.folds.append(fold)
    if not grouped:
        raise DataError(
            f"predict.sweep={path}: no model for trait {trait!r}; its models are for "
            f"{sorted(traits)}: choose one with trait=<name>"
        )
    configs = [grouped[k] for k in sorted(grouped, key=str)]
    for config in configs:
        if len(set(config.folds)) < len(config.folds):  # e.g. two copies of one sweep
            config.folds = [str(i) for i in range(len(config.folds))]
    return configs


def _read_manifest(directory: Path) -> tuple[dict, str, TraitSpec]:
    """(configuration key, fold label, trait) of a bundle, from its manifest."""
    manifest = read_manifest(directory)  # the schema: names a tampered field
    try:
        metrics, job = manifest.get("metrics") or {}, manifest.get("job") or {}
        key = {
            "trait": str(manifest["trait"]["name"]),
            "model": str(manifest["model_name"]),
            "config_hash": str(manifest.get("config_hash") or metrics.get("config_hash")),
            "bootstrap": job.get("bootstrap", metrics.get("bootstrap")),
        }
        spec = TraitSpec.from_config(manifest["trait"])
    except (AttributeError, KeyError, TypeError, ValueError):
        raise BundleError(f"{directory / layout.BUNDLE_MANIFEST}: not a model manifest") from None
    key["bootstrap"] = "none" if key["bootstrap"] is None else key["bootstrap"]
    if manifest.get("refit"):  # a final model on all patients: its own configuration
        key["config_hash"] += "-refit"
        return key, "all", spec
    fold = job.get("fold", metrics.get("fold"))
    return key, "0" if fold is None else str(fold), spec


def _spec(configs: list[Configuration]) -> TraitSpec:
    """The trait as the models were trained for it; all configurations must agree on it."""
    if len({(c.spec.column, tuple(c.spec.class_names)) for c in configs}) > 1:
        raise DataError(
            f"the models of trait {configs[0].key['trait']!r} disagree on its column or classes: "
            + "; ".join(f"{c.name}: {c.spec.column} {c.spec.class_names}" for c in configs)
        )
    return configs[0].spec


# ----------------------------------------------------------------------------- coverage


def gene_coverage(
    config: Configuration, bundles: list[ModelBundle], cohort: Cohort, max_missing: float
) -> dict:
    """Genes the configuration's models need that the file lacks; refuse too many missing."""
    needed = list(dict.fromkeys(g for b in bundles for g in b.genes))
    present = set(cohort.expression.columns)
    missing = [g for g in needed if g not in present]
    _refuse_missing(config, cohort, needed, missing, max_missing)
    shares = [b.weight_share(missing) for b in bundles]
    return {
        **config.key,
        "n_genes": len(needed),
        "n_missing": len(missing),
        "missing_fraction": len(missing) / len(needed),
        "weight_share_missing": None if None in shares else float(np.mean(shares)),
        "weight_share_missing_per_model": dict(zip(config.folds, shares, strict=True)),
        "missing_genes": missing,
    }


def _refuse_missing(
    config: Configuration, cohort: Cohort, needed: list, missing: list, max_missing: float
) -> None:
    source = cohort.expression_file
    if len(missing) == len(needed):
        raise DataError(
            f"{source}: none of the {len(needed)} genes the {config.name} models need is in the "
            f"file (model genes e.g. {needed[:3]}, file columns e.g. "
            f"{list(cohort.expression.columns[:3])}); expected gene symbols of the same platform"
        )
    if len(missing) > max_missing * len(needed):
        raise DataError(
            f"{source}: {len(missing)} of the {len(needed)} genes the {config.name} models need "
            f"({len(missing) / len(needed):.1%}) are missing, more than "
            f"predict.max_missing_fraction={max_missing} allows (e.g. {missing[:5]}); check the "
            "gene symbols and platform, or raise predict.max_missing_fraction"
        )


def cohort_shift(bundles: list[ModelBundle], expression: pd.DataFrame) -> dict:
    """The new cohort's per-gene shift against each fold model's training statistics (median)."""
    X, per_model = expression.to_numpy(np.float32), []
    for b in bundles:
        index = pd.Index(b.genes).get_indexer(expression.columns)
        keep = index >= 0
        per_model.append(distribution_shift(X[:, keep], b.mean[index[keep]], b.std[index[keep]]))
    shift = {
        key: _median([m[key] for m in per_model])
        for key in ("median_abs_standardized_mean", "median_sd_ratio")
    }
    return {**shift, "n_genes": per_model[0]["n_genes"], "warning": shift_warning(shift)}


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def _median(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.median(values)) if values else None


def shift_warning(shift: dict) -> str | None:
    """Why the cohort looks differently scaled than the training data, or None."""
    z, ratio = shift["median_abs_standardized_mean"], shift["median_sd_ratio"]
    low, high = SD_RATIO_RANGE
    if (z is None or z <= MAX_STANDARDIZED_MEAN) and (ratio is None or low <= ratio <= high):
        return None
    return (
        f"median |standardized mean| {z:.3g} (same distribution: about 0, warn above "
        f"{MAX_STANDARDIZED_MEAN}), median sd ratio "
        f"{_fmt(ratio)} (same distribution: about 1, warn outside "
        f"{low}-{high}): a different scale (linear vs log2 values?), platform or normalisation; "
        "the models' inputs are off their training range and their predictions may be meaningless"
    )


# --------------------------------------------------------------------------- prediction


def predict_configuration(
    config: Configuration, bundles: list[ModelBundle], expression: pd.DataFrame
) -> pd.DataFrame:
    """Per patient: ensemble and fold-model probabilities, and which fold models saw it."""
    patients = [str(p) for p in expression.index]
    classes = bundles[0].class_names
    probs = [_finite(b, b.predict_proba(b.align(expression)[0]), patients) for b in bundles]
    seen = np.column_stack([b.seen_in_training(patients) for b in bundles])
    columns = _prob_columns(np.mean(probs, axis=0), classes, "")
    for fold, p in zip(config.folds, probs, strict=True):
        columns.update(_prob_columns(p, classes, f"_fold{fold}"))
    frame = pd.DataFrame({"patient_id": patients, **config.key, **columns})
    frame["n_models_seen"] = seen.sum(axis=1)
    frame["seen_in_training"] = seen.any(axis=1)
    return frame


def _finite(bundle: ModelBundle, probs: np.ndarray, patients: list[str]) -> np.ndarray:
    """A model's probabilities, or a BundleError: a NaN probability is never written."""
    bad = ~np.isfinite(np.asarray(probs, dtype=float))
    if bad.any():
        rows = np.flatnonzero(bad.reshape(len(patients), -1).any(axis=1))
        raise BundleError(
            f"{bundle.path}: probabilities are not finite for {len(rows)} of {len(patients)} "
            f"patient(s) (e.g. {patients[rows[0]]}); nothing was written: check the bundle's "
            "weights and preprocessing, and the patient's expression values"
        )
    return probs


def _prob_columns(probs: np.ndarray, classes: list[str], suffix: str) -> dict[str, np.ndarray]:
    """``y_prob<suffix>`` (binary), ``prob_<class><suffix>`` (multiclass) or ``y_pred<suffix>``
    (continuous: no classes), as finetune writes."""
    if not classes:
        return {f"y_pred{suffix}": np.asarray(probs, dtype=float)}
    if len(classes) == 2:
        return {f"y_prob{suffix}": np.asarray(probs, dtype=float)}
    P = as_prob_matrix(probs)
    return {f"prob_{c}{suffix}": P[:, k] for k, c in enumerate(classes)}


def external_labels(cfg: DictConfig, cohort: Cohort, spec: TraitSpec) -> pd.Series | None:
    """Class index per labelled patient (the normal readers), or None when no labels are given."""
    if spec.column not in cohort.labels.columns and not cfg.data.get("traits_file"):
        log.info(
            "no %r column in the label files: predictions only, nothing is scored", spec.column
        )
        return None
    if spec.permute_labels:
        log.warning(
            "the models of trait %s were trained on permuted labels (a null control)", spec.name
        )
    tc = trait_cohort(cohort, dataclasses.replace(spec, permute_labels=False))
    return pd.Series(tc.y, index=tc.patient_ids)


# -------------------------------------------------------------------- overlap and report


def overlap_record(config: Configuration, predictions: pd.DataFrame) -> dict:
    """Patients of the new file that a fold model of ``config`` was trained on."""
    rows = predictions[_rows_of(predictions, config)]
    seen = rows[rows["seen_in_training"]]
    return {
        "n_patients": len(rows),
        "n_seen_in_training": len(seen),
        "n_models": len(config.dirs),
        "seen_patients": dict(
            zip(seen["patient_id"], seen["n_models_seen"].astype(int), strict=True)
        ),
    }


def _rows_of(predictions: pd.DataFrame, config: Configuration) -> pd.Series:
    return (predictions[GROUP_KEYS].astype(str) == pd.Series(config.key).astype(str)).all(axis=1)


def coverage_report(
    cfg: DictConfig, cohort: Cohort, coverage: dict, shift: dict, overlap: dict
) -> dict:
    """coverage.json: missing genes, cohort shift and training overlap per configuration."""
    missing = sorted({g for c in coverage.values() for g in c["missing_genes"]})
    return {
        "sweep": str(cfg.predict.sweep),
        "trait": str(cfg.trait.name),
        "expression_file": str(cohort.expression_file),
        "n_patients": len(cohort.expression),
        "n_genes_in_file": int(cohort.expression.shape[1]),
        "max_missing_fraction": float(cfg.predict.max_missing_fraction),
        "missing_genes": {"n": len(missing), "genes": missing, "filled_with": FILLED_WITH},
        "shift_thresholds": {
            "max_median_abs_standardized_mean": MAX_STANDARDIZED_MEAN,
            "median_sd_ratio_range": list(SD_RATIO_RANGE),
        },
        "configurations": {
            name: {**coverage[name], "shift": shift[name], "overlap": overlap[name]}
            for name in coverage
        },
    }


def log_coverage(report: dict, source: Path) -> None:
    """The coverage report in a few log lines; the shift and the overlap as warnings."""
    for name, c in report["configurations"].items():
        filled = ""
        if c["n_missing"]:
            share = c["weight_share_missing"]
            filled = ", filled with the training mean" + (
                "" if share is None else f", carrying {share:.1%} of the first layer's weights"
            )
        log.info(
            "%s: %d of %d genes missing from %s (%.1f%%)%s; shift against training: median "
            "|standardized mean| %s, median sd ratio %s",
            name,
            c["n_missing"],
            c["n_genes"],
            source,
            100 * c["missing_fraction"],
            filled,
            _fmt(c["shift"]["median_abs_standardized_mean"]),
            _fmt(c["shift"]["median_sd_ratio"]),
        )
        if c["missing_genes"]:
            log.info("%s: missing genes e.g. %s", name, ", ".join(c["missing_genes"][:10]))
        if c["shift"]["warning"]:
            log.warning(
                "%s looks shifted against the training data of %s: %s",
                source,
                name,
                c["shift"]["warning"],
            )
        seen = c["overlap"]["n_seen_in_training"]
        if seen:
            log.warning(
                "%d of %d patients of %s were in the training cohort of %s (flagged "
                "seen_in_training, n_models_seen of %d fold models): %s; metrics are reported "
                "for all labelled patients and for the unseen only (unseen_only)",
                seen,
                c["overlap"]["n_patients"],
                source,
                name,
                c["overlap"]["n_models"],
                IN_SAMPLE,
            )


# -------------------------------------------------------------------------------- scores


def external_metrics(
    cfg: DictConfig,
    configs: list[Configuration],
    predictions: pd.DataFrame,
    spec: TraitSpec,
    out_dir: Path,
) -> dict:
    """external_metrics.json: per configuration, scores of all and of unseen labelled patients."""
    scored = [score_configuration(cfg, c, predictions, spec, out_dir) for c in configs]
    return {
        "trait": spec.name,
        "classes": spec.class_names,
        "sweep": str(cfg.predict.sweep),
        "n_boot": int(cfg.predict.n_boot),
        "calibration_bins": int(cfg.predict.calibration_bins),
        "ensemble": "mean of the configuration's fold models' probabilities",
        "configurations": scored,
    }


def score_configuration(
    cfg: DictConfig, config: Configuration, predictions: pd.DataFrame, spec: TraitSpec, out: Path
) -> dict:
    """All and unseen-only scores of one configuration, with its ROC and reliability plots."""
    rows = predictions[_rows_of(predictions, config) & predictions["y_true"].notna()]
    y, probs = prediction_arrays(rows, spec.class_names)
    unseen = ~rows["seen_in_training"].to_numpy(bool)
    if spec.is_continuous:  # R², Spearman, MAE (evaluation/regression.py)
        return continuous_configuration(config, y, probs, unseen, int(cfg.predict.n_boot))
    y = y.astype(int)
    kwargs = {"n_boot": int(cfg.predict.n_boot), "n_bins": int(cfg.predict.calibration_bins)}
    result = {
        **config.key,
        "n_labelled": len(rows),
        "n_seen_in_training": int((~unseen).sum()),
        "all": scores_with_words(y, probs, spec.class_names, **kwargs),
        "unseen_only": scores_with_words(y[unseen], probs[unseen], spec.class_names, **kwargs),
    }
    if spec.is_ordinal:  # the ordinal metrics beside the per-level ones
        for part, keep in (("all", np.ones(len(y), bool)), ("unseen_only", unseen)):
            result[part]["ordinal"] = ordinal_record(y[keep], probs[keep], spec.binary_cut)
    if (~unseen).any():
        result["warning"] = (
            f"{int((~unseen).sum())} labelled patient(s) seen in training: {IN_SAMPLE}"
        )
    if len(y):
        plot_configuration(config, y, probs, unseen, spec, out, kwargs["n_bins"])
    _log_scores(config, result)
    return result


def continuous_configuration(
    config: Configuration, y: np.ndarray, pred: np.ndarray, unseen: np.ndarray, n_boot: int
) -> dict:
    """A continuous trait's external scores: all and unseen-only R², Spearman, MAE with CIs."""
    result = {
        **config.key,
        "n_labelled": len(y),
        "n_seen_in_training": int((~unseen).sum()),
        "all": external_regression_scores(y, pred, n_boot),
        "unseen_only": external_regression_scores(y[unseen], pred[unseen], n_boot),
    }
    if (~unseen).any():
        result["warning"] = (
            f"{int((~unseen).sum())} labelled patient(s) seen in training: {IN_SAMPLE}"
        )
    for part in ("all", "unseen_only"):
        s = result[part]
        log.info(
            "%s, %s: n=%d, R² %s, Spearman %s, MAE %s",
            config.name,
            part,
            s["n"],
            _fmt(s["r2"]),
            _fmt(s["spearman"]),
            _fmt(s["mae"]),
        )
    return result


def scores_with_words(y: np.ndarray, probs: np.ndarray, classes: list[str], **kwargs) -> dict:
    """:func:`validation_scores` plus ``calibration_summary``: what the reliability diagram shows,
    in words computed from its calibration line(s) and ECE (over- or under-confident, well
    calibrated, ...)."""
    scores = validation_scores(y, probs, classes, **kwargs)
    if "per_class" in scores:
        lines = [
            (name, c["calibration_line"], c["calibration_error"])
            for name, c in scores["per_class"].items()
        ]
    else:
        lines = [("", scores["calibration_line"], scores["calibration_error"])]
    scores["calibration_summary"] = calibration_caption(lines)
    return scores


def plot_configuration(
    config: Configuration,
    y: np.ndarray,
    probs: np.ndarray,
    unseen: np.ndarray,
    spec: TraitSpec,
    out: Path,
    n_bins: int,
) -> None:
    """ROC and reliability plots of the unseen patients (of all, flagged, if every one was seen)."""
    part = unseen if unseen.any() else np.ones(len(y), bool)
    who = "unseen in training" if unseen.any() else "ALL SEEN IN TRAINING (in-sample)"
    title = f"{config.name}\n{who}, n={int(part.sum())}"
    classes = spec.class_names
    roc_plot(out / layout.roc_plot(config.key), y[part], probs[part], classes, title)
    calibration_plot(
        out / layout.calibration_plot(config.key), y[part], probs[part], classes, title, n_bins
    )


def _log_scores(config: Configuration, result: dict) -> None:
    for part in ("all", "unseen_only"):
        s = result[part]
        if s["auroc"] is None:
            log.info("%s, %s: n=%d, AUROC undefined", config.name, part, s["n"])
            continue
        log.info(
            "%s, %s: n=%d, AUROC %.3f [%.3f, %.3f], AP %.3f [%.3f, %.3f], Brier %.3f. %s",
            config.name,
            part,
            s["n"],
            s["auroc"],
            *s["auroc_ci"],
            s["ap"],
            *s["ap_ci"],
            s["brier"],
            s["calibration_summary"],
        )
