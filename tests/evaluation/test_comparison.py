"""Paired statistics and scripts/compare.py read against hand-made job files."""

import importlib.util
import inspect
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radiogenomics.evaluation.comparison import (
    corrected_repeated_cv_ttest,
    corrected_resampled_ttest,
    percentile_summary,
)
from radiogenomics.evaluation.metrics import score

ROOT = Path(__file__).resolve().parents[2]


def test_corrected_ttest_against_hand_computation():
    # d = .1 .2 0 .1 .15: mean .11, var(ddof=1) .0055; se = sqrt((1/5 + 10/90) * .0055)
    out = corrected_resampled_ttest(np.array([0.1, 0.2, 0.0, 0.1, 0.15]), n_train=90, n_test=10)
    assert out["mean_diff"] == pytest.approx(0.11)
    assert out["t"] == pytest.approx(2.659215781, rel=1e-6)
    assert out["df"] == 4
    assert out["p_value"] == pytest.approx(0.0564364846, rel=1e-6)
    naive_t = 0.11 / np.sqrt(0.0055 / 5)
    assert out["t"] < naive_t  # the correction widens the interval


def test_corrected_repeated_cv_ttest_against_hand_computation():
    # R=2 repeats x k=3 folds: d = .1 .2 0 | .1 .15 .05: mean .1, var(ddof=1) .005;
    # Bouckaert & Frank: se = sqrt((1/(R*k) + n_test/n_train) * var) = sqrt((1/6 + 10/90) * .005)
    d = np.array([0.1, 0.2, 0.0, 0.1, 0.15, 0.05])
    out = corrected_repeated_cv_ttest(d, n_train=90, n_test=10, n_repeats=2)
    assert out["mean_diff"] == pytest.approx(0.1)
    assert out["t"] == pytest.approx(2.683281573, rel=1e-6)
    assert out["df"] == 5 and out["n_folds"] == 6 and out["n_repeats"] == 2
    assert out["p_value"] == pytest.approx(0.0436482540, rel=1e-6)


def test_one_repeat_is_the_nadeau_bengio_test():
    d = np.array([0.1, 0.2, 0.0, 0.1, 0.15])
    assert corrected_repeated_cv_ttest(d, 90, 10, n_repeats=1) == corrected_resampled_ttest(
        d, 90, 10
    )


def test_percentile_summary():
    out = percentile_summary(np.arange(-10, 91) / 100)  # 101 values, 11 of them <= 0
    assert out["mean_diff"] == pytest.approx(0.4)
    assert out["ci_low"] == pytest.approx(-0.075) and out["ci_high"] == pytest.approx(0.875)
    assert out["share_not_better"] == pytest.approx(11 / 101) and out["n_replicates"] == 101


def write_job(
    sweep: Path, model: str, fold: int, bootstrap, rng, quality: float, repeat: int = 0
) -> None:
    d = sweep / f"model={model},fold={fold},bootstrap={bootstrap}"
    d = d.with_name(d.name + f",repeat={repeat}") if repeat else d
    d.mkdir(parents=True)
    ids = [f"TCGA-00-{i:04d}" for i in rng.choice(40, size=12, replace=bootstrap is not None)]
    y = np.r_[np.zeros(6, int), np.ones(6, int)]
    prob = np.clip(quality * y + rng.uniform(0, 1, size=12), 0, 2) / 2
    pd.DataFrame({"patient_id": ids, "fold": fold, "y_true": y, "y_prob": prob}).to_csv(
        d / "predictions.csv", index=False
    )
    metrics = {
        "trait": "enhancement",
        "model": model,
        "fold": fold,
        "n_folds": 3,
        "split_seed": 425 + repeat,
        "bootstrap": bootstrap,
        "n_train": 24 if model != "nn" else 20,
        "n_val": 0 if model != "nn" else 4,
        "n_test": 12,
        "test_auroc": score(y, prob, ["low", "high"])["auroc"],
        "test_ap": 0.5,
        "val_auroc": 0.7,
        "best_epoch": None,
        "classes": ["low", "high"],
        "config_hash": model * 2,
    }
    (d / "metrics.json").write_text(json.dumps(metrics))


def write_sweeps(root: Path) -> tuple[Path, Path]:
    """A plain-CV sweep and a bootstrap sweep of three models, 3 folds (x 4 replicates)."""
    rng = np.random.default_rng(0)
    cv, boot = root / "cv", root / "boot"
    for model, quality in (("nn", 0.8), ("logit_l2", 0.3), ("rf", 0.1)):
        for fold in range(3):
            write_job(cv, model, fold, None, rng, quality)
            for b in range(4):
                write_job(boot, model, fold, b, rng, quality)
    return cv, boot


def compare_script():
    spec = importlib.util.spec_from_file_location("compare", ROOT / "scripts" / "compare.py")
    compare = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(compare)
    return compare


def test_compare_script_matches_job_files(tmp_path):
    cv, boot = write_sweeps(tmp_path)
    compare = compare_script()
    out = tmp_path / "cmp"
    tables = compare.main([str(cv), str(boot), "--out", str(out), "--n-boot", "200"])

    def job(sweep, model, fold, b):
        d = sweep / f"model={model},fold={fold},bootstrap={b}"
        return json.loads((d / "metrics.json").read_text())

    models = pd.read_csv(out / "models.csv").set_index("label")
    for model in ("nn", "logit_l2", "rf"):
        folds = [job(cv, model, f, None)["test_auroc"] for f in range(3)]
        assert models.loc[model, "cv_mean_auroc"] == pytest.approx(np.mean(folds))
        assert models.loc[model, "cv_sd_auroc"] == pytest.approx(np.std(folds, ddof=1))
        reps = [np.mean([job(boot, model, f, b)["test_auroc"] for f in range(3)]) for b in range(4)]
        assert models.loc[model, "boot_mean_auroc"] == pytest.approx(np.mean(reps))
        assert models.loc[model, "boot_replicates"] == 4
        lo, hi = models.loc[model, ["pooled_ci_low", "pooled_ci_high"]]
        assert lo <= models.loc[model, "pooled_auroc"] <= hi

    paired = pd.read_csv(out / "paired_cv.csv").set_index("comparator")
    d = [
        job(cv, "nn", f, None)["test_auroc"] - job(cv, "rf", f, None)["test_auroc"]
        for f in range(3)
    ]
    expected = corrected_resampled_ttest(np.array(d), n_train=24, n_test=12)
    assert paired.loc["rf", "mean_diff"] == pytest.approx(expected["mean_diff"])
    assert paired.loc["rf", "t"] == pytest.approx(expected["t"])
    assert not paired.loc["rf", "same_patients"]  # hand-made jobs drew their own patients

    pb = pd.read_csv(out / "paired_bootstrap.csv").set_index("comparator")
    diffs = [
        np.mean(
            [
                job(boot, "nn", f, b)["test_auroc"] - job(boot, "logit_l2", f, b)["test_auroc"]
                for f in range(3)
            ]
        )
        for b in range(4)
    ]
    assert pb.loc["logit_l2", "mean_diff"] == pytest.approx(np.mean(diffs))
    assert pb.loc["logit_l2", "share_not_better"] == pytest.approx(np.mean(np.array(diffs) <= 0))
    assert pb.loc["logit_l2", "ci_low"] == pytest.approx(np.percentile(diffs, 2.5))
    assert (out / "fig2a.png").stat().st_size > 0 and (out / "fig2b.png").stat().st_size > 0
    assert "| enhancement |" in (out / "compare.md").read_text()
    assert set(tables) >= {"models", "paired_cv", "paired_bootstrap"}


def test_compare_script_is_the_package_function(tmp_path, capsys):
    """scripts/compare.py only parses: write_comparison alone writes the same files and text."""
    from radiogenomics.results import layout
    from radiogenomics.summaries.comparison import write_comparison

    compare = compare_script()
    own = [
        name
        for name, obj in vars(compare).items()
        if inspect.isfunction(obj) and obj.__module__ == compare.__name__
    ]
    assert own == ["main"]
    cv, boot = write_sweeps(tmp_path / "script")
    tables = compare.main([str(cv), str(boot), "--n-boot", "200"])
    printed = capsys.readouterr().out
    cv2, boot2 = write_sweeps(tmp_path / "package")
    report = write_comparison([cv2, boot2], n_boot=200)
    assert report.out == layout.compare_dir(cv2)
    assert printed == f"{report.text}\n\nwritten to {layout.compare_dir(cv)}\n"
    assert (report.out / layout.COMPARE_MARKDOWN).read_text() == report.text + "\n"
    names = sorted(p.name for p in layout.compare_dir(cv).iterdir())
    assert names == sorted(p.name for p in report.out.iterdir())
    expected = [layout.compare_table(n) for n in tables] + [
        layout.PAIRED_DIFFS,
        layout.FIG_AUROC_BY_MODEL,
        layout.FIG_PAIRED_DIFFERENCES,
        layout.COMPARE_MARKDOWN,
    ]
    assert sorted(expected) == names
    for name, table in tables.items():
        pd.testing.assert_frame_equal(table, report.tables[name])
        pd.testing.assert_frame_equal(
            pd.read_csv(layout.compare_dir(cv) / layout.compare_table(name)),
            pd.read_csv(report.out / layout.compare_table(name)),
        )


def test_repeated_cv_pairs_folds_by_split_seed(tmp_path):
    """repeats=2: the paired test runs over all 2 x 3 folds (Bouckaert & Frank), and the model
    table's fold and pooled columns are the first repeat's, as for a single-repeat sweep."""
    from radiogenomics.summaries.comparison import write_comparison

    rng = np.random.default_rng(1)
    single, repeated = tmp_path / "single", tmp_path / "repeated"
    for model, quality in (("nn", 0.8), ("rf", 0.1)):
        for repeat in (0, 1):
            for fold in range(3):
                state = rng.bit_generator.state
                write_job(repeated, model, fold, None, rng, quality, repeat)
                if repeat == 0:  # the same job in a single-repeat sweep
                    rng.bit_generator.state = state
                    write_job(single, model, fold, None, rng, quality)
    one = write_comparison([single], n_boot=100).tables
    two = write_comparison([repeated], n_boot=100).tables

    def auroc(model, fold, repeat):
        d = repeated / f"model={model},fold={fold},bootstrap=None"
        d = d.with_name(d.name + f",repeat={repeat}") if repeat else d
        return json.loads((d / "metrics.json").read_text())["test_auroc"]

    d = [auroc("nn", f, r) - auroc("rf", f, r) for r in (0, 1) for f in range(3)]
    row = two["paired_cv"].iloc[0]
    expected = corrected_repeated_cv_ttest(np.array(d), n_train=24, n_test=12, n_repeats=2)
    assert row["df"] == 5 and row["n_repeats"] == 2 and row["n_folds"] == 6
    assert row["t"] == pytest.approx(expected["t"]) and row["p_value"] == pytest.approx(
        expected["p_value"]
    )
    pooled = two["models"].set_index("label")
    gap = pooled["repeat_mean_pooled_auroc"]["nn"] - pooled["repeat_mean_pooled_auroc"]["rf"]
    assert row["repeat_mean_pooled_diff"] == pytest.approx(gap)
    assert np.isfinite(row["repeat_sd_pooled_diff"])
    assert "n_repeats" not in one["paired_cv"] and one["paired_cv"]["df"].iloc[0] == 2
    first = ["cv_folds", "cv_mean_auroc", "cv_sd_auroc", "pooled_auroc"]
    pd.testing.assert_frame_equal(
        one["models"][["label", *first]], two["models"][["label", *first]]
    )
    assert (two["models"]["cv_repeats"] == 2).all()
