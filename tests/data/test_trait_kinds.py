"""Ordinal and continuous trait specs: levels, the paper's binary cut, encoding, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from radiogenomics.data.traits import TraitSpec, encode_labels, resolve_spec

CONFIGS = "configs/trait"
LEVELS = ["Minimal", "Less than 1/3", "Between 1/3 and 2/3", "More than 2/3"]


def trait_file(name: str, **overrides) -> TraitSpec:
    cfg = OmegaConf.to_container(OmegaConf.load(f"{CONFIGS}/{name}.yaml"))
    cfg.update({"permute_seed": 0, **overrides})
    if cfg["name"] == "${.column}":
        cfg["name"] = cfg["column"]
    return TraitSpec.from_config(cfg)


@pytest.mark.parametrize("name", ["enhancement", "ncet", "necrosis", "edema"])
def test_vasari_proportions_are_ordered_with_the_papers_cut(name):
    spec = trait_file(name, kind="ordinal")
    assert spec.is_ordinal and spec.class_names == LEVELS
    assert spec.binary_cut == 2  # low = Minimal + Less than 1/3: levels 0, 1
    assert spec.positive_class is None
    assert TraitSpec.from_config(spec.to_config()) == spec


def test_infiltration_has_three_levels_and_cut_one():
    spec = trait_file("infiltration", kind="ordinal")
    assert spec.n_classes == 3 and spec.binary_cut == 1
    assert trait_file("infiltration").kind == "categorical"
    assert trait_file("infiltration").n_classes == 2


def test_ordinal_encoding_follows_the_declared_order():
    spec = trait_file("enhancement", kind="ordinal")
    values = pd.Series(
        ["More than 2/3", "Minimal", "n/a", "Between 1/3 and 2/3"], index=list("abcd")
    )
    encoded = encode_labels(values, spec)
    assert encoded.labels.to_dict() == {"a": 3, "b": 0, "d": 2}
    assert encoded.dropped == {"n/a": 1}


def test_a_level_not_in_the_declared_order_is_one_clear_error():
    spec = trait_file("enhancement", kind="ordinal")
    values = pd.Series(["Minimal", "Most"], index=["p1", "p2"])
    with pytest.raises(
        ValueError, match=r"p2: 'Most'.*not among the declared levels|declared levels.*p2"
    ):
        encode_labels(values, spec)


def test_ordinal_column_without_levels_numeric_order_or_error():
    cfg = {"name": "grade", "column": "grade", "kind": "ordinal", "drop": ["n/a"]}
    spec = TraitSpec.from_config(cfg)
    assert not spec.is_resolved
    values = pd.Series(["10", "2", "2", "1", "10", "1", "n/a"], index=list("abcdefg"))
    resolved = resolve_spec(values, spec)
    assert resolved.class_names == ["1", "2", "10"]  # numeric, not string, order
    assert encode_labels(values, resolved).labels.tolist() == [2, 1, 1, 0, 2, 0]
    text = pd.Series(["low", "high", "mid"], index=list("abc"))
    with pytest.raises(ValueError, match=r"no declared order.*trait.levels"):
        resolve_spec(text, spec)


def test_single_level_is_an_error():
    spec = TraitSpec.from_config({"name": "g", "column": "g", "kind": "ordinal"})
    with pytest.raises(ValueError, match="single class"):
        resolve_spec(pd.Series(["3", "3", "3"], index=list("abc")), spec)
    with pytest.raises(ValueError, match="at least two levels"):
        TraitSpec.from_config({"name": "g", "column": "g", "kind": "ordinal", "levels": ["a"]})


def test_continuous_encoding_and_text_error():
    spec = TraitSpec.from_config(
        {"name": "vol", "column": "vol", "kind": "continuous", "drop": ["n/a"]}
    )
    assert spec.is_continuous and spec.is_resolved and spec.n_classes == 0
    values = pd.Series([" 1.5", "20", "n/a", "3e1"], index=list("abcd"))
    encoded = encode_labels(values, spec)
    assert encoded.labels.dtype == np.float64
    assert encoded.labels.to_dict() == {"a": 1.5, "b": 20.0, "d": 30.0}
    with pytest.raises(ValueError, match=r"non-numeric value\(s\) \(b: 'big'\)"):
        encode_labels(pd.Series(["1", "big", "3"], index=list("abc")), spec)
    with pytest.raises(ValueError, match="2 distinct value"):
        encode_labels(pd.Series(["1", "2", "1"], index=list("abc")), spec)


def test_kind_errors():
    with pytest.raises(ValueError, match="trait.kind='ordinl'"):
        TraitSpec.from_config({"name": "g", "column": "g", "kind": "ordinl"})
    with pytest.raises(ValueError, match="takes no threshold"):
        TraitSpec.from_config({"name": "g", "column": "g", "kind": "continuous", "threshold": 3})
