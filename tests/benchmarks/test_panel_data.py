"""The real-data benchmark panel (benchmarks/panel): manifest, files, halves and provenance."""

from __future__ import annotations

import gzip
import importlib.util
import math
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PANEL = ROOT / "benchmarks" / "panel"
TASKS = yaml.safe_load((PANEL / "tasks.yaml").read_text())["tasks"]
NAMES = [t["name"] for t in TASKS]
# acceptance-held sources and tasks: never in the panel, not even a copy
FORBIDDEN = re.compile(
    r"ceccarelli|tcgabiolinks|iclusterplus|cancersubtypes|stategra|\bm3c\b|gse7390|golub"
    r"|scikit-survival|sksurv|g-?cimp|\bidh|chr ?7|chr ?10",
    re.IGNORECASE,
)


def _build_labels():
    spec = importlib.util.spec_from_file_location("panel_build_labels", PANEL / "build_labels.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _option(task: dict, key: str) -> str | None:
    for item in task["overrides"]:
        name, _, value = item.partition("=")
        if name == key:
            return value
    return None


def _label_file(task: dict) -> Path:
    value = _option(task, "data.label_files")
    assert value and value.startswith("[") and value.endswith("]")
    (path,) = value[1:-1].split(",")
    return ROOT / path


def test_manifest_fields_and_unique_names():
    assert len(TASKS) >= 8 and len(set(NAMES)) == len(NAMES)
    for task in TASKS:
        for key in ("name", "half", "what", "n", "n_genes", "classes", "source", "licence"):
            assert task.get(key) not in (None, ""), (task["name"], key)
        assert "trait=column" in task["overrides"], task["name"]
        assert _option(task, "trait.column") == task["label_column"]


def test_halves_follow_the_documented_rule():
    halves = _build_labels().assign_halves(NAMES)
    assert {t["name"]: t["half"] for t in TASKS} == halves
    assert sum(h == "dev" for h in halves.values()) == math.ceil(len(NAMES) / 2)
    assert "default_rng(2026)" in (PANEL / "tasks.yaml").read_text()


@pytest.mark.parametrize("task", TASKS, ids=NAMES)
def test_files_exist_and_ids_match(task):
    labels = pd.read_csv(_label_file(task))
    column = task["label_column"]
    assert list(labels.columns) == [labels.columns[0], column]
    assert labels.iloc[:, 0].is_unique and labels[column].notna().all()
    assert len(labels) == task["n"]
    assert labels[column].value_counts().to_dict() == task["classes"]
    expression = _option(task, "data.expression_file")
    if task["overrides"][0] == "data=verhaak840":
        path = ROOT / "src/radiogenomics/data/resources/TCGA_unified_CORE_ClaNC840.txt.gz"
        with gzip.open(path, "rt") as fh:
            samples = fh.readline().rstrip("\n").split("\t")[2:]
        ids = {s[:12] for s in samples}
        assert task["n_genes"] == 840
    else:
        path = ROOT / expression
        assert path.stat().st_size < 3.5e6
        with gzip.open(path, "rt") as fh:
            header = fh.readline().rstrip("\n").split("\t")
            ids = [line.split("\t", 1)[0] for line in fh]
        assert header[0] == "sample" and len(header) - 1 == task["n_genes"]
        assert len(ids) == len(set(ids))
        assert set(ids) == set(labels.iloc[:, 0]), "expression and label sample ids differ"
    assert set(labels.iloc[:, 0]) <= set(ids)


def test_total_size_and_deterministic_gzip():
    files = sorted((PANEL / "data").glob("*.gz"))
    assert sum(f.stat().st_size for f in files) < 15e6
    for f in files:
        head = f.read_bytes()[:10]
        assert head[:2] == b"\x1f\x8b" and head[4:8] == b"\0\0\0\0", f"{f.name}: gzip mtime not 0"


def test_no_forbidden_source_named():
    for path in [PANEL / "tasks.yaml", PANEL / "SOURCES.md", *PANEL.glob("*.py")]:
        text = path.read_text()
        if path.name == "SOURCES.md":  # its list of what was avoided names them on purpose
            text = text.split("<!-- avoided -->")[0]
        hit = FORBIDDEN.search(text)
        assert hit is None, f"{path.name} names {hit.group(0)!r}"
