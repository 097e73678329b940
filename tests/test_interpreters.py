"""The interpreter registry: one entry per interpreter, read by every consumer.

The toy interpreter (``tests/helpers/toy_interpreter.py``, one module, and one registry line in
``tests/helpers/toy_train.py``: no YAML) runs in a tiny sweep and in task=interpret unchanged.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import OmegaConf

from radiogenomics import interpreters
from radiogenomics.errors import ConfigError
from radiogenomics.results import layout
from radiogenomics.tasks.validation import validate_config

from .conftest import CONFIGS, ROOT, TINY
from .helpers import toy_interpreter as toy


@pytest.mark.parametrize("name", interpreters.names())
def test_the_yaml_holds_every_option_and_its_default(name):
    """configs/interpret/<name>.yaml sets every field of the options dataclass, nothing else:
    the dataclass declares no default, so the YAML is the one definition."""
    entry = interpreters.get(name)
    if entry.options is None:
        return
    section = OmegaConf.to_container(OmegaConf.load(CONFIGS / "interpret" / f"{name}.yaml"))
    fields = dataclasses.fields(entry.resolve("options"))
    assert sorted(f.name for f in fields) == sorted(set(section) - {"enabled"})
    assert all(f.default is dataclasses.MISSING for f in fields)
    options = entry.options_from(section)
    assert set(entry.null_job) <= {f.name for f in fields}
    assert dataclasses.replace(options, **entry.null_job)


def test_a_family_the_interpreter_cannot_explain_is_refused_with_the_alternatives(make_cfg):
    with pytest.raises(ConfigError) as err:
        validate_config(make_cfg("model=rf", "+interpret=saliency"))
    message = str(err.value)
    assert message.startswith("interpret.saliency: input-gradient saliency needs the network")
    assert "+interpret=masking or +interpret=attribution" in message


def test_job_adding_interpreters_leave_the_config_hash_and_dir_name(make_cfg):
    from radiogenomics.hydra_resolvers import job_dirname
    from radiogenomics.tasks.jobs import config_hash

    (null,) = interpreters.job_adding()
    plain = make_cfg("+interpret=masking")
    with_null = make_cfg(f"+interpret=[masking,{null}]")
    assert config_hash(plain) == config_hash(with_null)
    assert job_dirname(f"+interpret=[masking,{null}],fold=0") == "+interpret=[masking],fold=0"


def test_bad_toy_settings_are_a_config_error(monkeypatch, make_cfg):
    monkeypatch.setattr(interpreters, "INTERPRETERS", (*interpreters.INTERPRETERS, toy.TOY))
    with pytest.raises(ConfigError, match=r"interpret\.toy: scale=-1.0: must be > 0"):
        validate_config(make_cfg("+interpret.toy={enabled:true,scale:-1.0,parts:[test]}"))


def _toy_train(*args: str, cache: Path) -> None:
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(cache), "WANDB_MODE": "offline"}
    command = [
        sys.executable,
        str(ROOT / "tests" / "helpers" / "toy_train.py"),
        *args,
        *TINY,
        "logger=none",
        "+interpret=toy",
    ]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_a_toy_interpreter_runs_in_a_sweep_and_in_task_interpret(cache_dir, tmp_path):
    """One module and one registry line: the callback runs it in every fold, the sweep summary
    pools it, and task=interpret rewrites the same tables from the saved fold models."""
    sweep = tmp_path / "sweep"
    _toy_train("-m", "n_folds=2", f"hydra.sweep.dir={sweep}", cache=cache_dir)
    jobs = sorted(p.parent for p in sweep.glob(f"*/{layout.METRICS}"))
    assert len(jobs) == 2
    for job in jobs:
        table = pd.read_csv(job / toy.FOLDER / toy.TABLE)
        assert set(table["part"]) == {"test"} and table["fold"].nunique() == 1
    pooled = pd.read_csv(layout.summary_dir(sweep) / toy.POOLED)
    assert pooled["job"].nunique() == 2

    again = tmp_path / "again"
    _toy_train(
        "task=interpret", f"interpret.sweep={sweep}", f"hydra.run.dir={again}", cache=cache_dir
    )
    report = json.loads((again / layout.INTERPRET_REPORT).read_text())
    assert list(report["interpreters"]) == ["toy"] and len(report["jobs"]) == 2
    for job in jobs:
        rerun = again / job.name / toy.FOLDER / toy.TABLE
        pd.testing.assert_frame_equal(pd.read_csv(rerun), pd.read_csv(job / toy.FOLDER / toy.TABLE))
    assert (layout.summary_dir(again) / toy.POOLED).is_file()
