"""Gene-saliency callback: after ``trainer.test`` on the best checkpoint, attribute and run GSEA.

Writes, per job, under ``<out_dir>/saliency/``:

* ``patients.csv``: patient_id, part, fold, y_true and the model probability of every patient
  attributed (as the masking callback writes it);
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

from radiogenomics.callbacks.masking import PARTS, PATIENTS, collection_label, patients_frame
from radiogenomics.data.genesets import (
    IndexedGeneSets,
    index_gene_sets,
    load_collection,
    write_gmt,
)
from radiogenomics.interpret.gsea import GSEA_METHODS, prerank_patients, set_dict
from radiogenomics.interpret.saliency import (
    METHODS,
    attribute,
    eval_mode,
    output_classes,
    ranking_scores,
)
from radiogenomics.utils import atomic_write, write_csv, write_parquet

log = logging.getLogger(__name__)

ATTRIBUTIONS = "attributions.parquet"
GSEA = "gsea.parquet"
MEAN_ATTRIBUTION = "mean_attribution.parquet"


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


class GeneSaliencyCallback(pl.Callback):
    """Attributions and per-patient GSEA of held-out patients (runs in ``on_test_end``)."""

    def __init__(
        self,
        method: str = "saliency",
        ranking: str = "signed",
        collections: Sequence[str] = ("hallmark",),
        min_coverage: float = 0.0,
        min_size: int = 15,
        max_size: int = 500,
        gsea: bool = True,
        gsea_method: str = "multilevel",
        permutation_num: int = 1000,
        n_jobs: int = 2,
        seed: int = 0,
        parts: Sequence[str] = ("test",),
        n_steps: int = 50,
        internal_batch_size: int | None = None,
        fold: int | None = None,
        out_dir: str | Path = ".",
    ) -> None:
        super().__init__()
        if method not in METHODS:
            raise ValueError(f"unknown attribution method {method!r}; choose one of {METHODS}")
        if ranking not in ("signed", "absolute"):
            raise ValueError(f"ranking must be 'signed' or 'absolute', got {ranking!r}")
        if gsea_method not in GSEA_METHODS:
            raise ValueError(f"unknown GSEA method {gsea_method!r}; choose one of {GSEA_METHODS}")
        unknown = sorted(set(parts) - set(PARTS))
        if unknown or not parts:
            raise ValueError(f"saliency parts must be a non-empty subset of {PARTS}, got {parts}")
        self.method, self.ranking = method, ranking
        self.collections = [str(c) for c in collections]
        labels = [collection_label(c) for c in self.collections]
        if len(set(labels)) < len(labels):
            raise ValueError(f"gene-set collections need distinct file labels, got {labels}")
        self.filters = {"min_coverage": min_coverage, "min_size": min_size, "max_size": max_size}
        self.gsea = gsea
        self.gsea_kwargs = {
            "method": gsea_method,
            "min_size": min_size,
            "max_size": max_size,
            "permutation_num": permutation_num,
            "n_jobs": n_jobs,
            "seed": seed,
        }
        self.parts = list(parts)
        self.attr_kwargs = {"n_steps": n_steps, "internal_batch_size": internal_batch_size}
        self.fold = fold
        self.out_dir = Path(out_dir) / "saliency"
        self.indexed: dict[str, IndexedGeneSets] = {}

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        # index the collections before training, so a bad path or filter fails fast
        if self.indexed or not self.gsea:
            return
        for name in self.collections:
            self.indexed[collection_label(name)] = index_gene_sets(
                load_collection(name), trainer.datamodule.genes, **self.filters, collection=name
            )

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        start = time.perf_counter()
        with eval_mode(pl_module):
            self.run(pl_module, trainer.datamodule)
        log.info("gene saliency written to %s (%.1fs)", self.out_dir, time.perf_counter() - start)

    def run(self, module: pl.LightningModule, dm) -> None:
        """Attribute every configured part of ``dm``, run GSEA and write the tables."""
        classes = output_classes(dm.class_names)
        patients, frames, gsea = [], [], []
        for part in self.parts:
            x, y, ids = dm.x[part], dm.y[part].cpu().numpy(), dm.patient_ids[part]
            with torch.inference_mode():
                probs = module.probabilities(module(x.to(module.device))).float().cpu().numpy()
            patients.append(patients_frame(ids, y, probs, dm.class_names, part, self.fold))
            attributions = attribute(module, x, self.method, **self.attr_kwargs)
            frames.append(attribution_frame(attributions, dm.genes, classes, ids))
            if self.gsea:
                gsea.append(self._gsea(attributions, dm.genes, ids, y, classes, part))
        write_csv(self.out_dir / PATIENTS, pd.concat(patients, ignore_index=True))
        frames = [f.set_index(["gene", "class"]) for f in frames]
        write_parquet(self.out_dir / ATTRIBUTIONS, pd.concat(frames, axis=1).reset_index())
        if self.gsea:
            write_parquet(self.out_dir / GSEA, pd.concat(gsea, ignore_index=True))
        write_parquet(self.out_dir / MEAN_ATTRIBUTION, self._means(module, dm, classes))
        for label, indexed in self.indexed.items():
            write_csv(self.out_dir / f"{label}_coverage.csv", indexed.coverage)
            sets = {
                n: [dm.genes[i] for i in idx]
                for n, idx in zip(indexed.names, indexed.indices, strict=True)
            }
            atomic_write(self.out_dir / f"{label}.gmt", lambda p, s=sets: write_gmt(s, p))

    def _gsea(
        self,
        attributions: np.ndarray,
        genes: Sequence[str],
        ids: Sequence[str],
        y: np.ndarray,
        classes: Sequence[str],
        part: str,
    ) -> pd.DataFrame:
        """Per-patient GSEA of each class's attribution ranking, for every collection."""
        scores = ranking_scores(attributions, self.ranking)
        y_of = dict(zip(map(str, ids), y.tolist(), strict=True))
        tables = []
        for k, name in enumerate(classes):
            for label, indexed in self.indexed.items():
                table = prerank_patients(
                    scores[k], genes, ids, set_dict(indexed, genes), **self.gsea_kwargs
                )
                table.insert(1, "collection", label)
                table.insert(1, "class", name)
                table.insert(1, "y_true", table["patient_id"].map(y_of).astype(int))
                table.insert(1, "fold", self.fold)
                table.insert(1, "part", part)
                tables.append(table)
        return pd.concat(tables, ignore_index=True)

    def _means(self, module: pl.LightningModule, dm, classes: Sequence[str]) -> pd.DataFrame:
        """Mean signed attribution per gene and class: held-out patients and all patients."""
        x_all = torch.cat([dm.x[p] for p in PARTS])
        mean_all = attribute(module, x_all, self.method, **self.attr_kwargs).mean(axis=1)
        mean_test = attribute(module, dm.x["test"], self.method, **self.attr_kwargs).mean(axis=1)
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
