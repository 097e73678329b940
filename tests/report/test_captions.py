"""The report's words follow its numbers: calibration and ROC captions computed from the data.

Over-confident predictions (pushed towards 0 and 1) must read as over-confident with a slope
below 1, under-confident ones (shrunk towards 0.5) as under-confident with a slope above 1, and
calibrated draws as well calibrated, in the calibration line, the sentence and the sweep report.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radiogenomics.evaluation import metrics as m
from radiogenomics.pipelines.sweep_summary import summarize
from radiogenomics.report.captions import (
    brier_reference,
    calibration_sentence,
    roc_sentence,
)
from radiogenomics.results import layout

N = 600
STRETCH = {"over": 3.0, "under": 1 / 3, "well": 1.0}  # logit(p) = stretch x true logit
WORDS = {"over": "Over-confident", "under": "Under-confident", "well": "Well calibrated"}


def _draws(kind: str, n: int = N, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(labels, probabilities): labels drawn from true risks, probabilities stretched or shrunk."""
    rng = np.random.default_rng(seed)
    risk = rng.uniform(0.05, 0.95, n)
    y = (rng.uniform(size=n) < risk).astype(int)
    logit = np.log(risk / (1 - risk)) * STRETCH[kind]
    return y, 1 / (1 + np.exp(-logit))


@pytest.mark.parametrize("kind", ["over", "under", "well"])
def test_calibration_line_verdict_and_slope(kind):
    y, p = _draws(kind)
    line = m.calibration_line(y, p)
    lo, hi = line["slope_ci"]
    assert lo <= line["slope"] <= hi
    if kind == "over":
        assert line["slope"] < 1 and hi < 1 and line["verdict"] == m.OVER_CONFIDENT
    elif kind == "under":
        assert line["slope"] > 1 and lo > 1 and line["verdict"] == m.UNDER_CONFIDENT
    else:
        assert lo <= 1 <= hi and line["verdict"] == m.WELL_CALIBRATED
    ece = m.calibration_error(m.calibration_table(y, p))
    sentence = calibration_sentence(line, ece)
    assert sentence.startswith(WORDS[kind])
    assert f"{line['slope']:.2f}" in sentence and f"ECE) {ece:.3f}" in sentence
    for other in set(WORDS) - {kind}:
        assert WORDS[other].lower() not in sentence.lower()


def test_the_slope_recovers_the_stretch_and_large_miscalibration_is_named():
    y, p = _draws("well", n=4000, seed=1)
    stretched = 1 / (1 + np.exp(-2 * np.log(p / (1 - p))))
    assert m.calibration_line(y, stretched)["slope"] == pytest.approx(0.5, abs=0.08)
    shifted = 1 / (1 + np.exp(-(np.log(p / (1 - p)) - 1.0)))  # predicts too few events
    line = m.calibration_line(y, shifted)
    assert line["verdict"] == m.MISCALIBRATED_IN_THE_LARGE
    assert line["citl"] == pytest.approx(1.0, abs=0.15)
    assert "events are more common than predicted" in calibration_sentence(line)


def test_hard_zero_one_predictions_are_over_confident_not_an_error():
    y, p = _draws("well", seed=2)
    hard = (p > 0.5).astype(float)  # probabilities piled at 0 and 1, some wrong
    line = m.calibration_line(y, hard)
    assert line["verdict"] == m.OVER_CONFIDENT and line["slope"] < 0.5


def test_undefined_lines_say_why():
    few = m.calibration_line(np.array([0, 1, 1]), np.array([0.2, 0.6, 0.7]))
    assert few["verdict"] == m.NOT_ESTIMABLE and "fewer than" in calibration_sentence(few)
    one = m.calibration_line(np.ones(50), np.full(50, 0.7))
    assert "one class only" in calibration_sentence(one)
    y = np.array([0, 1] * 20)
    separated = m.calibration_line(y, np.where(y == 1, 0.9, 0.1))
    assert separated["verdict"] == m.NOT_ESTIMABLE
    assert "separate the classes" in calibration_sentence(separated)


def test_a_small_cohort_is_imprecise_rather_than_well_calibrated():
    y, p = _draws("well", n=40, seed=3)
    line = m.calibration_line(y, p)
    assert line["verdict"] in (m.IMPRECISE, m.WELL_CALIBRATED)
    if line["verdict"] == m.IMPRECISE:
        assert calibration_sentence(line).startswith("Too imprecise")


def test_validation_scores_carry_the_line():
    y, p = _draws("over", n=200)
    scores = m.validation_scores(y, p, ["lo", "hi"], n_boot=20)
    assert scores["calibration_line"]["verdict"] == m.OVER_CONFIDENT


def test_roc_words_follow_the_ci():
    assert "better than chance" in roc_sentence(0.8, 0.7, 0.9)
    assert "not distinguishable from chance" in roc_sentence(0.55, 0.45, 0.65)
    assert "as it should be with permuted labels" in roc_sentence(0.5, 0.4, 0.6, permuted=True)
    assert "leakage" in roc_sentence(0.8, 0.7, 0.9, permuted=True)
    assert "worse than chance" in roc_sentence(0.2, 0.1, 0.3)
    assert brier_reference(np.array([0, 0, 0, 1]), 2) == pytest.approx(0.1875)


# ------------------------------------------------------------------------- the sweep report


def _fake_sweep(root: Path, kind: str, n_folds: int = 2) -> Path:
    """A summarizable sweep: n_folds jobs with metrics.json and predictions.csv (no Hydra)."""
    y, p = _draws(kind)
    folds = np.arange(len(y)) % n_folds
    for fold in range(n_folds):
        job = root / f"fold={fold}"
        job.mkdir(parents=True)
        part = folds == fold
        pd.DataFrame(
            {
                "patient_id": [f"P{i:04d}" for i in np.flatnonzero(part)],
                "fold": fold,
                "y_true": y[part],
                "y_prob": p[part],
            }
        ).to_csv(job / layout.PREDICTIONS, index=False)
        metrics = {
            "trait": "edema",
            "model": "nn",
            "fold": fold,
            "n_folds": n_folds,
            "bootstrap": None,
            "test_auroc": 0.7,
            "test_ap": 0.7,
            "val_auroc": 0.7,
            "classes": ["absent", "present"],
            "config_hash": "abc123def456",
        }
        (job / layout.METRICS).write_text(json.dumps(metrics))
    return root


@pytest.mark.parametrize("kind", ["over", "under", "well"])
def test_the_report_says_what_its_reliability_diagram_shows(tmp_path, kind):
    sweep = _fake_sweep(tmp_path / kind, kind)
    summarize(sweep, n_boot=50)
    html = (layout.summary_dir(sweep) / layout.REPORT_HTML).read_text()
    card = (layout.summary_dir(sweep) / layout.MODEL_CARD).read_text()
    y, p = _draws(kind)
    line = m.calibration_line(y, p)
    expected = calibration_sentence(line, m.calibration_error(m.calibration_table(y, p)))
    assert expected in html and expected in card
    for other in set(WORDS) - {kind}:
        assert f"{WORDS[other]}:" not in html
    assert "S-shaped" not in html
    assert "better than chance" in html  # every draw ranks the patients by their true risk
    assert f"{line['slope']:.2f} [" in html  # the CV table's calibration column
