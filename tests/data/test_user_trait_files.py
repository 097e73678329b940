"""Trait files from the user's own folder, found through Hydra's search path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from radiogenomics.data.cohort import load_cohort, trait_cohort
from radiogenomics.data.traits import TraitSpec

from ..conftest import CONFIGS, ROOT, TINY

MY_TRAIT = """\
name: big_enhancing
column: f5.proportion.enhancing
classes:
  - {name: small, values: ["Minimal", "Less than 1/3", "Between 1/3 and 2/3"]}
  - {name: large, values: ["More than 2/3"]}
positive_class: large
drop: ["n/a", "indeterminate", ""]
permute_labels: false
permute_seed: ${seed}
"""


@pytest.fixture
def config_dir(tmp_path) -> Path:
    """A user's config folder holding trait/big_enhancing.yaml."""
    (tmp_path / "my_configs" / "trait").mkdir(parents=True)
    (tmp_path / "my_configs" / "trait" / "big_enhancing.yaml").write_text(MY_TRAIT)
    return tmp_path / "my_configs"


def test_hydra_searchpath_finds_a_user_trait(config_dir, cache_dir):
    overrides = [*TINY, f"hydra.searchpath=[file://{config_dir}]", "trait=big_enhancing"]
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    spec = TraitSpec.from_config(cfg.trait)
    assert spec.class_names == ["small", "large"]
    tc = trait_cohort(load_cohort(cfg.data, cache_dir), spec, n_folds=cfg.n_folds)
    assert set(tc.report["class_counts"]) == {"small", "large"}


def test_config_dir_flag_anywhere_on_the_train_py_command_line(config_dir):
    """``--config-dir DIR`` after the overrides (train.py moves Hydra's flags first)."""
    cmd = [
        sys.executable,
        "train.py",
        "trait=big_enhancing",
        "--config-dir",
        str(config_dir),
        "--cfg",
        "job",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "name: big_enhancing" in proc.stdout and "- More than 2/3" in proc.stdout
