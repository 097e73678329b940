"""Gene-saliency callback: after ``trainer.test`` on the best checkpoint, attribute and run GSEA.

A hook only: it validates its settings (:class:`~radiogenomics.interpret.saliency_tables.
SaliencyOptions`), indexes the gene-set collections in ``setup`` when GSEA is on (a bad path or
filter fails before training) and, in ``on_test_end``, calls
:func:`~radiogenomics.interpret.saliency_tables.write_saliency`, which writes the job's
``saliency/`` tables (described there).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytorch_lightning as pl

from radiogenomics.data.genesets import IndexedGeneSets
from radiogenomics.interpret.masking_tables import index_collections
from radiogenomics.interpret.saliency_tables import SaliencyOptions, write_saliency


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
        self.options = SaliencyOptions(
            method=method,
            ranking=ranking,
            collections=collections,
            min_coverage=min_coverage,
            min_size=min_size,
            max_size=max_size,
            gsea=gsea,
            gsea_method=gsea_method,
            permutation_num=permutation_num,
            n_jobs=n_jobs,
            seed=seed,
            parts=parts,
            n_steps=n_steps,
            internal_batch_size=internal_batch_size,
        )
        self.fold = fold
        self.out_dir = Path(out_dir)  # the job directory; tables go to its saliency/
        self.indexed: dict[str, IndexedGeneSets] = {}

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        # index the collections before training, so a bad path or filter fails fast
        if self.indexed or not self.options.gsea:
            return
        self.indexed = index_collections(
            self.options.collections, trainer.datamodule.genes, **self.options.filters
        )

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        write_saliency(
            pl_module, trainer.datamodule, self.options, self.indexed, self.fold, self.out_dir
        )
