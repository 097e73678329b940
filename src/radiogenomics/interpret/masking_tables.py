"""Gene-masking tables of one job, and the one masking score every table reports.

:func:`write_masking` masks the patients of a datamodule-like object with a trained classifier
and writes, under ``<out_dir>/masking/`` (file names from :mod:`radiogenomics.results.layout`):

* ``patients.csv``: patient_id, part, fold, y_true and the unmasked model probability
  (``model_prob``, or ``model_prob_<class>``) of every masked patient;
* ``<collection>_probs.parquet``: the masked probabilities, one row per gene set (binary: of the
  positive class) or per (set, class) (multiclass), columns ``set, class`` then one per patient
  (sets as rows keep the file fast to write and read with thousands of sets or genes);
* ``<collection>_scores.csv``: set, n_genes, coverage, auroc, ap, q, significant, the
  competitive and self-contained label-permutation p/q, the controls' empirical and tail p/q,
  slope (+ per class; :func:`score_sets`);
* ``<collection>_coverage.csv``: every set of the collection with its coverage and why it was
  kept or skipped;
* ``controls_probs.parquet`` / ``controls_scores.csv``: the random size-matched sets;
* ``single_genes_probs.parquet`` / ``single_genes_scores.csv`` when ``single_genes`` is on.

``part`` is ``test`` for the held-out fold; training patients (``fit``) are added, labelled as
such, only when asked for: their probabilities come from a model that saw them.

The datamodule needs ``x[part]`` (standardised tensors), ``y[part]``, ``patient_ids[part]``,
``genes`` and ``class_names``, as :class:`radiogenomics.data.datamodules.TraitDataModule` has.
The Lightning callback :class:`radiogenomics.callbacks.interpretation.InterpretationCallback` calls
:func:`write_masking` in ``on_test_end``; a script can call it on a saved model too.

:func:`score_sets` is the reported score (AUROC/AP/slope; against same-size random controls
a competitive and a self-contained label-permutation test, and the call that needs both) of a
job's per-part tables and of the sweep's pooled out-of-fold tables.
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

from radiogenomics.data.genesets import IndexedGeneSets
from radiogenomics.evaluation.label_permutation import auroc_coefficients, auroc_permutation_tests
from radiogenomics.evaluation.multitest import FDR
from radiogenomics.evaluation.regression import PREDICTED
from radiogenomics.interpret.gene_set_options import (
    GeneSetOptions,
    index_collections,
)
from radiogenomics.interpret.masking import (
    Masker,
    Scoring,
    as_masker,
    call_columns,
    random_permutations,
    score_masked,
)
from radiogenomics.results import layout
from radiogenomics.utils import write_csv, write_parquet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MaskingOptions(GeneSetOptions):
    """Settings of gene masking (``configs/interpret/masking.yaml``), validated on creation."""

    n_random: int
    random_seed: int
    single_genes: bool
    batch_size: int

    def __post_init__(self) -> None:
        self._check_gene_sets(reserved=layout.MASKING_LABELS_RESERVED)
        if self.n_random < 0 or self.batch_size < 1:
            raise ValueError("n_random must be >= 0 and batch_size >= 1")


# --- frames ------------------------------------------------------------------------------------


def probs_frame(
    probs: np.ndarray, names: Sequence[str], patient_ids: Sequence[str], class_names: Sequence[str]
) -> pd.DataFrame:
    """Masked probabilities (items, patients[, K]) as rows = item (x class), columns = patients."""
    if probs.ndim == 2:  # binary: the positive class only; continuous: the predicted value
        classes, values = [class_names[1] if class_names else PREDICTED], probs
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
    names = frame["set"].to_numpy()[:: 1 if n_classes in (0, 2) else n_classes].tolist()
    if n_classes in (0, 2):  # one column per item: binary positive class, continuous value
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
    if not class_names:  # a continuous trait: the unmasked prediction, in the target's units
        frame["model_pred"] = model_probs
    elif model_probs.ndim == 1:
        frame["model_prob"] = model_probs
    else:
        for k, name in enumerate(class_names):
            frame[f"model_prob_{name}"] = model_probs[:, k]
    return frame


def unique_patients(
    x: torch.Tensor, y: np.ndarray, ids: Sequence[str]
) -> tuple[torch.Tensor, np.ndarray, list[str]]:
    """Each patient once (first occurrence): a bootstrap replicate resamples with replacement.

    Interpretation tables have one column per patient, and a patient's masked probabilities or
    attributions do not change with how often the replicate drew them.
    """
    ids = [str(p) for p in ids]
    _, first = np.unique(ids, return_index=True)
    if len(first) == len(ids):
        return x, y, ids
    keep = np.sort(first)
    return x[torch.from_numpy(keep)], y[keep], [ids[i] for i in keep]


# --- the reported score ------------------------------------------------------------------------


@dataclass(frozen=True)
class ControlNull:
    """What the random size-matched control sets give the reported score, by set size.

    ``auroc``: the controls' AUROCs (the gene-sampling null of ``empirical_p``/``tail_p``);
    ``coefficients``: their mean label-permutation coefficients (patients, classes), the
    reference of the competitive test
    (:func:`~radiogenomics.evaluation.label_permutation.auroc_permutation_tests`).
    """

    auroc: Mapping[int, np.ndarray]
    coefficients: Mapping[int, np.ndarray]


def control_null(
    probs: np.ndarray,
    y: np.ndarray,
    class_names: Sequence[str],
    scores: pd.DataFrame,
    ordinal: bool = False,
) -> ControlNull:
    """The :class:`ControlNull` of masked control sets (rows of ``probs``; ``scores`` from
    :func:`score_controls`)."""
    sizes = scores["n_genes"].to_numpy()
    by_size = {int(s): np.flatnonzero(sizes == s) for s in np.unique(sizes)}
    n_classes = len(class_names)
    return ControlNull(  # one size at a time: never all controls' coefficients at once
        auroc=null_by_size(scores),
        coefficients={
            s: auroc_coefficients(probs[rows], y, n_classes, ordinal).mean(axis=0)
            for s, rows in by_size.items()
        },
    )


def score_sets(
    probs: np.ndarray,
    y: np.ndarray,
    class_names: Sequence[str],
    sizes: np.ndarray | None = None,
    null: ControlNull | None = None,
    strata: Sequence | None = None,
    compare_to_items: bool = False,
    fdr: float = FDR,
    ordinal: bool = False,
) -> pd.DataFrame:
    """The reported masking score of every item (row of ``probs``), in jobs and sweeps alike.

    AUROC, AP and slope (:func:`~radiogenomics.interpret.masking.score_masked`), and two
    label-permutation tests of the AUROC (permutations within ``strata``, e.g. folds;
    :func:`~radiogenomics.evaluation.label_permutation.auroc_permutation_tests`):

    * ``self_contained_p``/``_q``: does the item's masked output separate the classes at all?
    * ``competitive_p``/``_q``: does it separate them better than the mean random control set of
      its size (``null``, by ``sizes``), or with ``compare_to_items`` (single genes) than the
      average item of the table?

    ``q = max(competitive_q, self_contained_q)`` and ``significant = q < fdr``: a call needs
    both. With ``null``, also the gene-sampling comparison of earlier versions: the empirical p
    against the controls' AUROCs (``empirical_p``, ``empirical_q``) and its generalized-Pareto
    tail (``tail_p``, ``tail_q``); these ignore inter-gene correlation (a coherent set beats the
    controls' narrow range even when nothing was learned) and are not the call.

    ``ordinal``: every AUROC above is the trait's, the mean cumulative AUROC of the masked level
    probabilities (:func:`~radiogenomics.interpret.masking.score_masked`), tests included.
    """
    scores = score_masked(probs, y, class_names, ordinal)
    if not len(scores):
        return scores
    reference = None
    if null is not None:
        reference = np.stack([null.coefficients[int(s)] for s in sizes])
    elif compare_to_items:
        reference = auroc_coefficients(probs, y, len(class_names), ordinal).mean(axis=0)
    self_p, comp_p = auroc_permutation_tests(probs, y, len(class_names), reference, strata, ordinal)
    null_scores = null.auroc if null is not None else None
    columns = call_columns(
        self_p, comp_p, reference is not None, scores["auroc"], sizes, null_scores, fdr
    )
    for position, (name, values) in enumerate(columns.items(), start=2):
        scores.insert(position, name, values)
    return scores


def score_controls(
    probs: np.ndarray,
    y: np.ndarray,
    class_names: Sequence[str],
    names: Sequence[str],
    ordinal: bool = False,
) -> pd.DataFrame:
    """Scores of random control sets: set, n_genes (read from the name), auroc, ap, slope."""
    scores = score_masked(probs, y, class_names, ordinal)
    scores.insert(0, "n_genes", [layout.control_size(name) for name in names])
    scores.insert(0, "set", list(names))
    return scores


def null_by_size(control_scores: pd.DataFrame) -> dict[int, np.ndarray]:
    """Control AUROCs grouped by set size."""
    return {
        int(size): group["auroc"].to_numpy()
        for size, group in control_scores.groupby("n_genes", sort=True)
    }


# --- one job's tables --------------------------------------------------------------------------


def masks_levels(module: nn.Module | Masker, dm) -> bool:
    """Whether masked outputs are scored as ordinal levels: the patients' trait says so
    (``dm.ordinal`` or ``dm.kind``) or the model does (an ordinal network, or a masker with
    ``ordinal``)."""
    ordinal_trait = getattr(dm, "ordinal", False) or getattr(dm, "kind", None) == "ordinal"
    return bool(ordinal_trait or getattr(module, "ordinal", False))


def write_masking(
    module: nn.Module | Masker,
    dm,
    options: MaskingOptions,
    indexed: Mapping[str, IndexedGeneSets] | None = None,
    fold: int | None = None,
    out_dir: str | Path = ".",
) -> Path:
    """Mask every configured part of ``dm`` with ``module`` and write the job's masking tables.

    ``module`` is a :class:`~radiogenomics.models.classifier.ClassifierModule` (run in eval mode,
    its mode restored afterwards) or any :class:`~radiogenomics.interpret.masking.Masker` (a
    comparator's, :func:`radiogenomics.interpret.comparators.comparator_masker`): the same
    controls, seed, tables and scores for every model family. ``indexed`` the collections from
    :func:`index_collections` (indexed on ``dm.genes`` here when omitted); ``out_dir`` the job
    directory. Returns the folder written, ``<out_dir>/masking``.
    """
    folder = Path(out_dir) / layout.MASKING_DIR
    if indexed is None:
        indexed = index_collections(options.collections, dm.genes, **options.filters)
    start = time.perf_counter()
    network = isinstance(module, nn.Module)
    ordinal = masks_levels(module, dm)
    was_training = module.training if network else False
    if network:
        module.eval()
    try:
        with torch.inference_mode():
            _write_tables(as_masker(module), dm, options, indexed, fold, folder, ordinal)
    finally:
        if network:
            module.train(was_training)
    log.info("gene masking written to %s (%.1fs)", folder, time.perf_counter() - start)
    return folder


def _write_tables(
    masker: Masker,
    dm,
    options: MaskingOptions,
    indexed: Mapping[str, IndexedGeneSets],
    fold: int | None,
    folder: Path,
    ordinal: bool = False,
) -> None:
    patients, tables = [], {}
    for part in options.parts:
        x, y, ids = unique_patients(dm.x[part], dm.y[part].cpu().numpy(), dm.patient_ids[part])
        model_probs = masker.probabilities(x)
        patients.append(patients_frame(ids, y, model_probs, dm.class_names, part, fold))
        masked = mask_part(masker, x, y, dm.genes, dm.class_names, options, indexed, ordinal)
        for label, (probs, scores) in masked.items():
            names = scores["gene" if label == layout.SINGLE_GENES else "set"]
            frame = probs_frame(probs, names, ids, dm.class_names)
            tables.setdefault(label, []).append((frame, scores.assign(part=part)))
    write_csv(folder / layout.PATIENTS, pd.concat(patients, ignore_index=True))
    for label, parts in tables.items():
        frames = [f.set_index(["set", "class"]) for f, _ in parts]
        write_parquet(folder / layout.masking_probs(label), pd.concat(frames, axis=1).reset_index())
        write_csv(folder / layout.masking_scores(label), pd.concat([s for _, s in parts]))
    for label, sets in indexed.items():
        write_csv(folder / layout.coverage(label), sets.coverage)


def mask_part(
    module: nn.Module | Masker,
    x: torch.Tensor,
    y: np.ndarray,
    genes: Sequence[str],
    class_names: Sequence[str],
    options: MaskingOptions,
    indexed: Mapping[str, IndexedGeneSets],
    ordinal: bool = False,
) -> dict[str, tuple[np.ndarray, pd.DataFrame]]:
    """label -> (masked probabilities, scores) for one part's patients (module in eval mode);
    ``ordinal``: scored by the mean cumulative AUROC (:func:`score_sets`); a continuous trait
    (no classes) by :func:`~radiogenomics.interpret.masking_continuous.continuous_scoring`."""
    masker = as_masker(module)
    if not class_names:
        from radiogenomics.interpret.masking_continuous import continuous_scoring

        scoring = continuous_scoring(y)
    else:
        scoring = class_scoring(y, class_names, ordinal)
    return mask_items(masker, x, genes, options, indexed, scoring)


def class_scoring(y: np.ndarray, class_names: Sequence[str], ordinal: bool = False) -> Scoring:
    """AUROC, AP, slope and their tests (ordinal: the mean cumulative AUROC) of :func:`score_sets`."""

    def controls(probs: np.ndarray, names: list[str]) -> tuple[pd.DataFrame, ControlNull]:
        scores = score_controls(probs, y, class_names, names, ordinal)
        return scores, control_null(probs, y, class_names, scores, ordinal)

    def items(probs: np.ndarray, sizes: np.ndarray | None, null) -> pd.DataFrame:
        if sizes is None:
            return score_sets(probs, y, class_names, compare_to_items=True, ordinal=ordinal)
        return score_sets(probs, y, class_names, sizes, null, ordinal=ordinal)

    return Scoring(controls, items, "auroc")


def mask_items(
    masker: Masker,
    x: torch.Tensor,
    genes: Sequence[str],
    options: MaskingOptions,
    indexed: Mapping[str, IndexedGeneSets],
    scoring: Scoring,
) -> dict[str, tuple[np.ndarray, pd.DataFrame]]:
    """label -> (masked outputs, scores) of one part: the random controls, every collection's
    sets and the single genes, each masked once and scored by ``scoring``."""
    out, null = {}, None
    sizes = sorted({len(i) for sets in indexed.values() for i in sets.indices})
    n_random = options.n_random
    if n_random and sizes:
        perms = random_permutations(len(genes), n_random, options.random_seed)
        probs = masker.nested_controls(x, perms, sizes, options.batch_size)
        names = [layout.control_name(s, r) for s in sizes for r in range(n_random)]
        scores, null = scoring.controls(probs, names)
        out[layout.CONTROLS] = (probs, scores)
    for label, sets in indexed.items():
        probs = masker.gene_sets(x, sets.indices, options.batch_size)
        set_sizes = np.array([len(i) for i in sets.indices])
        scores = scoring.items(probs, set_sizes, null)
        coverage = sets.coverage.set_index("set").loc[sets.names, "coverage"]
        scores.insert(0, "coverage", coverage.to_numpy())
        scores.insert(0, "n_genes", set_sizes)
        scores.insert(0, "set", sets.names)
        out[label] = (probs, scores)
    if options.single_genes:
        probs = masker.single_genes(x, options.batch_size)
        scores = scoring.items(probs, None, None)
        scores.insert(0, "gene", list(genes))
        scores.insert(1, "rank", scores[scoring.column].rank(ascending=False, method="min"))
        out[layout.SINGLE_GENES] = (probs, scores)
    return out
