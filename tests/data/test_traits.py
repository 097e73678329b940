import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import MissingConfigException

from radiogenomics.data.io import read_label_table
from radiogenomics.data.traits import TraitSpec, encode_labels, permute

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
