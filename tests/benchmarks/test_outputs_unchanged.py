"""benchmarks/outputs_unchanged.py: two runs' tables compared, volatile columns ignored."""

from __future__ import annotations

import importlib.util
import json

import pandas as pd

from ..conftest import ROOT

_spec = importlib.util.spec_from_file_location(
    "outputs_unchanged", ROOT / "benchmarks" / "outputs_unchanged.py"
)
outputs_unchanged = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(outputs_unchanged)


def _write(root, auroc, seconds, extra=False):
    (root / "job").mkdir(parents=True)
    frame = pd.DataFrame({"auroc": [auroc, 0.5], "train_seconds": [seconds, 2.0]})
    frame.to_csv(root / "job" / "metrics.csv", index=False)
    frame.to_parquet(root / "job" / "metrics.parquet")
    (root / "job" / "run.json").write_text(json.dumps({"auroc": auroc, "config_hash": seconds}))
    (root / "empty.csv").write_text("\n")
    if extra:
        (root / "new.csv").write_text("a\n1\n")


def test_timings_and_hashes_are_ignored(tmp_path, capsys):
    _write(tmp_path / "a", 0.8, 1.0)
    _write(tmp_path / "b", 0.8, 9.0)
    assert outputs_unchanged.compare(tmp_path / "a", tmp_path / "b") == 0
    assert "4 tables in both runs, 4 equal" in capsys.readouterr().out


def test_a_changed_number_or_a_new_table_is_reported(tmp_path, capsys):
    _write(tmp_path / "a", 0.8, 1.0)
    _write(tmp_path / "b", 0.8000001, 1.0, extra=True)
    assert outputs_unchanged.compare(tmp_path / "a", tmp_path / "b") == 1
    out = capsys.readouterr().out
    assert "differ: job/metrics.csv" in out and "differ: job/run.json" in out
    assert "differ: job/metrics.parquet" in out and "only after: new.csv" in out
