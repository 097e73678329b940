"""The `debug` config group: `debug=tiny` composes exactly what the old tiny overrides gave."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.types import RunMode
from omegaconf import OmegaConf

from radiogenomics.results.sweep import planned_jobs

from .conftest import CONFIGS, TINY

# the command-line overrides debug=tiny replaces (formerly radiogenomics.smoke.TINY_OVERRIDES)
OLD_TINY = [
    "data.synthetic.n_genes=1500",
    "data.synthetic.n_pretrain=60",
    "data.synthetic.n_annotated=90",
    "pretrain.hidden_dims=[32,16,8]",
    "pretrain.max_epochs=3",
    "trainer.max_epochs=8",
    "callbacks.early_stopping.patience=4",
    "logger=none",
]
OLD_TINY_NOT_DATA = [o for o in OLD_TINY if not o.startswith("data.")]


def _compose(overrides: list[str]) -> dict:
    """The composed training config as a plain container, interpolations left unresolved."""
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    container = OmegaConf.to_container(cfg, resolve=False)
    assert isinstance(container, dict)
    return container


def _planned(overrides: list[str]) -> list[list[str]]:
    """Each job's overrides in a multirun (``-m``) of ``overrides``, as the basic sweeper plans it."""
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        hydra = GlobalHydra.instance().hydra  # compose() has no multirun mode: sweeps fail there
        assert hydra is not None
        cfg = hydra.compose_config("train", overrides, run_mode=RunMode.MULTIRUN)
    return planned_jobs(cfg)


def test_tiny_is_the_debug_group():
    assert TINY == ["debug=tiny"]


@pytest.mark.parametrize(
    "extra",
    [
        [],
        ["experiment=paper"],  # debug is after experiment in the defaults: tiny still wins
        ["experiment=hparams_search"],
        ["experiment=paper_grids", "model=xgboost"],
        ["task=pretrain"],
        ["model=rf"],
        ["trait=subtype", "n_folds=2", "fold=1"],
        ["trainer=gpu", "logger=csv"],
        ["+interpret=[masking,saliency]"],
    ],
)
def test_debug_tiny_equals_the_old_overrides(extra):
    old = _compose([*OLD_TINY, *extra])
    new = _compose([*TINY, *extra])
    new.pop("debug", None)  # none today: tiny.yaml is `@package _global_`
    assert new == old


@pytest.mark.parametrize("data", ["verhaak840", "tcga_gbm"])
def test_debug_tiny_leaves_real_data_alone(data):
    """With real data, the synthetic cohort's sizes stay out: no `data.synthetic` to load instead."""
    new = _compose([*TINY, f"data={data}"])
    assert "synthetic" not in new["data"]
    assert new == _compose([*OLD_TINY_NOT_DATA, f"data={data}"])


@pytest.mark.parametrize(
    "overrides",
    [
        [*TINY, "trainer.max_epochs=3", "logger=csv"],
        ["trainer.max_epochs=3", "logger=csv", *TINY],  # order does not matter
    ],
)
def test_command_line_overrides_win_over_debug(overrides):
    cfg = _compose(overrides)
    assert cfg["trainer"]["max_epochs"] == 3
    assert "csv" in cfg["logger"]
    assert cfg["pretrain"]["max_epochs"] == 3 and cfg["data"]["synthetic"]["n_genes"] == 1500


def test_no_debug_by_default():
    cfg = _compose([])
    assert "debug" not in cfg
    assert cfg["data"]["synthetic"]["n_genes"] is None and cfg["trainer"]["max_epochs"] != 8
    assert "csv" in cfg["logger"]


@pytest.mark.parametrize(
    "extra",
    [
        ["n_folds=3"],
        ["n_folds=2", "model=nn,logit_l2"],
        # its grid sweeps pretrain.hidden_dims: per-job overrides, which beat any config, so
        # debug/tiny.yaml pins it in hydra.sweeper.params as the old command-line override did
        ["experiment=hparams_search", "n_folds=2", "model.dropout=0.0,0.4"],
    ],
)
def test_debug_tiny_sweeps_the_same_jobs(extra):
    """`-m` with debug=tiny plans as many jobs as with the old overrides, each the same config."""
    old, new = _planned([*OLD_TINY, *extra]), _planned([*TINY, *extra])
    assert len(new) == len(old)
    picks = sorted({0, len(old) // 3, len(old) // 2, len(old) - 1})  # swept keys: same order
    for i in picks:
        assert _compose(new[i]) == _compose(old[i]), (new[i], old[i])


MODELS = sorted(p.stem for p in (CONFIGS / "model").glob("*.yaml"))


@pytest.mark.parametrize("model", MODELS)
def test_a_data_config_that_sets_network_options_composes_with_every_family(model, make_cfg):
    """data=verhaak840 sets model.transfer_layers for the network: every comparator still
    composes and validates (the panel's ``model=nn,logit_l2,...`` sweeps on shipped real data)."""
    from radiogenomics.tasks.validation import validate_config

    trait = ["trait=proneural"]
    if model == "ordinal_logit":  # an ordinal trait: the subtype column in a made-up order
        trait = ["trait=subtype", "+trait.kind=ordinal"]
    cfg = make_cfg("data=verhaak840", f"model={model}", *trait)
    assert cfg.model.transfer_layers == 0
    validate_config(cfg)
