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


HOSTILE = [
    "../../x",
    "../../../../etc/passwd",
    "/abs/x",
    "a/b",
    "a\\b",
    "..",
    ".",
    ".hidden",
    "x\x00y",
    "x\ny",
    "\x1b[31m",
    "a..b",
    "x" * 300,
    "é" * 200,
    "/",
]


def test_safe_names_leave_plain_names_as_they_are():
    for name in (
        "enhancement",
        "f5.proportion.enhancing",
        "Grade II",
        "More than 2/3"[:9],
        "*",
        "",
    ):
        assert layout.safe_name(name) == name


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_name_never_makes_a_path_outside_the_dir(name, tmp_path):
    safe = layout.safe_name(name)
    assert "/" not in safe and "\\" not in safe and ".." not in safe and "\x00" not in safe
    assert (
        safe.isprintable()
        and not safe.startswith(".")
        and len(safe.encode()) <= layout.SAFE_NAME_MAX
    )
    assert layout.safe_name(safe) == safe  # a reader that globs the name back gets the same file
    key = {"trait": name, "model": name, "config_hash": "abc", "bootstrap": 7}
    files = [
        layout.config_stem(key),  # task=refit: <run dir>/<config stem>/model/
        layout.roc_plot(key),  # the sweep summary's and task=predict's figures
        layout.calibration_plot(key),
        layout.masking_heatmap(name, key),
        layout.saliency_plot("dots", name, name, key),
        layout.importance_null_plot(key),
        layout.predictions_obs(key),
        layout.attributions_h5ad(key),
        layout.masking_table(name),
        layout.masking_probs(name),
        layout.masking_scores(name),
        layout.coverage(name),
        layout.gmt(name),
        layout.study_journal(name),
        layout.compare_table(name),
        layout.reproduce_log(name),
    ]
    for file in files:
        path = (tmp_path / file).resolve()
        assert path.is_relative_to(tmp_path.resolve()) and path.parent == tmp_path.resolve(), file
        assert len(file.encode()) <= 255, file


def test_names_that_clean_up_alike_still_differ():
    names = ["a/b", "a\\b", "a_b", "a//b", "a..b", "a\x00b"]
    assert len({layout.safe_name(n) for n in names}) == len(names)
    assert layout.safe_name("../../x").startswith("_x-")  # still readable
