"""benchmarks/cfg_path.py follows a job's config through the code and records where it went."""

from __future__ import annotations

import json
import sys

from ..conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import cfg_path  # noqa: E402


def test_the_trace_records_the_tasks_that_read_the_config(tmp_path, monkeypatch, cache_dir):
    monkeypatch.setenv("RADIOGENOMICS_CACHE", str(cache_dir))
    out = tmp_path / "cfg_path.json"
    result = cfg_path.main(["--out", str(out)])
    assert json.loads(out.read_text()) == result
    assert "run_finetune" in result["by_file"]["radiogenomics/tasks/finetune.py"]
    assert "validate_config" in result["by_file"]["radiogenomics/tasks/validation.py"]
    assert result["files"] == len(result["by_file"]) and result["returning"] <= result["functions"]
