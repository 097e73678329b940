"""The model card of a sweep: intended use, data, evaluation, metrics, limitations, ethics.

Filled from the sweep's files (cohort.json, cv_summary.csv, the pooled predictions, the job
config), never boilerplate alone: every number is the sweep's. The same :class:`CardPart` list is
rendered as ``summary/model_card.md`` and as a section of the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from radiogenomics.report.blocks import Section, config_label
from radiogenomics.report.captions import CHANCE, calibration_caption
from radiogenomics.report.sections import calibration_stats
from radiogenomics.results import layout
from radiogenomics.results.sweep import SweepData

SMALL_COHORT = 300  # patients: below this, say plainly that the estimates are imprecise
WIDE_CI = 0.15  # a 95% CI wider than this is called wide
SYNTHETIC_DATA = "synthetic"  # data config of the embedded synthetic cohort


@dataclass
class CardPart:
    """One heading of the card: paragraphs, then bullet points."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    bullets: list[str] = field(default_factory=list)
    kind: str = "part"  # how the report template renders it


def model_card(sweep: SweepData) -> list[CardPart] | None:
    """The card's parts, filled from the sweep; None when the sweep has no CV table."""
    if sweep.cv is None:
        return None
    traits = sorted(set(sweep.cv["trait"]))
    cohorts = {c.get("trait"): c for c in sweep.cohorts}  # one per trait (equal across folds)
    cohort = next(iter(cohorts.values()), {})
    models = sorted(set(sweep.cv["model"]))
    return [
        _details(sweep, traits, models),
        _intended_use(traits),
        _data(sweep, [cohorts.get(t, {}) for t in traits]),
        _protocol(sweep),
        _metrics(sweep),
        _calibration(sweep),
        _limitations(sweep, cohort),
        _ethics(sweep),
    ]


def _details(sweep: SweepData, traits: list[str], models: list[str]) -> CardPart:
    """What the models are."""
    hidden = sweep.option("model.hidden_dims")
    pretrain = sweep.option("pretrain.hidden_dims")
    bullets = [
        f"Predicts the imaging trait(s) {', '.join(traits)} from tumour gene expression.",
        f"Model families: {', '.join(models)}; {len(sweep.cv)} configuration(s), config "
        f"hash(es) {', '.join(sorted(set(map(str, sweep.cv['config_hash']))))}.",
    ]
    if "nn" in models and hidden is not None:
        bullets.append(
            f"Network: hidden layers {hidden}, first layers initialised from an autoencoder "
            f"pretrained on expression-only tumours (hidden layers {pretrain}); "
            f"{sweep.option('model.transfer_layers')} transferred, "
            f"{sweep.option('model.freeze_layers')} frozen."
        )
    bullets.append(f"Sweep: {sweep.path.resolve()}")
    return CardPart("Model details", bullets=bullets)


def _intended_use(traits: list[str]) -> CardPart:
    """Hypothesis generation, not diagnosis."""
    return CardPart(
        "Intended use",
        paragraphs=[
            f"Research use: generating hypotheses about which transcriptomic programs relate to "
            f"the imaging trait(s) {', '.join(traits)}, and estimating how well expression "
            "predicts them. Not for diagnosis, prognosis or treatment decisions for any patient, "
            "and not a substitute for reading the images: the models have not been validated on "
            "an external cohort or prospectively."
        ],
    )


def _data(sweep: SweepData, cohorts: list[dict]) -> CardPart:
    """Training data and the cohort of each trait."""
    choice = _choice(sweep, "data") or str(sweep.option("data.name", "") or "")
    synthetic = " (the embedded synthetic cohort with planted drivers: no patient data)"
    bullets = [f"Data: {choice}" + (synthetic if choice == SYNTHETIC_DATA else "")]
    for cohort in cohorts:
        counts = ", ".join(f"{k}: {v}" for k, v in cohort.get("class_counts", {}).items())
        dropped = {k: v for k, v in (cohort.get("patients_dropped") or {}).items() if v}
        bullets.append(
            f"Trait cohort ({cohort.get('trait', '?')}): {cohort.get('n_patients', '?')} "
            f"patients with expression and the trait ({counts}), {cohort.get('n_genes', '?')} "
            "genes"
            + (
                "; left out: " + ", ".join(f"{v} ({k})" for k, v in dropped.items())
                if dropped
                else ""
            )
            + "."
        )
    cohort = cohorts[0] if cohorts else {}
    bullets.append(
        f"Autoencoder pretraining: {cohort.get('n_pretrain_patients', '?')} expression-only "
        "patients, disjoint from the trait cohort."
    )
    if cohort.get("expression_file"):
        bullets.append(f"Expression file: {cohort['expression_file']}")
    if sweep.permuted:
        bullets.append(_permuted_bullet(sweep))
    return CardPart("Training data and cohort", bullets=bullets)


def _permuted_bullet(sweep: SweepData) -> str:
    """A null-control sweep: how many configurations' AUROC CIs cover chance, as they should."""
    covering = (sweep.cv["pooled_auroc_ci_low"] <= CHANCE) & (
        sweep.cv["pooled_auroc_ci_high"] >= CHANCE
    )
    n, k = len(sweep.cv), int(covering.sum())
    text = (
        "LABELS PERMUTED: this sweep is a null control, its models have nothing to learn; the "
        f"pooled AUROC's 95% CI covers 0.5 in {k} of {n} configuration(s)"
    )
    if k < n:
        return text + (
            f"; {n - k} exclude it, which one in 20 does by chance: more, or a CI far from 0.5, "
            "points to leakage or a label that survived the shuffle."
        )
    return text + ", as it should."


def _choice(sweep: SweepData, group: str) -> str | None:
    """The option chosen for a config group (from Hydra's record of the sweep)."""
    if sweep.multirun is None:
        return None
    from omegaconf import OmegaConf

    value = OmegaConf.select(sweep.multirun, f"hydra.runtime.choices.{group}", default=None)
    return None if value is None else str(value)


def _protocol(sweep: SweepData) -> CardPart:
    """How the numbers were obtained."""
    n_folds = int(sweep.cv["n_folds"].iloc[0])
    val = sweep.option("val_fraction")
    n_repeats = int(sweep.cv["n_repeats"].max()) if "n_repeats" in sweep.cv.columns else 1
    repeated = (
        f", repeated {n_repeats} times on different outer splits (split seeds split_seed + r)"
        if n_repeats > 1
        else ""
    )
    return CardPart(
        "Evaluation protocol",
        paragraphs=[
            f"Stratified {n_folds}-fold cross-validation{repeated}. Early stopping and checkpoint "
            f"choice use an inner validation split ({val} of the training folds); each held-out "
            "fold is scored once. Standardisation and class weights are fitted on the training "
            "patients of each fold only. The pooled AUROC scores all out-of-fold predictions "
            "together; its 95% CI is a stratified bootstrap over patients (2000 resamples)."
        ],
    )


def _metrics(sweep: SweepData) -> CardPart:
    """CV AUROC with CI per configuration."""
    bullets = [
        f"{config_label(r)}: "
        + (
            f"pooled AUROC {r['repeat_mean_pooled_auroc']:.3f} ± {r['repeat_sd_pooled_auroc']:.3f}"
            f" (mean ± sd over {int(r['n_repeats'])} CV repeats); first repeat: "
            if r.get("n_repeats", 1) > 1
            else ""
        )
        + f"pooled AUROC {r['pooled_auroc']:.3f} [95% CI "
        f"{r['pooled_auroc_ci_low']:.3f}, {r['pooled_auroc_ci_high']:.3f}], mean fold AUROC "
        f"{r['mean_auroc']:.3f}"
        + (f" (sd {r['sd_auroc']:.3f})" if pd.notna(r["sd_auroc"]) else "")
        + f", pooled AP {r['pooled_ap']:.3f}, {int(r['n_patients'])} patients."
        for r in sweep.cv.to_dict("records")
    ]
    return CardPart("Metrics (cross-validated, out of fold)", bullets=bullets)


def _calibration(sweep: SweepData) -> CardPart:
    """Brier score, calibration error and the calibration line's verdict per configuration."""
    stats = calibration_stats(sweep)
    balanced = bool(sweep.option("model.class_balanced"))
    bullets = [
        f"{config_label(r)}: Brier score {r['brier']:.3f} (every patient given the cohort's class "
        f"shares: {r['brier_reference']:.3f}). {calibration_caption(r['lines'], balanced)} "
        "(ECE over 10 bins.)"
        for r in stats.to_dict("records")
    ]
    paragraphs = [
        "The calibration slope is b of logit P(event) = a + b logit(p) (Cox 1958): below 1 the "
        "probabilities are too extreme, above 1 too timid. Check it and the reliability diagram "
        "before reading a probability at face value; the ranking (AUROC) does not depend on "
        "calibration."
    ]
    if balanced:
        paragraphs.insert(
            0,
            "The networks were trained with class-balanced weights: their probabilities behave "
            "as if the classes were equally common, not as the event rate of this cohort.",
        )
    return CardPart("Calibration", paragraphs=paragraphs, bullets=bullets)


def _limitations(sweep: SweepData, cohort: dict) -> CardPart:
    """Sample size, in-sample risks, platform, data source."""
    n = int(sweep.cv["n_patients"].max())
    width = float((sweep.cv["pooled_auroc_ci_high"] - sweep.cv["pooled_auroc_ci_low"]).max())
    bullets = [
        f"Sample size: {n} patients"
        + (f" (fewer than {SMALL_COHORT}): " if n < SMALL_COHORT else ": ")
        + f"the widest 95% CI of the pooled AUROC spans {width:.2f}"
        + (", so the estimate is imprecise." if width > WIDE_CI else "."),
    ]
    if len(sweep.cv) > 1:
        bullets.append(
            f"{len(sweep.cv)} configurations were scored on the same folds: picking the best by "
            "its test AUROC is optimistic (use scripts/select_hparams.py for a nested estimate)."
        )
    bullets += [
        "In-sample risks: the gene sets, thresholds and architecture were not chosen on a "
        "separate cohort; interpretation tables explain held-out patients, but a set found here "
        "is a hypothesis until replicated.",
        f"Platform: the models expect the {cohort.get('n_genes', '?')} genes of the training "
        "matrix on the same scale; another platform or normalisation shifts the inputs "
        "(task=predict reports missing genes and the shift).",
        "Cohort: a single source; performance in other populations, scanners or readers of the "
        "imaging trait is unknown.",
    ]
    if sweep.missing:
        bullets.append(f"{len(sweep.missing)} job(s) did not finish: the numbers omit them.")
    return CardPart("Known limitations", bullets=bullets)


def _ethics(sweep: SweepData) -> CardPart:
    """Patient data."""
    return CardPart(
        "Ethical considerations",
        bullets=[
            f"Patient data: the job files ({layout.PREDICTIONS}, masking and saliency tables) hold "
            "patient identifiers; share a sweep only under the data's use agreement. Model "
            "bundles store salted digests of the training patients, never their ids; this report "
            "and card hold no patient-level values.",
            "Imaging traits are a radiologist's reading (VASARI); disagreement between readers is "
            "part of the label noise.",
            "Not a medical device: no result here should reach a patient's care.",
        ],
    )


def card_section(sweep: SweepData, parts: list[CardPart] | None = None) -> Section | None:
    """The model card as a report section (each part a block of the page)."""
    parts = parts if parts is not None else model_card(sweep)
    if not parts:
        return None
    return Section("model_card", "Model card", list(parts))
