"""The output contract's names and the sweep reader's small helpers."""

import pytest

from radiogenomics.results import layout
from radiogenomics.results.sweep import job_config, model_dirs


def test_control_names_carry_their_size():
    assert layout.control_name(12, 3) == "random_n12_r003"
    for size, draw in [(1, 0), (15, 199), (500, 1000)]:
        assert layout.control_size(layout.control_name(size, draw)) == size
    with pytest.raises(ValueError, match="not a control set name"):
        layout.control_size("HALLMARK_HYPOXIA")


def test_configuration_files_are_named_by_their_keys():
    key = {"trait": "edema", "model": "nn", "config_hash": "abc", "bootstrap": "none"}
    assert layout.roc_plot(key) == "roc_edema_nn_abc.png"
    assert layout.masking_heatmap("hallmark", {**key, "bootstrap": 7}).endswith("_abc_b7.png")
    assert layout.calibration_plot(key) == "calibration_edema_nn_abc.png"


def test_sweep_helpers_find_bundles_and_say_what_is_missing(tmp_path):
    (tmp_path / "fold=0" / layout.MODEL_DIR).mkdir(parents=True)
    (tmp_path / "fold=0" / layout.MODEL_DIR / layout.BUNDLE_MANIFEST).write_text("{}")
    assert model_dirs(tmp_path) == [tmp_path / "fold=0" / layout.MODEL_DIR]
    assert model_dirs(tmp_path / "elsewhere") == []
    with pytest.raises(FileNotFoundError, match="job dir of a Hydra sweep"):
        job_config(tmp_path / "fold=0")
