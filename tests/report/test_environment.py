"""Provenance: every sweep records its full environment, every job the numerically relevant part."""

from __future__ import annotations

import json
import platform
from importlib.metadata import version

import torch

from radiogenomics.environment import (
    NUMERIC_PACKAGES,
    freeze_text,
    installed,
    job_environment,
    read_freeze,
)
from radiogenomics.pipelines.sweep_summary import summarize
from radiogenomics.report.provenance import job_environment_facts
from radiogenomics.report.sections import provenance_section
from radiogenomics.results import layout
from radiogenomics.results.sweep import SweepData
from tests.report.test_captions import _fake_sweep


def test_freeze_text_lists_every_distribution_sorted_with_machine_facts():
    text = freeze_text("a note")
    facts, packages = read_freeze(text)
    assert text.startswith("# a note\n")
    assert f"torch=={version('torch')}" in text.splitlines()
    assert f"numpy=={version('numpy')}" in text.splitlines()
    assert len(packages) == len(installed()) > 20
    names = [line.split("==")[0].lower() for line in text.splitlines() if "==" in line]
    assert names == sorted(names, key=lambda n: n.replace("_", "-"))
    assert facts["python"] == platform.python_version()
    assert facts["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert {"platform", "torch_threads", "blas_threads", "cuda_device"} <= set(facts)


def test_job_environment_names_cpu_capability_and_numeric_packages():
    env = job_environment()
    assert env["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert set(env["packages"]) == set(NUMERIC_PACKAGES)
    assert env["packages"]["torch"] == version("torch")
    json.dumps(env)  # goes into metrics.json


def test_the_summary_writes_environment_txt_and_the_report_shows_it(tmp_path):
    sweep = _fake_sweep(tmp_path / "sweep", "well")
    summarize(sweep, n_boot=20)
    path = layout.summary_dir(sweep) / layout.ENVIRONMENT
    text = path.read_text()
    assert "torch==" in text and "numpy==" in text and "# cpu_capability: " in text
    html = (layout.summary_dir(sweep) / layout.REPORT_HTML).read_text()
    capability = torch.backends.cpu.get_cpu_capability()
    assert "CPU capability (summary)" in html and capability in html
    assert "<details>" in html and f"torch=={version('torch')}" in html
    assert "not recorded" in html  # these fake jobs have no environment in metrics.json


def test_job_facts_flag_jobs_that_ran_on_different_kernels():
    env = {
        "cpu_capability": "AVX2",
        "cuda_device": None,
        "torch_threads": 4,
        "packages": {"torch": "2.5.0", "numpy": "2.0.0"},
    }
    other = {**env, "cpu_capability": "AVX512"}
    facts = dict(job_environment_facts([{"environment": env}] * 2 + [{"environment": other}]))
    assert facts["CPU capability (torch kernels, jobs)"].startswith("DIFFERS")
    assert "AVX2 (2 jobs)" in facts["CPU capability (torch kernels, jobs)"]
    assert "torch 2.5.0" in facts["numeric package versions (jobs)"]
    same = dict(job_environment_facts([{"environment": env}]))
    assert same["CPU capability (torch kernels, jobs)"] == "AVX2"


def test_a_sweep_summarized_before_the_file_existed_says_so(tmp_path):
    sweep = _fake_sweep(tmp_path / "sweep", "well")
    summarize(sweep, n_boot=20)
    (layout.summary_dir(sweep) / layout.ENVIRONMENT).unlink()
    data = SweepData(sweep)
    assert data.environment is None
    facts = dict(provenance_section(data).blocks[0].items)
    assert facts[layout.ENVIRONMENT].startswith("not written")
