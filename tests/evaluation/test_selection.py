"""Nested hyperparameter selection: the choice per fold uses inner validation only."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from radiogenomics.evaluation.metrics import auroc
from radiogenomics.evaluation.selection import select

from ..conftest import ROOT, TINY

DROPOUTS = {"cfg_a": 0.0, "cfg_b": 0.2, "cfg_c": 0.4}
N_FOLDS = 5
N_TEST = 12  # patients per held-out fold
TINY_KEYS = [o.split("=", 1)[0] for o in TINY]


def fake_sweep(root: Path, val: dict, test: dict, seed: int = 0) -> Path:
    """A sweep dir of finished jobs: val[config][fold] and test[config][fold] AUROCs."""
    rng = np.random.default_rng(seed)
    for config, dropout in DROPOUTS.items():
        for fold in range(N_FOLDS):
            overrides = [
                f"fold={fold}",
                f"n_folds={N_FOLDS}",
                f"model.dropout={dropout}",
                "trait=enhancement",
            ]
            job = root / ",".join(sorted(overrides))
            (job / ".hydra").mkdir(parents=True)
            (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
            y = np.arange(N_TEST) % 2
            pd.DataFrame(
                {
                    "patient_id": [f"p{fold}_{i}" for i in range(N_TEST)],
                    "fold": fold,
                    "y_true": y,
                    "y_prob": rng.random(N_TEST),
                }
            ).to_csv(job / "predictions.csv", index=False)
            metrics = {
                "trait": "enhancement",
                "model": "nn",
                "fold": fold,
                "n_folds": N_FOLDS,
                "bootstrap": None,
                "config_hash": config,
                "classes": ["low", "high"],
                "val_auroc": val[config][fold],
                "test_auroc": test[config][fold],
            }
            (job / "metrics.json").write_text(json.dumps(metrics))
    return root


def random_scores(seed: int) -> dict:
    """{config: [AUROC per fold]} drawn at random."""
    rng = np.random.default_rng(seed)
    return {c: list(rng.uniform(0.4, 0.9, N_FOLDS)) for c in DROPOUTS}


def test_choice_per_fold_follows_val_auroc(tmp_path):
    val, test = random_scores(1), random_scores(2)
    sweep = fake_sweep(tmp_path / "sweep", val, test)
    chosen, groups = select(sweep)
    assert len(chosen) == N_FOLDS and (chosen["n_candidates"] == len(DROPOUTS)).all()
    for _, row in chosen.iterrows():
        best = max(DROPOUTS, key=lambda c: val[c][row["fold"]])
        assert row["config_hash"] == best
        assert row["test_auroc"] == test[best][row["fold"]]
        assert row["config"] == f"model.dropout={DROPOUTS[best]}"  # only the differing override
    (group,) = groups
    assert group["nested_mean_test_auroc"] == pytest.approx(chosen["test_auroc"].mean())
    preds = pd.concat(pd.read_csv(sweep / job / "predictions.csv") for job in chosen["job"])
    assert group["nested_pooled_test_auroc"] == pytest.approx(
        auroc(preds["y_true"], preds["y_prob"])
    )
    assert (sweep / "summary" / "selection.csv").exists()
    assert (
        json.loads((sweep / "summary" / "selection.json").read_text())["groups"][0]["n_configs"]
        == 3
    )


def test_best_validation_config_is_chosen_even_with_the_worst_test_score(tmp_path):
    # cfg_a wins inner validation in every fold but has the worst held-out score
    val = {"cfg_a": [0.9] * N_FOLDS, "cfg_b": [0.7] * N_FOLDS, "cfg_c": [0.6] * N_FOLDS}
    test = {"cfg_a": [0.5] * N_FOLDS, "cfg_b": [0.8] * N_FOLDS, "cfg_c": [0.85] * N_FOLDS}
    chosen, (group,) = select(fake_sweep(tmp_path / "sweep", val, test))
    assert (chosen["config_hash"] == "cfg_a").all()
    assert group["nested_mean_test_auroc"] == pytest.approx(0.5)
    assert group["optimistic_best_mean_test_auroc"] == pytest.approx(0.85)
    assert group["optimistic_config"] == "model.dropout=0.4"
    assert group["final_config"] == "model.dropout=0.0"


def test_permuting_test_scores_leaves_the_choices_unchanged(tmp_path):
    val, test = random_scores(3), random_scores(4)
    first, _ = select(fake_sweep(tmp_path / "a", val, test))
    rng = np.random.default_rng(5)
    flat = rng.permutation([t for c in DROPOUTS for t in test[c]])
    permuted = {c: list(flat[i * N_FOLDS : (i + 1) * N_FOLDS]) for i, c in enumerate(DROPOUTS)}
    second, _ = select(fake_sweep(tmp_path / "b", val, permuted))
    pd.testing.assert_series_equal(first["config_hash"], second["config_hash"])
    assert not np.allclose(first["test_auroc"], second["test_auroc"])


def test_selecting_on_test_scores_is_refused(tmp_path):
    sweep = fake_sweep(tmp_path / "sweep", random_scores(6), random_scores(7))
    with pytest.raises(ValueError, match="inner-validation"):
        select(sweep, metric="test_auroc")


@pytest.mark.slow  # a full sweep (default suite time); runs with -m slow
def test_grid_sweep_then_select_py(cache_dir, tmp_path):
    """2 folds x 2 dropouts of experiment=hparams_search (tiny), then scripts/select_hparams.py."""
    sweep = tmp_path / "sweep"
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(cache_dir)}
    grid = [
        "experiment=hparams_search",
        "n_folds=2",
        "hparams.layers=t2f1",
        "model.dropout=0.0,0.4",
        "model.optimizer.lr=1.0",
        "model.batch_size=16",
    ]
    # job dirs are named by their overrides: keep the constant TINY ones out (255-byte names)
    short_names = f"hydra.job.config.override_dirname.exclude_keys=[{','.join(TINY_KEYS)}]"
    cmd = [sys.executable, "train.py", "-m", *grid, *TINY, short_names, f"hydra.sweep.dir={sweep}"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = [json.loads(p.read_text()) for p in sweep.glob("*/metrics.json")]
    assert len(jobs) == 4 and len({j["config_hash"] for j in jobs}) == 2
    cmd = [sys.executable, "scripts/select_hparams.py", str(sweep)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "nested CV test AUROC" in proc.stdout and "optimistic" in proc.stdout
    chosen = pd.read_csv(sweep / "summary" / "selection.csv")
    assert sorted(chosen["fold"]) == [0, 1]
    for _, row in chosen.iterrows():
        fold_jobs = [j for j in jobs if j["fold"] == row["fold"]]
        assert row["val_auroc"] == pytest.approx(max(j["val_auroc"] for j in fold_jobs))
        assert row["config"] in ("model.dropout=0.0", "model.dropout=0.4")


def test_hparams_search_grid_composes():
    from hydra import compose, initialize_config_dir

    from radiogenomics.results.sweep import sweep_jobs

    from ..conftest import CONFIGS

    overrides = ["experiment=hparams_search", "trait=enhancement"]
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    jobs = sweep_jobs(cfg)
    assert len(jobs) == 2 * 10 * 4 * 2 * cfg.n_folds  # sizes x layer schemes x dropout x lr x folds
    schemes = {
        line.split("=")[1] for job in jobs.values() for line in job if "hparams.layers" in line
    }
    assert schemes == set(cfg.layer_schemes)
    for scheme in cfg.layer_schemes.values():
        assert 0 <= scheme.freeze_layers <= scheme.transfer_layers <= len(cfg.pretrain.hidden_dims)
    assert list(cfg.model.hidden_dims) == list(
        cfg.pretrain.hidden_dims
    )  # transfer needs equal sizes
    assert cfg.model.input_dropout == cfg.model.dropout
