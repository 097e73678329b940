"""A toy job for the interpretation tables: a small classifier and a datamodule on real symbols."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from radiogenomics.data.datamodules import TraitDataModule
from radiogenomics.data.genesets import load_collection
from radiogenomics.data.splits import FoldSplit
from radiogenomics.models.classifier import ClassifierModule


@pytest.fixture
def toy_job():
    """``make(n_classes, seed)`` -> (classifier with BatchNorm statistics, TraitDataModule).

    Genes are the Verhaak signature symbols plus filler names, so shipped collections index.
    """

    def make(n_classes: int = 2, seed: int = 0) -> tuple[ClassifierModule, TraitDataModule]:
        symbols = sorted(set().union(*load_collection("verhaak").values()))
        genes = symbols + [f"FILLER{i}" for i in range(15)]
        rng = np.random.default_rng(seed)
        n_patients = 36
        x = rng.standard_normal((n_patients, len(genes))).astype(np.float32)
        y = np.arange(n_patients) % n_classes
        x[:, : len(symbols) // 3] += 0.8 * y[:, None]  # some signal for the first symbols
        order = rng.permutation(n_patients)
        split = FoldSplit(
            fit=np.sort(order[:20]), val=np.sort(order[20:26]), test=np.sort(order[26:])
        )
        dm = TraitDataModule(
            x,
            y,
            split,
            batch_size=8,
            patient_ids=[f"TCGA-{i:03d}" for i in range(n_patients)],
            genes=genes,
            class_names=["low", "high"] if n_classes == 2 else [f"c{k}" for k in range(n_classes)],
        )
        torch.manual_seed(seed)
        net = ClassifierModule(len(genes), n_classes, [8, 6], dropout=0.3, input_dropout=0.2)
        for block in net.blocks:
            block.norm.running_mean.normal_()
            block.norm.running_var.uniform_(0.5, 2.0)
        return net, dm

    return make
