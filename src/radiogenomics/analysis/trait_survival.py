"""Survival of patients with vs without a radiogenomic trait, per radiogenomic association.

For each row of a saliency sweep's ``summary/associations.csv`` with ``association == True``
(per configuration, class, collection, set), the held-out patients of ``radiogenomic_traits.parquet``
are split into *enriched* (the set enriched in their attribution ranking: ``fdr < fdr`` with NES in
``direction``, positive by default) and *not enriched*. Per pair: Kaplan-Meier medians, the
log-rank test, and a Cox proportional-hazards model of the enriched flag adjusted for the
covariates (age, gender, race by default; categorical ones one-hot with the first level dropped,
constant and all-missing columns dropped, complete cases). BH q-values across the tested pairs,
separately for the log-rank and the Cox p-values. A pair is skipped, with the reason in
``status``, when a group is smaller than ``min_group`` or has no event; a Cox fit that fails is
recorded in ``cox_status``. The tables and plots are written by
:mod:`radiogenomics.pipelines.survival` (``scripts/survival.py``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from radiogenomics.errors import DataError
from radiogenomics.evaluation.multitest import FDR, bh_qvalues
from radiogenomics.interpret.associations import DIRECTIONS, enriched_flags
from radiogenomics.interpreters import writing
from radiogenomics.progress import progress
from radiogenomics.results import layout

PAIR_KEYS = ["class", "collection", "set"]
ENDPOINTS = ("os", "pfs")
COVARIATES = ("age", "gender", "race")
TESTED = "tested"
SIGNIFICANCE_COLUMNS = ("logrank_q", "cox_q")
MIN_GROUP = 5  # fewest patients with survival data in each of a pair's two groups


@dataclass(frozen=True)
class SurvivalOptions:
    """How traits are called, which pairs are tested and how the Cox model is fitted."""

    fdr: float = FDR  # a patient's trait: set FDR below this (and NES in ``direction``)
    direction: str = "pos"  # NES sign of an enriched trait: pos, neg or any
    alpha: float = FDR  # q-value below which a pair is significant (KM plot written)
    min_group: int = MIN_GROUP  # fewest patients in each of the two groups
    endpoint: str = "os"  # os (overall survival) or pfs (needs a new-tumour-event column)
    covariates: tuple[str, ...] = COVARIATES
    penalizer: float = 0.01  # ridge penalty of the Cox fit, for stability with rare categories

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction={self.direction!r}: expected one of {DIRECTIONS}")
        if self.endpoint not in ENDPOINTS:
            raise ValueError(f"endpoint={self.endpoint!r}: expected one of {ENDPOINTS}")
        if not (0 < self.fdr <= 1 and 0 < self.alpha <= 1):
            raise ValueError("fdr and alpha must be in (0, 1]")
        if self.min_group < 1 or self.penalizer < 0:
            raise ValueError("min_group must be >= 1 and penalizer >= 0")


@dataclass
class SweepTraits:
    """The saliency outputs of a sweep: per-patient traits, associations, configuration keys."""

    traits: pd.DataFrame
    associations: pd.DataFrame
    keys: list[str]


def load_sweep_traits(summary_dir: str | Path) -> SweepTraits:
    """Read ``radiogenomic_traits.parquet`` and ``associations.csv``; DataError when absent."""
    summary_dir = Path(summary_dir)
    traits_path, assoc_path = summary_dir / layout.TRAITS, summary_dir / layout.ASSOCIATIONS
    missing = [p.name for p in (traits_path, assoc_path) if not p.is_file()]
    if missing:
        saliency = writing(layout.SALIENCY_DIR).name
        raise DataError(
            f"{summary_dir}: no {saliency} outputs ({', '.join(missing)} missing); run the sweep "
            f"with +interpret={saliency} (e.g. python train.py -m trait=enhancement "
            f"+interpret={saliency}) and pass its sweep directory"
        )
    header = pd.read_csv(assoc_path, nrows=0).columns.tolist()
    _require(header, [*PAIR_KEYS, "association"], assoc_path)
    keys = header[: header.index("class")]  # configuration keys come first
    text_columns = {c: str for c in [*keys, *PAIR_KEYS]}
    assoc = pd.read_csv(assoc_path, dtype=text_columns, keep_default_na=False)
    assoc["association"] = _as_bool(assoc["association"], assoc_path)
    try:
        traits = pd.read_parquet(traits_path)
    except Exception as err:  # pyarrow raises many types for a damaged file
        raise DataError(f"{traits_path}: cannot read as Parquet ({err})") from err
    _require(traits.columns, [*keys, *PAIR_KEYS, "patient_id", "nes", "fdr"], traits_path)
    traits = traits.astype({c: str for c in [*keys, *PAIR_KEYS, "patient_id"]})
    return SweepTraits(traits=traits, associations=assoc, keys=keys)


def _require(columns, needed: list[str], path: Path) -> None:
    absent = [c for c in needed if c not in set(columns)]
    if absent:
        raise DataError(f"{path}: no column(s) {absent}; is this a saliency sweep summary?")


def _as_bool(column: pd.Series, path: Path) -> pd.Series:
    if column.dtype == bool:
        return column
    text = column.astype(str).str.strip().str.lower()
    known = text.isin(["true", "false", "1", "0"])
    if not known.all():
        raise DataError(
            f"{path}: column 'association' has {column[~known].iloc[0]!r}; expected True/False"
        )
    return text.isin(["true", "1"])


# ---------------------------------------------------------------------------------- analysis


def survival_table(
    sweep: SweepTraits, clinical: pd.DataFrame, options: SurvivalOptions
) -> pd.DataFrame:
    """One row per association: group sizes, events, medians, log-rank and Cox results, q-values."""
    time, event = f"{options.endpoint}_time", f"{options.endpoint}_event"
    if time not in clinical:
        raise DataError(
            f"endpoint {options.endpoint!r}: the clinical table has no {time!r} column (PFS needs "
            "a new-tumour-event days column)"
        )
    usable = clinical[clinical[time].notna() & clinical[event].notna()]
    traits = sweep.traits.assign(
        enriched=enriched_flags(sweep.traits, options.fdr, options.direction)
    )
    wanted = sweep.associations[sweep.associations["association"]]
    groups = dict(list(traits.groupby([*sweep.keys, *PAIR_KEYS], sort=False)))
    rows = []
    pairs = wanted[[*sweep.keys, *PAIR_KEYS]].itertuples(index=False)
    for pair in progress(pairs, "survival", total=len(wanted), unit="associations"):
        key = tuple(pair)
        patients = groups.get(key, traits.iloc[:0]).drop_duplicates("patient_id")
        row = dict(zip([*sweep.keys, *PAIR_KEYS], key, strict=True))
        row.update(_pair(patients, clinical, usable, time, event, options))
        rows.append(row)
    table = pd.DataFrame(rows, columns=[*sweep.keys, *PAIR_KEYS, *_RESULT_COLUMNS])
    for p, q in (("logrank_p", "logrank_q"), ("cox_p", "cox_q")):
        table[q] = _bh(table[p])
    return table


_RESULT_COLUMNS = [
    "n_patients",
    "n_no_clinical",
    "n_excluded",
    "n_enriched",
    "n_not",
    "events_enriched",
    "events_not",
    "median_enriched",
    "median_not",
    "logrank_p",
    "logrank_q",
    "hr",
    "hr_low",
    "hr_high",
    "cox_p",
    "cox_q",
    "cox_n",
    "cox_covariates",
    "cox_status",
    "status",
]


def _pair(
    patients: pd.DataFrame,
    clinical: pd.DataFrame,
    usable: pd.DataFrame,
    time: str,
    event: str,
    options: SurvivalOptions,
) -> dict:
    ids = patients["patient_id"]
    known = ids.isin(clinical.index)
    kept = ids[ids.isin(usable.index)]
    flags = patients.set_index("patient_id").loc[kept, "enriched"].astype(bool)
    data = usable.loc[kept].assign(enriched=flags.to_numpy().astype(float))
    sizes = {True: int(flags.sum()), False: int((~flags).sum())}
    events = {g: int(data.loc[flags.to_numpy() == g, event].sum()) for g in (True, False)}
    row = {
        "n_patients": len(ids),
        "n_no_clinical": int((~known).sum()),
        "n_excluded": int(known.sum() - len(kept)),
        "n_enriched": sizes[True],
        "n_not": sizes[False],
        "events_enriched": events[True],
        "events_not": events[False],
        "cox_status": "not fitted",
    }
    reason = _skip_reason(sizes, events, options.min_group)
    if reason:
        return {**row, "status": f"skipped: {reason}"}
    row.update(_kaplan_meier(data, time, event))
    row.update(_cox(data, time, event, options))
    return {**row, "status": TESTED}


def _skip_reason(sizes: dict, events: dict, min_group: int) -> str | None:
    for group, name in ((True, "enriched"), (False, "not-enriched")):
        if sizes[group] < min_group:
            return f"{name} group has {sizes[group]} patient(s) with survival (< {min_group})"
    for group, name in ((True, "enriched"), (False, "not-enriched")):
        if events[group] == 0:
            return f"no events in the {name} group"
    return None


def _kaplan_meier(data: pd.DataFrame, time: str, event: str) -> dict:
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import logrank_test

    a, b = data[data["enriched"] == 1], data[data["enriched"] == 0]
    medians = {
        name: float(KaplanMeierFitter().fit(g[time], g[event]).median_survival_time_)
        for name, g in (("median_enriched", a), ("median_not", b))
    }
    test = logrank_test(a[time], b[time], a[event], b[event])
    return {**medians, "logrank_p": float(test.p_value)}


def cox_design(data: pd.DataFrame, covariates: tuple[str, ...]) -> pd.DataFrame:
    """Enriched flag + covariates: complete cases, categorical one-hot (drop first), no constants."""
    present = [c for c in covariates if c in data and data[c].notna().any()]
    frame = data[["enriched", *present]].dropna()
    categorical = [c for c in present if not pd.api.types.is_numeric_dtype(frame[c])]
    frame = pd.get_dummies(frame, columns=categorical, drop_first=True, dtype=float)
    constant = [c for c in frame.columns if c != "enriched" and frame[c].nunique() < 2]
    return frame.drop(columns=constant).astype(float)


def _cox(data: pd.DataFrame, time: str, event: str, options: SurvivalOptions) -> dict:
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError, ConvergenceWarning

    design = cox_design(data, options.covariates)
    frame = design.join(data[[time, event]].astype(float))
    result = {"cox_n": len(frame), "cox_covariates": " ".join(design.columns[1:])}
    if frame["enriched"].nunique() < 2 or frame[event].sum() == 0:
        return {**result, "cox_status": "failed: no contrast or no events after complete cases"}
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            fit = CoxPHFitter(penalizer=options.penalizer).fit(frame, time, event)
        except (ConvergenceError, ConvergenceWarning, ValueError, np.linalg.LinAlgError) as err:
            message = " ".join(str(err).split())[:200]
            return {**result, "cox_status": f"failed: {type(err).__name__}: {message}"}
    s = fit.summary.loc["enriched"]
    return {
        **result,
        "hr": float(s["exp(coef)"]),
        "hr_low": float(s["exp(coef) lower 95%"]),
        "hr_high": float(s["exp(coef) upper 95%"]),
        "cox_p": float(s["p"]),
        "cox_status": "ok",
    }


def _bh(p: pd.Series) -> pd.Series:
    """Benjamini-Hochberg q-values over the non-missing p-values (NaN stays NaN)."""
    return pd.Series(bh_qvalues(p.to_numpy(float)), index=p.index)


def significant(table: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Rows with a log-rank or Cox q-value below ``alpha``."""
    mask = np.zeros(len(table), dtype=bool)
    for column in SIGNIFICANCE_COLUMNS:
        mask |= (table[column] < alpha).to_numpy()
    return table[mask]


def pair_groups(
    sweep: SweepTraits, row: pd.Series, clinical: pd.DataFrame, options: SurvivalOptions
) -> dict[bool, pd.DataFrame]:
    """Clinical rows with survival data of one pair's enriched (True) and other (False) patients."""
    time, event = f"{options.endpoint}_time", f"{options.endpoint}_event"
    traits = sweep.traits
    mask = np.ones(len(traits), dtype=bool)
    for column in [*sweep.keys, *PAIR_KEYS]:
        mask &= (traits[column] == row[column]).to_numpy()
    patients = traits[mask].drop_duplicates("patient_id")
    flags = enriched_flags(patients, options.fdr, options.direction).to_numpy()
    usable = clinical[clinical[time].notna() & clinical[event].notna()]
    groups = {}
    for flag in (True, False):
        ids = patients["patient_id"][flags == flag]
        groups[flag] = usable.loc[usable.index.intersection(ids)]
    return groups


def patients_without_clinical(sweep: SweepTraits, clinical: pd.DataFrame) -> list[str]:
    """Held-out patients of the sweep that have no row in the clinical table."""
    ids = pd.Index(sweep.traits["patient_id"].unique())
    return sorted(ids[~ids.isin(clinical.index)])
