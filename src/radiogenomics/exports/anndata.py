"""A sweep's results in AnnData form, for scanpy users (written by the sweep summary).

Per configuration (trait, model, config hash, bootstrap replicate) of the sweep, in ``summary/``:

* ``predictions_obs.csv``: an ``obs`` table of the held-out patients, indexed by patient id:
  ``label`` (true class), ``y_true`` (its index), ``fold``, ``prob`` (binary: of the positive
  class) or ``prob_<class>``, and ``predicted`` (binary: positive when ``prob`` >= 0.5; else the
  most probable class). ``adata.obs.join(pd.read_csv(path, index_col=0))`` adds it to a cohort.
* ``attributions.h5ad`` (jobs ran ``+interpret=saliency``): held-out patients x genes signed
  attributions, each patient's from the fold model that never saw them. ``X``: of the positive
  class (binary) or of each patient's true class (multiclass; every class in ``layers``); ``obs``:
  the predictions table; ``var``: per gene the mean and mean absolute attribution over the
  held-out patients and ``rank`` (1 = largest mean absolute attribution), per class when
  multiclass; ``uns``: the configuration and what ``X`` holds.

With several configurations in one sweep each file name carries the configuration
(``attributions_<trait>_<model>_<hash>.h5ad``, see :mod:`radiogenomics.results.layout`).
Permutation-null jobs (``null_permutation``) are not exported.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from radiogenomics.data.anndata_io import write_h5ad
from radiogenomics.evaluation.metrics import prediction_arrays
from radiogenomics.interpret.saliency import output_classes
from radiogenomics.results import layout
from radiogenomics.results.sweep import GROUP_KEYS
from radiogenomics.summaries.ordinal import ordinal_cut
from radiogenomics.utils import write_csv

log = logging.getLogger(__name__)

DECISION_THRESHOLD = 0.5  # binary: predicted positive when its probability reaches this
NULL_KEY = "null_permutation"  # metrics of permutation-null jobs (not exported)
TEST_PART = "test"  # the held-out part of a job's saliency patients table


def export_anndata(
    sweep_dir: str | Path,
    metrics: pd.DataFrame,
    predictions: pd.DataFrame,
    group_keys: Sequence[str] = GROUP_KEYS,
) -> list[Path]:
    """Write each configuration's predictions obs table and, with saliency, attributions.h5ad."""
    out = layout.summary_dir(sweep_dir)
    if NULL_KEY in metrics.columns:
        metrics = metrics[metrics[NULL_KEY].isna()]
    groups = list(metrics.groupby(list(group_keys), sort=True))
    written: list[Path] = []
    for key, group in groups:
        config = dict(zip(group_keys, key, strict=True))
        named = None if len(groups) == 1 else config
        classes = [str(c) for c in group["classes"].iloc[0]]
        obs = prediction_obs(predictions, config, classes)
        if not obs.index.is_unique:
            log.warning("%s: a patient is held out twice; no AnnData outputs", config)
            continue
        written.append(write_csv(out / layout.predictions_obs(named), obs, index=True))
        ordinal = ordinal_cut(group)[0]  # one attribution: the expected level
        adata = attribution_anndata(
            Path(sweep_dir), list(group["job"]), obs, classes, config, ordinal
        )
        if adata is not None:
            written.append(write_h5ad(out / layout.attributions_h5ad(named), adata))
    if written:
        log.info("AnnData outputs: %s", ", ".join(p.name for p in written))
    return written


def prediction_obs(predictions: pd.DataFrame, config: dict, classes: list[str]) -> pd.DataFrame:
    """One configuration's pooled held-out predictions as an obs table (index: patient id)."""
    rows = predictions
    for column, value in config.items():
        rows = rows[rows[column] == value]
    y, probs = prediction_arrays(rows, classes)
    obs = pd.DataFrame(index=pd.Index(rows["patient_id"].astype(str).to_list(), name="patient_id"))
    if not classes:  # a continuous trait: the value and its prediction, in the target's units
        return obs.assign(y_true=y, y_pred=probs, fold=rows["fold"].to_numpy())
    obs["label"] = [classes[int(k)] for k in y]
    obs["y_true"] = y.astype(int)
    obs["fold"] = rows["fold"].to_numpy()
    if probs.ndim == 1:
        obs["prob"] = probs
        predicted = (probs >= DECISION_THRESHOLD).astype(int)
    else:
        for k, name in enumerate(classes):
            obs[f"prob_{name}"] = probs[:, k]
        predicted = probs.argmax(axis=1)
    obs["predicted"] = [classes[int(k)] for k in predicted]
    return obs


def _held_out_attributions(folder: Path) -> dict[str, pd.DataFrame]:
    """Per output class, one job's held-out patients x genes attributions."""
    patients = pd.read_csv(folder / layout.PATIENTS, dtype={"patient_id": str})
    held_out = patients.loc[patients["part"] == TEST_PART, "patient_id"].to_list()
    table = pd.read_parquet(folder / layout.ATTRIBUTIONS).set_index(["gene", "class"])
    table.columns = [str(c) for c in table.columns]
    return {
        str(name): part.droplevel("class")[held_out].T
        for name, part in table.groupby(level="class", sort=False)
    }


def _gene_columns(values: np.ndarray, suffix: str = "") -> dict[str, np.ndarray]:
    """var columns of one class: mean, mean absolute attribution and the rank of the latter."""
    mean_abs = np.abs(values).mean(axis=0)
    rank = pd.Series(mean_abs).rank(ascending=False, method="first").to_numpy(int)
    return {
        f"mean_attribution{suffix}": values.mean(axis=0),
        f"mean_abs_attribution{suffix}": mean_abs,
        f"rank{suffix}": rank,
    }


def attribution_anndata(
    sweep_dir: Path,
    jobs: list[str],
    obs: pd.DataFrame,
    classes: list[str],
    config: dict,
    ordinal: bool = False,
):
    """The held-out attributions of one configuration as AnnData; None without saliency files."""
    import anndata

    folders = [
        sweep_dir / job / layout.SALIENCY_DIR
        for job in jobs
        if (sweep_dir / job / layout.SALIENCY_DIR / layout.ATTRIBUTIONS).exists()
    ]
    if not folders:
        return None
    per_job = [_held_out_attributions(f) for f in folders]
    outputs = output_classes(classes, ordinal)
    genes = list(per_job[0][outputs[0]].columns)
    layers = {
        name: pd.concat([job[name].reindex(columns=genes) for job in per_job]) for name in outputs
    }
    patients = list(layers[outputs[0]].index)
    if len(outputs) == 1:
        X, what = layers[outputs[0]].to_numpy(np.float32), f"attribution of class {outputs[0]}"
        var = _gene_columns(X)
    else:
        labels = obs["label"].reindex(patients).to_numpy()
        stacked = np.stack([layers[name].to_numpy(np.float32) for name in outputs])
        X = stacked[[outputs.index(str(label)) for label in labels], np.arange(len(patients))]
        what = "attribution of each patient's true class (every class in layers)"
        var = {}
        for k, name in enumerate(outputs):
            var.update(_gene_columns(stacked[k], f"_{name}"))
    adata = anndata.AnnData(
        X=X,
        obs=_categorical(obs.reindex(patients)),
        var=pd.DataFrame(var, index=pd.Index(genes)),
    )
    if len(outputs) > 1:
        for k, name in enumerate(outputs):
            adata.layers[name] = stacked[k]
    adata.uns["radiogenomics"] = {
        **{k: str(v) for k, v in config.items()},
        "classes": classes,
        "X": what,
        "patients": "held-out patients, each attributed by the fold model that never saw them",
        "n_jobs": len(folders),
    }
    return adata


def _categorical(obs: pd.DataFrame) -> pd.DataFrame:
    """Class-name columns as categories (scanpy colours by them)."""
    obs = obs.copy()
    for column in ("label", "predicted"):
        if column in obs:  # a continuous trait has neither
            obs[column] = pd.Categorical(obs[column])
    obs.index = obs.index.astype(str)
    return obs
