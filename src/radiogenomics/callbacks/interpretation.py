"""Interpretation callbacks: after ``trainer.test`` on the best weights, explain held-out patients.

Hooks only. Each validates its settings (an options dataclass of :mod:`radiogenomics.interpret`),
indexes the gene-set collections in ``setup`` (a bad path or filter fails before training) and,
in ``on_test_end``, calls one plain function of :mod:`radiogenomics.interpret` that writes the
job's tables (described there) and that a script can call on a saved model too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytorch_lightning as pl

from radiogenomics.data.genesets import IndexedGeneSets
from radiogenomics.interpret.gene_set_options import GeneSetOptions, index_collections
from radiogenomics.interpret.masking_tables import MaskingOptions, write_masking
from radiogenomics.interpret.saliency_tables import SaliencyOptions, write_saliency


class InterpretationCallback(pl.Callback):
    """Build ``options_type(**settings)``; index its collections; call ``writer`` after test."""

    options_type: ClassVar[type[GeneSetOptions]]
    writer: ClassVar[Callable[..., Path]]

    def __init__(self, fold: int | None = None, out_dir: str | Path = ".", **settings: Any) -> None:
        super().__init__()
        self.options = self.options_type(**settings)
        self.fold = fold
        self.out_dir = Path(out_dir)  # the job directory; tables go to a folder inside it
        self.indexed: dict[str, IndexedGeneSets] = {}

    def needs_gene_sets(self) -> bool:
        """Whether the writer uses the collections (indexed in ``setup``)."""
        return True

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self.indexed or not self.needs_gene_sets():
            return
        self.indexed = index_collections(
            self.options.collections, trainer.datamodule.genes, **self.options.filters
        )

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        type(self).writer(
            pl_module, trainer.datamodule, self.options, self.indexed, self.fold, self.out_dir
        )


class GeneMaskingCallback(InterpretationCallback):
    """Gene masking (:class:`~radiogenomics.interpret.masking_tables.MaskingOptions`)."""

    options_type = MaskingOptions
    writer = write_masking


class GeneSaliencyCallback(InterpretationCallback):
    """Attributions and per-patient GSEA (:class:`~radiogenomics.interpret.saliency_tables.
    SaliencyOptions`); collections are indexed only when GSEA is on."""

    options_type = SaliencyOptions
    writer = write_saliency

    def needs_gene_sets(self) -> bool:
        return self.options.gsea
