"""Shared fixtures: a tiny synthetic cohort and composed configs (no Hydra app run needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

import radiogenomics.hydra_resolvers  # noqa: F401  (resolvers and config schemas, before composing)

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
SHARED_DATA = ROOT.parent / "shared" / "data"

# seconds-long fits that keep every planted gene (configs/debug/tiny.yaml); command-line values
# win over it, so `[*TINY, "trainer.max_epochs=3"]` and `["trainer.max_epochs=3", *TINY]` agree
TINY = ["debug=tiny"]


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """One cache (synthetic cohorts, autoencoders) shared by the whole test session."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def make_cfg(cache_dir, tmp_path):
    """Compose the training config with ``debug=tiny`` plus ``extra``; outputs go to tmp."""

    def _make(*extra: str, out: Path | None = None) -> DictConfig:
        with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
            cfg = compose("train", overrides=[*TINY, *extra])
        with open_dict(cfg):
            cfg.paths.cache_dir = str(cache_dir)
            cfg.paths.output_dir = str(out or tmp_path / "job")
        return cfg

    return _make
