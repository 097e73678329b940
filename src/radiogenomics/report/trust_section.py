"""The report's "Interpretation you can trust" section: the files of the trust checks (permutation null, sanity, agreement, stability).

Importances against their permutation null (the sweep summary's ``importance_null_*``), and the
outputs of ``scripts/trust.py`` (sanity checks, method agreement, stability selection) when they
were written to the sweep's ``summary/``. Absent files leave their part out; no file, no section.
"""

from __future__ import annotations

import pandas as pd

from radiogenomics.report.blocks import Figure, Section, Table, Text, figure_block, table_block
from radiogenomics.results import layout
from radiogenomics.results.sweep import SweepData

NULL_COLUMNS = [
    "trait",
    "importance",
    "collection",
    "set",
    "observed",
    "null_mean",
    "null_sd",
    "z",
    "n_null",
    "empirical_p",
    "empirical_q",
    "tail_p",
    "q",
    "significant",
]
BOUND_COLUMNS = [
    "unit",
    "importance",
    "collection",
    "n_replicates",
    "top_k",
    "threshold",
    "n_selected",
    "expected_false_selections_bound",
]
SANITY_VERDICT_COLUMNS = [
    "method",
    "n_models",
    "spearman_abs_fully_random",
    "top100_overlap_fully_random",
    "verdict",
]
STABILITY_COLUMNS = ["unit", "importance", "collection", "item", "frequency", "selected"]


def _null_blocks(sweep: SweepData) -> list:
    """The sets' importances against the permutation null, lowest q first, and the plots."""
    sets = sweep.summary_table(layout.IMPORTANCE_NULL_SETS)
    if sets is None or sets.empty:
        return []
    order = [c for c in ("q", "empirical_p") if c in sets.columns]
    ordered = sets.sort_values(order, kind="stable") if order else sets
    blocks: list = [
        Text(
            "Each importance against the same importance of networks trained on labels permuted "
            "within the training patients (held-out patients and their labels unchanged). "
            "empirical_p = (1 + #null >= observed) / (K + 1); tail_p: the observed value "
            "standardised by its own nulls against the pooled standardised nulls of every item "
            "(generalized Pareto tail); q is Benjamini-Hochberg within importance and collection. "
            "AUROC and NES rank patients or genes; the discrimination slope (masking_slope) and "
            "the attribution share (saliency_share) measure how much the output rests on the set."
        ),
        table_block(
            ordered,
            "Gene sets against the permutation null",
            NULL_COLUMNS,
            source=layout.IMPORTANCE_NULL_SETS,
        ),
    ]
    checks = null_check_rows(sweep.summary_json(layout.IMPORTANCE_NULL_JSON) or {})
    if checks:
        blocks.append(
            table_block(
                pd.DataFrame(checks),
                "Checks of the pooled tail: GPD fit, shared shape, and each null replicate scored "
                "as if real (its discoveries are false)",
                source=layout.IMPORTANCE_NULL_JSON,
            )
        )
    for path in sorted(sweep.summary.glob("importance_null_*.png")):
        blocks.append(figure_block(path, path.stem, f"Importance against null {path.stem}"))
    return [b for b in blocks if b is not None]


def null_check_rows(report: dict) -> list[dict]:
    """One row per configuration and importance table of ``importance_null.json``'s checks."""
    rows = []
    for config in report.get("configurations", []):
        for table, check in (config.get("checks") or {}).items():
            if not check.get("checked"):
                continue
            calibration = check.get("calibration") or {}
            rows.append(
                {
                    "trait": config.get("trait"),
                    "table": table,
                    "n_null": check.get("n_null"),
                    "gpd_ks_p": check.get("gpd_ks_p"),
                    "shape_ks_below_0.05": check.get("shape_ks_below_0.05"),
                    "mean_false_discoveries": calibration.get("mean_false_discoveries"),
                    "share_with_any": calibration.get("share_with_any"),
                    "tail_ok": check.get("tail_ok"),
                }
            )
    return rows


def _sanity_blocks(sweep: SweepData) -> list:
    """The layer-randomisation verdict per attribution method and its plot."""
    verdict = (sweep.summary_json(layout.SANITY_JSON) or {}).get("verdict")
    if not verdict:
        return []
    return _table_and_figure(
        table_block(
            pd.DataFrame(verdict),
            "Sanity checks: attributions of fully randomised networks vs the trained ones",
            SANITY_VERDICT_COLUMNS,
            source=layout.SANITY_TABLE,
        ),
        figure_block(
            sweep.summary / layout.SANITY_PLOT,
            "Cascading and independent layer randomisation",
            "Spearman correlation of attribution rankings after layer randomisation",
        ),
    )


def _table_and_figure(table: Table | None, figure: Figure | None) -> list:
    """The blocks that exist of a table and its figure."""
    return [block for block in (table, figure) if block is not None]


def _agreement_blocks(sweep: SweepData) -> list:
    """Gene-ranking agreement between attribution methods and masking."""
    genes = sweep.summary_table(layout.AGREEMENT_GENES)
    if genes is None or genes.empty:
        return []
    return _table_and_figure(
        table_block(genes, "Method agreement: gene rankings", source=layout.AGREEMENT_GENES),
        figure_block(
            sweep.summary / layout.AGREEMENT_PLOT,
            "Method agreement",
            "Spearman correlation between the gene rankings of the attribution methods",
        ),
    )


def _stability_blocks(sweep: SweepData) -> list:
    """Stability selection across bootstrap replicates, most frequent first, with the bound."""
    table = sweep.summary_table(layout.STABILITY_SELECTION)
    if table is None or table.empty:
        return []
    ordered = table.sort_values("frequency", ascending=False) if "frequency" in table else table
    bounds = (sweep.summary_json(layout.STABILITY_SELECTION_JSON) or {}).get("importances", [])
    bound_table = None
    if bounds:
        bound_table = table_block(
            pd.DataFrame(bounds),
            "Stability selection: selected items and the Meinshausen-Buhlmann bound on the "
            "expected number of false selections",
            BOUND_COLUMNS,
            source=layout.STABILITY_SELECTION_JSON,
        )
    return ([bound_table] if bound_table is not None else []) + _table_and_figure(
        table_block(
            ordered,
            "Stability selection across bootstrap replicates",
            STABILITY_COLUMNS,
            source=layout.STABILITY_SELECTION,
        ),
        figure_block(
            sweep.summary / layout.STABILITY_SELECTION_PLOT,
            "Selection frequencies",
            "Frequency with which each gene set enters the top k",
        ),
    )


def trust_section(sweep: SweepData) -> Section | None:
    """Permutation null, sanity checks, method agreement and stability selection, when present."""
    blocks = (
        _null_blocks(sweep)
        + _sanity_blocks(sweep)
        + _agreement_blocks(sweep)
        + _stability_blocks(sweep)
    )
    if not blocks:
        return None
    return Section("trust", "Interpretation you can trust", blocks)
