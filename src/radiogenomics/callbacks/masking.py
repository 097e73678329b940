"""Gene-masking callback: after ``trainer.test`` on the best checkpoint, mask the held-out patients.

A hook only: it validates its settings (:class:`~radiogenomics.interpret.masking_tables.
MaskingOptions`), indexes the gene-set collections in ``setup`` (a bad path or filter fails
before training) and, in ``on_test_end``, calls
:func:`~radiogenomics.interpret.masking_tables.write_masking`, which writes the job's
``masking/`` tables (described there).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytorch_lightning as pl

from radiogenomics.data.genesets import IndexedGeneSets
from radiogenomics.interpret.masking import DEFAULT_BATCH_SIZE
from radiogenomics.interpret.masking_tables import MaskingOptions, index_collections, write_masking


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
        self.options = MaskingOptions(
            collections=collections,
            min_coverage=min_coverage,
            min_size=min_size,
            max_size=max_size,
            n_random=n_random,
            random_seed=random_seed,
            single_genes=single_genes,
            parts=parts,
            batch_size=batch_size,
        )
        self.fold = fold
        self.out_dir = Path(out_dir)  # the job directory; tables go to its masking/
        self.indexed: dict[str, IndexedGeneSets] = {}

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        # index the collections before training, so a bad path or filter fails fast
        if self.indexed:
            return
        self.indexed = index_collections(
            self.options.collections, trainer.datamodule.genes, **self.options.filters
        )

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        write_masking(
            pl_module, trainer.datamodule, self.options, self.indexed, self.fold, self.out_dir
        )
