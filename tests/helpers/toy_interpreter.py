"""A toy interpreter: the one new module that adding an interpreter takes (its options hold their
defaults, so ``+interpret=toy`` needs no YAML), plus its registry entry :data:`TOY`.

Per network job and part: every gene's mean standardised expression times ``scale``, beside the
model's mean output on those patients; the sweep summary pools the jobs' tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from radiogenomics.interpreters import NETWORK, Interpreter, SweepJobs
from radiogenomics.results import layout

FOLDER = "toy"
TABLE = "means.csv"
POOLED = "toy_means.csv"


@dataclass(frozen=True)
class ToyOptions:
    """Settings of ``+interpret=toy``, with their defaults (``defaults_in_options`` in :data:`TOY`)."""

    scale: float = 2.0  # the gene means are multiplied by it
    parts: Sequence[str] = ("test",)

    def __post_init__(self) -> None:
        if self.scale <= 0:
            raise ValueError(f"scale={self.scale}: must be > 0")


def write_toy(module, patients, options: ToyOptions, indexed, fold, out_dir) -> Path:
    """``<out_dir>/toy/means.csv``: gene, mean x scale, the model's mean output, part, fold."""
    folder = Path(out_dir) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    frames = []
    for part in options.parts:
        x = patients.x[part]
        with torch.no_grad():
            output = float(module(x.to(next(module.parameters()).device)).float().mean())
        means = x.double().mean(0).numpy() * options.scale
        frames.append(
            pd.DataFrame(
                {
                    "gene": patients.genes,
                    "mean": means,
                    "output": output,
                    "part": part,
                    "fold": fold,
                }
            )
        )
    pd.concat(frames).to_csv(folder / TABLE, index=False)
    return folder


def summarize_toy(jobs: SweepJobs) -> None:
    """``summary/toy_means.csv``: every job's table, with its job dir."""
    tables = [
        pd.read_csv(jobs.sweep_dir / job / FOLDER / TABLE).assign(job=job)
        for job in jobs.metrics["job"]
        if (jobs.sweep_dir / job / FOLDER / TABLE).is_file()
    ]
    if tables:
        pd.concat(tables).to_csv(layout.summary_dir(jobs.sweep_dir) / POOLED, index=False)


TOY = Interpreter(
    "toy",
    options="tests.helpers.toy_interpreter:ToyOptions",
    families=(NETWORK,),
    network_writer="tests.helpers.toy_interpreter:write_toy",
    folder="tests.helpers.toy_interpreter:FOLDER",
    summary="tests.helpers.toy_interpreter:summarize_toy",
    defaults_in_options=True,
)
