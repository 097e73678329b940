import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import MissingConfigException

from radiogenomics.data.io import read_label_table
from radiogenomics.data.traits import TraitSpec, encode_labels, permute, resolve_spec

from ..conftest import CONFIGS, SHARED_DATA

TRAITS = ["enhancement", "ncet", "necrosis", "edema", "multifocal", "infiltration", "subtype"]


def spec(name: str) -> TraitSpec:
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=[f"trait={name}"])
    return TraitSpec.from_config(cfg.trait)


@pytest.mark.parametrize("name", TRAITS)
def test_every_trait_config_builds(name):
    s = spec(name)
    assert s.name == name
    assert s.n_classes == (4 if name == "subtype" else 2)


def test_paper_binarization_of_proportions():
    values = pd.Series(
        [
            "Minimal",
            "Less than 1/3",
            "Between 1/3 and 2/3",
            "More than 2/3",
            "n/a",
            " more than 2/3 ",
        ],
        index=[f"P{i}" for i in range(6)],
    )
    enc = encode_labels(values, spec("enhancement"))
    assert enc.labels.to_dict() == {"P0": 0, "P1": 0, "P2": 1, "P3": 1, "P5": 1}
    assert enc.dropped == {"n/a": 1}


def test_infiltration_mixed_is_positive():
    values = pd.Series(
        [
            "expansive (T1~FLAIR)",
            "mixed (T1 less than FLAIR)",
            "infiltrative (T1 much smaller than FLAIR)",
        ]
    )
    assert encode_labels(values, spec("infiltration")).labels.tolist() == [0, 1, 1]


def test_unknown_category_lists_allowed_values():
    values = pd.Series(["Focal", "Bifocal"], index=["TCGA-02-0001", "TCGA-02-0002"])
    with pytest.raises(ValueError) as err:
        encode_labels(values, spec("multifocal"), source="vasari.csv")
    msg = str(err.value)
    assert "vasari.csv" in msg and "TCGA-02-0002" in msg and "'Bifocal'" in msg
    assert "Multifocal or Multicentric" in msg


def test_unknown_trait_name_lists_valid_ones():
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        with pytest.raises(MissingConfigException) as err:
            compose("train", overrides=["trait=enhancment"])
    assert "enhancement" in str(err.value) and "edema" in str(err.value)


def test_permutation_keeps_class_counts_and_is_seeded():
    y = pd.Series(np.r_[np.zeros(50, int), np.ones(30, int)])
    a, b = permute(y, 3), permute(y, 3)
    assert a.sum() == 30 and a.equals(b) and not a.equals(y)


@pytest.mark.skipif(not SHARED_DATA.exists(), reason="../shared/data not present")
def test_real_vasari_sample_maps_without_unknown_values():
    table = read_label_table(
        SHARED_DATA / "novasmedley_deepRadiogenomics" / "vasari_annotations.csv"
    )
    for name in TRAITS[:-1]:
        s = spec(name)
        column = table[s.column]
        enc = encode_labels(column[column.notna()], s)
        assert len(enc.labels) + sum(enc.dropped.values()) == column.notna().sum()
        assert set(enc.labels) <= {0, 1}


# --- trait=column: classes inferred from the label column -----------------------------------


def column_spec(**overrides) -> TraitSpec:
    cfg = {
        "name": "x",
        "column": "x",
        "classes": None,
        "positive_class": None,
        "threshold": None,
        "min_class_size": 2,
        "drop": ["n/a", ""],
    }
    return TraitSpec.from_config({**cfg, **overrides})


def test_column_config_composes_unresolved():
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=["trait=column", "trait.column=f5.proportion.enhancing"])
    s = TraitSpec.from_config(cfg.trait)
    assert s.name == s.column == "f5.proportion.enhancing"
    assert not s.is_resolved and s.min_class_size == 10


def test_column_config_without_column_names_the_override():
    from radiogenomics.errors import ConfigError
    from radiogenomics.tasks.validation import validate_config

    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=["trait=column"])
    with pytest.raises(ConfigError, match=r"trait\.column"):
        validate_config(cfg)
    with pytest.raises(ValueError, match=r"trait\.column=NAME"):
        TraitSpec.from_config({"name": None, "column": None, "classes": None})


@pytest.mark.parametrize(
    "override, match",
    [("trait.threshold=mean", "trait.threshold"), ("trait.min_class_size=-1", "min_class_size")],
)
def test_column_config_bad_values_are_config_errors(override, match):
    from radiogenomics.errors import ConfigError
    from radiogenomics.tasks.validation import validate_config

    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=["trait=column", "trait.column=x", override])
    with pytest.raises(ConfigError, match=match):
        validate_config(cfg)


def test_categorical_classes_are_sorted_distinct_values():
    values = pd.Series(["b", "a", " A", "c", "n/a", "b", "c", None, "a"])
    enc = encode_labels(values, column_spec())
    assert enc.dropped == {"n/a": 1, "<empty>": 1}
    assert enc.labels.tolist() == [1, 0, 0, 2, 1, 2, 0]


def test_binary_positive_class_is_ordered_second():
    values = pd.Series(["yes", "no", "yes", "no"])
    s = resolve_spec(values, column_spec(positive_class="no"))
    assert s.class_names == ["yes", "no"] and s.positive_class == "no" and s.is_binary
    assert encode_labels(values, s).labels.tolist() == [0, 1, 0, 1]
    with pytest.raises(ValueError, match="not a class"):
        resolve_spec(values, column_spec(positive_class="maybe"))
    with pytest.raises(ValueError, match="two-class"):
        resolve_spec(pd.Series(["a", "a", "b", "b", "c", "c"]), column_spec(positive_class="a"))


def test_single_or_rare_class_is_an_error_with_counts():
    with pytest.raises(ValueError, match="single class"):
        resolve_spec(pd.Series(["a", "a", "n/a"]), column_spec())
    with pytest.raises(ValueError) as err:
        resolve_spec(pd.Series(["a"] * 5 + ["b"]), column_spec(min_class_size=3), source="v.csv")
    msg = str(err.value)
    assert "v.csv" in msg and "'x'" in msg and "{'b': 1}" in msg and "'a': 5" in msg


def test_numeric_threshold_and_median():
    values = pd.Series(["1", "2", "3", "4", "n/a", "10"], index=list("pqrstu"))
    s = resolve_spec(values, column_spec(threshold="median"))
    assert s.class_names == ["low", "high"] and s.threshold == 3.0
    enc = encode_labels(values, s)
    assert enc.labels.to_dict() == {"p": 0, "q": 0, "r": 1, "s": 1, "u": 1}
    fixed = encode_labels(values, column_spec(threshold=4)).labels
    assert fixed.tolist() == [0, 0, 0, 1, 1]
    low_pos = resolve_spec(values, column_spec(threshold=4, positive_class="low"))
    assert low_pos.class_names == ["high", "low"]
    assert encode_labels(values, low_pos).labels.tolist() == [1, 1, 1, 0, 0]
    # round trip through the manifest form keeps the computed threshold
    again = TraitSpec.from_config(s.to_config())
    assert again == s and again.is_resolved


def test_non_numeric_thresholded_values_are_named():
    values = pd.Series(["1", "two", "3", "4"], index=["P1", "P2", "P3", "P4"])
    with pytest.raises(ValueError) as err:
        encode_labels(values, column_spec(threshold="median"), source="labels.csv")
    assert "P2: 'two'" in str(err.value) and "non-numeric" in str(err.value)


def test_existing_trait_specs_are_unchanged_by_resolution():
    s = spec("enhancement")
    assert s.is_resolved and resolve_spec(pd.Series(["Minimal"]), s) is s
    assert TraitSpec.from_config(s.to_config()) == s


def test_column_trait_cohort_on_synthetic_vasari(make_cfg, caplog):
    from radiogenomics.data.cohort import load_cohort, trait_cohort

    cfg = make_cfg("trait=column", "trait.column=f5.proportion.enhancing")
    cohort = load_cohort(cfg.data, cfg.paths.cache_dir)
    tc = trait_cohort(cohort, TraitSpec.from_config(cfg.trait), n_folds=cfg.n_folds)
    assert tc.spec.is_resolved and tc.spec.n_classes >= 3
    assert tc.spec.class_names == sorted(tc.spec.class_names, key=str.lower)
    assert tc.report["classes_inferred"] == tc.spec.class_names
    assert set(tc.report["class_counts"]) == set(tc.spec.class_names)


def test_column_trait_end_to_end(make_cfg, tmp_path):
    import json

    from radiogenomics.tasks import run

    out = tmp_path / "job"
    cfg = make_cfg("trait=column", "trait.column=f5.proportion.enhancing", out=out)
    run(cfg)
    metrics = json.loads((out / "metrics.json").read_text())
    cohort = json.loads((out / "cohort.json").read_text())
    assert len(metrics["classes"]) >= 3 and metrics["classes"] == cohort["classes_inferred"]
    assert metrics["trait"] == "f5.proportion.enhancing"
