"""The benchmark script runs and records its sections (timings themselves are not asserted)."""

import json
import sys

import pytest

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import benchmark  # noqa: E402


def test_finetune_section_runs_and_writes_results(tmp_path, monkeypatch, cache_dir):
    monkeypatch.setenv("RADIOGENOMICS_CACHE", str(cache_dir))
    out = tmp_path / "results.json"
    benchmark.main(["finetune", "--quick", "--out", str(out)])
    result = json.loads(out.read_text())["finetune"]
    assert result["ours_s"] > 0 and result["bare_pytorch_s"] > 0
    assert result["ratio"] == pytest.approx(result["ours_s"] / result["bare_pytorch_s"], rel=0.01)
    assert result["quick"] is True


def test_unknown_section_is_rejected(tmp_path):
    with pytest.raises(SystemExit):
        benchmark.main(["nonsense", "--out", str(tmp_path / "r.json")])


@pytest.mark.slow
def test_every_section_runs_quick(tmp_path, monkeypatch, cache_dir):
    monkeypatch.setenv("RADIOGENOMICS_CACHE", str(cache_dir))
    out = tmp_path / "results.json"
    benchmark.main([*benchmark.SECTIONS, "--quick", "--out", str(out)])
    assert set(json.loads(out.read_text())) == set(benchmark.SECTIONS)
