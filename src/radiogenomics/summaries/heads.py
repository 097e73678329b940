"""Binary vs ordinal vs multi-task networks, written out: ``scripts/compare_heads.py``'s tables.

:func:`write_heads_comparison` runs
:func:`radiogenomics.evaluation.heads_comparison.compare_heads` and writes the per-trait table
(``heads_comparison.csv``), the cost per kind (``heads_cost.csv``) and both as Markdown
(``heads_comparison.md``): AUROCs as ``value [low, high]``, differences signed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from radiogenomics.evaluation.heads_comparison import N_BOOT, compare_heads
from radiogenomics.results import layout
from radiogenomics.summaries.markdown import markdown
from radiogenomics.utils import atomic_write, write_csv


@dataclass
class HeadsReport:
    """What :func:`write_heads_comparison` computed and wrote."""

    table: pd.DataFrame  # per trait
    cost: pd.DataFrame  # per kind
    text: str  # heads_comparison.md
    out: Path


def _interval(value: float, low: float, high: float, signed: bool = False) -> str:
    """``0.786 [0.714, 0.852]`` (``+0.012 [...]`` when signed); empty for a missing value."""
    if value is None or pd.isna(value):
        return ""
    sign = "+" if signed else ""
    return f"{value:{sign}.3f} [{low:{sign}.3f}, {high:{sign}.3f}]"


def _get(row: pd.Series, key: str) -> float:
    return row[key] if key in row.index else np.nan


def heads_markdown(table: pd.DataFrame, cost: pd.DataFrame) -> str:
    """The per-trait table and the cost table as Markdown."""
    rows = []
    for _, r in table.iterrows():
        p = _get(r, "ordinal_fold_p")
        rows.append(
            {
                "trait": r["trait"],
                "patients": int(r["binary_n"]),
                "binary AUROC": _interval(
                    r["binary_auroc"], r["binary_ci_low"], r["binary_ci_high"]
                ),
                "ordinal AUROC (paper's cut)": _interval(
                    r["ordinal_auroc"], r["ordinal_ci_low"], r["ordinal_ci_high"]
                ),
                "ordinal − binary (patients)": _interval(
                    _get(r, "ordinal_minus_binary_diff"),
                    _get(r, "ordinal_minus_binary_ci_low"),
                    _get(r, "ordinal_minus_binary_ci_high"),
                    signed=True,
                ),
                "ordinal − binary (folds: mean, p)": ""
                if pd.isna(p)
                else f"{_get(r, 'ordinal_fold_mean_diff'):+.3f}, p={p:.2f}",
                "multi-task AUROC": _interval(
                    r["multitask_auroc"], r["multitask_ci_low"], r["multitask_ci_high"]
                ),
                "multi-task − binary (patients)": _interval(
                    _get(r, "multitask_minus_binary_diff"),
                    _get(r, "multitask_minus_binary_ci_low"),
                    _get(r, "multitask_minus_binary_ci_high"),
                    signed=True,
                ),
                "s binary / ordinal / multi-task share": " / ".join(
                    "" if pd.isna(v) else f"{v:.0f}"
                    for v in (
                        _get(r, "binary_elapsed_s"),
                        _get(r, "ordinal_elapsed_s"),
                        _get(r, "multitask_share_elapsed_s"),
                    )
                ),
            }
        )
    return (
        "## Binary vs ordinal vs multi-task at the paper's cut\n\n"
        + markdown(pd.DataFrame(rows))
        + "\n\n## Cost (summed job elapsed_s)\n\n"
        + markdown(cost, digits=1)
    )


def write_heads_comparison(
    out: str | Path,
    binary: Sequence[str | Path],
    ordinal: Sequence[str | Path] = (),
    multitask: Sequence[str | Path] = (),
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> HeadsReport:
    """Compare the kinds' sweeps and write heads_comparison.csv, heads_cost.csv and the .md."""
    out = Path(out)
    table, cost = compare_heads(binary, ordinal, multitask, n_boot, seed)
    write_csv(out / layout.HEADS_COMPARISON, table)
    write_csv(out / layout.HEADS_COST, cost)
    text = heads_markdown(table, cost)
    atomic_write(out / layout.HEADS_MARKDOWN, lambda p: p.write_text(text + "\n"))
    return HeadsReport(table=table, cost=cost, text=text, out=out)
