"""What masking and saliency share: which patients, which gene-set collections, which sets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from radiogenomics.data.genesets import IndexedGeneSets, index_gene_sets, load_collection
from radiogenomics.results import layout

PARTS = ("test", "fit", "val")  # held-out fold, training folds, inner validation


def collection_label(name_or_path: str) -> str:
    """File-name label of a collection: the shipped name, or the file name without extension."""
    name = Path(str(name_or_path)).name.lower()
    for suffix in (".gz", layout.GMT_SUFFIX, ".csv"):
        name = name.removesuffix(suffix)
    return name


def index_collections(
    collections: Sequence[str],
    genes: Sequence[str],
    min_coverage: float = 0.0,
    min_size: int = 1,
    max_size: int | None = None,
) -> dict[str, IndexedGeneSets]:
    """Label -> the collection's sets as column positions of ``genes`` (kept by the filters).

    Callbacks call this in ``setup``, before training, so a bad path or filter fails fast.
    """
    return {
        collection_label(name): index_gene_sets(
            load_collection(name),
            genes,
            min_coverage=min_coverage,
            min_size=min_size,
            max_size=max_size,
            collection=name,
        )
        for name in collections
    }


@dataclass(frozen=True)
class GeneSetOptions:
    """Collections, set-size and coverage filters and patient parts, validated by subclasses.

    No defaults: an interpreter's settings are its ``configs/interpret/<name>.yaml`` section.
    """

    collections: Sequence[str]
    min_coverage: float
    min_size: int
    max_size: int | None
    parts: Sequence[str]

    @property
    def uses_gene_sets(self) -> bool:
        """Whether the writer reads the collections (indexed once, before training)."""
        return True

    def _check_gene_sets(self, reserved: Sequence[str] = ()) -> None:
        """Parts among PARTS; collections with distinct file labels, none of them ``reserved``."""
        unknown = sorted(set(self.parts) - set(PARTS))
        if unknown or not self.parts:
            raise ValueError(f"parts must be a non-empty subset of {PARTS}, got {self.parts}")
        collections = tuple(str(c) for c in self.collections)
        labels = [collection_label(c) for c in collections]
        if len(set(labels)) < len(labels) or set(reserved) & set(labels):
            raise ValueError(f"gene-set collections need distinct file labels, got {labels}")
        object.__setattr__(self, "collections", collections)
        object.__setattr__(self, "parts", tuple(self.parts))

    @property
    def filters(self) -> dict:
        """Keyword arguments of :func:`index_collections`."""
        return {
            "min_coverage": self.min_coverage,
            "min_size": self.min_size,
            "max_size": self.max_size,
        }
