"""The network against the comparators, written out: ``scripts/compare.py``'s tables and figures.

:func:`write_comparison` reads one or more sweeps (plain CV and/or bootstrap replicates) and
writes, to ``<first sweep>/compare`` by default: per trait, models x (mean +- sd fold AUROC, pooled
out-of-fold AUROC [95% CI], bootstrap mean [95% percentile interval]) in ``models.csv``, the
per-replicate AUROCs in ``replicates.csv``, reference minus each comparator over CV folds
(Nadeau-Bengio corrected resampled t-test; Bouckaert & Frank's over all R*k folds of a repeated
CV, ``paired_cv.csv``) and over bootstrap replicates
(``paired_bootstrap.csv``), every paired difference in ``paired_diffs.csv``, Fig 2a (AUROC per
trait and model) and Fig 2b (paired differences), and the tables as Markdown in ``compare.md``.
The statistics are :mod:`radiogenomics.evaluation.comparison`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from radiogenomics.evaluation import comparison as stats
from radiogenomics.figures.plots import auroc_by_model_plot, paired_difference_plot
from radiogenomics.results import layout
from radiogenomics.summaries.markdown import markdown
from radiogenomics.utils import atomic_write, write_csv

REFERENCE = "nn"  # the model compared against the others
STATISTICS = ("mean_auroc", "pooled_auroc")  # per-replicate AUROC: fold mean or pooled folds
N_BOOT = 2000  # resamples of the pooled out-of-fold AUROC CI


@dataclass
class ComparisonReport:
    """What :func:`write_comparison` computed and wrote."""

    tables: dict[str, pd.DataFrame]  # models, replicates, paired_cv, paired_bootstrap
    text: str  # compare.md
    out: Path


def write_comparison(
    sweeps: list[str | Path],
    out: str | Path | None = None,
    reference: str = REFERENCE,
    statistic: str = STATISTICS[0],
    n_boot: int = N_BOOT,
    nested: list[str | Path] = (),
    by_model: bool = False,
) -> ComparisonReport:
    """Compare the models of ``sweeps`` (and the nested choices of the ``nested`` tuning sweeps)
    and write the tables, figures and compare.md to ``out``."""
    sweeps = [Path(s) for s in sweeps]
    out = Path(out) if out is not None else layout.compare_dir(sweeps[0])
    metrics, predictions = stats.load_sweeps(sweeps, [Path(n) for n in nested], by_model)
    replicates = stats.replicate_table(metrics, predictions)
    tables = {
        "models": stats.model_table(metrics, predictions, replicates, statistic, n_boot),
        "replicates": replicates,
    }
    tables["paired_cv"], cv_diffs = stats.paired_cv(metrics, predictions, reference)
    tables["paired_bootstrap"], boot_diffs = stats.paired_bootstrap(
        replicates, predictions, reference, statistic
    )
    for name, table in tables.items():
        write_csv(out / layout.compare_table(name), table)
    write_csv(out / layout.PAIRED_DIFFS, pd.concat([cv_diffs, boot_diffs], ignore_index=True))

    auroc_by_model_plot(
        out / layout.FIG_AUROC_BY_MODEL, tables["models"], "AUROC per trait and model (95% CI)"
    )
    diffs, source = (boot_diffs, "bootstrap replicates") if len(boot_diffs) else (cv_diffs, "folds")
    if len(diffs):
        title = f"{reference} minus comparator, over {source}"
        paired_difference_plot(out / layout.FIG_PAIRED_DIFFERENCES, diffs, title)

    text = comparison_text(tables, reference)
    atomic_write(out / layout.COMPARE_MARKDOWN, lambda p: p.write_text(text + "\n"))
    return ComparisonReport(tables=tables, text=text, out=out)


def comparison_text(tables: dict[str, pd.DataFrame], reference: str) -> str:
    """The model table and both paired tables as Markdown sections."""
    return "\n\n".join(
        f"## {title}\n\n{markdown(tables[name])}"
        for name, title in [
            ("models", "AUROC per model"),
            ("paired_cv", f"{reference} minus comparator over CV folds (corrected t-test)"),
            ("paired_bootstrap", f"{reference} minus comparator over bootstrap replicates"),
        ]
    )


ABLATION_KEY = "hparams.layers"  # the swept option of experiment=ablation
ABLATION_REFERENCE = "t0"  # no pretraining


def write_ablation(
    sweeps: list[str | Path],
    out: str | Path | None = None,
    key: str = ABLATION_KEY,
    reference: str = ABLATION_REFERENCE,
    n_boot: int = N_BOOT,
) -> tuple[pd.DataFrame, str, Path]:
    """Per trait and value of override ``key``: pooled AUROC [95% CI] and the paired difference to
    ``reference`` over folds; writes ablation.csv and ablation.md (default ``<first>/ablation``)."""
    sweeps = [Path(s) for s in sweeps]
    out = Path(out) if out is not None else layout.ablation_dir(sweeps[0])
    metrics, predictions = stats.load_sweeps(sweeps)
    stats.override_labels(metrics, predictions, sweeps, key)
    table = stats.ablation_table(metrics, predictions, reference, n_boot)
    write_csv(out / layout.ABLATION_TABLE, table)
    text = (
        f"## Pooled AUROC by {key} (paired differences to {reference} over the same outer folds;"
        f" p: Nadeau-Bengio corrected t-test)\n\n{markdown(table)}"
    )
    atomic_write(out / layout.ABLATION_MARKDOWN, lambda p: p.write_text(text + "\n"))
    return table, text, out
