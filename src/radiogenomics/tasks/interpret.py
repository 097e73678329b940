"""``task=interpret``: rerun gene masking and/or saliency from a finished sweep's fold models.

``python train.py task=interpret interpret.sweep=<sweep dir> +interpret=masking`` (or
``+interpret=saliency``, ``'+interpret=[masking,saliency]'``, with any of their settings, e.g.
``interpret.masking.collections=[c1]``) loads every network job's bundle (``<job>/model/``) and
writes, nothing retrained, into this run's output dir (``paths.output_dir``; never into the sweep):

* ``<job>/masking/`` and/or ``<job>/saliency/`` per network job of the sweep (same job dir name),
  the tables :func:`~radiogenomics.interpret.masking_tables.write_masking` and
  :func:`~radiogenomics.interpret.saliency_tables.write_saliency` write during training;
* ``interpret.json``: source sweep, patients, settings, the jobs interpreted and those skipped.

Comparators (``family: baseline``) and jobs without a bundle (``save_model=false``) are skipped
with a log line. Which patients (``interpret.patients``):

* ``held_out`` (default): each fold model explains its own held-out patients, exactly as the
  in-training callbacks did. The job's trait cohort, fold split and fit-patient standardisation
  are rebuilt from its saved config (``.hydra/config.yaml``): same weights, same inputs, same
  settings give the same floats. The job's ``metrics.json``, ``predictions.csv`` and
  ``cohort.json`` are copied (metrics.json last) and the run ends with the sweep summary
  (``summary/``, pooled out of fold, thresholds from ``thresholds.*``), so the output dir reads
  like the sweep had run with these interpreters. A job whose data changed since training
  (expression digest, standardizer or held-out patients differ from the bundle's) is refused.
* ``data``: every fold model explains every patient of the current ``data.*`` cohort (e.g. a new
  expression file), aligned to the model's genes (a missing gene is the training mean, i.e. 0
  after standardising; more than ``predict.max_missing_fraction`` missing is refused) and
  standardised with the model's fit-patient mean and sd. The tables label these patients
  ``part == test``. Labels come from the data's label files when they hold the trait's column
  (not permuted, even for a permuted-label model): then the labelled patients are explained, the
  unlabelled left out, and each job's ``saliency/associations.csv`` holds that model's
  associations (:func:`~radiogenomics.interpret.associations.associations`). Without the column
  masking is refused (its scores are AUROC/AP against labels), while saliency still explains
  every expression patient: attributions and per-patient GSEA need no label (``y_true`` is -1)
  and no associations are written (they compare classes). Every fold model explains the same
  patients, so there is nothing to pool out of fold: no ``summary/`` and no copied job records
  (``scripts/summarize.py`` would refuse a patient seen by two jobs); compare the per-model
  tables instead. Patients a model was trained on are counted in ``interpret.json`` and warned
  about (their explanation is in-sample).

Errors that end the run with exit status 2 (:class:`~radiogenomics.data.io.DataError`): no
``interpret.sweep`` or a missing one, an output dir inside the sweep (or the reverse), no
``+interpret=...``, bad interpreter settings or gene-set files, a sweep without network bundles,
a job whose data changed since training, masking on unlabelled data.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf

from radiogenomics.data.cohort import Cohort, TraitCohort, load_cohort, trait_cohort
from radiogenomics.data.datamodules import TraitDataModule
from radiogenomics.data.genesets import load_collection
from radiogenomics.data.splits import (
    FoldSplit,
    make_fold_split,
    repeat_split_seed,
    stratification_labels,
)
from radiogenomics.data.traits import TraitSpec
from radiogenomics.errors import DataError
from radiogenomics.interpret.associations import associations
from radiogenomics.interpret.comparator_tables import ComparatorPatients, comparator_patients
from radiogenomics.interpreters import COMPARATOR, NETWORK, Interpreter, enabled, entries
from radiogenomics.models.bundle import ModelBundle, load_bundle
from radiogenomics.pipelines.sweep_summary import summarize
from radiogenomics.results import layout
from radiogenomics.results.sweep import bundle_jobs, job_config
from radiogenomics.tasks.finetune import kfold_split, member_split
from radiogenomics.tasks.multitask import held_out_datamodule, is_multitask
from radiogenomics.tasks.pretrain import job_override_keys, resolve_pretraining
from radiogenomics.utils import write_csv, write_json

log = logging.getLogger(__name__)

PATIENTS = ("held_out", "data")
# the job records copied in held_out mode, metrics.json last (a job with it is complete)
JOB_RECORDS = (layout.PREDICTIONS, layout.COHORT, layout.METRICS)


def job_interpreters() -> list[Interpreter]:
    """The interpreters task=interpret can rerun: those that write a job folder."""
    return [e for e in entries() if e.folder is not None]


def no_interpreter() -> str:
    """The error of a task=interpret run without ``+interpret=...``."""
    names = [e.name for e in job_interpreters()]
    return (
        f"task=interpret needs an interpreter: add {', '.join(f'+interpret={n}' for n in names)} "
        f"or several, e.g. '+interpret=[{','.join(names[:2])}]' (with any of their settings, e.g. "
        f"interpret.{names[0]}.collections=[c1])"
    )


@dataclass
class PatientSet:
    """Datamodule-like patients for the table writers (``x``/``y``/``patient_ids`` per part)."""

    x: dict[str, torch.Tensor]
    y: dict[str, torch.Tensor]
    patient_ids: dict[str, list[str]]
    genes: list[str]
    class_names: list[str]


def run_interpret(cfg: DictConfig) -> dict:
    """Interpret every network job of ``interpret.sweep``; returns the ``interpret.json`` report."""
    start = time.perf_counter()
    refuse_multirun()
    sweep, out_dir = source_and_output(cfg)
    mode = str(cfg.interpret.get("patients", "held_out"))
    if mode not in PATIENTS:
        raise DataError(f"interpret.patients={mode!r}: choose one of {PATIENTS}")
    interpreters = interpreter_options(cfg, mode)
    jobs, skipped = network_jobs(sweep)
    device = torch.device("cuda" if use_gpu(cfg) else "cpu")
    done = []
    for i, job in enumerate(jobs, 1):
        job_start = time.perf_counter()
        record = interpret_job(cfg, job, sweep, out_dir, mode, interpreters, device)
        done.append(record)
        log.info(
            "interpret: %d/%d jobs, %s (%s/%s fold %s, %d patients): %s in %.1fs",
            i,
            len(jobs),
            record["job"],
            record["trait"],
            record["model"],
            record["fold"],
            record["n_patients"],
            ", ".join(e.name for e in interpreters),
            time.perf_counter() - job_start,
        )
    if mode == "held_out":
        summarize(out_dir, fdr=cfg.thresholds.fdr, min_patients=cfg.thresholds.min_patients)
    report = {
        "sweep": str(sweep),
        "patients": mode,
        "data": OmegaConf.to_container(cfg.data, resolve=True) if mode == "data" else None,
        "interpreters": {e.name: _plain(asdict(o)) for e, o in interpreters.items()},
        "jobs": done,
        "skipped": skipped,
        "elapsed_s": round(time.perf_counter() - start, 3),
    }
    write_json(out_dir / layout.INTERPRET_REPORT, report)
    log.info("interpret: %d job(s) written to %s", len(done), out_dir)
    return report


# --- settings and inputs -------------------------------------------------------------------------


def refuse_multirun() -> None:
    """``-m`` would launch one interpret run per fold of the sweeper's grid: refuse it."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        raise DataError("task=interpret interprets every job of a sweep in one run: drop -m")


def source_and_output(cfg: DictConfig) -> tuple[Path, Path]:
    """(the sweep dir to read, this run's output dir), neither inside the other."""
    if not cfg.interpret.get("sweep"):
        raise DataError(
            "interpret.sweep is not set: point it at a finished sweep dir (hydra.sweep.dir of a "
            "-m run), e.g. task=interpret interpret.sweep=outputs/finetune/multiruns/<date>"
        )
    sweep = Path(str(cfg.interpret.sweep)).expanduser().resolve()
    if not sweep.is_dir():
        raise DataError(f"interpret.sweep={cfg.interpret.sweep}: no such directory")
    out_dir = Path(str(cfg.paths.output_dir)).expanduser().resolve()
    if out_dir == sweep or sweep in out_dir.parents or out_dir in sweep.parents:
        raise DataError(
            f"the output dir {out_dir} and interpret.sweep {sweep} overlap: task=interpret never "
            "writes into the sweep it reads (choose another hydra.run.dir)"
        )
    return sweep, out_dir


def interpreter_options(cfg: DictConfig, mode: str) -> dict[Interpreter, Any]:
    """Options of each enabled interpreter in ``cfg.interpret`` (``+interpret=...``), checked."""
    found = {}
    for entry, section in enabled(cfg.interpret, among=job_interpreters()).items():
        name = entry.name
        try:
            options = entry.options_from(OmegaConf.to_container(section, resolve=True))
        except (TypeError, ValueError) as err:
            raise DataError(f"interpret.{name}: {err}") from None
        if mode == "data" and tuple(options.parts) != ("test",):
            raise DataError(
                f"interpret.{name}.parts={list(options.parts)}: interpret.patients=data explains "
                "one set of patients (labelled part=test); set the parts to [test]"
            )
        if hasattr(options, "collections"):
            check_collections(name, options.collections)
        found[entry] = options
    if not found:
        raise DataError(no_interpreter())
    return found


def check_collections(name: str, collections) -> None:
    """Read every gene-set collection once, so a bad name or file fails before any job."""
    for collection in collections:
        try:
            load_collection(collection)
        except (OSError, ValueError) as err:
            raise DataError(f"interpret.{name}.collections: {collection}: {err}") from None


def network_jobs(sweep: Path) -> tuple[list[Path], list[dict]]:
    """(job dirs to interpret: networks and comparators, skipped jobs with the reason); none is
    a DataError. (The name predates comparator masking.)"""
    with_bundle, without = bundle_jobs(sweep)
    skipped = [
        {"job": str(d.relative_to(sweep)), "reason": "no model bundle (save_model=false)"}
        for d in without
    ]
    for entry in skipped:
        log.info("interpret: skipping %s: %s", entry["job"], entry["reason"])
    if not with_bundle:
        raise DataError(
            f"{sweep}: no model bundle ({layout.MODEL_DIR}/{layout.BUNDLE_MANIFEST} of a job "
            f"with {layout.METRICS}) among {len(without)} job(s): is it a finished sweep, "
            "trained with save_model=true?"
        )
    return with_bundle, skipped


def use_gpu(cfg: DictConfig) -> bool:
    """Run on the GPU when ``trainer.accelerator`` asks for one (``trainer=gpu``) and it exists.

    Exact held-out tables need the device the sweep was trained on.
    """
    accelerator = str(cfg.get("trainer", {}).get("accelerator", "cpu"))
    return accelerator in ("gpu", "cuda", "auto") and torch.cuda.is_available()


# --- one job -------------------------------------------------------------------------------------


def interpret_job(
    cfg: DictConfig,
    job: Path,
    sweep: Path,
    out_dir: Path,
    mode: str,
    interpreters: dict,
    device: torch.device,
) -> dict:
    """Interpret one fold model; write its tables (and, held out, its records); its report."""
    name = str(job.relative_to(sweep))
    bundle = load_bundle(job / layout.MODEL_DIR)
    metrics = json.loads((job / layout.METRICS).read_text())
    family = NETWORK if bundle.family == NETWORK else COMPARATOR
    if family == COMPARATOR:
        patients, labelled = comparator_job_patients(cfg, job, bundle, mode, interpreters)
    elif mode == "held_out":
        patients, labelled = held_out_patients(job, bundle, cfg.paths.cache_dir), True
    else:
        patients, labelled = data_patients(cfg, bundle, label_users(interpreters))
    target = out_dir / name
    module = bundle.model.to(device) if family == NETWORK else bundle.model
    for entry, options in interpreters.items():
        folder = target / entry.resolve("folder")
        shutil.rmtree(folder, ignore_errors=True)  # this run's output only
        if not entry.explains(family):
            log.info("interpret: %s: no %s for model=%s", name, entry.name, metrics.get("model"))
        elif family == NETWORK:
            entry.resolve("network_writer")(
                module, patients, options, None, metrics["fold"], target
            )
        else:
            entry.resolve("comparator_writer")(module, patients, options, metrics["fold"], target)
        if mode == "data" and labelled and (folder / layout.GSEA).is_file():
            write_associations(cfg, folder, bundle.class_names)  # per-patient GSEA: associations
    if mode == "held_out":
        for record in JOB_RECORDS:
            shutil.copyfile(job / record, target / record)
    ids = patients.patient_ids["test"]
    seen = int(bundle.seen_in_training(ids).sum())
    if mode == "data" and seen:
        log.warning(
            "interpret: %d of %d patients were among the training patients of %s: their "
            "explanations are in-sample",
            seen,
            len(ids),
            name,
        )
    return {
        "job": name,
        **{k: metrics.get(k) for k in ("trait", "model", "fold", "config_hash", "bootstrap")},
        "n_patients": len(ids),
        "labelled": labelled,
        "seen_in_training": seen,
    }


def refuse_rebuilt(job: Path, problems: list[str]) -> None:
    """DataError when the rebuilt fold differs from the trained one (``problems`` says how)."""
    if problems:
        raise DataError(
            f"{job}: the rebuilt fold is not the one the model was trained on ("
            + "; ".join(problems)
            + "): the labels, the data or the split code changed since training"
        )


def rebuild_fold(
    job: Path, cache_dir: str | Path
) -> tuple[DictConfig, Cohort, TraitCohort, FoldSplit]:
    """A finished job's config (resolved as the job resolved it), cohort (read through the cohort
    cache ``cache_dir``), trait cohort and fold."""
    try:
        job_cfg = job_config(job)
    except FileNotFoundError as err:
        raise DataError(f"{err}: interpret.patients=held_out rebuilds the fold from it") from None
    cohort = load_cohort(job_cfg.data, cache_dir)
    job_cfg = resolve_pretraining(job_cfg, cohort, job_override_keys(job))  # as the job trained
    tc = trait_cohort(cohort, TraitSpec.from_config(job_cfg.trait), n_folds=job_cfg.n_folds)
    split = make_fold_split(
        stratification_labels(tc.y, tc.spec),
        job_cfg.n_folds,
        job_cfg.fold,
        repeat_split_seed(job_cfg.split_seed, job_cfg.get("repeat")),
        job_cfg.val_fraction,
        job_cfg.get("bootstrap"),
    )
    return job_cfg, cohort, tc, split


def held_out_patients(job: Path, bundle: ModelBundle, cache_dir: str | Path) -> TraitDataModule:
    """The held-out patients of a finished job (its dir, its loaded model ``bundle``): its
    datamodule, rebuilt from its config as ``tasks.finetune.fit_network`` built it, the cohort
    read through the cohort cache ``cache_dir``."""
    job_cfg, cohort, tc, split = rebuild_fold(job, cache_dir)
    trained_on = bundle.manifest.get("data_digest")  # None: an older bundle, checked below
    if trained_on is not None and cohort.digest != trained_on:
        raise DataError(
            f"{job}: the expression data changed since training (digest {cohort.digest} of "
            f"{cohort.expression_file}, the model was trained on {trained_on}): its held-out "
            "patients cannot be rebuilt; use interpret.patients=data to explain the current data"
        )
    if member_split(job_cfg) == "kfold":  # cross-fitted members: standardised on fit + val
        split = kfold_split(split)
    dm = TraitDataModule.of_trait(tc, split, job_cfg.model.batch_size, job_cfg.seed)
    if is_multitask(job_cfg):  # one trait of a multi-task network: the multi-task fold
        dm = held_out_datamodule(job_cfg, cohort)
    check_same_fold(job, bundle, dm)
    return dm


def comparator_job_patients(
    cfg: DictConfig, job: Path, bundle: ModelBundle, mode: str, interpreters: dict
) -> tuple[ComparatorPatients, bool]:
    """A comparator's patients standardised by its own in-fold scaler, as the job's hook had them.

    Held out: the fold is rebuilt from the job's config, and the pipeline must reproduce the
    job's ``predictions.csv`` on it. Data: every labelled patient of ``data.*``, genes aligned.
    """
    if mode == "data":
        dm, labelled = data_patients(cfg, bundle, label_users(interpreters))
        y, ids = dm.y["test"].numpy(), dm.patient_ids["test"]
        X = _raw_rows(cfg, bundle, ids)  # the comparator standardises with its own scaler
        parts = {"test": np.arange(len(ids)), "fit": np.arange(0)}
        patients = comparator_patients(
            bundle.model, X, y, parts, ids, bundle.genes, bundle.class_names, bundle.spec.kind
        )
        return patients, labelled
    job_cfg, cohort, tc, split = rebuild_fold(job, cfg.paths.cache_dir)
    patients = comparator_patients(
        bundle.model,
        tc.X,
        tc.y,
        {"test": split.test, "fit": split.train},
        tc.patient_ids,
        tc.genes,
        tc.spec.class_names,
        tc.spec.kind,
    )
    held_out = pd.read_csv(job / layout.PREDICTIONS, dtype={"patient_id": str})
    problems = []
    if list(tc.genes) != list(bundle.genes):
        problems.append("the genes differ from the bundle's")
    elif held_out["patient_id"].tolist() != patients.patient_ids["test"]:
        problems.append(f"the held-out patients differ from {layout.PREDICTIONS}")
    else:
        probs = bundle.model.predict_proba(tc.X[split.test])
        recorded = held_out.filter(regex=r"^(y_prob|prob_)").to_numpy(dtype=float)
        probs = probs[:, 1:] if probs.shape[1] == 2 else probs
        if not np.allclose(probs, recorded, atol=1e-9):
            problems.append(f"the model no longer reproduces {layout.PREDICTIONS}")
    refuse_rebuilt(job, problems)
    return patients, True


def _raw_rows(cfg: DictConfig, bundle: ModelBundle, ids: list[str]) -> np.ndarray:
    """The data's raw expression of ``ids`` aligned to the model's genes (missing: the mean)."""
    cohort = load_cohort(cfg.data, cfg.paths.cache_dir)
    expression = cohort.expression
    expression.index = expression.index.astype(str)
    X, _ = bundle.align(expression.loc[ids])
    return X


def check_same_fold(job: Path, bundle: ModelBundle, dm: TraitDataModule) -> None:
    """The rebuilt fold must be the trained one: genes, standardizer and held-out patients."""
    held_out = pd.read_csv(job / layout.PREDICTIONS, dtype={"patient_id": str})["patient_id"]
    problems = []
    if list(dm.genes) != list(bundle.genes):
        problems.append("the genes differ from the bundle's")
    elif not (
        np.array_equal(dm.scaler.mean, bundle.mean) and np.array_equal(dm.scaler.std, bundle.std)
    ):
        problems.append("the fit patients' mean/sd differ from the bundle's standardizer")
    if held_out.tolist() != list(dm.patient_ids["test"]):
        problems.append(f"the held-out patients differ from {layout.PREDICTIONS}")
    refuse_rebuilt(job, problems)


def data_patients(
    cfg: DictConfig, bundle: ModelBundle, label_users: list[str]
) -> tuple[PatientSet, bool]:
    """(every patient of ``cfg.data`` as the model's standardised input, whether labelled);
    unlabelled data is refused when ``label_users`` (interpreters that need labels) is not empty.
    """
    cohort = load_cohort(cfg.data, cfg.paths.cache_dir)
    spec = replace(bundle.spec, permute_labels=False)  # the data's own labels
    labelled = spec.column in cohort.labels.columns
    if labelled:
        tc = trait_cohort(cohort, spec)
        ids, y = tc.patient_ids, tc.y
        n_left_out = len(cohort.expression) - len(ids)
        if n_left_out:
            log.info(
                "interpret: %d expression patient(s) without a usable %s label left out",
                n_left_out,
                spec.name,
            )
    elif label_users:
        others = [f"+interpret={e.name}" for e in job_interpreters() if not e.needs_labels]
        raise DataError(
            f"{', '.join(f'+interpret={n}' for n in label_users)} scores against labels "
            f"(AUROC/AP), and the data's label files "
            f"({', '.join(map(str, cohort.label_files)) or 'none'}) have no {spec.column!r} column "
            f"for trait {spec.name!r}: add a label file (data.traits_file / data.label_files) or "
            f"run only interpreters that need no labels ({', '.join(others)})"
        )
    else:
        ids, y = list(cohort.expression.index), np.full(len(cohort.expression), -1, dtype=np.int64)
    X, missing = bundle.align(cohort.expression.loc[ids])
    limit = float(cfg.get("predict", {}).get("max_missing_fraction", 0.2))
    if len(missing) > limit * len(bundle.genes):
        raise DataError(
            f"{cohort.expression_file}: {len(missing)} of the model's {len(bundle.genes)} genes "
            f"are missing (e.g. {missing[:5]}), more than predict.max_missing_fraction={limit}"
        )
    if missing:
        log.warning(
            "interpret: %d of %d model genes missing from %s: set to the training mean",
            len(missing),
            len(bundle.genes),
            cohort.expression_file,
        )
    x = torch.from_numpy(bundle.standardize(X))
    y = torch.from_numpy(np.asarray(y, dtype=np.int64))
    return (
        PatientSet(
            x={"test": x, "fit": x[:0], "val": x[:0]},  # fit/val empty: mean_all = held-out mean
            y={"test": y, "fit": y[:0], "val": y[:0]},
            patient_ids={"test": [str(p) for p in ids], "fit": [], "val": []},
            genes=list(bundle.genes),
            class_names=bundle.class_names,
        ),
        labelled,
    )


def write_associations(cfg: DictConfig, folder: Path, class_names: list[str]) -> Path:
    """One model's associations on the data's labelled patients, beside the per-patient GSEA of
    an interpreter's ``folder`` (``saliency/associations.csv``)."""
    gsea = pd.read_parquet(folder / layout.GSEA)
    table = associations(
        gsea, class_names, fdr=cfg.thresholds.fdr, min_patients=cfg.thresholds.min_patients
    )
    return write_csv(folder / layout.ASSOCIATIONS, table)


def label_users(interpreters: dict[Interpreter, Any]) -> list[str]:
    """The interpreters among ``interpreters`` whose scores compare classes (need labels)."""
    return [e.name for e in interpreters if e.needs_labels]


def _plain(settings: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()}
