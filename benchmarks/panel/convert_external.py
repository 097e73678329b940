"""Convert the external panel datasets (datamicroarray .RData copies) to the panel's TSV/CSV files.

Provenance, not a runtime step: the panel ships the converted files, so a clean clone needs neither
this script's inputs nor its reader. To regenerate them:

    git -C <mirror of ramhiser/datamicroarray> show a95f6f68:data/<name>.RData > <rdata_dir>/<name>.RData
    pip install --target /tmp/rdlib rdata          # a pure-Python .RData reader, not a project dependency
    PYTHONPATH=/tmp/rdlib:src python benchmarks/panel/convert_external.py <rdata_dir> [task ...]

Each ``<task>_expression.tsv.gz`` is patients x genes (first column ``sample``), log scale, no missing
cell; each ``<task>_labels.csv`` is ``sample,<label column>``. Sample ids are ``<task>_<row>``
(row = 1-based position in the source matrix; the .RData copies carry no sample names). What is
done per dataset (log2 of linear intensities, floors, dropped rare classes, variance filter) is in
``DATASETS`` and benchmarks/panel/SOURCES.md. Every filter is label-free.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_labels import OUT, write_gzip_text  # noqa: E402  (same folder)

# classes with fewer samples are dropped: trait=column refuses a class smaller than
# trait.min_class_size (10) and stratified CV one smaller than n_folds (10)
MIN_CLASS = 10
MAX_GENES = 12000  # only sarcoma_nakayama (22,283 probes) is cut, to its most variable ones

# task -> (RData name, label column, floor for log2 or None when already log scale, ceiling,
#          class renames)
DATASETS = {
    "colon_alon": ("alon", "tissue", 1.0, None, {"t": "tumour", "n": "normal"}),
    "medullo_outcome": ("pomeroy", "outcome", None, None, {}),
    "breast_er_west": ("west", "er_status", None, None, {}),
    "sarcoma_nakayama": ("nakayama", "histology", 10.0, None, {}),
    "prostate_singh": ("singh", "tissue", 20.0, 16000.0, {"Tumor": "tumour", "Normal": "normal"}),
    "srbct_khan": ("khan", "tumour_type", None, None, {}),
    "p53_nci60": ("subramanian", "tp53", None, None, {"MUT": "mutant", "WT": "wildtype"}),
}


def load(rdata_dir: Path, name: str) -> tuple[pd.DataFrame, pd.Series]:
    import rdata  # noqa: PLC0415  (conversion-time only)

    obj = rdata.read_rda(str(rdata_dir / f"{name}.RData"))[name]
    x, y = obj["x"], obj["y"]
    if hasattr(x, "coords") and "dim_1" in x.coords:
        genes = [str(g) for g in x.coords["dim_1"].values]
    else:
        genes = [f"gene{i + 1}" for i in range(np.shape(x)[1])]
    values = np.asarray(x, dtype=float)
    frame = pd.DataFrame(values, columns=genes)
    return frame, pd.Series(np.asarray(y).astype(str))


def convert(task: str, rdata_dir: Path) -> dict:
    name, column, floor, ceiling, renames = DATASETS[task]
    X, y = load(rdata_dir, name)
    y = y.replace(renames).str.replace(" ", "_")  # class names as plain tokens
    ids = [f"{task}_{i + 1:03d}" for i in range(len(X))]
    X.index, y.index = ids, ids
    counts = y.value_counts()
    keep = y.isin(counts[counts >= MIN_CLASS].index)
    X, y = X[keep.to_numpy()], y[keep]
    if floor is not None:
        X = np.log2(X.clip(lower=floor, upper=ceiling))
    X = X.T.groupby(level=0, sort=False).mean().T  # duplicated gene names: their mean
    var = X.var(axis=0)
    X = X.loc[:, var > 0]  # constant after the floor/ceiling: no information
    if X.shape[1] > MAX_GENES:
        top = set(X.var(axis=0).sort_values(ascending=False, kind="stable").index[:MAX_GENES])
        X = X[[g for g in X.columns if g in top]]  # source order kept
    assert np.isfinite(X.to_numpy()).all()
    text = X.to_csv(sep="\t", float_format="%.4g", index_label="sample")
    write_gzip_text(OUT / f"{task}_expression.tsv.gz", text)
    labels = pd.DataFrame({"sample": y.index, column: y.to_numpy()})
    (OUT / f"{task}_labels.csv").write_text(labels.to_csv(index=False))
    return {
        "task": task,
        "n": len(X),
        "n_genes": X.shape[1],
        "classes": y.value_counts().sort_index().to_dict(),
        "dropped_samples": int((~keep).sum()),
    }


def main(rdata_dir: str, *tasks: str) -> None:
    for task in tasks or DATASETS:
        print(convert(task, Path(rdata_dir)))


if __name__ == "__main__":
    main(*sys.argv[1:])
