"""Regenerate the panel's TCGA-GBM label tables from the shipped resources, and fix the halves.

    PYTHONPATH=src python benchmarks/panel/build_labels.py

Deterministic (no randomness but the fixed half shuffle; gzip written with mtime=0). Reads only
``resource:TCGA_unified_CORE_ClaNC840.txt.gz`` (Verhaak 2010: 840 genes x 173 TCGA-GBM core
samples, subtype per sample) and ``resource:nationwidechildrens.org_clinical_patient_gbm.txt.gz``
(TCGA BCR clinical patient table, parsed by radiogenomics.data.clinical.read_clinical), and writes
``benchmarks/panel/data/gbm_<task>_labels.csv`` keyed by the 12-character patient barcode (the
expression loader maps the ClaNC840 sample barcodes ``TCGA-02-0003-01A-01`` to it):

* ``gbm_classical``: Verhaak subtype Classical vs the other three (all 173 samples). Every
  one-vs-rest split and the 4-class subtype are near-trivial on these 840 genes (the ClaNC840 genes
  are the subtype classifier's own genes; logistic regression CV AUROC 0.993-0.9997); Classical is
  the least separable, kept as one of the panel's (at most two) near-trivial tasks.
* ``gbm_os_median``: overall survival beyond the Kaplan-Meier median of the 156 ClaNC840 patients
  found in the clinical table: ``long`` (os_time > median, dead or alive), ``short`` (died at or
  before the median); patients censored (alive) at or before the median are excluded, their class
  being unknown. 17 ClaNC840 patients have no row in the clinical table.
* ``gbm_age_median``: age at diagnosis >= the median age of those 156 patients (``older``) vs
  ``younger``.
* ``gbm_sex``: ``gender`` from the clinical table (FEMALE / MALE); expected near-null: none of
  the sex-specific genes that make sex trivial (XIST, RPS4Y1, DDX3Y, KDM5D, UTY) is among the 840.

Halves (fixed before any model was run): sort the task names, shuffle them with
``numpy.random.default_rng(2026).permutation``, the first ceil(n/2) are ``dev``, the rest ``report``
(:func:`assign_halves`; benchmarks/panel/tasks.yaml and its test follow it).
"""

from __future__ import annotations

import gzip
import io
import math
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
OUT = HERE / "data"
CLANC = "resource:TCGA_unified_CORE_ClaNC840.txt.gz"
CLINICAL = "resource:nationwidechildrens.org_clinical_patient_gbm.txt.gz"
HALF_SEED = 2026


def assign_halves(names: list[str], seed: int = HALF_SEED) -> dict[str, str]:
    """Sorted names, shuffled by default_rng(seed); the first ceil(n/2) are dev, the rest report."""
    ordered = sorted(names)
    shuffled = [ordered[i] for i in np.random.default_rng(seed).permutation(len(ordered))]
    n_dev = math.ceil(len(shuffled) / 2)
    return {name: ("dev" if i < n_dev else "report") for i, name in enumerate(shuffled)}


def write_gzip_text(path: Path, text: str) -> None:
    """gzip with mtime=0 and no file name: the same text gives the same bytes."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as fh:
        fh.write(text.encode())
    path.write_bytes(buffer.getvalue())


def km_median(time: np.ndarray, event: np.ndarray) -> float:
    """Kaplan-Meier median: the first event time at which survival drops to <= 0.5."""
    surv = 1.0
    for t in np.unique(time[event == 1]):
        at_risk = (time >= t).sum()
        surv *= 1 - ((time == t) & (event == 1)).sum() / at_risk
        if surv <= 0.5:
            return float(t)
    raise ValueError("survival never reaches 0.5")


def clanc_subtypes() -> pd.Series:
    from radiogenomics.data.io import patient_id, resolve_path

    head = pd.read_csv(resolve_path(CLANC), sep="\t", header=None, nrows=2, dtype=str)
    assert head.iloc[1, 0] == "Subtype"
    ids = [patient_id(s) for s in head.iloc[0, 2:]]
    return pd.Series(head.iloc[1, 2:].str.strip().to_numpy(), index=ids, name="subtype")


def build() -> dict[str, pd.DataFrame]:
    from radiogenomics.data.clinical import read_clinical

    subtype = clanc_subtypes()
    clinical = read_clinical(CLINICAL).patients
    cohort = clinical.loc[[p for p in subtype.index if p in clinical.index]]
    tables = {}

    classical = np.where(subtype == "Classical", "classical", "other")
    tables["gbm_classical"] = pd.DataFrame({"classical": classical}, index=subtype.index)

    os_ok = cohort.dropna(subset=["os_time", "os_event"])
    median = km_median(os_ok["os_time"].to_numpy(), os_ok["os_event"].to_numpy())
    long = os_ok["os_time"] > median
    short = (os_ok["os_time"] <= median) & (os_ok["os_event"] == 1)
    os_label = pd.Series(np.where(long, "long", "short"), index=os_ok.index)[long | short]
    tables["gbm_os_median"] = os_label.rename("os_group").to_frame()

    age = cohort["age"].dropna()
    older = np.where(age >= age.median(), "older", "younger")
    tables["gbm_age_median"] = pd.DataFrame({"age_group": older}, index=age.index)

    sex = cohort["gender"].dropna().str.lower()
    tables["gbm_sex"] = sex.rename("sex").to_frame()
    print(f"KM median overall survival {median:g} days; median age {age.median():g} years")
    return tables


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for task, table in build().items():
        table.index.name = "patient_id"
        table.sort_index().to_csv(OUT / f"{task}_labels.csv")
        column = table.columns[0]
        print(task, column, len(table), table[column].value_counts().sort_index().to_dict())


if __name__ == "__main__":
    main()
