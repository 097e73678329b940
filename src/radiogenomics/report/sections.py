"""The sections of the sweep report: each builder reads one sweep and returns None without its data.

A builder is ``(SweepData) -> Section | None``; :data:`radiogenomics.report.page.SECTIONS`
lists them in page order, so a new table or figure is one more builder there. A section that
needs several sweeps (the null-control verdicts of a sweep and its permuted twin) is
``(list[SweepData]) -> Section | None``, listed with ``Builder(..., across=True)``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from itertools import permutations

import numpy as np
import pandas as pd

from radiogenomics.analysis.null_controls import null_report
from radiogenomics.evaluation.metrics import SLOPE_BAND, brier_score, prediction_arrays
from radiogenomics.evaluation.multitest import FDR
from radiogenomics.interpret.associations import MIN_PATIENTS
from radiogenomics.interpreters import entries
from radiogenomics.report.blocks import (
    Facts,
    Section,
    Table,
    Text,
    config_label,
    figure_block,
    table_block,
)
from radiogenomics.report.captions import (
    brier_reference,
    brier_sentence,
    calibration_caption,
    calibration_lines,
    roc_sentence,
    verdict_cell,
)
from radiogenomics.report.provenance import (
    cohort_blocks,
    data_file_table,
    default_diff_tables,
    environment_blocks,
    git_commit,
    job_environment_facts,
    sweep_command,
)
from radiogenomics.results import layout
from radiogenomics.results.sweep import GROUP_KEYS, SweepData, first_repeat
from radiogenomics.utils import error_line

log = logging.getLogger(__name__)

MAX_CONFIG_FIGURES = 12  # configurations with figures; a larger grid shows its best ones only
CALIBRATION_BINS = 10
REFERENCE_MODEL = "nn"
VERSION_PACKAGES = ("radiogenomics", "torch", "pytorch-lightning", "scikit-learn", "numpy")


# ------------------------------------------------------------------------------ what was run


def provenance_section(sweep: SweepData) -> Section | None:
    """Command line, overrides vs defaults, config hash, versions, git, data files, missing jobs."""
    if sweep.cv is None and not sweep.jobs:
        return None
    hashes = sorted({str(h) for h in sweep.cv["config_hash"]}) if sweep.cv is not None else []
    n_done = len(sweep.jobs)
    facts = [
        ("sweep directory", str(sweep.path.resolve())),
        ("command", sweep_command(sweep) or f"(no {layout.MULTIRUN}: not a Hydra sweep dir)"),
        ("config hash", hashes or "(none)"),
        ("jobs", f"{n_done} completed, {len(sweep.missing)} missing or failed"),
        ("labels", "PERMUTED (null-control twin)" if sweep.permuted else "as annotated"),
        ("package versions (training)", _versions(sweep.manifest)),
        *job_environment_facts(sweep.job_metrics),
        ("package versions (report)", _current_versions()),
        ("git commit of the code (report time)", git_commit() or "not available"),
    ]
    environment = environment_blocks(sweep)
    facts += environment[0]
    blocks: list = [Facts(facts), *environment[1]]
    blocks += default_diff_tables(sweep)
    files = data_file_table(sweep)
    if files is not None:
        blocks.append(files)
    blocks += cohort_blocks(sweep)
    if sweep.missing:
        blocks.append(
            Table(["job without " + layout.METRICS], [[j] for j in sweep.missing], "Missing jobs")
        )
    return Section("run", "What was run", blocks)


def _versions(manifest: dict | None) -> list[str] | str:
    """Package versions recorded in the first model bundle (at training time)."""
    if not manifest or not manifest.get("versions"):
        return "not recorded (no model bundle: save_model=false?)"
    return [f"{k} {v}" for k, v in manifest["versions"].items() if v]


def _current_versions() -> list[str]:
    """Versions of the packages installed now (they read the files and drew the figures)."""
    found = []
    for name in VERSION_PACKAGES:
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            continue
    return found


# ------------------------------------------------------------------------------- performance


def calibration_stats(sweep: SweepData) -> pd.DataFrame:
    """Per configuration: patients, Brier score, its no-skill reference, expected calibration
    error (pooled, OOF; multiclass: mean over the classes), the calibration line of each curve
    (``lines``: (class, line, ECE), see :func:`radiogenomics.report.captions.calibration_lines`)
    and that line as a table cell (``calibration``)."""
    rows = []
    columns = [*GROUP_KEYS, "n", "brier", "brier_reference", "ece", "calibration", "lines"]
    if sweep.cv is None or sweep.predictions is None:
        return pd.DataFrame(columns=columns)
    for key, classes, y, probs in _pooled(sweep):
        lines = calibration_lines(y, probs, classes, CALIBRATION_BINS)
        errors = [e for _, _, e in lines if e is not None]
        rows.append(
            {
                **key,
                "n": len(y),
                "brier": brier_score(y, probs),
                "brier_reference": brier_reference(y, len(classes)),
                "ece": float(np.mean(errors)) if errors else float("nan"),
                "calibration": verdict_cell(lines),
                "lines": lines,
            }
        )
    return pd.DataFrame(rows, columns=columns)


def _pooled(sweep: SweepData) -> Iterator[tuple[dict, list[str], np.ndarray, np.ndarray]]:
    """(configuration, classes, y, probabilities) of each configuration's pooled predictions
    (of its first CV repeat, as the CV table's pooled columns)."""
    classes_by_hash = {
        (m["trait"], m["model"], m["config_hash"]): list(m["classes"]) for m in sweep.job_metrics
    }
    predictions = sweep.predictions
    for key in sweep.configurations():
        rows = predictions
        for k in GROUP_KEYS:
            rows = rows[rows[k].astype(str) == str(key[k])]
        rows = first_repeat(rows)
        classes = classes_by_hash.get((key["trait"], key["model"], key["config_hash"]))
        if classes is None or rows.empty:
            continue
        y, probs = prediction_arrays(rows, classes)
        yield key, classes, y, probs


def _shown_configurations(sweep: SweepData) -> list[dict]:
    """Configurations whose figures are shown: all, or the MAX_CONFIG_FIGURES best by AUROC
    (the headline: a repeated CV's mean over repeats)."""
    cv = sweep.cv.sort_values(headline_column(sweep.cv), ascending=False, kind="stable")
    return [dict(zip(GROUP_KEYS, r, strict=True)) for r in cv[GROUP_KEYS].values][
        :MAX_CONFIG_FIGURES
    ]


REPEATED_HEADLINE = "pooled AUROC, mean ± sd over repeats"  # the CV table's repeated-CV column


def headline_column(cv: pd.DataFrame) -> str:
    """The CV table's headline AUROC column: a repeated CV's mean over repeats, else pooled."""
    return "repeat_mean_pooled_auroc" if "n_repeats" in cv.columns else "pooled_auroc"


def repeated_headline(row: pd.Series) -> str:
    """``0.712 ± 0.018 (5 repeats)``: pooled out-of-fold AUROC, mean and between-repeat sd."""
    if row["n_repeats"] <= 1:
        return f"{row['pooled_auroc']:.3f} (1 repeat)"
    return (
        f"{row['repeat_mean_pooled_auroc']:.3f} ± {row['repeat_sd_pooled_auroc']:.3f} "
        f"({int(row['n_repeats'])} repeats)"
    )


def cv_table(sweep: SweepData) -> pd.DataFrame:
    """The CV table with the pooled AUROC and its CI in one column, Brier and ECE added (and,
    for a repeated CV, the headline: pooled AUROC mean ± between-repeat sd)."""
    stats = calibration_stats(sweep).drop(columns=["lines"])
    cv = sweep.cv.merge(stats, on=GROUP_KEYS, how="left")
    if "n_repeats" in cv.columns:
        cv[REPEATED_HEADLINE] = [repeated_headline(r) for _, r in cv.iterrows()]
    cv["pooled AUROC [95% CI]"] = [
        f"{a:.3f} [{lo:.3f}, {hi:.3f}]"
        for a, lo, hi in cv[["pooled_auroc", "pooled_auroc_ci_low", "pooled_auroc_ci_high"]].values
    ]
    cv["mean fold AUROC (sd)"] = [
        f"{m:.3f} ({s:.3f})" if pd.notna(s) else f"{m:.3f}"
        for m, s in cv[["mean_auroc", "sd_auroc"]].values
    ]
    return cv.rename(
        columns={
            "pooled_ap": "pooled AP",
            "brier": "Brier",
            "ece": "ECE",
            "calibration": "calibration slope [95% CI]",
            "n_patients": "patients",
        }
    )


def performance_section(sweep: SweepData) -> Section | None:
    """CV table, ROC and calibration per configuration, per class, comparators, selection."""
    if sweep.cv is None:
        return None
    cv = cv_table(sweep)
    columns = ["trait", "model", "config_hash", "n_jobs", "patients", "mean fold AUROC (sd)"]
    columns += ["pooled AUROC [95% CI]", "pooled AP", "Brier", "ECE", "calibration slope [95% CI]"]
    columns += ["mean_val_auroc"]
    if (cv["bootstrap"] != "none").any():
        columns.insert(3, "bootstrap")
    repeated = REPEATED_HEADLINE in cv.columns
    if repeated:
        columns.insert(columns.index("mean fold AUROC (sd)"), REPEATED_HEADLINE)
    blocks: list = [
        table_block(cv, "Cross-validation", columns, rows=None, source=layout.CV_SUMMARY),
        Text(
            "Fold AUROC: each held-out fold scored once by a model that never saw it. Pooled: "
            "all out-of-fold predictions together, with a stratified bootstrap 95% CI. Brier: "
            "mean squared error of the probabilities (0 is perfect; binary: a constant 0.5 "
            "scores 0.25; multiclass: summed over the classes). ECE: expected calibration error "
            "over 10 equal-width bins (multiclass: mean over the classes, one-vs-rest). "
            "Calibration slope: b of the logistic calibration line logit P(event) = a + b "
            "logit(p) (Cox 1958) with its 95% CI; below 1 the probabilities are too extreme "
            "(over-confident), above 1 too timid (under-confident); well calibrated when the CI "
            f"contains 1 within [{SLOPE_BAND[0]:g}, {SLOPE_BAND[1]:g}] and the events are as "
            "common as predicted (calibration-in-the-large: CI containing 0).",
            note=True,
        ),
    ]
    if repeated:
        blocks += repeat_blocks(sweep)
    shown = _shown_configurations(sweep)
    if len(shown) < len(sweep.cv):
        blocks.append(
            Text(f"Figures for the {len(shown)} best configurations by pooled AUROC.", note=True)
        )
    blocks += _config_figures(sweep, shown)
    per_class = sweep.summary_table(layout.PER_CLASS)
    if per_class is not None:
        blocks.append(
            table_block(per_class, "Per class (one-vs-rest, pooled)", source=layout.PER_CLASS)
        )
    blocks += comparison_blocks(sweep)
    blocks += selection_blocks(sweep)
    return Section("performance", "Performance", blocks)


def repeat_blocks(sweep: SweepData) -> list:
    """A repeated CV (``repeats=R``): what the headline is, and every repeat's row."""
    blocks: list = [
        Text(
            f"Repeated cross-validation: the headline ({REPEATED_HEADLINE}) is each repeat's "
            "pooled out-of-fold AUROC (every patient held out once per repeat, the repeats on "
            "different outer splits, split_seed + r), their mean ± the sd between repeats. The "
            "fold columns, pooled AUROC [95% CI], AP, Brier, ECE and the figures are the first "
            "repeat's (split_seed itself: the numbers of a single-repeat sweep).",
            note=True,
        )
    ]
    repeats = sweep.summary_table(layout.REPEATS)
    if repeats is not None and not repeats.empty:
        blocks.append(
            table_block(repeats, "Cross-validation repeats", rows=None, source=layout.REPEATS)
        )
    return blocks


def _config_figures(sweep: SweepData, shown: list[dict]) -> list:
    """ROC and reliability diagram of each shown configuration (drawn here when absent), each
    captioned from its numbers (AUROC CI against 0.5; calibration slope, intercept and ECE)."""
    from radiogenomics.figures.plots import calibration_plot

    blocks = []
    wanted = {tuple(str(k[c]) for c in GROUP_KEYS) for k in shown}
    stats = calibration_stats(sweep).set_index(GROUP_KEYS)
    cv = sweep.cv.set_index(GROUP_KEYS)
    balanced = bool(sweep.option("model.class_balanced"))
    for key, classes, y, probs in _pooled(sweep):
        if tuple(str(key[c]) for c in GROUP_KEYS) not in wanted:
            continue
        label = config_label(key)
        index = tuple(key[c] for c in GROUP_KEYS)
        row = cv.loc[index]
        roc = figure_block(
            sweep.summary / layout.roc_plot(key),
            f"ROC: {label}",
            f"ROC curve of the pooled out-of-fold predictions of {label}",
            roc_sentence(
                float(row["pooled_auroc"]),
                float(row["pooled_auroc_ci_low"]),
                float(row["pooled_auroc_ci_high"]),
                sweep.permuted,
            ),
        )
        stat = stats.loc[index]
        brier = float(stat["brier"])
        path = sweep.summary / layout.calibration_plot(key)
        calibration_plot(path, y, probs, classes, f"{label}: Brier {brier:.3f}", CALIBRATION_BINS)
        cal = figure_block(
            path,
            f"Calibration: {label} (Brier {brier:.3f})",
            f"Reliability diagram of {label}",
            calibration_caption(stat["lines"], balanced)
            + " "
            + brier_sentence(brier, float(stat["brier_reference"])),
        )
        blocks += [b for b in (roc, cal) if b is not None]
    return blocks


def comparison_blocks(sweep: SweepData) -> list:
    """Fig 2a/2b and the paired tests (scripts/compare.py; run here for a multi-model sweep)."""
    models = set(sweep.cv["model"])
    out = layout.compare_dir(sweep.path)
    if len(models) < 2 or REFERENCE_MODEL not in models:
        return []
    if not (out / layout.compare_table("models")).is_file():
        from radiogenomics.summaries.comparison import write_comparison

        try:
            write_comparison([sweep.path])
        except (FileNotFoundError, ValueError) as err:
            return [Text(f"comparison not possible: {error_line(err)}", note=True)]
        log.info("report: paired comparisons (scripts/compare.py) written to %s", out)
    blocks: list = [
        figure_block(
            out / layout.FIG_AUROC_BY_MODEL,
            "AUROC per model (Fig. 2a style)",
            "AUROC per trait and model with 95% intervals",
        ),
        figure_block(
            out / layout.FIG_PAIRED_DIFFERENCES,
            "Paired differences (Fig. 2b style)",
            f"Paired AUROC differences, {REFERENCE_MODEL} minus each comparator",
        ),
    ]
    titles = {
        "models": "AUROC per model",
        "paired_cv": f"{REFERENCE_MODEL} minus comparator over CV folds (corrected t-test)",
        "paired_bootstrap": f"{REFERENCE_MODEL} minus comparator over bootstrap replicates",
    }
    for name, title in titles.items():
        table = sweep.table(out / layout.compare_table(name))
        if table is not None and not table.empty:
            blocks.append(table_block(table, title, source=layout.compare_table(name)))
    return [b for b in blocks if b is not None]


def selection_blocks(sweep: SweepData) -> list:
    """Nested hyperparameter selection (scripts/select_hparams.py), when it has run."""
    table = sweep.summary_table(layout.SELECTION_TABLE)
    if table is None:
        return []
    return [
        table_block(table, "Nested selection (inner-validation choice per outer fold)", rows=None),
        Text(
            "The nested estimate (held-out AUROC of the configuration each fold chose on its "
            "inner validation split) is the honest number; the best mean test AUROC over "
            "configurations is optimistic.",
            note=True,
        ),
    ]


# ---------------------------------------------------------------------------- interpretation

# the most telling columns first: a narrow (side-by-side) column shows them without scrolling
MASKING_COLUMNS = [
    "set",
    "auroc",
    "q",
    "significant",
    "competitive_q",
    "self_contained_q",
    "slope",
    "rank",
    "n_genes",
    "coverage",
]
GENE_COLUMNS = ["gene", "rank", "auroc", "q", "ap"]
ASSOCIATION_COLUMNS = [
    "set",
    "association",
    "class_q",
    "class_auc",
    "paper_rule",
    "n_enriched",
    "share_enriched_target",
    "share_enriched_other",
    "mean_nes",
    "class",
    "collection",
]


def saliency_fdr(sweep: SweepData) -> float:
    """The GSEA FDR the summary used (recorded in stability.json), else the sweep's threshold."""
    recorded = (sweep.summary_json(layout.STABILITY) or {}).get("fdr")
    return float(recorded if recorded is not None else sweep.option("thresholds.fdr", FDR))


def _rows_of(table: pd.DataFrame, key: dict) -> pd.DataFrame:
    """The rows of one configuration (by ``GROUP_KEYS``, bootstrap compared as text)."""
    mask = np.ones(len(table), dtype=bool)
    for k in GROUP_KEYS:
        if k in table:
            values = table[k].fillna("none") if k == "bootstrap" else table[k]
            mask &= values.astype(str).to_numpy() == str(key[k])
    return table[mask]


def masking_blocks(sweep: SweepData, shown: list[dict], settings: dict) -> list:
    """Top masked gene sets (p, q) and the heatmap per collection; the single-gene ranking; the
    caveat first (``settings``: the sweep's masking settings)."""
    blocks: list = []
    tables = sweep.masking_tables()
    for label in sorted(tables, key=lambda label: label == layout.SINGLE_GENES):
        table = tables[label]
        single = label == layout.SINGLE_GENES
        needed = ["gene", "rank", "auroc"] if single else ["set", "rank", "auroc", "q"]
        if table.empty or not set(needed) <= set(table.columns):
            continue  # not a pooled masking table (another summary file of that name pattern)
        for key in shown:
            rows = _rows_of(table, key).sort_values("rank", kind="stable")
            if rows.empty:
                continue
            title = (
                f"Single genes kept: {config_label(key)}"
                if single
                else f"Masking, {label}: {config_label(key)}"
            )
            blocks.append(
                table_block(
                    rows,
                    title,
                    GENE_COLUMNS if single else MASKING_COLUMNS,
                    source=layout.masking_table(label),
                )
            )
            figure = figure_block(
                sweep.summary / layout.masking_heatmap(label, key),
                f"Masking heatmap, {label}: {config_label(key)}",
                f"Masked probabilities of the top {label} items per held-out patient",
            )
            if figure is not None:
                blocks.append(figure)
    return masking_caveats(settings) + blocks if blocks else []


def saliency_blocks(sweep: SweepData, shown: list[dict], settings: dict) -> list:
    """Associations table and counts, dot plots and heatmaps, stability across folds; the
    caveats first (``settings``: the sweep's saliency settings)."""
    blocks: list = []
    assoc = sweep.summary_table(layout.ASSOCIATIONS)
    fdr = saliency_fdr(sweep)
    for key in shown:
        if assoc is None:
            break
        rows = _rows_of(assoc, key)
        if rows.empty:
            continue
        n_assoc, n_rule = int(rows["association"].sum()), int(rows["paper_rule"].sum())
        rows = rows.sort_values(["association", "class_q"], ascending=[False, True], kind="stable")
        blocks.append(
            Text(
                f"{config_label(key)}: {n_assoc} radiogenomic association(s) of {len(rows)} "
                f"(class, set) pairs; the paper's rule alone flags {n_rule}."
            )
        )
        blocks.append(
            table_block(
                rows,
                f"Associations: {config_label(key)}",
                ASSOCIATION_COLUMNS,
                source=layout.ASSOCIATIONS,
            )
        )
        pairs = rows[["collection", "class"]].drop_duplicates().sort_values(["collection", "class"])
        for label, name in pairs.itertuples(index=False):
            for kind, what in (("dots", "Top associations"), ("heatmap", "Per-patient NES")):
                figure = figure_block(
                    sweep.summary / layout.saliency_plot(kind, label, str(name), key),
                    f"{what}, {label}, attribution of {name}: {config_label(key)}",
                    f"Saliency {kind} of {label} sets for class {name}, {config_label(key)}",
                    f"Enriched: per-patient GSEA FDR < {fdr:g}.",
                )
                if figure is not None:
                    blocks.append(figure)
    stability = sweep.summary_json(layout.STABILITY)
    if stability:
        blocks.append(_stability_table(stability))
    return saliency_caveats(sweep, settings) + blocks if blocks else []


def _stability_table(stability: dict) -> Table:
    """Spearman correlation and top-gene overlap of the fold models' mean attributions."""
    rows = []
    for config in stability.get("configurations", []):
        for name, entry in config.get("classes", {}).items():
            for patients, values in entry.items():
                overlap = next((v for k, v in values.items() if k.endswith("overlap_mean")), None)
                rows.append(
                    {
                        "configuration": config_label(config),
                        "class": name,
                        "patients": values.get("patients", patients),
                        "fold pairs": values.get("n_pairs"),
                        "Spearman mean": values.get("spearman_mean"),
                        "Spearman min": values.get("spearman_min"),
                        "top-100 overlap mean": overlap,
                    }
                )
    return table_block(pd.DataFrame(rows), "Stability of attributions across fold models")


def masking_caveats(settings: dict) -> list:
    """The README's plain-language caveat of masking, for the sweep's ``settings``."""
    n_random = settings.get("n_random")
    if n_random is None:
        return []
    text = (
        f"Masking keeps one gene set's expression, zeroes the rest and scores how well the "
        f"network still separates the classes on held-out patients. p is empirical against "
        f"{n_random} random same-size gene sets, so it cannot fall below "
        f"1/{int(n_random) + 1}; q is Benjamini-Hochberg within the collection. Single "
        "genes are ranked by AUROC without a test."
    )
    return [Text(text, note=True)]


def saliency_caveats(sweep: SweepData, settings: dict) -> list:
    """The README's plain-language caveats of saliency, for the sweep's ``settings``."""
    method = settings.get("method")
    if method is None:
        return []
    fdr = saliency_fdr(sweep)
    min_patients = sweep.option("thresholds.min_patients", MIN_PATIENTS)
    texts = [
        f"A radiogenomic trait is a set enriched (per-patient GSEA FDR < {fdr:g}, positive "
        "NES) in a patient's attribution ranking. The paper's rule (a set enriched in at "
        f"least {min_patients} patients, column paper_rule) is not a test: with nearly linear "
        "networks every patient's ranking is much the same, and a network trained on "
        "shuffled labels passes it just as often. An association therefore also needs the "
        f"set's NES to be higher in the attributed class than in the others (class_q < {fdr:g}).",
        f"This sweep used {method}. The plain gradient (saliency, the paper's) describes the "
        "model: its traits are much the same in every patient. input_x_gradient multiplies "
        "the gradient by the patient's own expression, so a trait follows what the patient "
        "expresses: the setting for patient-level questions (class differences, survival).",
    ]
    return [Text(t, note=True) for t in texts]


def interpretation_section(sweep: SweepData) -> Section | None:
    """Every interpreter's blocks (its ``report`` in the registry: caveats, tables, figures)."""
    if sweep.cv is None:
        return None
    shown = _shown_configurations(sweep)
    blocks = []
    for entry in entries():
        if entry.report is not None:
            settings = sweep.option(f"interpret.{entry.name}") or {}
            blocks += entry.resolve("report")(sweep, shown, settings)
    if not blocks:
        return None
    return Section("interpretation", "Interpretation", blocks)


AGREEMENT_COLUMNS = [
    "trait",
    "collection",
    "family_a",
    "family_b",
    "n_items",
    "spearman",
    "top_k",
    "top_k_overlap",
    "significant_a",
    "significant_b",
    "significant_both",
]


def model_agreement_section(sweep: SweepData) -> Section | None:
    """Do the model families rely on the same programs? (a sweep masking several families)"""
    table = sweep.summary_table(layout.MODEL_AGREEMENT)
    if table is None or table.empty:
        return None
    blocks: list = [
        Text(
            "Each pair of model families compared on their pooled out-of-fold gene masking: "
            "Spearman correlation of the set (or single-gene) AUROCs, the share of one family's "
            "top k that is in the other's, and how many sets each calls significant (both: "
            "called by the two). High correlation with few shared calls means the models rank "
            "the programs alike but only one separates the classes with them.",
            note=True,
        ),
        table_block(
            table,
            "Agreement between model families",
            AGREEMENT_COLUMNS,
            rows=None,
            source=layout.MODEL_AGREEMENT,
        ),
    ]
    figure = figure_block(
        sweep.summary / layout.MODEL_AGREEMENT_PLOT,
        "Spearman of pooled masking AUROCs, family x family",
        "Heatmaps of the Spearman correlation between model families' masking AUROCs",
    )
    if figure is not None:
        blocks.append(figure)
    sets = sweep.summary_table(layout.MODEL_AGREEMENT_SETS)
    if sets is not None and not sets.empty and "significant" in sets:
        called = sets[sets["significant"].astype(bool)]
        if not called.empty:
            by_set = called.groupby(["trait", "collection", "set"], sort=True)["family"]
            calls = by_set.apply(lambda f: ", ".join(sorted(f))).reset_index(name="called by")
            blocks.append(
                table_block(
                    calls, "Sets called significant, by family", source=layout.MODEL_AGREEMENT_SETS
                )
            )
    return Section("model_agreement", "Do the models rely on the same programs?", blocks)


# ---------------------------------------------------------------------------------- clinical

SURVIVAL_COLUMNS = [
    "set",
    "logrank_q",
    "hr",
    "hr_low",
    "hr_high",
    "cox_q",
    "n_enriched",
    "n_not",
    "events_enriched",
    "events_not",
    "median_enriched",
    "median_not",
    "status",
    "class",
    "collection",
]


def clinical_section(sweep: SweepData) -> Section | None:
    """Survival by radiogenomic trait and KM plots, when scripts/survival.py has run."""
    folder = layout.survival_dir(sweep.path)
    table = sweep.table(folder / layout.SURVIVAL)
    if table is None:
        return None
    tested = int((table["status"] == "tested").sum()) if "status" in table else 0
    ordered = table.sort_values("logrank_q", kind="stable") if len(table) else table
    blocks: list = [
        Text(
            f"{len(table)} association(s) analysed, {tested} tested (log-rank, and Cox adjusted "
            "for age, gender and race); q-values are Benjamini-Hochberg across associations. "
            "Exploratory: the traits come from one model, so a hit is a hypothesis."
        ),
        table_block(ordered, "Survival by radiogenomic trait", SURVIVAL_COLUMNS, source=None)
        if len(table)
        else Text(f"{layout.ASSOCIATIONS} has no association to test.", note=True),
    ]
    for path in sorted(folder.glob("*.png")):
        figure = figure_block(
            path, f"Kaplan-Meier: {path.stem}", f"Kaplan-Meier curves {path.stem}"
        )
        if figure is not None:
            blocks.append(figure)
    return Section("clinical", "Clinical: survival", blocks)


# ------------------------------------------------------------------------------ null control


def verdict_table(table: pd.DataFrame, title: str) -> Table:
    """null_report's table as stage | real | permuted | allowed | verdict, one row per stage."""
    rows = []
    for r in table.to_dict("records"):
        found = {
            side: _found(r, side) + (f": {r[f'value_{side}']}" if r.get(f"value_{side}") else "")
            for side in ("real", "permuted")
        }
        verdict = r.get("within_fdr")
        rows.append(
            {
                "trait": r["trait"],
                "model": r["model"],
                "stage": r["stage"],
                "real labels": found["real"],
                "permuted twin": found["permuted"],
                "allowed": r.get("allowed_permuted"),
                "verdict": "not judged"
                if verdict is None or (isinstance(verdict, float) and np.isnan(verdict))
                else ("within FDR" if bool(verdict) else "OVER"),
            }
        )
    return table_block(pd.DataFrame(rows), title, rows=None)


def _found(row: dict, side: str) -> str:
    """``3 / 50`` discoveries of one side (blank when the stage is absent there)."""
    found, tests = row.get(f"n_found_{side}"), row.get(f"n_tests_{side}")
    if found is None or pd.isna(found):
        return ""
    return f"{int(found)} / {int(tests)}"


def null_control_section(sweep: SweepData) -> Section | None:
    """A single sweep's null_report.csv, when scripts/null_report.py wrote it there."""
    table = sweep.summary_table(layout.NULL_REPORT)
    if table is None or table.empty:
        return None
    blocks = [verdict_table(table, "Null-control verdicts (scripts/null_report.py)"), _null_note()]
    return Section("null_control", "Null control", blocks)


def _null_note() -> Text:
    """How to read the verdict table."""
    return Text(
        "Discoveries at q < 0.05 in the real sweep and in its permuted twin (labels shuffled: "
        "nothing can truly be found). allowed = max(1, 0.05 x tests), the most false discoveries "
        "a calibrated stage shows on shuffled labels; for AUROC a discovery is a 95% CI above 0.5 "
        "and none is allowed. The paper's rule alone is shown for contrast and not judged.",
        note=True,
    )


def twin_pairs(sweeps: list[SweepData]) -> list[tuple[SweepData, SweepData]]:
    """(real, permuted twin) pairs among ``sweeps`` that cover the same traits and models."""
    pairs = []
    for real, twin in permutations(sweeps, 2):
        if real.permuted or not twin.permuted or real.folds is None or twin.folds is None:
            continue
        if set(map(tuple, real.folds[["trait", "model"]].values)) == set(
            map(tuple, twin.folds[["trait", "model"]].values)
        ):
            pairs.append((real, twin))
    return pairs


def null_twin_section(sweeps: list[SweepData]) -> Section | None:
    """The stage-by-stage verdicts of each real sweep against its permuted twin."""
    blocks: list = []
    for real, twin in twin_pairs(sweeps):
        try:
            table = null_report(real.path, twin.path)
        except (FileNotFoundError, ValueError) as err:
            blocks.append(Text(f"{real.name} vs {twin.name}: {error_line(err)}", note=True))
            continue
        blocks.append(verdict_table(table, f"{real.name} (real) vs {twin.name} (permuted)"))
    if not blocks:
        return None
    return Section(
        "null_twin", "Null control: real labels vs permuted twin", [*blocks, _null_note()]
    )
