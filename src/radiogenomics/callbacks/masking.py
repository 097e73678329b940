"""Gene-masking callback: after ``trainer.test`` on the best checkpoint, mask the held-out patients.

Writes, per job, under ``<out_dir>/masking/``:

* ``patients.csv``: patient_id, part, fold, y_true and the unmasked model probability
  (``model_prob``, or ``model_prob_<class>``) of every masked patient;
* ``<collection>_probs.parquet``: the masked probabilities, one row per gene set (binary: of the
  positive class) or per (set, class) (multiclass), columns ``set, class`` then one per patient
  (sets as rows keep the file fast to write and read with thousands of sets or genes);
* ``<collection>_scores.csv``: set, n_genes, coverage, auroc, ap, empirical_p, q (+ per class);
* ``<collection>_coverage.csv``: every set of the collection with its coverage and why it was
  kept or skipped;
* ``controls_probs.parquet`` / ``controls_scores.csv``: the random size-matched sets;
* ``single_genes_probs.parquet`` / ``single_genes_scores.csv`` when ``single_genes`` is on.

``part`` is ``test`` for the held-out fold; training patients (``fit``) are added, labelled as
such, only when asked for: their probabilities come from a model that saw them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch

from radiogenomics.data.genesets import IndexedGeneSets, index_gene_sets, load_collection
from radiogenomics.evaluation.multitest import bh_qvalues
from radiogenomics.interpret.masking import (
    DEFAULT_BATCH_SIZE,
    empirical_p,
    mask_gene_sets,
    mask_single_genes,
    random_gene_sets,
    score_masked,
)
from radiogenomics.utils import write_csv, write_parquet

log = logging.getLogger(__name__)

PARTS = ("test", "fit", "val")
PATIENTS = "patients.csv"
CONTROLS = "controls"
SINGLE_GENES = "single_genes"


def collection_label(name_or_path: str) -> str:
    """File-name label of a collection: the shipped name, or the file name without extension."""
    name = Path(str(name_or_path)).name.lower()
    for suffix in (".gz", ".gmt", ".csv"):
        name = name.removesuffix(suffix)
    return name


def control_name(size: int, draw: int) -> str:
    """Name of a random control set."""
    return f"random_n{size}_r{draw:03d}"


def probs_frame(
    probs: np.ndarray, names: Sequence[str], patient_ids: Sequence[str], class_names: Sequence[str]
) -> pd.DataFrame:
    """Masked probabilities (items, patients[, K]) as rows = item (x class), columns = patients."""
    if probs.ndim == 2:  # binary: the positive class only
        classes, values = [class_names[1]], probs
    else:
        classes = list(class_names)
        values = probs.transpose(0, 2, 1).reshape(len(names) * len(classes), len(patient_ids))
    frame = pd.DataFrame(values.astype(np.float32), columns=[str(p) for p in patient_ids])
    frame.insert(0, "class", np.tile(np.asarray(classes, dtype=object), len(names)))
    frame.insert(0, "set", np.repeat(np.asarray(names, dtype=object), len(classes)))
    return frame


def matrix_from_frame(
    frame: pd.DataFrame, patient_ids: Sequence[str], n_classes: int
) -> tuple[list[str], np.ndarray]:
    """Inverse of :func:`probs_frame`: (item names, (items, patients[, K]) probabilities)."""
    values = frame[[str(p) for p in patient_ids]].to_numpy(dtype=np.float64)
    names = frame["set"].to_numpy()[:: 1 if n_classes == 2 else n_classes].tolist()
    if n_classes == 2:
        return names, values
    return names, values.reshape(len(names), n_classes, len(patient_ids)).transpose(0, 2, 1)


def patients_frame(
    patient_ids: Sequence[str],
    y: np.ndarray,
    model_probs: np.ndarray,
    class_names: Sequence[str],
    part: str,
    fold: int | None,
) -> pd.DataFrame:
    """Who was masked: patient_id, part, fold, y_true, unmasked model probability (per class)."""
    frame = pd.DataFrame(
        {"patient_id": [str(p) for p in patient_ids], "part": part, "fold": fold, "y_true": y}
    )
    if model_probs.ndim == 1:
        frame["model_prob"] = model_probs
    else:
        for k, name in enumerate(class_names):
            frame[f"model_prob_{name}"] = model_probs[:, k]
    return frame


def score_sets(
    probs: np.ndarray,
    y: np.ndarray,
    class_names: Sequence[str],
    sizes: np.ndarray,
    null_auroc: dict[int, np.ndarray] | None,
) -> pd.DataFrame:
    """Scores of gene sets with empirical p (against same-size controls) and BH q."""
    scores = score_masked(probs, y, class_names)
    if null_auroc is not None:
        p = empirical_p(scores["auroc"].to_numpy(), sizes, null_auroc)
        scores.insert(2, "empirical_p", p)
        scores.insert(3, "q", bh_qvalues(p))
    return scores


def null_by_size(control_scores: pd.DataFrame) -> dict[int, np.ndarray]:
    """Control AUROCs grouped by set size."""
    return {
        int(size): group["auroc"].to_numpy()
        for size, group in control_scores.groupby("n_genes", sort=True)
    }


class GeneMaskingCallback(pl.Callback):
    """Gene masking of held-out patients with the best checkpoint (runs in ``on_test_end``)."""

    def __init__(
        self,
        collections: Sequence[str] = ("hallmark", "verhaak"),
        min_coverage: float = 0.0,
        min_size: int = 1,
        max_size: int | None = 500,
        n_random: int = 200,
        random_seed: int = 0,
        single_genes: bool = True,
        parts: Sequence[str] = ("test",),
        batch_size: int = DEFAULT_BATCH_SIZE,
        fold: int | None = None,
        out_dir: str | Path = ".",
    ) -> None:
        super().__init__()
        unknown = sorted(set(parts) - set(PARTS))
        if unknown or not parts:
            raise ValueError(f"masking parts must be a non-empty subset of {PARTS}, got {parts}")
        if n_random < 0 or batch_size < 1:
            raise ValueError("n_random must be >= 0 and batch_size >= 1")
        self.collections = [str(c) for c in collections]
        labels = [collection_label(c) for c in self.collections]
        if len(set(labels)) < len(labels) or {CONTROLS, SINGLE_GENES} & set(labels):
            raise ValueError(f"gene-set collections need distinct file labels, got {labels}")
        self.filters = {"min_coverage": min_coverage, "min_size": min_size, "max_size": max_size}
        self.n_random = n_random
        self.random_seed = random_seed
        self.single_genes = single_genes
        self.parts = list(parts)
        self.batch_size = batch_size
        self.fold = fold
        self.out_dir = Path(out_dir) / "masking"
        self.indexed: dict[str, IndexedGeneSets] = {}

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        # index the collections before training, so a bad path or filter fails fast
        if self.indexed:
            return
        genes = trainer.datamodule.genes
        for name in self.collections:
            label = collection_label(name)
            self.indexed[label] = index_gene_sets(
                load_collection(name), genes, **self.filters, collection=name
            )

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        start = time.perf_counter()
        was_training = pl_module.training
        pl_module.eval()
        try:
            with torch.inference_mode():
                self.run(pl_module, trainer.datamodule)
        finally:
            pl_module.train(was_training)
        log.info("gene masking written to %s (%.1fs)", self.out_dir, time.perf_counter() - start)

    def run(self, module: pl.LightningModule, dm) -> None:
        """Mask every configured part of ``dm`` and write the tables."""
        patients, tables = [], {}
        for part in self.parts:
            x, y, ids = dm.x[part], dm.y[part].cpu().numpy(), dm.patient_ids[part]
            model_probs = module.probabilities(module(x.to(module.device))).float().cpu().numpy()
            patients.append(patients_frame(ids, y, model_probs, dm.class_names, part, self.fold))
            for label, (probs, scores) in self._mask_part(module, x, y, dm).items():
                names = scores["gene" if label == SINGLE_GENES else "set"]
                frame = probs_frame(probs, names, ids, dm.class_names)
                tables.setdefault(label, []).append((frame, scores.assign(part=part)))
        write_csv(self.out_dir / PATIENTS, pd.concat(patients, ignore_index=True))
        for label, parts in tables.items():
            frames = [f.set_index(["set", "class"]) for f, _ in parts]
            write_parquet(
                self.out_dir / f"{label}_probs.parquet", pd.concat(frames, axis=1).reset_index()
            )
            write_csv(self.out_dir / f"{label}_scores.csv", pd.concat([s for _, s in parts]))
        for label, indexed in self.indexed.items():
            write_csv(self.out_dir / f"{label}_coverage.csv", indexed.coverage)

    def _mask_part(
        self, module: pl.LightningModule, x: torch.Tensor, y: np.ndarray, dm
    ) -> dict[str, tuple[np.ndarray, pd.DataFrame]]:
        """label -> (masked probabilities, scores) for one part's patients."""
        out, null = {}, None
        sizes = sorted({len(i) for sets in self.indexed.values() for i in sets.indices})
        controls = random_gene_sets(len(dm.genes), sizes, self.n_random, self.random_seed)
        if self.n_random:
            probs = mask_gene_sets(
                module, x, [i for s in controls for i in controls[s]], self.batch_size
            )
            scores = score_masked(probs, y, dm.class_names)
            scores.insert(0, "n_genes", np.repeat(list(controls), self.n_random))
            scores.insert(
                0, "set", [control_name(s, r) for s in controls for r in range(self.n_random)]
            )
            null = null_by_size(scores)
            out[CONTROLS] = (probs, scores)
        for label, indexed in self.indexed.items():
            probs = mask_gene_sets(module, x, indexed.indices, self.batch_size)
            set_sizes = np.array([len(i) for i in indexed.indices])
            scores = score_sets(probs, y, dm.class_names, set_sizes, null)
            coverage = indexed.coverage.set_index("set").loc[indexed.names, "coverage"]
            scores.insert(0, "coverage", coverage.to_numpy())
            scores.insert(0, "n_genes", set_sizes)
            scores.insert(0, "set", indexed.names)
            out[label] = (probs, scores)
        if self.single_genes:
            probs = mask_single_genes(module, x, batch_size=self.batch_size)
            scores = score_masked(probs, y, dm.class_names)
            scores.insert(0, "gene", dm.genes)
            scores.insert(1, "rank", scores["auroc"].rank(ascending=False, method="min"))
            out[SINGLE_GENES] = (probs, scores)
        return out
