"""scripts/panel.py: the panel's statistics on hand-made tables, its inputs, and one tiny real run."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from radiogenomics.evaluation.metrics import score
from radiogenomics.evaluation.panel import (
    AGAINST_OTHERS,
    BELOW_FLAG,
    WITHIN_FLAG,
    PanelDataError,
    Source,
    panel_summary,
    rank_task,
    read_nested_rows,
    read_sweep_rows,
    task_rows,
)
from radiogenomics.panel import (
    PanelError,
    Task,
    Variant,
    configs_fingerprint,
    finished_before,
    parse_variant,
    sweep_command,
)
from radiogenomics.results import layout

from ..conftest import ROOT

_spec = importlib.util.spec_from_file_location("script_panel", ROOT / "scripts" / "panel.py")
panel_script = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(panel_script)

COMPARATORS = ["logit_l2", "svm", "rf", "xgboost"]  # --models order: ties go to the first


def _task(values: dict[str, float], incomplete: tuple[str, ...] = ()) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model": list(values),
            "auroc": list(values.values()),
            "folds_complete": [m not in incomplete for m in values],
        }
    )


def test_rank_best_comparator_and_flags():
    # svm and rf tie for best comparator (svm comes first in --models); xgboost would be best but
    # its folds are incomplete; nn is exactly 0.01 below (a float sum: -0.010000000000000009)
    rows = rank_task(
        _task(
            {
                "nn": 0.84,
                "logit_l2": 0.80,
                "svm": 0.85,
                "rf": 0.85,
                "xgboost": 0.95,
                "v_up": 0.86,
                "v_down": 0.819,
                "v_broken": 0.99,
            },
            incomplete=("xgboost", "v_broken"),
        ),
        COMPARATORS,
    ).set_index("model")
    assert set(rows["best_comparator"]) == {"svm"}
    assert rows["best_comparator_auroc"].iloc[0] == 0.85
    ranks = rows["rank"].to_dict()
    assert ranks["v_up"] == 1 and ranks["svm"] == ranks["rf"] == 2
    assert ranks["nn"] == 4 and ranks["v_down"] == 5 and ranks["logit_l2"] == 6
    assert np.isnan(ranks["xgboost"]) and np.isnan(ranks["v_broken"])
    assert (rows["n_ranked"] == 6).all()
    assert rows.loc["nn", "diff_to_best"] == pytest.approx(-0.01)
    assert rows.loc["nn", WITHIN_FLAG] and not rows.loc["nn", BELOW_FLAG]
    assert not rows.loc["nn", "beats_best"]
    assert rows.loc["v_up", "beats_best"] and rows.loc["v_up", WITHIN_FLAG]
    assert rows.loc["v_down", BELOW_FLAG] and not rows.loc["v_down", WITHIN_FLAG]  # -0.031
    assert rows.loc["rf", "diff_to_best"] == 0 and not rows.loc["rf", "beats_best"]
    assert pd.isna(rows.loc["v_broken", "diff_to_best"]) and pd.isna(
        rows.loc["v_broken", "beats_best"]
    )


def test_exactly_three_hundredths_below_is_not_far_below():
    rows = rank_task(_task({"nn": 0.77, "rf": 0.80}), COMPARATORS).set_index("model")
    assert not rows.loc["nn", BELOW_FLAG] and not rows.loc["nn", WITHIN_FLAG]


def test_no_comparator_leaves_the_differences_empty():
    rows = rank_task(_task({"nn": 0.8, "v": 0.7}), COMPARATORS)
    assert rows["best_comparator"].isna().all() and rows["diff_to_best"].isna().all()
    assert list(rows["rank"]) == [1, 2]


def _panel() -> pd.DataFrame:
    parts = []
    tasks = {
        ("a", "dev"): {"nn": 0.84, "v": 0.86, "logit_l2": 0.80, "rf": 0.85},  # nn -0.01, v +0.01
        ("b", "dev"): {"nn": 0.90, "v": 0.80, "rf": 0.88},  # nn +0.02, v -0.08
        ("c", "report"): {"nn": 0.70, "v": 0.75, "logit_l2": 0.72},  # nn -0.02, v +0.03
    }
    for (task, half), values in tasks.items():
        rows = rank_task(_task(values), COMPARATORS).assign(task=task, half=half)
        rows["fold_diff_to_best"] = rows["diff_to_best"] / 2
        rows["p_value"] = np.where(rows["model"] == "v", 0.01, 0.5)
        parts.append(rows)
    return pd.concat(parts, ignore_index=True)


def test_summary_counts_per_half_and_overall():
    summary = panel_summary(_panel(), ["nn", "v"]).set_index(["half", "model"])
    assert list(summary.index.get_level_values("half").unique()) == ["dev", "report", "all"]
    nn = summary.loc[("dev", "nn")]
    assert nn["n_tasks"] == 2 and nn[f"n_{WITHIN_FLAG}"] == 2 and nn[f"n_{BELOW_FLAG}"] == 0
    assert nn["n_beats_best"] == 1
    assert nn["mean_rank"] == pytest.approx((3 + 1) / 2)  # a: v, rf above nn; b: nn first
    assert nn["mean_diff_to_best"] == pytest.approx((-0.01 + 0.02) / 2)
    assert nn["mean_fold_diff_to_best"] == pytest.approx((-0.01 + 0.02) / 4)
    assert nn["n_p_below_0.05"] == 0
    v = summary.loc[("dev", "v")]
    assert v["n_beats_best"] == 1 and v[f"n_{BELOW_FLAG}"] == 1 and v[f"n_{WITHIN_FLAG}"] == 1
    assert v["mean_rank"] == pytest.approx((1 + 3) / 2) and v["n_p_below_0.05"] == 2
    report = summary.loc[("report", "nn")]
    assert report["n_tasks"] == 1 and report[f"n_{WITHIN_FLAG}"] == 0
    assert report["mean_diff_to_best"] == pytest.approx(-0.02)
    everything = summary.loc[("all", "v")]
    assert everything["n_tasks"] == 3 and everything["n_beats_best"] == 2
    assert everything["median_diff_to_best"] == pytest.approx(0.01)


def test_reference_rows_hold_each_comparator_to_the_bar_against_the_others():
    table = _panel()
    table = pd.concat(
        [
            table,
            rank_task(_task({"nn": 0.7, "svm": 0.71, "rf": 0.69}), COMPARATORS).assign(
                task="d", half="report"
            ),
        ],
        ignore_index=True,
    )
    summary = panel_summary(table, ["nn"], COMPARATORS)
    ref = summary[summary["against"] == AGAINST_OTHERS].set_index(["half", "model"])
    assert set(summary["against"]) == {"best comparator", AGAINST_OTHERS}
    # task a: logit 0.80 vs rf 0.85 (-0.05, far below), rf +0.05 (beats); b, c: one comparator
    logit, rf = ref.loc[("dev", "logit_l2")], ref.loc[("dev", "rf")]
    assert logit["n_tasks"] == 1 and logit[f"n_{BELOW_FLAG}"] == 1 and logit["n_beats_best"] == 0
    assert logit["mean_diff_to_best"] == pytest.approx(-0.05) and logit["mean_rank"] == 2
    assert rf["n_tasks"] == 1 and rf["n_beats_best"] == 1 and rf[f"n_{WITHIN_FLAG}"] == 1
    # task d: svm 0.71 vs rf 0.69 (+0.02), rf -0.02 (not within 0.01, not far below)
    svm, rf_d = ref.loc[("report", "svm")], ref.loc[("report", "rf")]
    assert svm["n_beats_best"] == 1 and rf_d["mean_diff_to_best"] == pytest.approx(-0.02)
    assert rf_d[f"n_{WITHIN_FLAG}"] == 0 and rf_d[f"n_{BELOW_FLAG}"] == 0
    assert ref.loc[("all", "rf"), "n_tasks"] == 2 and ref["n_p_below_0.05"].isna().all()
    # the network rows are unchanged by the reference rows
    alone = panel_summary(table, ["nn"]).set_index(["half", "model"])
    nn = summary[summary["against"] == "best comparator"].set_index(["half", "model"])
    pd.testing.assert_frame_equal(nn, alone)


def _cv_summary(sweep, rows: list[dict]) -> None:
    out = layout.summary_dir(sweep)
    out.mkdir(parents=True)
    base = {
        "trait": "t",
        "bootstrap": "none",
        "n_jobs": 3,
        "n_folds": 3,
        "folds_complete": True,
        "n_patients": 90,
        "mean_auroc": 0.7,
        "sd_auroc": 0.1,
        "pooled_auroc_ci_low": 0.6,
        "pooled_auroc_ci_high": 0.8,
        "pooled_ap": 0.7,
        "mean_val_auroc": 0.7,
    }
    pd.DataFrame([{**base, **r} for r in rows]).to_csv(out / layout.CV_SUMMARY, index=False)


def test_rows_are_read_from_the_sweep_summary(tmp_path):
    _cv_summary(
        tmp_path / "s",
        [
            {
                "model": "nn",
                "config_hash": "a",
                "pooled_auroc": 0.71,
                "n_repeats": 5,
                "repeat_mean_pooled_auroc": 0.74,
                "repeat_sd_pooled_auroc": 0.02,
            },
            {
                "model": "rf",
                "config_hash": "b",
                "pooled_auroc": 0.81,
                "n_repeats": 5,
                "repeat_mean_pooled_auroc": 0.78,
                "repeat_sd_pooled_auroc": 0.01,
            },
        ],
    )
    rows = read_sweep_rows(tmp_path / "s").set_index("model")
    assert rows.loc["nn", "pooled_auroc"] == 0.71 and rows.loc["nn", "auroc"] == 0.74  # headline
    assert rows.loc["rf", "pooled_ci_low"] == 0.6 and rows.loc["rf", "n"] == 90
    _cv_summary(
        tmp_path / "two",
        [
            {"model": "nn", "config_hash": "a", "pooled_auroc": 0.7},
            {"model": "nn", "config_hash": "b", "pooled_auroc": 0.8},
        ],
    )
    with pytest.raises(PanelDataError, match="2 configurations of model nn"):
        read_sweep_rows(tmp_path / "two")
    with pytest.raises(PanelDataError, match="not run"):
        read_sweep_rows(tmp_path / "none")
    (tmp_path / "failed").mkdir()
    with pytest.raises(PanelDataError, match="no .*cv_summary.csv"):
        read_sweep_rows(tmp_path / "failed")


def _job(sweep, model: str, config: str, fold: int, val: float, probs: list[float]) -> None:
    """One finished job: metrics.json and predictions.csv of 4 held-out patients (2 of each class)."""
    job = sweep / f"{model}_{config}_fold{fold}"
    job.mkdir(parents=True)
    y = [0, 0, 1, 1]
    test = score(np.array(y), np.array(probs), ["a", "b"])["auroc"]
    metrics = dict(trait="t", model=model, config_hash=config, bootstrap=None, split_seed=425)
    metrics |= dict(fold=fold, n_folds=3, classes=["a", "b"], n_train=6, n_val=2, n_test=4)
    metrics |= dict(val_auroc=val, test_auroc=test)
    (job / layout.METRICS).write_text(json.dumps(metrics))
    ids = [f"p{fold}_{i}" for i in range(4)]
    pd.DataFrame({"patient_id": ids, "fold": fold, "y_true": y, "y_prob": probs}).to_csv(
        job / layout.PREDICTIONS, index=False
    )


RIGHT, WRONG, SOSO = [0.1, 0.2, 0.8, 0.9], [0.9, 0.8, 0.2, 0.1], [0.1, 0.6, 0.5, 0.9]


def test_tuned_row_is_the_nested_choice_by_inner_validation(tmp_path):
    """A tuning sweep's row: per fold the trial with the best val_auroc (never the best test
    score), its held-out predictions pooled; paired against the best comparator per fold."""
    tuning, models = tmp_path / "tuned", tmp_path / "models"
    for fold in range(3):  # trial 'aaa' is right on every held-out fold, 'bbb' wrong ...
        _job(tuning, "nn", "aaa", fold, 0.9 if fold < 2 else 0.5, RIGHT)
        _job(tuning, "nn", "bbb", fold, 0.5 if fold < 2 else 0.9, WRONG)  # ... chosen on fold 2
        _job(models, "logit_l2", "ccc", fold, 0.7, SOSO)
    _cv_summary(models, [{"model": "logit_l2", "config_hash": "ccc", "pooled_auroc": 0.75}])
    row = read_nested_rows(tuning).iloc[0]
    chosen_y = np.array([0, 0, 1, 1] * 3)
    chosen_p = np.array(RIGHT + RIGHT + WRONG)
    expected = score(chosen_y, chosen_p, ["a", "b"])["auroc"]
    assert row["model"] == "nn" and row["folds_complete"] and row["n"] == 12
    assert row["pooled_auroc"] == pytest.approx(expected) and expected < 1.0  # not the optimist
    assert row["mean_fold_auroc"] == pytest.approx((1 + 1 + 0) / 3)
    assert row["pooled_ci_low"] <= row["pooled_auroc"] <= row["pooled_ci_high"]
    sources = {"logit_l2": (models, "logit_l2"), "nn_tuned": Source(tuning, "nn", nested=True)}
    rows = task_rows("t", "dev", sources, ["logit_l2"], ["nn_tuned"]).set_index("model")
    tuned = rows.loc["nn_tuned"]
    assert tuned["kind"] == "network" and tuned["best_comparator"] == "logit_l2"
    assert tuned["auroc"] == pytest.approx(expected)
    assert tuned["diff_to_best"] == pytest.approx(expected - 0.75)
    soso = score(np.array([0, 0, 1, 1]), np.array(SOSO), ["a", "b"])["auroc"]
    assert tuned["n_paired_folds"] == 3
    assert tuned["fold_diff_to_best"] == pytest.approx((1 + 1 + 0) / 3 - soso)
    with pytest.raises(PanelDataError, match="not run"):
        read_nested_rows(tmp_path / "none")


def test_sweep_command_merges_overrides(tmp_path):
    task = Task("t", "dev", ("data=verhaak840", "trait=proneural", "n_folds=10"))
    command = sweep_command(
        task, ["nn", "rf"], tmp_path, repeats=2, jobs=2, extra=["n_folds=3", "debug=tiny"]
    )
    assert command[:2] == ["train.py", "-m"]
    assert command.count("n_folds=3") == 1 and "n_folds=10" not in command
    assert "model=nn,rf" in command and "repeats=2" in command and "save_model=false" in command
    assert "hydra.launcher.n_jobs=2" in command and command[-1] == f"hydra.sweep.dir={tmp_path}"
    variant = parse_variant('ens="model.ensemble=3 model.gene_filter.method=anova"')
    assert variant == Variant("ens", ("model.ensemble=3", "model.gene_filter.method=anova"))
    command = sweep_command(task, ["nn", "rf"], tmp_path, variant=variant)
    assert "model=nn" in command and "model.ensemble=3" in command
    with pytest.raises(PanelError, match="sets model itself"):
        parse_variant("x=model=rf")


@pytest.mark.parametrize(
    "text, message",
    [
        ("tasks:\n  - {name: a, half: dev}\n", "task 'a': missing overrides"),
        ("tasks:\n  - {name: a, half: test, overrides: [trait=edema]}\n", "half 'test'"),
        ("- {name: a, half: dev, overrides: []}\n", "no overrides"),
        ("- {name: a, half: dev, overrides: [model=rf]}\n", "sets model itself"),
        ("- {name: a/b, half: dev, overrides: [trait=edema]}\n", "a directory name"),
        ("tasks: [\n", "not YAML"),
    ],
)
def test_bad_tasks_file_is_one_line_and_exit_2(tmp_path, capsys, text, message):
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(text)
    code = panel_script.main(["--tasks", str(tasks), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err
    assert not (tmp_path / "out").exists()


def test_bad_options_are_one_line_and_exit_2(tmp_path, capsys):
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text("- {name: a, half: dev, overrides: [trait=edema]}\n")
    for argv, message in [
        (["--models", "nn,forest"], "unknown model"),
        (["--variant", "nn=model.ensemble=2"], "given twice"),
        (["--only", "b"], "no such task"),
        (["--half", "report"], "no task in half"),
        (["--tuned", "t=model.dropout=0.1"], "no hparams_search=... among its overrides"),
        (["--tuned", "t=hparams_search=no_such_search"], "hparams_search=no_such_search: unknown"),
        (["--tuned", "nn=hparams_search=nn_optuna_labelled"], "given twice"),
    ]:
        code = panel_script.main(["--tasks", str(tasks), "--out", str(tmp_path / "o"), *argv])
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err


@pytest.mark.slow  # ~20-60 s: two sweeps from a cold cache
def test_tiny_panel_end_to_end(tmp_path, cache_dir, capsys):
    """One tiny task, logit_l2 + nn on 3 folds, after a task that fails: files, rows, the
    numbers' sources, and a rerun."""
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(
        "tasks:\n  - {name: broken, half: dev, overrides: [trait=no_such_trait]}\n"
        "  - {name: tiny, half: dev, overrides: [trait=enhancement], what: tiny}\n"
    )
    out = tmp_path / "panel"
    argv = [
        sys.executable,
        "scripts/panel.py",
        "--tasks",
        str(tasks),
        "--out",
        str(out),
        "--models",
        "nn,logit_l2",
        "--set",
        "debug=tiny n_folds=3",
    ]
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(cache_dir)}
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]  # broken failed ...
    assert "broken models nn,logit_l2: train.py exit 2" in proc.stderr  # ... and says why
    assert "trait=no_such_trait is not one of" in proc.stderr
    assert "done tiny models nn,logit_l2" in proc.stdout  # ... and the next task still ran
    for name in (
        layout.PANEL_TABLE,
        layout.PANEL_MARKDOWN,
        layout.PANEL_SUMMARY,
        layout.PANEL_SUMMARY_MARKDOWN,
        layout.PANEL_FIGURE,
    ):
        assert (out / name).is_file(), name
    table = pd.read_csv(out / layout.PANEL_TABLE).set_index("model")
    assert list(table.index) == ["nn", "logit_l2"] and set(table["task"]) == {"tiny"}
    assert set(table["best_comparator"]) == {"logit_l2"} and (table["n_folds"] == 3).all()
    sweep = layout.panel_sweep_dir(out, "tiny")
    cv = pd.read_csv(layout.summary_dir(sweep) / layout.CV_SUMMARY).set_index("model")
    for model in ("nn", "logit_l2"):  # read from the sweep's own summary, not recomputed
        assert table.loc[model, "pooled_auroc"] == cv.loc[model, "pooled_auroc"]
        assert table.loc[model, "pooled_ci_low"] == cv.loc[model, "pooled_auroc_ci_low"]
    nn = table.loc["nn"]
    assert nn["diff_to_best"] == pytest.approx(
        nn["pooled_auroc"] - cv.loc["logit_l2", "pooled_auroc"]
    )
    paired = pd.read_csv(layout.compare_dir(sweep) / layout.compare_table("paired_cv"))
    paired = paired[paired["comparator"] == "logit_l2"].iloc[0]  # the sweep's compare.py run
    assert nn["fold_diff_to_best"] == pytest.approx(paired["mean_diff"])
    assert nn["p_value"] == pytest.approx(paired["p_value"]) and nn["n_paired_folds"] == 3
    summary = pd.read_csv(out / layout.PANEL_SUMMARY)
    assert list(summary["model"]) == ["nn"] and summary["n_tasks"].tolist() == [1]
    # a variant row labels its own sweep's nn: here the same sweep, so the same numbers
    rows = task_rows(
        "tiny",
        "dev",
        {"nn": (sweep, "nn"), "logit_l2": (sweep, "logit_l2"), "copy": (sweep, "nn")},
        ["logit_l2"],
        ["nn", "copy"],
    )
    rows = rows.set_index("model")
    assert rows.loc["copy", "p_value"] == pytest.approx(nn["p_value"])
    assert rows.loc["copy", "kind"] == "network" and rows.loc["copy", "rank"] == nn["rank"]
    # a rerun (in this process: it starts no sweep) skips the finished sweep, same table
    assert panel_script.main([*argv[2:], "--only", "tiny"]) == 0
    assert "finished earlier, skipped" in capsys.readouterr().out
    assert layout.panel_log(sweep).read_text().count("$ python") == 1
    pd.testing.assert_frame_equal(pd.read_csv(out / layout.PANEL_TABLE).set_index("model"), table)


def test_a_finished_sweep_counts_as_finished_only_under_the_same_configs(tmp_path):
    """A changed default (any config file's bytes or name) makes a finished sweep unfinished, so
    the panel reruns it instead of tabulating rows of the old default; a record without the
    fingerprint (an older panel) is rerun too."""
    root = tmp_path / "repo"
    (root / "configs" / "model").mkdir(parents=True)
    nn = root / "configs" / "model" / "nn.yaml"
    nn.write_text("ensemble: 8\n")
    before = configs_fingerprint(root)
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    command = ["train.py", "-m", "model=nn"]
    record = {"command": command, "configs": before, "exit": 0}
    (sweep / layout.PANEL_DONE).write_text(json.dumps(record))
    assert finished_before(command, sweep, before)
    assert not finished_before([*command, "seed=1"], sweep, before)
    nn.write_text("ensemble: 4\n")
    after = configs_fingerprint(root)
    assert after != before and not finished_before(command, sweep, after)
    nn.rename(nn.with_name("nn2.yaml"))
    assert configs_fingerprint(root) not in (before, after)
    (sweep / layout.PANEL_DONE).write_text(json.dumps({"command": command, "exit": 0}))
    assert not finished_before(command, sweep, before)


@pytest.mark.slow  # ~20-50 s: two sweeps (the hand-made sweep above is the fast check)
def test_tuned_row_from_a_real_tuning_sweep(tmp_path, cache_dir, capsys):
    """--tuned runs the project's nested tuning (one trial per outer fold here) on the same outer
    folds as the comparators; its row has a finite AUROC, a rank and a paired test, and a rerun
    skips the finished tuning sweep."""
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text("- {name: tiny, half: dev, overrides: [trait=enhancement]}\n")
    out = tmp_path / "panel"
    tuned = "t=hparams_search=nn_optuna_labelled hydra.sweeper.n_trials=1 trainer.max_epochs=3"
    argv = ["--tasks", str(tasks), "--out", str(out), "--models", "logit_l2"]
    argv += ["--set", "debug=tiny n_folds=3", "--tuned", tuned]
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(cache_dir)}
    command = [sys.executable, "scripts/panel.py", *argv]
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    table = pd.read_csv(out / layout.PANEL_TABLE).set_index("model")
    assert list(table.index) == ["logit_l2", "t"]
    row = table.loc["t"]
    assert row["kind"] == "network" and row["n_folds"] == 3 and row["folds_complete"]
    assert np.isfinite(row["pooled_auroc"]) and 0 <= row["pooled_auroc"] <= 1
    assert row["rank"] in (1, 2) and row["best_comparator"] == "logit_l2"
    assert row["n_paired_folds"] == 3 and np.isfinite(row["p_value"])
    sweep = layout.panel_sweep_dir(out, "tiny", "t", tuned=True)
    assert (layout.tuning_dir(sweep) / layout.TUNING_REPORT).is_file()  # a real tuning sweep
    summary = pd.read_csv(out / layout.PANEL_SUMMARY)
    assert list(summary["model"]) == ["t"]
    assert panel_script.main(argv) == 0  # in this process: starts no sweep
    assert capsys.readouterr().out.count("finished earlier, skipped") == 2
