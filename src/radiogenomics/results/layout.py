"""The output contract: the one place that names the files jobs write and sweeps read.

Every module that writes or reads a job's or a sweep's files takes the names from here, so a
file is renamed in one place and a reader can never disagree with its writer. A job directory is
Hydra's ``${hydra:runtime.output_dir}``; a sweep directory is ``hydra.sweep.dir``.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

# ------------------------------------------------------------- names from data in file names

_UNSAFE = re.compile(r"(?:[/\\]|\.{2,}|[\x00-\x1f\x7f-\x9f])+")  # separators, "..", control chars
SAFE_NAME_MAX = 48  # bytes of a name in a file name: a saliency plot's name holds five (<= 255)


def safe_name(name: object) -> str:
    """``name`` (a trait, column, class, model, collection or gene-set name) fit for a file name.

    Names come from data and configs (a label column named ``../../x``, a class ``a/b``), and
    every file name built from one goes through here, so no name can make a path outside the
    directory it is written to. A path-safe name is returned as it is (``enhancement``,
    ``hallmark``, ``Grade II``); otherwise path separators (``/``, ``\\``), runs of dots
    (``..``), NUL and other control characters become ``_``, leading dots and spaces go, and
    ``-<8 hex>`` of the original name's SHA-1 is appended, so that two names that clean up alike
    (``a/b``, ``a\\b``) still differ. A name longer than :data:`SAFE_NAME_MAX` bytes (UTF-8) is
    cut and given the hash too, so that a file name of several names stays under 255 bytes.
    ``*`` and the empty name pass unchanged (glob patterns and prefixes of the readers).
    """
    text = str(name)
    clean = _UNSAFE.sub("_", text).lstrip(". ")
    if clean == text and len(text.encode("utf-8", "surrogatepass")) <= SAFE_NAME_MAX:
        return text
    digest = hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    cut = clean.encode("utf-8", "surrogatepass")[: SAFE_NAME_MAX - 9]
    # safe again: safe_name(safe_name(x)) == safe_name(x), so a name read back finds its file
    return f"{cut.decode('utf-8', 'ignore').lstrip('. ')}-{digest}"


# ------------------------------------------------------------------------- a job's directory

METRICS = "metrics.json"  # written last: a job whose metrics.json exists is complete
PREDICTIONS = "predictions.csv"  # held-out patients' probabilities (also pooled in summary/)
COHORT = "cohort.json"  # patients, class counts, dropped values, data files
PRETRAIN_REPORT = "pretrain.json"  # task=pretrain: where the cached autoencoder is
SLOT_RECORD = "slot.json"  # hydra/launcher=gpus: the slot a job held, for auditing
HYDRA_OVERRIDES = Path(".hydra") / "overrides.yaml"  # a job's command-line overrides
HYDRA_CONFIG = Path(".hydra") / "config.yaml"  # a job's composed config (resolved by Hydra)

# the trained model's bundle (``<job>/model/``, see radiogenomics.models.bundle)
MODEL_DIR = "model"
BUNDLE_MANIFEST = "model.json"
BUNDLE_GENES = "gene_order.txt"
BUNDLE_PREPROCESSING = "preprocessing.npz"
BUNDLE_WEIGHTS = "weights.pt"
BUNDLE_ESTIMATOR = "estimator.skops"
BUNDLE_XGBOOST = "xgboost.json"
BUNDLE_TRAINING_PATIENTS = "training_patients.json"

# a multi-task job (``multitask=...``): one single-trait job dir per trait inside its own dir,
# read by every sweep reader as a job of that trait; the job's record is written last
MULTITASK_RECORD = "multitask.json"  # traits, their dirs, inner-validation AUROCs, config hash


def multitask_trait_dir(trait: str) -> str:
    """A multi-task job's sub-directory of one trait (a single-trait job dir)."""
    return f"trait={safe_name(trait)}"


# task=predict (its run dir): predictions.csv plus these
EXTERNAL_METRICS = "external_metrics.json"  # AUROC/AP with CIs, Brier, calibration (labels given)
COVERAGE_REPORT = "coverage.json"  # genes missing from the new file, cohort shift, overlap

# task=refit (its run dir): one bundle per configuration under <config stem>/model/
REFIT_REPORT = "refit.json"

# task=interpret (its run dir): <job>/masking|saliency/ per interpreted fold model, plus this
INTERPRET_REPORT = "interpret.json"  # source sweep, patients, settings, jobs done and skipped


def calibration_plot(key: dict) -> str:
    """Reliability diagram of one configuration's predictions on a new cohort."""
    return f"calibration_{config_stem(key)}.png"


# gene masking (``<job>/masking/``)
MASKING_DIR = "masking"
PATIENTS = "patients.csv"  # who was masked or attributed, with the unmasked model probability
CONTROLS = "controls"  # label of the random size-matched control sets
SINGLE_GENES = "single_genes"  # label of the one-gene-kept table
PROBS_SUFFIX = "_probs.parquet"
MASKING_LABELS_RESERVED = (CONTROLS, SINGLE_GENES)

# gene saliency (``<job>/saliency/``)
SALIENCY_DIR = "saliency"
ATTRIBUTIONS = "attributions.parquet"
GSEA = "gsea.parquet"
MEAN_ATTRIBUTION = "mean_attribution.parquet"
GMT_SUFFIX = ".gmt"

# comparators' native attribution (``<job>/attribution/``; also ATTRIBUTIONS and PATIENTS)
ATTRIBUTION_DIR = "attribution"
ATTRIBUTION_GENES = "genes.csv"  # per gene: rank, importance, the family's own columns


def masking_probs(label: str) -> str:
    """Masked probabilities of a collection (or controls / single genes), sets as rows."""
    return f"{safe_name(label)}{PROBS_SUFFIX}"


def masking_scores(label: str) -> str:
    """Per-set (or per-gene) scores of one job."""
    return f"{safe_name(label)}_scores.csv"


def coverage(label: str) -> str:
    """Every set of a collection with its coverage on the array and why it was kept or skipped."""
    return f"{safe_name(label)}_coverage.csv"


def gmt(label: str) -> str:
    """The kept sets of a collection as tested (array symbols)."""
    return f"{safe_name(label)}{GMT_SUFFIX}"


_CONTROL = re.compile(r"^random_n(\d+)_r(\d+)$")


def control_name(size: int, draw: int) -> str:
    """Name of random control set ``draw`` of ``size`` genes."""
    return f"random_n{size}_r{draw:03d}"


def control_size(name: str) -> int:
    """The gene count written into a control set's name by :func:`control_name`."""
    match = _CONTROL.match(str(name))
    if match is None:
        raise ValueError(f"{name!r} is not a control set name (random_n<size>_r<draw>)")
    return int(match.group(1))


# ----------------------------------------------------------------------- a sweep's directory

MULTIRUN = "multirun.yaml"  # Hydra's record of the sweep (which jobs were asked for)
SUMMARY_DIR = "summary"
FOLDS = "folds.csv"  # one row per completed real job (its metrics.json)
NULL_FOLDS = "null_folds.csv"  # the same, for the permutation-null jobs (null_permutation set)
CV_SUMMARY = "cv_summary.csv"  # one row per configuration
REPEATS = "repeats.csv"  # repeated CV (repeats=R > 1): one row per configuration and CV repeat
SUMMARY_JSON = "summary.json"
PER_CLASS = "per_class.csv"  # multiclass: one-vs-rest per class
MISSING_JOBS = "missing_jobs.json"
TRAITS = "radiogenomic_traits.parquet"  # saliency: per patient and set, NES and enriched flag
ASSOCIATIONS = "associations.csv"
COHORT_GSEA = "cohort_gsea.csv"
STABILITY = "stability.json"
SELECTION_TABLE = "selection.csv"  # scripts/select_hparams.py
SELECTION_JSON = "selection.json"
NULL_REPORT = "null_report.csv"  # scripts/null_report.py
MASKING_CALIBRATION = "masking_calibration.csv"  # scripts/masking_calibration.py: per twin
MASKING_CALIBRATION_SUMMARY = "masking_calibration_summary.csv"  # per test: twins with calls
MASKING_CALIBRATION_PLOT = "masking_calibration.png"  # each twin's smallest q per test
ENVIRONMENT = "environment.txt"  # pip freeze + machine facts (# lines): summary/, reproduce.py out

# scripts/survival.py (``summary/survival/``)
SURVIVAL_DIR = "survival"
SURVIVAL = "survival.csv"
CLINICAL_ISSUES = "clinical_issues.csv"
PATIENTS_WITHOUT_CLINICAL = "patients_without_clinical.csv"

# scripts/compare.py (``<first sweep>/compare/``)
COMPARE_DIR = "compare"
COMPARE_MARKDOWN = "compare.md"
PAIRED_DIFFS = "paired_diffs.csv"
FIG_AUROC_BY_MODEL = "fig2a.png"
FIG_PAIRED_DIFFERENCES = "fig2b.png"

# scripts/compare_heads.py (its --out dir): binary vs ordinal vs multi-task networks per trait
HEADS_COMPARISON = "heads_comparison.csv"  # per trait: pooled AUROCs, paired differences, cost
HEADS_COST = "heads_cost.csv"  # per kind: networks, traits, summed job elapsed_s
HEADS_MARKDOWN = "heads_comparison.md"  # both tables as Markdown (the README's)


def compare_table(name: str) -> str:
    """One of compare.py's tables (models, replicates, paired_cv, paired_bootstrap)."""
    return f"{safe_name(name)}.csv"


def masking_table(label: str) -> str:
    """Pooled out-of-fold masking scores of one collection, every configuration."""
    return f"masking_{safe_name(label)}.csv"


def config_stem(key: dict) -> str:
    """``<trait>_<model>_<config hash>[_b<replicate>]``: one configuration's plots."""
    stem = "_".join(safe_name(key[k]) for k in ("trait", "model", "config_hash"))
    if str(key.get("bootstrap", "none")) != "none":
        stem += f"_b{safe_name(key['bootstrap'])}"
    return stem


def roc_plot(key: dict) -> str:
    """ROC curve of one configuration's pooled predictions."""
    return f"roc_{config_stem(key)}.png"


def scatter_plot(key: dict) -> str:
    """Predicted vs true values of one continuous configuration's pooled predictions."""
    return f"scatter_{config_stem(key)}.png"


def masking_heatmap(label: str, key: dict) -> str:
    """Paper-style masking heatmap of one collection and configuration."""
    return f"masking_{safe_name(label)}_{config_stem(key)}.png"


def saliency_plot(kind: str, label: str, class_name: str, key: dict) -> str:
    """Saliency dot plot (``kind="dots"``) or NES heatmap (``"heatmap"``) of one class."""
    return f"saliency_{safe_name(kind)}_{safe_name(label)}_{safe_name(class_name)}_{config_stem(key)}.png"


def survival_plot(parts: list[str]) -> str:
    """Kaplan-Meier plot of one association (``parts``: its configuration, class, collection, set)."""
    return "km_" + re.sub(r"[^A-Za-z0-9._-]+", "-", "_".join(parts)) + ".png"


def summary_dir(sweep_dir: str | Path) -> Path:
    """Where a sweep's pooled results go."""
    return Path(sweep_dir) / SUMMARY_DIR


def survival_dir(sweep_dir: str | Path) -> Path:
    """Where scripts/survival.py writes a saliency sweep's survival analysis by default."""
    return summary_dir(sweep_dir) / SURVIVAL_DIR


def compare_dir(sweep_dir: str | Path) -> Path:
    """Where scripts/compare.py writes by default (under the first sweep it is given)."""
    return Path(sweep_dir) / COMPARE_DIR


# the sweep report (``summary/``, written by the summary and scripts/report.py)
REPORT_HTML = "report.html"  # one self-contained page: figures, tables, model card, provenance
MODEL_CARD = "model_card.md"  # the model card of the report, as Markdown
REPORT_SIDE_BY_SIDE = "report_side_by_side.html"  # scripts/report.py with several sweeps
# summary/calibration_<trait>_<model>_<hash>.png: calibration_plot(key), as for task=predict


# interpretation you can trust (permutation null, sanity checks, agreement, stability)
IMPORTANCE_NULL_GENES = "importance_null_genes.csv"  # per gene: observed vs K null models
IMPORTANCE_NULL_SETS = "importance_null_sets.csv"  # per set: observed vs K null models
IMPORTANCE_NULL_MODELS = "importance_null_models.csv"  # each null replicate's pooled AUROC
IMPORTANCE_NULL_JSON = "importance_null.json"  # K, folds, counts, checks of the pooled tail
MASKING_CONTROL_FIT = "masking_control_fit.csv"  # per set size: control AUROC normal fit + checks
SANITY_TABLE = "sanity.csv"  # scripts/trust.py sanity: randomization steps vs the trained model
SANITY_PLOT = "sanity.png"
SANITY_JSON = "sanity.json"  # the verdict per attribution method
AGREEMENT_GENES = "agreement_genes.csv"  # scripts/trust.py agreement: method x method rankings
AGREEMENT_SETS = "agreement_sets.csv"
AGREEMENT_PLOT = "agreement.png"
# model families' agreement (a sweep over model=nn,logit_l2,rf,... with +interpret=masking)
ATTRIBUTION_TABLE = "attribution_genes.csv"  # comparators' native attribution, pooled per gene
MODEL_AGREEMENT = "model_agreement.csv"  # per trait, collection and pair of model families
MODEL_AGREEMENT_SETS = "model_agreement_sets.csv"  # per set: each family's pooled AUROC, call
MODEL_AGREEMENT_PLOT = "model_agreement.png"  # Spearman of pooled set AUROCs, family x family
STABILITY_SELECTION = "stability_selection.csv"  # scripts/trust.py stability: top-k frequencies
STABILITY_SELECTION_JSON = "stability_selection.json"
STABILITY_SELECTION_PLOT = "stability_selection.png"


def importance_null_plot(key: dict) -> str:
    """Observed importance against its permutation null, top sets of one configuration."""
    return f"importance_null_{config_stem(key)}.png"


# AnnData outputs for scanpy users (``summary/``, exports/anndata.py)
ATTRIBUTIONS_H5AD = "attributions.h5ad"  # held-out patients x genes attributions, obs, var ranks
PREDICTIONS_OBS = "predictions_obs.csv"  # held-out predictions as an obs table (patient index)


def _per_configuration(name: str, key: dict | None) -> str:
    """``name`` itself (one configuration in the sweep), or with ``_<config stem>`` before the suffix."""
    if key is None:
        return name
    stem, dot, suffix = name.rpartition(".")
    return f"{stem}_{config_stem(key)}{dot}{suffix}"


def attributions_h5ad(key: dict | None = None) -> str:
    """A configuration's attributions AnnData (``key`` None: the sweep's only configuration)."""
    return _per_configuration(ATTRIBUTIONS_H5AD, key)


def predictions_obs(key: dict | None = None) -> str:
    """A configuration's predictions obs table (``key`` None: the sweep's only configuration)."""
    return _per_configuration(PREDICTIONS_OBS, key)


# nested tuning with Optuna (``<sweep>/tuning/``: one journal file per outer-fold
# study, resumed by a rerun into the same sweep dir) and the transfer-learning ablation
TUNING_DIR = "tuning"
TUNING_REPORT = "tuning.json"  # settings, search space, per-study trial counts and best trial
STUDY_SUFFIX = ".journal"  # Optuna JournalFileBackend (no SQL database needed)
ABLATION_DIR = "ablation"  # scripts/ablation.py (``<sweep>/ablation/``)
ABLATION_TABLE = "ablation.csv"
ABLATION_MARKDOWN = "ablation.md"


def study_journal(name: str) -> str:
    """The journal file of one outer fold's Optuna study."""
    return f"{safe_name(name)}{STUDY_SUFFIX}"


def tuning_dir(sweep_dir: str | Path) -> Path:
    """Where a tuning sweep's studies are stored."""
    return Path(sweep_dir) / TUNING_DIR


def ablation_dir(sweep_dir: str | Path) -> Path:
    """Where scripts/ablation.py writes by default."""
    return Path(sweep_dir) / ABLATION_DIR


# scripts/reproduce.py (its output root, default ``outputs/reproduce/``): one sweep dir per run
# of benchmarks/claims.yaml, named by the run, plus these
REPRODUCE_TABLE = "reproduce.csv"  # per claim: expected, measured, tolerance, ok, command
REPRODUCE_MARKDOWN = "reproduce.md"  # the same as a Markdown table, and the README-ready rows


def reproduce_log(run: str) -> str:
    """Stdout and stderr of one run's commands."""
    return f"{safe_name(run)}.log"


# scripts/panel.py (its --out, default ``outputs/panel/``): per task ``<task>/models/`` (one
# sweep of every --models family on the same folds), ``<task>/variants/<name>/`` (one sweep
# per network variant) and ``<task>/tuned/<name>/`` (one nested-tuning sweep per tuned row),
# each with ``<sweep>.log`` beside it; the tables and figure at the top
PANEL_MODELS_DIR = "models"
PANEL_VARIANTS_DIR = "variants"
PANEL_TUNED_DIR = "tuned"  # per --tuned row: one nested-tuning sweep
PANEL_DONE = (
    "panel_done.json"  # in a sweep dir: the command that finished it (exit 0), so a rerun skips it
)
PANEL_TABLE = "panel.csv"  # one row per (task, model or variant)
PANEL_MARKDOWN = "panel.md"
PANEL_SUMMARY = "panel_summary.csv"  # per half and network/reference row: counts against the best
PANEL_SUMMARY_MARKDOWN = "panel_summary.md"
PANEL_FIGURE = "panel.png"  # heatmap: pooled AUROC minus the task's best comparator


def panel_sweep_dir(
    out: str | Path, task: str, variant: str | None = None, tuned: bool = False
) -> Path:
    """The sweep of one panel task: its models (``variant`` None), one network variant, or
    (``tuned``) one nested-tuning sweep."""
    base = Path(out) / safe_name(task)
    if variant is None:
        return base / PANEL_MODELS_DIR
    return base / (PANEL_TUNED_DIR if tuned else PANEL_VARIANTS_DIR) / safe_name(variant)


def panel_log(sweep_dir: str | Path) -> Path:
    """Stdout and stderr of the train.py command behind one panel sweep (next to the sweep)."""
    sweep_dir = Path(sweep_dir)
    return sweep_dir.parent / f"{sweep_dir.name}.log"
