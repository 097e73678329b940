"""The synthetic cohort's planted answer: truth.json, the continuous feature, the ordinal levels."""

import gzip
import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from radiogenomics.data import synthetic
from radiogenomics.data.io import read_expression, read_label_table
from radiogenomics.data.synthetic import (
    CONTINUOUS_TRAITS,
    VASARI_TRAITS,
    SyntheticConfig,
    ensure_synthetic,
    generate,
    synthetic_truth,
)

VOLUME = "enhancing_volume"


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A cohort large enough for tight checks: (truth, annotated patients' z-scored expression,
    label table)."""
    config = SyntheticConfig(seed=5, n_pretrain=10, n_annotated=300, n_genes=1600)
    files = generate(config, tmp_path_factory.mktemp("planted"))
    labels = read_label_table(files.vasari)
    x = read_expression(files.expression)
    x.index = x.index.str[:12]
    x = x.loc[labels.index]
    return synthetic_truth(files.directory), (x - x.mean()) / x.std(), labels


def _program(z: pd.DataFrame, trait: dict) -> pd.Series:
    """A trait's driver program, read from expression: the mean z-score of its genes."""
    return z[trait["driver_genes"]].mean(axis=1)


def test_existing_draws_are_those_of_the_generator_before_the_continuous_feature(tmp_path):
    """Expression, the VASARI columns, subtypes and clinical table of a cohort hash as they did
    before the continuous column existed (digests taken from that generator), so the README's
    numbers on the default cohort stand: the new column draws from its own random stream."""
    files = generate(SyntheticConfig(seed=3, n_pretrain=20, n_annotated=40, n_genes=1600), tmp_path)

    def digest(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()[:16]

    assert digest(gzip.decompress(files.expression.read_bytes())) == "ed19a7959b53b3de"
    vasari = pd.read_csv(files.vasari, dtype=str, keep_default_na=False, index_col=0)
    assert list(vasari.columns[-1:]) == [CONTINUOUS_TRAITS[VOLUME]["column"]]
    assert digest(vasari.iloc[:, :-1].to_csv().encode()) == "291fafb36a7de53c"
    assert digest(files.subtypes.read_bytes()) == "b30114db4a60b5dd"
    assert digest(files.clinical.read_bytes()) == "6371da572772ab07"


def test_a_new_generator_version_is_a_new_cache_entry(tmp_path, monkeypatch):
    """Cohorts are cached by config: files of an older generator (no continuous column) under
    the same config must not be reused, so the generator's version is part of the key."""
    config = SyntheticConfig(seed=3, n_pretrain=10, n_annotated=20, n_genes=1600)
    current = ensure_synthetic(config, tmp_path).directory
    monkeypatch.setattr(synthetic, "FILES_VERSION", synthetic.FILES_VERSION - 1)
    assert ensure_synthetic(config, tmp_path).directory != current


def test_continuous_feature_follows_its_driver_program_only(planted):
    truth, z, labels = planted
    volume = truth["traits"][VOLUME]
    assert volume["kind"] == "continuous" and volume["driver_set"] == "HALLMARK_E2F_TARGETS"
    values = pd.to_numeric(labels[volume["column"]])  # a missing value is an empty cell
    kept = values.notna()
    assert 0 < (~kept).mean() < 0.08 and (values[kept] > 0).all()
    assert values[kept].skew() > 0.5  # lognormal, like tumour volumes
    assert 10 < values[kept].median() < 30  # ml
    rho = spearmanr(values[kept], _program(z, volume)[kept]).statistic
    assert rho > 0.7, rho
    for other in ("enhancement", "ncet", "edema"):  # drivers of other traits: unrelated programs
        rho = spearmanr(values[kept], _program(z, truth["traits"][other])[kept]).statistic
        assert abs(rho) < 0.2, (other, rho)


@pytest.mark.parametrize("trait", list(VASARI_TRAITS))
def test_ordered_levels_rise_with_their_driver_program(planted, trait):
    """Each later level has a higher mean driver program, and the share of patients below each
    cut is the cut's quantile in truth.json."""
    truth, z, labels = planted
    spec = truth["traits"][trait]
    column = labels[spec["column"]]
    assert set(column.dropna()) <= {*spec["levels"], spec["missing"]["value"]}
    score = _program(z, spec)
    means = np.array([score[column == level].mean() for level in spec["levels"]])
    assert (np.diff(means) > 0.1).all(), means
    level = column[column != spec["missing"]["value"]].map(spec["levels"].index)
    below = [(level <= k).mean() for k in range(len(spec["cut_points"]))]
    np.testing.assert_allclose(below, spec["cut_quantiles"], atol=0.03)


def test_truth_file_round_trips_with_kinds_levels_and_drivers(planted, tmp_path):
    truth, z, _ = planted
    assert json.loads(json.dumps(truth)) == truth
    path = tmp_path / "truth.json"
    path.write_text(json.dumps(truth))
    assert synthetic_truth(path) == synthetic_truth(tmp_path) == truth
    traits = truth["traits"]
    assert set(traits) == set(VASARI_TRAITS) | set(CONTINUOUS_TRAITS)
    for name, spec in VASARI_TRAITS.items():
        kind = "binary" if len(spec["categories"]) == 2 else "ordinal"
        assert traits[name]["kind"] == kind and traits[name]["levels"] == list(spec["categories"])
        assert traits[name]["driver_set"] == spec["driver"]
        assert traits[name]["cut_quantiles"] == list(spec["cuts"])
        assert traits[name]["cut_points"] == sorted(traits[name]["cut_points"])
        assert traits[name]["noise_sd"] == truth["config"]["trait_noise"]
    assert traits["multifocal"]["kind"] == "binary"
    assert traits[VOLUME]["noise_sd"] == truth["config"]["volume_noise"]
    for spec in traits.values():
        assert set(spec["driver_genes"]) <= set(z.columns) and spec["driver_genes"]


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: t["traits"]["ncet"].pop("kind"), "trait 'ncet' has kind None"),
        (lambda t: t["traits"][VOLUME].pop("noise_sd"), r"trait 'enhancing_volume' lacks \['noise"),
        (lambda t: t["traits"]["edema"]["cut_points"].pop(), "4 levels but 2 cut points"),
        (lambda t: t.pop("traits"), "no 'traits' mapping"),
    ],
)
def test_truth_reader_refuses_an_incomplete_file(planted, tmp_path, edit, message):
    truth = json.loads(json.dumps(planted[0]))
    edit(truth)
    (tmp_path / "truth.json").write_text(json.dumps(truth))
    with pytest.raises(ValueError, match=message):
        synthetic_truth(tmp_path)


def test_continuous_driver_can_be_overridden_and_is_kept_in_a_gene_subset(tmp_path):
    """A hidden planted cohort: another driver for the continuous feature, all its genes kept."""
    config = SyntheticConfig.from_config(
        {
            "seed": 1,
            "n_pretrain": 10,
            "n_annotated": 150,
            "n_genes": 1600,
            "drivers": {VOLUME: "HALLMARK_ANGIOGENESIS"},
        }
    )
    files = ensure_synthetic(config, tmp_path)
    truth = synthetic_truth(files.directory)["traits"][VOLUME]
    assert truth["driver_set"] == "HALLMARK_ANGIOGENESIS" and len(truth["driver_genes"]) == 36
    labels = read_label_table(files.vasari)
    x = read_expression(files.expression)
    x.index = x.index.str[:12]
    x = x.loc[labels.index]
    values = pd.to_numeric(labels[truth["column"]])
    kept = values.notna()
    score = ((x - x.mean()) / x.std())[truth["driver_genes"]].mean(axis=1)
    assert spearmanr(values[kept], score[kept]).statistic > 0.6
