"""Words computed from numbers: what a reliability diagram or a ROC curve shows, said from its data.

A caption that interprets a figure must follow the figure's numbers, never a fixed sentence: the
same words under an over-confident and an under-confident model would be wrong for one of them.
The calibration words come from :func:`radiogenomics.evaluation.metrics.calibration_line` (the
logistic calibration slope and calibration-in-the-large with their CIs, Cox 1958) and the expected
calibration error; the ROC words from the AUROC's CI against 0.5.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from radiogenomics.evaluation import metrics as m

CHANCE = 0.5


def _ci(values: Sequence[float]) -> str:
    return f"[{values[0]:.2f}, {values[1]:.2f}]"


def _large_clause(line: dict, class_balanced: bool = False) -> str:
    """Calibration-in-the-large in words, or '' when its CI contains 0."""
    citl, ci = line.get("citl"), line.get("citl_ci")
    if citl is None or ci[0] <= 0 <= ci[1]:
        return ""
    direction = "more" if citl > 0 else "less"
    clause = (
        f"events are {direction} common than predicted (observed rate "
        f"{line['observed_rate']:.2f}, mean predicted probability {line['mean_predicted']:.2f}; "
        f"calibration-in-the-large {citl:.2f} {_ci(ci)}, 0 when right on average)"
    )
    if class_balanced:
        clause += ", as class-balanced training weights make it"
    return clause


def calibration_sentence(line: dict, ece: float | None = None, class_balanced: bool = False) -> str:
    """What a reliability diagram shows, from its calibration line (and ECE when given).

    Over-confident (slope CI below 1), under-confident (above 1), miscalibrated in the large,
    well calibrated, too imprecise to tell, or not estimable, each with the numbers behind it.
    """
    verdict = line.get("verdict", m.NOT_ESTIMABLE)
    ece_text = f"; expected calibration error (ECE) {ece:.3f}" if ece is not None else ""
    large = _large_clause(line, class_balanced)
    if verdict == m.NOT_ESTIMABLE:
        n = line.get("n", 0)
        if n < m.MIN_CALIBRATION_PATIENTS:
            why = f"{n} patient(s), fewer than {m.MIN_CALIBRATION_PATIENTS}"
        elif line.get("observed_rate") in (0.0, 1.0):
            why = "one class only"
        else:
            why = "the predictions separate the classes or do not vary"
        return f"The calibration slope could not be estimated ({why}){ece_text}."
    slope = f"calibration slope {line['slope']:.2f} (95% CI {_ci(line['slope_ci'])})"
    if verdict == m.OVER_CONFIDENT:
        text = (
            f"Over-confident: {slope} is below 1, the probabilities are too extreme (pushed "
            f"towards 0 and 1){ece_text}. Their ranking (AUROC) may still be usable; do not "
            "read a probability at face value without recalibrating it"
        )
    elif verdict == m.UNDER_CONFIDENT:
        text = (
            f"Under-confident: {slope} is above 1, the probabilities are too timid (crowded "
            f"towards the middle){ece_text}. Their ranking (AUROC) may still be usable; the true "
            "risks are more extreme than predicted"
        )
    elif verdict == m.MISCALIBRATED_IN_THE_LARGE:
        return f"Miscalibrated in the large: the {slope} contains 1, but {large}{ece_text}."
    elif verdict == m.WELL_CALIBRATED:
        return (
            f"Well calibrated: the {slope} contains 1 and lies within "
            f"[{m.SLOPE_BAND[0]:g}, {m.SLOPE_BAND[1]:g}], and calibration-in-the-large "
            f"{line['citl']:.2f} (95% CI {_ci(line['citl_ci'])}) contains 0{ece_text}: the "
            "probabilities can be taken at face value."
        )
    else:  # imprecise
        return (
            f"Too imprecise to call calibrated: the {slope} contains 1 but reaches beyond "
            f"[{m.SLOPE_BAND[0]:g}, {m.SLOPE_BAND[1]:g}] ({line['n']} patients){ece_text}."
        )
    return text + (f"; besides, {large}." if large else ".")


def calibration_caption(
    lines: Sequence[tuple[str, dict, float | None]], class_balanced: bool = False
) -> str:
    """The reliability diagram's caption: one sentence per curve (``(class, line, ECE)``).

    A binary diagram has one curve (no class named); a multiclass one a curve per class.
    """
    sentences = [
        (f"{name}: " if len(lines) > 1 else "") + calibration_sentence(line, ece, class_balanced)
        for name, line, ece in lines
    ]
    return " ".join(sentences)


def calibration_lines(
    y: np.ndarray, probs: np.ndarray, classes: Sequence[str], n_bins: int
) -> list[tuple[str, dict, float | None]]:
    """(class, calibration line, ECE) of each curve of a reliability diagram (binary: one)."""
    P = m.as_prob_matrix(probs)
    y = np.asarray(y)
    targets = [1] if P.shape[1] == 2 else range(P.shape[1])
    return [
        (
            classes[k],
            m.calibration_line(y == k, P[:, k]),
            m.calibration_error(m.calibration_table(y == k, P[:, k], n_bins)),
        )
        for k in targets
    ]


def verdict_cell(lines: Sequence[tuple[str, dict, float | None]]) -> str:
    """A table cell: binary ``0.39 [0.31, 0.47] over-confident``; multiclass ``a: verdict; ...``."""
    if len(lines) == 1:
        line = lines[0][1]
        if line["slope"] is None:
            return line["verdict"]
        return f"{line['slope']:.2f} {_ci(line['slope_ci'])} {line['verdict']}"
    return "; ".join(f"{name}: {line['verdict']}" for name, line, _ in lines)


def roc_sentence(auroc: float, low: float, high: float, permuted: bool = False) -> str:
    """What a ROC curve shows, from the AUROC's 95% CI against chance (0.5)."""
    numbers = f"Pooled AUROC {auroc:.3f} (95% CI {low:.3f}, {high:.3f})"
    if not np.isfinite([auroc, low, high]).all():
        return f"{numbers}: undefined (one class only)."
    if low > CHANCE:
        text = f"{numbers}: the CI lies above 0.5, the ranking is better than chance"
        if permuted:
            text += (
                "; with permuted labels one CI in 20 does so by chance: more, or a CI far "
                "above 0.5, points to leakage or a label that survived the shuffle"
            )
    elif high < CHANCE:
        text = (
            f"{numbers}: the CI lies below 0.5, the ranking is worse than chance (check the "
            "class order)"
        )
    else:
        text = f"{numbers}: the CI covers 0.5, the ranking is not distinguishable from chance"
        if permuted:
            text += ", as it should be with permuted labels"
    return text + "."


def brier_reference(y: np.ndarray, n_classes: int) -> float:
    """Brier score of predicting the cohort's class shares to every patient (the no-skill score)."""
    y = np.asarray(y, dtype=int)
    shares = np.bincount(y, minlength=n_classes) / max(1, len(y))
    if n_classes == 2:
        return float(shares[1] * (1 - shares[1]))
    return float(1 - np.sum(shares**2))


def brier_sentence(brier: float, reference: float) -> str:
    """The Brier score against the no-skill reference, compared in words."""
    if brier < reference:
        relation = "below"
    elif brier > reference:
        relation = "above"
    else:
        relation = "equal to"
    return (
        f"Brier score {brier:.3f}, {relation} the {reference:.3f} of giving every patient the "
        "cohort's class shares."
    )
