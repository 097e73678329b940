"""Interpretation callback: after ``trainer.test`` on the best weights, explain held-out patients.

A hook only, one per enabled interpreter with a network writer
(:mod:`radiogenomics.interpreters`): it validates the settings (the interpreter's options
dataclass), indexes the gene-set collections in ``setup`` (a bad path or filter fails before
training) and, in ``on_test_end``, calls the interpreter's writer: a plain function of
:mod:`radiogenomics.interpret` that writes the job's tables (described there) and that a script
can call on a saved model too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytorch_lightning as pl

from radiogenomics.data.genesets import IndexedGeneSets
from radiogenomics.interpret.gene_set_options import index_collections
from radiogenomics.interpreters import Interpreter, get


class InterpretationCallback(pl.Callback):
    """Call ``writer(module, datamodule, options, indexed, fold, out_dir)`` after test."""

    def __init__(
        self,
        options: Any,
        writer: Callable[..., Path | None],
        fold: int | None = None,
        out_dir: str | Path = ".",
    ) -> None:
        super().__init__()
        self.options = options
        self.writer = writer
        self.fold = fold
        self.out_dir = Path(out_dir)  # the job directory; tables go to a folder inside it
        self.indexed: dict[str, IndexedGeneSets] = {}

    @classmethod
    def of(
        cls,
        interpreter: Interpreter | str,
        settings: Mapping[str, Any],
        fold: int | None = None,
        out_dir: str | Path = ".",
    ) -> InterpretationCallback:
        """The callback of one registry entry (or its name) with the section's ``settings``."""
        entry = get(interpreter) if isinstance(interpreter, str) else interpreter
        return cls(entry.options_from(settings), entry.resolve("network_writer"), fold, out_dir)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self.indexed or not getattr(self.options, "uses_gene_sets", False):
            return
        self.indexed = index_collections(
            self.options.collections, trainer.datamodule.genes, **self.options.filters
        )

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.writer(
            pl_module, trainer.datamodule, self.options, self.indexed, self.fold, self.out_dir
        )
