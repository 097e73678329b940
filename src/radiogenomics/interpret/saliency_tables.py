"""Gene-saliency tables of one job: attributions, per-patient GSEA, mean attributions.

:func:`write_saliency` attributes the patients of a datamodule-like object (``x[part]``,
``y[part]``, ``patient_ids[part]``, ``genes``, ``class_names``, as
:class:`radiogenomics.data.datamodules.TraitDataModule` has) with a trained classifier and writes,
under ``<out_dir>/saliency/`` (file names from :mod:`radiogenomics.results.layout`):

* ``patients.csv``: patient_id, part, fold, y_true and the model probability of every patient
  attributed (as gene masking writes it);
* ``attributions.parquet``: signed attributions (float32), one row per gene (binary: of the
  positive-class logit) or per (gene, class) (multiclass), columns ``gene, class`` then one per
  patient. Genes as rows: a 12,042-column Parquet file is slow to write and read (per-column
  metadata), 175 patient columns are not; ``frame.set_index(["gene", "class"]).T`` gives the
  patients x genes view;
* ``gsea.parquet``: per patient, class and collection the preranked GSEA of the attributions
  (ES, NES, p, FDR, leading edge; see :mod:`radiogenomics.interpret.gsea`);
* ``mean_attribution.parquet``: gene, class, ``mean_test`` (mean signed attribution over the
  held-out patients) and ``mean_all`` (over every patient of the trait cohort, each standardized
  with this fold's training statistics: a patient set common to all folds, used only to compare
  the fold models' gene rankings; it includes this model's own training patients);
* ``<collection>_coverage.csv``: every set with its coverage and why it was kept or skipped;
* ``<collection>.gmt``: the kept sets as tested (array symbols), for the sweep's cohort-level GSEA.

The Lightning callback :class:`radiogenomics.callbacks.interpretation.InterpretationCallback` calls
:func:`write_saliency` in ``on_test_end``; a script can call it on a saved model too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from radiogenomics.data.genesets import IndexedGeneSets, write_gmt
from radiogenomics.interpret.gene_set_options import (
    PARTS,
    GeneSetOptions,
    index_collections,
)
from radiogenomics.interpret.gsea import GSEA_METHODS, prerank_patients, set_dict
from radiogenomics.interpret.masking_tables import patients_frame, unique_patients
from radiogenomics.interpret.saliency import (
    METHODS,
    attribute,
    eval_mode,
    output_classes,
    ranking_scores,
)
from radiogenomics.results import layout
from radiogenomics.utils import atomic_write, write_csv, write_parquet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SaliencyOptions(GeneSetOptions):
    """Settings of gene saliency (``configs/interpret/saliency.yaml``), validated on creation."""

    method: str
    ranking: str
    gsea: bool
    gsea_patients: bool
    gsea_method: str
    permutation_num: int
    n_jobs: int
    seed: int
    n_steps: int
    internal_batch_size: int | None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown attribution method {self.method!r}; choose one of {METHODS}")
        if self.ranking not in ("signed", "absolute"):
            raise ValueError(f"ranking must be 'signed' or 'absolute', got {self.ranking!r}")
        if self.gsea_method not in GSEA_METHODS:
            raise ValueError(
                f"unknown GSEA method {self.gsea_method!r}; choose one of {GSEA_METHODS}"
            )
        self._check_gene_sets()

    @property
    def uses_gene_sets(self) -> bool:
        """Only per-patient GSEA reads the collections (attributions alone do not)."""
        return self.gsea

    @property
    def gsea_kwargs(self) -> dict:
        """Keyword arguments of :func:`~radiogenomics.interpret.gsea.prerank_patients`."""
        return {
            "method": self.gsea_method,
            "min_size": self.min_size,
            "max_size": self.max_size,
            "permutation_num": self.permutation_num,
            "n_jobs": self.n_jobs,
            "seed": self.seed,
        }

    @property
    def attr_kwargs(self) -> dict:
        """Keyword arguments of :func:`~radiogenomics.interpret.saliency.attribute`."""
        return {"n_steps": self.n_steps, "internal_batch_size": self.internal_batch_size}


def attribution_frame(
    attributions: np.ndarray,
    genes: Sequence[str],
    classes: Sequence[str],
    patient_ids: Sequence[str],
) -> pd.DataFrame:
    """(outputs, patients, genes) attributions as rows = (gene, class), columns = patients."""
    n_out, n_patients, n_genes = attributions.shape
    values = attributions.transpose(2, 0, 1).reshape(n_genes * n_out, n_patients)
    frame = pd.DataFrame(values.astype(np.float32), columns=[str(p) for p in patient_ids])
    frame.insert(0, "class", np.tile(np.asarray(classes, dtype=object), n_genes))
    frame.insert(0, "gene", np.repeat(np.asarray(genes, dtype=object), n_out))
    return frame


def write_saliency(
    module: nn.Module,
    dm,
    options: SaliencyOptions,
    indexed: Mapping[str, IndexedGeneSets] | None = None,
    fold: int | None = None,
    out_dir: str | Path = ".",
) -> Path:
    """Attribute every configured part of ``dm``, run GSEA and write the job's saliency tables.

    ``module`` is a :class:`~radiogenomics.models.classifier.ClassifierModule` (run in eval mode,
    its mode restored afterwards); ``indexed`` the collections from
    :func:`~radiogenomics.interpret.masking_tables.index_collections` (indexed on ``dm.genes``
    here when omitted and ``options.gsea`` is on; empty: no GSEA); ``out_dir`` the job directory.
    Returns the folder written, ``<out_dir>/saliency``.
    """
    folder = Path(out_dir) / layout.SALIENCY_DIR
    if indexed is None:
        indexed = (
            index_collections(options.collections, dm.genes, **options.filters)
            if options.gsea
            else {}
        )
    start = time.perf_counter()
    with eval_mode(module):
        _write_tables(module, dm, options, indexed, fold, folder)
    log.info("gene saliency written to %s (%.1fs)", folder, time.perf_counter() - start)
    return folder


def _write_tables(
    module: nn.Module,
    dm,
    options: SaliencyOptions,
    indexed: Mapping[str, IndexedGeneSets],
    fold: int | None,
    folder: Path,
) -> None:
    classes = output_classes(dm.class_names, getattr(module, "ordinal", False))
    patients, frames, gsea = [], [], []
    for part in options.parts:
        x, y, ids = unique_patients(dm.x[part], dm.y[part].cpu().numpy(), dm.patient_ids[part])
        with torch.inference_mode():
            probs = module.probabilities(module(x.to(module.device))).float().cpu().numpy()
        patients.append(patients_frame(ids, y, probs, dm.class_names, part, fold))
        attributions = attribute(module, x, options.method, **options.attr_kwargs)
        frames.append(attribution_frame(attributions, dm.genes, classes, ids))
        if options.gsea and options.gsea_patients:
            gsea.append(
                part_gsea(attributions, dm.genes, ids, y, classes, part, fold, options, indexed)
            )
    write_csv(folder / layout.PATIENTS, pd.concat(patients, ignore_index=True))
    frames = [f.set_index(["gene", "class"]) for f in frames]
    write_parquet(folder / layout.ATTRIBUTIONS, pd.concat(frames, axis=1).reset_index())
    if gsea:
        write_parquet(folder / layout.GSEA, pd.concat(gsea, ignore_index=True))
    write_parquet(folder / layout.MEAN_ATTRIBUTION, mean_attribution(module, dm, options))
    for label, sets in indexed.items():
        write_csv(folder / layout.coverage(label), sets.coverage)
        members = {
            n: [dm.genes[i] for i in idx] for n, idx in zip(sets.names, sets.indices, strict=True)
        }
        atomic_write(folder / layout.gmt(label), lambda p, s=members: write_gmt(s, p))


def part_gsea(
    attributions: np.ndarray,
    genes: Sequence[str],
    ids: Sequence[str],
    y: np.ndarray,
    classes: Sequence[str],
    part: str,
    fold: int | None,
    options: SaliencyOptions,
    indexed: Mapping[str, IndexedGeneSets],
) -> pd.DataFrame:
    """Per-patient GSEA of each class's attribution ranking, for every collection, of one part."""
    scores = ranking_scores(attributions, options.ranking)
    y_of = dict(zip(map(str, ids), y.tolist(), strict=True))
    tables = []
    for k, name in enumerate(classes):
        for label, sets in indexed.items():
            table = prerank_patients(
                scores[k], genes, ids, set_dict(sets, genes), **options.gsea_kwargs
            )
            table.insert(1, "collection", label)
            table.insert(1, "class", name)
            y_true = table["patient_id"].map(y_of)  # a continuous trait's values stay floats
            table.insert(1, "y_true", y_true if y.dtype.kind == "f" else y_true.astype(int))
            table.insert(1, "fold", fold)
            table.insert(1, "part", part)
            tables.append(table)
    return pd.concat(tables, ignore_index=True)


def mean_attribution(module: nn.Module, dm, options: SaliencyOptions) -> pd.DataFrame:
    """Mean signed attribution per gene and class: held-out patients and all patients."""
    classes = output_classes(dm.class_names, getattr(module, "ordinal", False))
    x_all = torch.cat([dm.x[p] for p in PARTS])
    mean_all = attribute(module, x_all, options.method, **options.attr_kwargs).mean(axis=1)
    mean_test = attribute(module, dm.x["test"], options.method, **options.attr_kwargs).mean(axis=1)
    return pd.DataFrame(
        {
            "gene": np.repeat(np.asarray(dm.genes, dtype=object), len(classes)),
            "class": np.tile(np.asarray(classes, dtype=object), len(dm.genes)),
            "mean_test": mean_test.T.reshape(-1),
            "mean_all": mean_all.T.reshape(-1),
            "n_test": len(dm.x["test"]),
            "n_all": len(x_all),
        }
    )
