"""Binary vs ordinal vs multi-task comparison (scripts/compare_heads.py) on hand-made sweeps."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radiogenomics.evaluation.comparison import corrected_resampled_ttest
from radiogenomics.evaluation.heads_comparison import compare_heads, paired_auroc_difference
from radiogenomics.evaluation.metrics import auroc

ROOT = Path(__file__).resolve().parents[2]
LEVELS = ["minimal", "low", "mid", "high"]
CUT = 2  # the paper's cut: levels mid and high are the positive class
N, FOLDS = 90, 3


def cohort(seed: int = 0) -> pd.DataFrame:
    """Patients with a level, their binary class at the cut, and a fold."""
    rng = np.random.default_rng(seed)
    level = np.tile(np.arange(4), N // 4 + 1)[:N]
    return pd.DataFrame(
        {
            "patient_id": [f"TCGA-00-{i:04d}" for i in range(N)],
            "level": level,
            "target": (level >= CUT).astype(int),
            "fold": rng.permutation(np.arange(N) % FOLDS),
        }
    )


def write_job(d: Path, metrics: dict, predictions: pd.DataFrame) -> None:
    d.mkdir(parents=True)
    predictions.to_csv(d / "predictions.csv", index=False)
    (d / "metrics.json").write_text(json.dumps(metrics))


def job_metrics(fold: int, n_test: int, classes: list[str], **extra) -> dict:
    return {
        "trait": "enhancement",
        "model": "nn",
        "fold": fold,
        "n_folds": FOLDS,
        "split_seed": 425,
        "bootstrap": None,
        "n_train": 50,
        "n_val": 10,
        "n_test": n_test,
        "classes": classes,
        "config_hash": "abc",
        "elapsed_s": 2.0 + fold,
        **extra,
    }


def write_binary(sweep: Path, patients: pd.DataFrame, prob: np.ndarray) -> None:
    for fold in range(FOLDS):
        part = patients["fold"] == fold
        frame = pd.DataFrame(
            {
                "patient_id": patients.loc[part, "patient_id"],
                "fold": fold,
                "y_true": patients.loc[part, "target"],
                "y_prob": prob[part],
            }
        )
        metrics = job_metrics(fold, int(part.sum()), ["low", "high"])
        write_job(sweep / f"trait=enhancement,fold={fold}", metrics, frame)


def write_ordinal(sweep: Path, patients: pd.DataFrame, upper: np.ndarray) -> None:
    """Level probabilities whose P(y >= CUT) is ``upper``, split evenly within each side."""
    probs = np.column_stack([(1 - upper) / 2, (1 - upper) / 2, upper / 2, upper / 2])
    for fold in range(FOLDS):
        part = (patients["fold"] == fold).to_numpy()
        frame = pd.DataFrame(
            {
                "patient_id": patients.loc[part, "patient_id"],
                "fold": fold,
                "y_true": patients.loc[part, "level"],
            }
        )
        for k, level in enumerate(LEVELS):
            frame[f"prob_{level}"] = probs[part, k]
        metrics = job_metrics(
            fold, int(part.sum()), LEVELS, trait_kind="ordinal", binary_cut=CUT, model="nn"
        )
        write_job(sweep / f"trait=enhancement,trait.kind=ordinal,fold={fold}", metrics, frame)


def write_multitask(sweep: Path, patients: pd.DataFrame, prob: np.ndarray) -> None:
    """A multi-task sweep over other folds and a subset of the patients (the first 60)."""
    sweep.mkdir(parents=True)
    (sweep / "multirun.yaml").write_text("{}\n")  # a sweep dir: its jobs are one level down
    keep = np.arange(N) < 60
    folds = np.arange(N) % FOLDS
    for fold in range(FOLDS):
        part = keep & (folds == fold)
        job = sweep / f"fold={fold},multitask=vasari"
        frame = pd.DataFrame(
            {
                "patient_id": patients.loc[part, "patient_id"],
                "fold": fold,
                "y_true": patients.loc[part, "target"],
                "y_prob": prob[part],
            }
        )
        metrics = job_metrics(fold, int(part.sum()), ["low", "high"], model="nn_multitask")
        write_job(job / "trait=enhancement", metrics, frame)
        record = {"traits": {"enhancement": {}, "edema": {}}, "fold": fold, "elapsed_s": 10.0}
        (job / "multitask.json").write_text(json.dumps(record))


@pytest.fixture
def sweeps(tmp_path):
    """Binary (noisy), ordinal (planted better), multi-task (= binary) sweeps of one trait."""
    patients = cohort()
    rng = np.random.default_rng(1)
    y = patients["target"].to_numpy()
    weak = np.clip(0.3 * y + rng.uniform(0, 0.7, N), 0, 1)
    strong = np.clip(0.6 * y + rng.uniform(0, 0.4, N), 0, 1)
    write_binary(tmp_path / "binary", patients, weak)
    write_ordinal(tmp_path / "ordinal", patients, strong)
    write_ordinal(tmp_path / "ordinal_same", patients, weak)
    write_multitask(tmp_path / "multitask", patients, weak)
    return tmp_path, patients, weak, strong


def test_planted_better_ordinal_network_gives_a_positive_difference(sweeps):
    root, patients, weak, strong = sweeps
    table, _ = compare_heads([root / "binary"], [root / "ordinal"], n_boot=500)
    row = table.set_index("trait").loc["enhancement"]
    y = patients["target"].to_numpy()
    assert row["binary_auroc"] == pytest.approx(auroc(y, weak))
    assert row["ordinal_auroc"] == pytest.approx(auroc(y, strong))  # P(y >= cut) from the levels
    assert row["ordinal_minus_binary_diff"] == pytest.approx(auroc(y, strong) - auroc(y, weak))
    assert row["ordinal_minus_binary_ci_low"] > 0  # the planted gap: the interval excludes 0
    assert row["ordinal_same_folds"]
    folds = patients["fold"].to_numpy()
    diffs = [
        auroc(y[folds == f], strong[folds == f]) - auroc(y[folds == f], weak[folds == f])
        for f in range(FOLDS)
    ]
    expected = corrected_resampled_ttest(np.array(diffs), n_train=60, n_test=N / FOLDS)
    assert row["ordinal_fold_mean_diff"] == pytest.approx(expected["mean_diff"])
    assert row["ordinal_fold_t"] == pytest.approx(expected["t"])
    assert row["ordinal_fold_mean_diff"] > 0


def test_identical_predictions_give_zero(sweeps):
    root, *_ = sweeps
    table, _ = compare_heads([root / "binary"], [root / "ordinal_same"], [root / "multitask"], 300)
    row = table.set_index("trait").loc["enhancement"]
    for kind in ("ordinal", "multitask"):
        lo, diff, hi = (row[f"{kind}_minus_binary_{k}"] for k in ("ci_low", "diff", "ci_high"))
        assert lo == pytest.approx(0) and diff == pytest.approx(0) and hi == pytest.approx(0)
    assert row["ordinal_fold_mean_diff"] == pytest.approx(0)


def test_multitask_pairs_by_patient_and_shares_its_cost(sweeps):
    root, patients, weak, _ = sweeps
    table, cost = compare_heads([root / "binary"], multitask=[root / "multitask"], n_boot=200)
    row = table.set_index("trait").loc["enhancement"]
    assert row["multitask_n"] == 60 and row["multitask_minus_binary_n"] == 60
    y = patients["target"].to_numpy()
    assert row["multitask_auroc"] == pytest.approx(auroc(y[:60], weak[:60]))
    assert row["binary_elapsed_s"] == pytest.approx(2 + 3 + 4)  # summed over the 3 folds
    assert row["multitask_share_elapsed_s"] == pytest.approx(30 / 2)  # 3 networks, 2 traits
    cost = cost.set_index("kind")
    assert cost.loc["multitask", "elapsed_s"] == pytest.approx(30)
    assert cost.loc["multitask", "networks"] == 3 and cost.loc["binary", "networks"] == 3
    assert "ordinal_minus_binary_diff" not in table.columns  # no ordinal sweep given


def test_disagreeing_classes_are_refused(sweeps):
    root, patients, weak, _ = sweeps
    flipped = patients.assign(level=3 - patients["level"])
    write_ordinal(root / "flipped", flipped, weak)
    with pytest.raises(ValueError, match="disagree on the class"):
        compare_heads([root / "binary"], [root / "flipped"], n_boot=50)


def test_paired_difference_of_a_better_score_excludes_zero():
    rng = np.random.default_rng(3)
    y = np.r_[np.zeros(80, int), np.ones(80, int)]
    good, bad = y + rng.normal(0, 0.5, 160), y + rng.normal(0, 2.0, 160)
    out = paired_auroc_difference(y, good, bad, n_boot=500)
    assert out["ci_low"] > 0 and out["diff"] == pytest.approx(auroc(y, good) - auroc(y, bad))
    same = paired_auroc_difference(y, good, good, n_boot=100)
    assert same["diff"] == same["ci_low"] == same["ci_high"] == 0


def test_compare_heads_script_writes_the_tables(sweeps, capsys):
    root, *_ = sweeps
    spec = importlib.util.spec_from_file_location("ch", ROOT / "scripts" / "compare_heads.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = root / "out"
    argv = [
        "--binary",
        str(root / "binary"),
        "--ordinal",
        str(root / "ordinal"),
        "--multitask",
        str(root / "multitask"),
        "--out",
        str(out),
        "--n-boot",
        "100",
    ]
    report = script.main(argv)
    table = pd.read_csv(out / "heads_comparison.csv")
    assert table["ordinal_auroc"].iloc[0] == pytest.approx(report.table["ordinal_auroc"].iloc[0])
    assert set(pd.read_csv(out / "heads_cost.csv")["kind"]) == {"binary", "ordinal", "multitask"}
    text = (out / "heads_comparison.md").read_text()
    assert "| enhancement | 90 |" in text and text.strip() in capsys.readouterr().out
