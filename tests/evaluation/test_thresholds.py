"""The association thresholds have one Python default and one config value, and every user of
them (sweep summary callback, summary, scripts, W&B tables, survival) follows those."""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate

from radiogenomics.analysis.null_controls import null_report
from radiogenomics.analysis.trait_survival import MIN_GROUP, SurvivalOptions
from radiogenomics.evaluation.multitest import FDR
from radiogenomics.exports.wandb import association_thresholds
from radiogenomics.interpret.associations import MIN_PATIENTS, associations, trait_matrices
from radiogenomics.pipelines.hydra_callbacks import SweepSummary
from radiogenomics.pipelines.sweep_summary import summarize
from radiogenomics.results import layout

from ..conftest import CONFIGS, ROOT, TINY


def _compose(*overrides: str):
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose("train", overrides=list(overrides), return_hydra_config=True)


def _default(function, name: str):
    return inspect.signature(function).parameters[name].default


def test_config_value_is_the_python_default():
    cfg = _compose()
    assert cfg.thresholds.fdr == FDR and cfg.thresholds.min_patients == MIN_PATIENTS
    section = cfg.hydra.callbacks.sweep_summary
    assert (section.fdr, section.min_patients) == (FDR, MIN_PATIENTS)


def test_hydra_callback_follows_the_thresholds_node():
    cfg = _compose("thresholds.fdr=0.01", "thresholds.min_patients=3")
    section = cfg.hydra.callbacks.sweep_summary
    assert section.fdr == 0.01 and section.min_patients == 3
    callback = instantiate(section)  # as Hydra does when the (multi)run starts
    assert isinstance(callback, SweepSummary)
    assert (callback.fdr, callback.min_patients) == (0.01, 3)


def test_wandb_job_tables_follow_the_thresholds_node():
    cfg = _compose("thresholds.fdr=0.01", "thresholds.min_patients=3")
    hydra_config = HydraConfig.instance()
    before = hydra_config.cfg
    try:
        hydra_config.set_config(cfg)
        assert association_thresholds() == (0.01, 3)
    finally:
        hydra_config.cfg = before
    if not HydraConfig.initialized():
        assert association_thresholds() == (FDR, MIN_PATIENTS)


def test_python_defaults_have_one_home():
    assert (FDR, MIN_PATIENTS) == (0.05, 5)  # the paper's rule
    for function in (summarize, associations, SweepSummary.__init__):
        assert _default(function, "fdr") == FDR
        assert _default(function, "min_patients") == MIN_PATIENTS
    assert _default(trait_matrices, "fdr") == FDR
    assert _default(null_report, "alpha") == FDR
    options = SurvivalOptions()
    assert (options.fdr, options.alpha, options.min_group) == (FDR, FDR, MIN_GROUP)


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_script_defaults_are_the_python_defaults(tmp_path, monkeypatch):
    seen = {}
    (tmp_path / "multirun.yaml").write_text("")  # the scripts take only sweep dirs
    script = _script("summarize")
    monkeypatch.setattr(script, "summarize", lambda *a, **kw: seen.update(kw) or _Empty())
    script.main([str(tmp_path)])
    assert (seen["fdr"], seen["min_patients"]) == (FDR, MIN_PATIENTS)

    script = _script("null_report")

    def stop(real, permuted, alpha):
        seen["alpha"] = alpha
        raise ValueError("stop here")

    monkeypatch.setattr(script, "null_report", stop)
    with pytest.raises(SystemExit):
        script.main([str(tmp_path), str(tmp_path)])
    assert seen["alpha"] == FDR


class _Empty:
    empty = True


@pytest.mark.slow
def test_multirun_summary_uses_the_thresholds_node(tmp_path):
    """A real multirun: the sweep summary written when -m ends used ``thresholds.fdr``."""
    sweep = tmp_path / "sweep"
    cmd = [
        sys.executable,
        "train.py",
        "-m",
        *TINY,
        "n_folds=2",
        "trait=edema",
        "+interpret=saliency",
        "interpret.saliency.method=input_x_gradient",
        "thresholds.fdr=0.2",
        "thresholds.min_patients=3",
        f"hydra.sweep.dir={sweep}",
    ]
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    stability = json.loads((layout.summary_dir(sweep) / layout.STABILITY).read_text())
    assert stability["fdr"] == 0.2
    assoc = pd.read_csv(layout.summary_dir(sweep) / layout.ASSOCIATIONS)
    assert (assoc["paper_rule"] == (assoc["n_enriched_pos"] >= 3)).all()
