"""Nested Optuna tuning: seeded, resumable, and blind to the held-out folds."""

import copy
import json

import numpy as np
import pytest

from radiogenomics.tuning.nested import TunerSettings, open_study, study_name, trial_history, tune
from radiogenomics.tuning.space import SearchSpaceError, check_space, sample

SPACE = {
    "hparams.layers": {"type": "categorical", "choices": ["t0", "t1f0", "t1f1"]},
    "model.dropout": {"type": "float", "low": 0.0, "high": 0.6},
    "model.optimizer.lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
    "model.penalty.weight": {
        "type": "float",
        "low": 1e-6,
        "high": 1e-2,
        "log": True,
        "when": {"hparams.layers": ["t0", "t1f0"]},
    },
}
JOBS = [["fold=0"], ["fold=1"]]


def _fake_runner(test_noise: float, seen: list):
    """Jobs scored by a smooth function of their overrides; held-out scores set by ``test_noise``."""

    def run(batch):
        seen.extend(batch)
        out = []
        for overrides in batch:
            values = dict(o.split("=", 1) for o in overrides)
            val = 0.9 - abs(float(values["model.dropout"]) - 0.3) - (values["fold"] == "1") * 0.1
            out.append({"val_auroc": val, "test_auroc": test_noise})
        return out

    return run


def _settings(**kw):
    return TunerSettings(**{"n_trials": 4, "n_startup_trials": 2, "seed": 3, **kw})


def test_tuning_is_seeded_resumable_and_ignores_held_out_scores(tmp_path):
    runs = {}
    for name, noise in (("a", 0.1), ("b", 0.9)):
        seen: list = []
        records = tune(JOBS, SPACE, _fake_runner(noise, seen), _settings(), tmp_path / name)
        runs[name] = (seen, records)
    assert runs["a"][0] == runs["b"][0]  # same trials, whatever the held-out scores
    assert [r["best_params"] for r in runs["a"][1]] == [r["best_params"] for r in runs["b"][1]]
    assert all(r["complete"] == 4 for r in runs["a"][1])
    # resume: a larger budget continues the stored studies instead of starting over
    more: list = []
    tune(JOBS, SPACE, _fake_runner(0.1, more), _settings(n_trials=6), tmp_path / "a")
    assert len(more) == 2 * 2
    study = open_study(tmp_path / "a", study_name(JOBS[0]), _settings())
    history = trial_history(study)
    assert len(history) == 6 and all(t["state"] == "COMPLETE" for t in history)
    report = json.loads((tmp_path / "a" / "tuning.json").read_text())
    # a queued configuration (the default network) is every study's first trial
    default = {"hparams.layers": "t1f1", "model.dropout": 0.3, "model.optimizer.lr": 0.001}
    tune(JOBS, SPACE, _fake_runner(0.1, []), _settings(enqueue=(default,)), tmp_path / "q")
    assert (
        trial_history(open_study(tmp_path / "q", study_name(JOBS[1]), _settings()))[0]["params"]
        == default
    )
    assert "test_auroc" not in json.dumps(report)  # the studies never hold a held-out score


def test_conditions_fixed_keys_and_bad_settings(tmp_path):
    class Trial:  # records what is asked
        def __init__(self):
            self.asked = []

        def suggest_categorical(self, key, choices):
            self.asked.append(key)
            return "t1f1"

        def suggest_float(self, key, low, high, log=False):
            self.asked.append(key)
            return low

    trial = Trial()
    sampled = sample(trial, SPACE, ["model.dropout=0.5"])
    assert "model.dropout" not in trial.asked  # fixed by the outer job: not searched
    assert "model.penalty.weight" not in sampled  # its condition (unfrozen first layer) fails
    with pytest.raises(SearchSpaceError, match="earlier key"):
        check_space({"a": {"type": "float", "low": 0, "high": 1, "when": {"b": [1]}}})
    with pytest.raises(SearchSpaceError, match="low <= high"):
        check_space({"a": {"type": "float", "low": 0, "high": 1, "log": True}})
    with pytest.raises(ValueError, match="held-out score"):
        tune(JOBS, SPACE, _fake_runner(0.0, []), _settings(objective="test_auroc"), tmp_path)


def test_real_jobs_choices_do_not_change_when_held_out_labels_are_scrambled(
    make_cfg, tmp_path, monkeypatch
):
    """debug=tiny finetune jobs, in-process: the held-out fold's expression and labels scrambled
    before fitting change the held-out scores but no trial, objective or choice."""
    from radiogenomics.tasks import finetune
    from radiogenomics.utils import stable_hash

    space = {k: SPACE[k] for k in ("hparams.layers", "model.dropout")}
    original_fit = finetune.fit_model

    def scrambled_fit(cfg, cohort, tc, split):
        tc = copy.copy(tc)
        rng = np.random.default_rng(0)
        tc.X, tc.y = tc.X.copy(), tc.y.copy()
        tc.X[split.test] = rng.normal(50, 30, size=tc.X[split.test].shape).astype(np.float32)
        tc.y[split.test] = 1 - tc.y[split.test]
        return original_fit(cfg, cohort, tc, split)

    def runner(root, tests):
        def run(batch):
            out = []
            for overrides in batch:
                extra = ["hparams_search=nn_optuna", "n_folds=3", "trainer.max_epochs=4"]
                cfg = make_cfg(*extra, *overrides, out=root / stable_hash(overrides))
                metrics = finetune.run_finetune(cfg)
                tests.append(metrics["test_auroc"])
                out.append(metrics)
            return out

        return run

    results = {}
    for name in ("plain", "scrambled"):
        if name == "scrambled":
            monkeypatch.setattr(finetune, "fit_model", scrambled_fit)
        tests: list = []
        settings = _settings(n_trials=2, n_startup_trials=1)
        records = tune(
            [["fold=0"]],
            space,
            runner(tmp_path / name, tests),
            settings,
            tmp_path / name / "tuning",
        )
        study = open_study(tmp_path / name / "tuning", study_name(["fold=0"]), settings)
        results[name] = (trial_history(study), records, tests)
    assert results["plain"][0] == results["scrambled"][0]  # params and objectives, every trial
    assert results["plain"][1] == results["scrambled"][1]  # the chosen trial
    assert results["plain"][2] != results["scrambled"][2]  # the scrambled fold was scored


def test_first_repeat_keeps_its_study_name_and_seed():
    """repeats=R adds repeat=r to every outer job: repeat 0's studies keep their names (seeds)."""
    plain = ["fold=0", "trait=enhancement"]
    assert study_name([*plain, "repeat=0"]) == study_name(plain) == "fold=0,trait=enhancement"
    assert study_name([*plain, "repeat=1"]) != study_name(plain)
