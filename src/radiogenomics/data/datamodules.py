"""In-memory Lightning data modules: tensors sliced by index, no per-batch pandas or collation."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pytorch_lightning as pl
import torch

from radiogenomics.data.splits import FoldSplit

if TYPE_CHECKING:
    from radiogenomics.data.cohort import TraitCohort


class Standardizer:
    """Per-gene z-scoring fit on training patients only; constant genes get unit scale."""

    def __init__(self, X: np.ndarray) -> None:
        self.mean = X.mean(axis=0, dtype=np.float64).astype(np.float32)
        std = X.std(axis=0, dtype=np.float64).astype(np.float32)
        self.std = np.where(std > 0, std, 1.0).astype(np.float32)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Apply the training-set scaling to any patients."""
        return ((X - self.mean) / self.std).astype(np.float32)


class TensorBatches:
    """Minibatches of in-memory tensors; reshuffled each epoch from a seeded generator."""

    def __init__(
        self, *tensors: torch.Tensor, batch_size: int, shuffle: bool = False, seed: int = 0
    ) -> None:
        self.tensors = tensors
        self.n = len(tensors[0])
        self.batch_size = min(batch_size, self.n)
        self.shuffle = shuffle
        self.generator = torch.Generator().manual_seed(seed)

    def _bounds(self) -> list[tuple[int, int]]:
        starts = list(range(0, self.n, self.batch_size))
        bounds = [(s, min(s + self.batch_size, self.n)) for s in starts]
        if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
            bounds.pop()  # a batch of one breaks BatchNorm in training mode: drop it this epoch
        return bounds

    def __len__(self) -> int:
        return len(self._bounds())

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        order = torch.randperm(self.n, generator=self.generator) if self.shuffle else None
        for start, stop in self._bounds():
            if order is None:
                yield tuple(t[start:stop] for t in self.tensors)
            else:
                idx = order[start:stop]
                yield tuple(t[idx] for t in self.tensors)


class TraitDataModule(pl.LightningDataModule):
    """One trait, one outer fold: fit / inner-validation / held-out test tensors.

    Interpretation callbacks read ``x``/``y`` (standardised tensors per part), ``patient_ids``
    (per part), ``genes`` and ``class_names`` from here via ``trainer.datamodule``.
    """

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray,
        split: FoldSplit,
        batch_size: int,
        seed: int = 0,
        patient_ids: Sequence[str] | None = None,
        genes: Sequence[str] | None = None,
        class_names: Sequence[str] | None = None,
        inner_fold: np.ndarray | None = None,
        scaler: Standardizer | None = None,
    ) -> None:
        super().__init__()
        self.split = split
        # cross-fitted ensemble (model.member_split=kfold): fit == val == the training patients,
        # whose inner fold (one per entry of split.fit) rides along in train and val batches
        self.inner_fold = None if inner_fold is None else torch.as_tensor(inner_fold).long()
        ids = list(patient_ids) if patient_ids is not None else [str(i) for i in range(len(y))]
        self.patient_ids = {k: [ids[i] for i in idx] for k, idx in self._parts().items()}
        self.genes = list(genes) if genes is not None else [f"g{j}" for j in range(X.shape[1])]
        self.batch_size = batch_size
        self.seed = seed
        # a given scaler: one trait's view of a multi-task fold (standardised on all its fit patients)
        self.scaler = Standardizer(X[split.fit]) if scaler is None else scaler
        Xs = self.scaler.transform(X)
        self.x = {k: torch.from_numpy(Xs[idx]) for k, idx in self._parts().items()}
        self.y = {k: torch.from_numpy(y[idx]) for k, idx in self._parts().items()}
        continuous = np.asarray(y).dtype.kind == "f"  # a continuous trait: no classes
        self.n_classes = 0 if continuous else int(y.max()) + 1
        self.class_names = (
            list(class_names) if class_names else [str(k) for k in range(self.n_classes)]
        )

    @classmethod
    def of_trait(
        cls, tc: TraitCohort, split: FoldSplit, batch_size: int, seed: int = 0, **options
    ) -> TraitDataModule:
        """One trait cohort's fold: its expression, targets, patient ids, genes and classes
        (``options``: ``inner_fold``, ``scaler``)."""
        return cls(
            tc.X,
            tc.y,
            split,
            batch_size=batch_size,
            seed=seed,
            patient_ids=tc.patient_ids,
            genes=tc.genes,
            class_names=tc.spec.class_names,
            **options,
        )

    def _parts(self) -> dict[str, np.ndarray]:
        return {"fit": self.split.fit, "val": self.split.val, "test": self.split.test}

    def class_weights(self) -> torch.Tensor:
        """Balanced class weights from the fit labels: n / (K * n_c)."""
        counts = torch.bincount(self.y["fit"], minlength=self.n_classes).float()
        return counts.sum() / (self.n_classes * counts.clamp(min=1))

    def _tensors(self, part: str) -> tuple[torch.Tensor, ...]:
        extra = () if self.inner_fold is None else (self.inner_fold,)
        return (self.x[part], self.y[part], *extra)

    def train_dataloader(self) -> TensorBatches:
        return TensorBatches(
            *self._tensors("fit"), batch_size=self.batch_size, shuffle=True, seed=self.seed
        )

    def val_dataloader(self) -> TensorBatches:
        return TensorBatches(*self._tensors("val"), batch_size=len(self.split.val))

    def test_dataloader(self) -> TensorBatches:
        return TensorBatches(self.x["test"], self.y["test"], batch_size=len(self.split.test))


class PretrainDataModule(pl.LightningDataModule):
    """Autoencoder pretraining on expression-only patients (standardised on themselves)."""

    def __init__(self, X: np.ndarray, batch_size: int, val_fraction: float, seed: int = 0) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(X))
        n_val = int(round(val_fraction * len(X)))
        val, fit = order[:n_val], order[n_val:]
        self.scaler = Standardizer(X[fit])
        Xs = torch.from_numpy(self.scaler.transform(X))
        self.x_fit, self.x_val = Xs[np.sort(fit)], Xs[np.sort(val)]
        self.batch_size = batch_size
        self.seed = seed

    def train_dataloader(self) -> TensorBatches:
        return TensorBatches(self.x_fit, batch_size=self.batch_size, shuffle=True, seed=self.seed)

    def val_dataloader(self) -> TensorBatches | list:
        if len(self.x_val) == 0:
            return []
        return TensorBatches(self.x_val, batch_size=len(self.x_val))
