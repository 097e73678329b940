"""Model agreement: pairwise table of a 2-family masking sweep, its report section, validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radiogenomics.errors import ConfigError
from radiogenomics.report.blocks import Table
from radiogenomics.report.sections import model_agreement_section
from radiogenomics.results import layout
from radiogenomics.results.sweep import SweepData
from radiogenomics.summaries.model_agreement import family_labels, summarize_model_agreement
from radiogenomics.tasks.validation import validate_config


def pooled_table(
    families: dict[str, np.ndarray], sets: list[str], significant: dict
) -> pd.DataFrame:
    rows = []
    for model, auroc in families.items():
        for name, value, call in zip(sets, auroc, significant[model], strict=True):
            rows.append(
                {
                    "trait": "enhancement",
                    "model": model,
                    "config_hash": f"h{model}",
                    "bootstrap": "none",
                    "set": name,
                    "auroc": value,
                    "q": 0.01 if call else 0.5,
                    "significant": call,
                }
            )
    table = pd.DataFrame(rows)
    table["rank"] = table.groupby("model")["auroc"].rank(ascending=False, method="min").astype(int)
    return table


def test_two_family_sweep_gives_one_pair_per_collection(tmp_path):
    summary = layout.summary_dir(tmp_path)
    summary.mkdir(parents=True)
    sets = [f"SET_{i}" for i in range(12)]
    nn_auroc = np.linspace(0.9, 0.45, 12)
    rf_auroc = nn_auroc.copy()
    rf_auroc[[0, 1]] = rf_auroc[[1, 0]]  # same order but the top two swapped
    calls = {"nn": [True, True] + [False] * 10, "rf": [True] + [False] * 11}
    pooled_table({"nn": nn_auroc, "rf": rf_auroc}, sets, calls).to_csv(
        summary / layout.masking_table("hallmark"), index=False
    )
    written = summarize_model_agreement(tmp_path, ["hallmark", "verhaak"])  # verhaak: not masked
    assert {p.name for p in written} == {
        layout.MODEL_AGREEMENT,
        layout.MODEL_AGREEMENT_SETS,
        layout.MODEL_AGREEMENT_PLOT,
    }
    agreement = pd.read_csv(summary / layout.MODEL_AGREEMENT)
    assert len(agreement) == 1
    row = agreement.iloc[0]
    assert (row["trait"], row["collection"], row["family_a"], row["family_b"]) == (
        "enhancement",
        "hallmark",
        "nn",
        "rf",
    )
    assert row["n_items"] == 12 and row["spearman"] == pytest.approx(1 - 6 * 2 / (12 * 143))
    assert row["top_k"] == 10 and row["top_k_overlap"] == 1.0
    assert (row["significant_a"], row["significant_b"], row["significant_both"]) == (2, 1, 1)
    sets_table = pd.read_csv(summary / layout.MODEL_AGREEMENT_SETS)
    assert len(sets_table) == 24 and set(sets_table["family"]) == {"nn", "rf"}

    section = model_agreement_section(SweepData(tmp_path))
    assert section.title == "Do the models rely on the same programs?"
    tables = [b for b in section.blocks if isinstance(b, Table)]
    assert tables[0].rows[0][2:4] == ["nn", "rf"]
    assert any(b.title == "Sets called significant, by family" for b in tables)
    assert any(getattr(b, "kind", "") == "figure" for b in section.blocks)


def test_one_family_writes_nothing_and_no_section(tmp_path):
    summary = layout.summary_dir(tmp_path)
    summary.mkdir(parents=True)
    pooled_table({"nn": np.linspace(0.9, 0.5, 5)}, list("abcde"), {"nn": [False] * 5}).to_csv(
        summary / layout.masking_table("hallmark"), index=False
    )
    assert summarize_model_agreement(tmp_path, ["hallmark"]) == []
    assert model_agreement_section(SweepData(tmp_path)) is None


def test_family_labels_tell_configurations_of_one_model_apart():
    table = pd.DataFrame(
        {
            "model": ["nn", "nn", "rf"],
            "config_hash": ["a", "b", "c"],
            "bootstrap": ["none", "none", "3"],
        }
    )
    assert family_labels(table).tolist() == ["nn:a", "nn:b", "rf/b3"]


def test_saliency_on_a_comparator_is_a_config_error(make_cfg):
    with pytest.raises(ConfigError, match="needs the network"):
        validate_config(make_cfg("model=rf", "+interpret=saliency"))
    validate_config(make_cfg("model=rf", "+interpret=[masking,attribution]"))
    with pytest.raises(ConfigError, match="interpret.attribution"):
        validate_config(
            make_cfg(
                "model=xgboost",
                "+interpret=attribution",
                "interpret.attribution.permutation_repeats=0",
            )
        )
