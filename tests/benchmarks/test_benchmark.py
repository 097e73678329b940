"""The benchmark script runs and records its sections (timings themselves are not asserted)."""

import json
import sys

import pytest

from ..conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
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


@pytest.mark.slow  # ~30 s; the simulated-GPU sweep itself is in tests/launch/test_gpu_launcher.py
def test_gpu_sweep_section_quick(tmp_path, monkeypatch, cache_dir):
    """Both sweeps of the GPU section run 4 folds; simulated slots without CUDA (~50 s here)."""
    import bench_gpu_sweep

    monkeypatch.setenv("RADIOGENOMICS_CACHE", str(cache_dir))
    monkeypatch.delenv(bench_gpu_sweep.JOBS_ENV, raising=False)
    monkeypatch.delenv(bench_gpu_sweep.FOLDS_ENV, raising=False)
    monkeypatch.setattr(bench_gpu_sweep, "OUT_ROOT", tmp_path / "sweeps")
    out = tmp_path / "results.json"
    benchmark.main(["gpu_sweep", "--quick", "--out", str(out)])
    result = json.loads(out.read_text())["gpu_sweep"]
    for key in [
        "parallel_s",
        "reference_s",
        "speedup",
        "pretrain_s",
        "pooled_auroc_parallel",
        "pooled_auroc_reference",
        "peak_concurrency",
        "gpu",
        "sweeps",
    ]:
        assert key in result, key
    assert result["ok"] and result["jobs_per_gpu"] == 2 and result["n_folds"] == 4
    assert result["jobs_completed_parallel"] == result["jobs_completed_reference"] == 4
    assert 1 <= result["peak_concurrency"] <= 2 and result["reference_peak_concurrency"] == 1
    assert result["pooled_auroc_parallel"] == pytest.approx(result["pooled_auroc_reference"])
    assert result["speedup"] == pytest.approx(result["reference_s"] / result["parallel_s"], 0.01)
    if result["gpu"] is None:
        assert result["note"] == bench_gpu_sweep.NO_CUDA_NOTE
        assert result["sweeps"]["parallel"]["slots"] == ["gpu0-0", "gpu0-1"]


def test_quick_overrides_are_debug_tiny():
    """Every section's --quick runs at debug=tiny size (configs/debug/tiny.yaml)."""
    import bench_comparators
    import bench_finetune
    import bench_gpu_sweep
    from hydra import compose, initialize_config_dir

    from ..conftest import CONFIGS

    for module in (bench_comparators, bench_finetune, bench_gpu_sweep):
        assert "debug=tiny" in module.QUICK, module.__name__
        with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
            cfg = compose("train", overrides=module.QUICK)
        assert cfg.data.synthetic.n_genes == 1500 and list(cfg.pretrain.hidden_dims) == [32, 16, 8]
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=bench_finetune.QUICK)
    assert "csv" in cfg.logger  # the timed fine-tuning logs as a real job does
