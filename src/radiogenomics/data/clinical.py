"""Reader for the TCGA BCR clinical patient table: survival endpoints and covariates per patient.

The BCR ``nationwidechildrens.org_clinical_patient_<study>.txt`` is tab-separated with three header
rows: the column names, then two descriptor rows (alternative names and ``CDE_ID:`` codes), which
are skipped when present. Bracketed TCGA placeholders (``[Not Available]``, ``[Unknown]``,
``[Not Evaluated]``, ``[Not Applicable]``, ...) are missing values.

Output, one row per patient (index ``patient_id``, the 12-character barcode used by the cohort):

* ``os_time`` (days: ``death_days_to`` when dead, ``last_contact_days_to`` when alive) and
  ``os_event`` (1 dead, 0 alive); ``os_issue`` says why a patient has no overall survival;
* ``age`` (years at diagnosis; from ``birth_days_to`` when no age column), ``gender``, ``race``;
* ``pfs_time``/``pfs_event``/``pfs_issue`` when the file has a new-tumour-event days column:
  the event is a new tumour event or death, whichever comes first.

Inconsistent rows (unknown or missing vital status, dead without a death day, alive with one,
negative or non-numeric days, contact after death, duplicated barcodes) are kept, excluded from
survival with the reason, listed in :attr:`ClinicalData.issues` and logged with their barcodes.
A missing file or required column raises :class:`~radiogenomics.data.io.DataError`.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from radiogenomics.data.io import _delimiter, _lines, _read_text, patient_id, resolve_path
from radiogenomics.errors import DataError

log = logging.getLogger(__name__)

CLINICAL_FILE = "resource:nationwidechildrens.org_clinical_patient_gbm.txt.gz"
PLACEHOLDER_RE = re.compile(r"^\[.*\]$")  # TCGA "[Not Available]", "[Unknown]", ...
MISSING_TOKENS = ("", "NA", "N/A", "NaN", "nan", "null", "NULL")
DESCRIPTOR_PREFIX = "CDE_ID"
DAYS_PER_YEAR = 365.25
DEAD = ("dead", "deceased")
ALIVE = ("alive", "living")
LOGGED_BARCODES = 20  # barcodes named in one warning line; the issues table has them all

# output field -> accepted column names, first found wins (BCR 2.x names, then older ones)
COLUMNS = {
    "barcode": ("bcr_patient_barcode",),
    "vital_status": ("vital_status",),
    "death_days": ("death_days_to", "days_to_death"),
    "contact_days": ("last_contact_days_to", "days_to_last_followup", "days_to_last_follow_up"),
    "age": ("age_at_initial_pathologic_diagnosis", "age_at_diagnosis"),
    "birth_days": ("birth_days_to", "days_to_birth"),
    "gender": ("gender",),
    "race": ("race",),
    "new_tumor_indicator": (
        "new_tumor_event_dx_indicator",
        "new_tumor_event_after_initial_treatment",
    ),
    "new_tumor_days": (
        "new_tumor_event_dx_days_to",
        "days_to_new_tumor_event_after_initial_treatment",
        "new_tumor_event_days_to",
    ),
}
REQUIRED = ("barcode", "vital_status", "death_days", "contact_days")
ISSUE_COLUMNS = ["patient_id", "column", "value", "problem", "affects"]


@dataclass
class ClinicalData:
    """Per-patient endpoints and covariates, the problems found (one row each), and a report."""

    patients: pd.DataFrame
    issues: pd.DataFrame
    report: dict = field(default_factory=dict)


def read_clinical(path: str | Path = CLINICAL_FILE) -> ClinicalData:
    """Read a TCGA BCR clinical patient table (default: the shipped TCGA-GBM one); see module doc."""
    path = resolve_path(path)
    raw = _read_table(path)
    names = _find_columns(raw, path)
    barcodes = raw[names["barcode"]].map(lambda v: v.strip())
    if (barcodes == "").any():
        line = int(np.flatnonzero(barcodes == "")[0])
        raise DataError(
            f"{path}: data row {line + 1} has an empty {names['barcode']!r}; expected a patient "
            "barcode in every row"
        )
    ids = pd.Index(barcodes.map(patient_id), name="patient_id")
    values = raw.apply(lambda s: s.str.strip().where(~_missing(s.str.strip()))).set_axis(ids)
    issues: list[dict] = []
    frame = pd.DataFrame(index=ids)
    _overall_survival(frame, values, raw.set_axis(ids), names, issues)
    _covariates(frame, values, names, issues)
    if "new_tumor_days" in names:
        _progression_free(frame, values, names, issues)
    frame = _collapse_duplicates(frame, raw[names["barcode"]], issues)
    table = pd.DataFrame(issues, columns=ISSUE_COLUMNS)
    _log_issues(path, table)
    report = {
        "file": str(path),
        "n_rows": len(raw),
        "n_patients": len(frame),
        "n_os": int(frame["os_event"].notna().sum()),
        "n_os_events": int(frame["os_event"].sum()),
        "n_excluded_os": int(frame["os_issue"].notna().sum()),
        "pfs": "pfs_event" in frame,
        "columns": names,
    }
    return ClinicalData(patients=frame, issues=table, report=report)


# ---------------------------------------------------------------------------------- reading


def _missing(values: pd.Series) -> pd.Series:
    return values.isna() | values.isin(MISSING_TOKENS) | values.str.match(PLACEHOLDER_RE)


def _read_table(path: Path) -> pd.DataFrame:
    """All cells as strings; the BCR descriptor rows (2 and 3) skipped when present."""
    lines = _lines(_read_text(path), path)
    sep = _delimiter(lines.text, path)
    header = [c.strip().lower() for c in lines.text[0].split(sep)]
    skip = [
        i for i in (1, 2) if i < len(lines) and _is_descriptor(lines.text[i].split(sep), header)
    ]
    body = [line for i, line in enumerate(lines.text) if i not in skip]
    if len(body) < 2:
        raise DataError(f"{path}: only header rows, no patient rows")
    try:
        table = pd.read_csv(io.StringIO("\n".join(body)), sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, ValueError) as err:
        raise DataError(f"{path}: cannot parse as a {sep!r}-separated table: {err}") from None
    table.columns = [str(c).strip() for c in table.columns]
    return table


def _is_descriptor(cells: list[str], header: list[str]) -> bool:
    """A BCR descriptor row: ``CDE_ID:`` codes, or the column names repeated (alternative names)."""
    cells = [c.strip() for c in cells]
    if any(c.startswith(DESCRIPTOR_PREFIX) for c in cells):
        return True
    for alias in COLUMNS["barcode"]:
        if alias in header:
            k = header.index(alias)
            return k < len(cells) and cells[k].lower() == alias
    return False


def _find_columns(table: pd.DataFrame, path: Path) -> dict[str, str]:
    """Output field -> column name in the file; a DataError naming a missing required column."""
    lower = {c.lower(): c for c in table.columns}
    names = {}
    for key, aliases in COLUMNS.items():
        found = next((lower[a] for a in aliases if a in lower), None)
        if found is not None:
            names[key] = found
        elif key in REQUIRED:
            also = f" (or {', '.join(repr(a) for a in aliases[1:])})" if len(aliases) > 1 else ""
            raise DataError(
                f"{path}: no column {aliases[0]!r}{also}; a TCGA BCR clinical patient table needs "
                f"{', '.join(repr(COLUMNS[k][0]) for k in REQUIRED)}. Columns found: "
                f"{', '.join(list(table.columns)[:12])}{' ...' if len(table.columns) > 12 else ''}"
            )
    return names


def _days(values: pd.DataFrame, column: str, affects: str, issues: list[dict]) -> pd.Series:
    """A days column as float: non-numbers and negative values -> NaN, each recorded as an issue."""
    text = values[column]
    days = _numbers(values, column, affects, issues, problem="not a number of days")
    for pid, value in text[days < 0].items():
        issues.append(_issue(pid, column, value, "negative number of days", affects))
    return days.where(days >= 0)


def _issue(pid: object, column: str, value: object, problem: str, affects: str) -> dict:
    value = None if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
    return dict(zip(ISSUE_COLUMNS, [pid, column, value, problem, affects], strict=True))


# ------------------------------------------------------------------------------- endpoints


def _overall_survival(
    frame: pd.DataFrame, values: pd.DataFrame, raw: pd.DataFrame, names: dict, issues
) -> None:
    status = values[names["vital_status"]].str.lower()
    dead, alive = status.isin(DEAD), status.isin(ALIVE)
    death = _days(values, names["death_days"], "os", issues)
    contact = _days(values, names["contact_days"], "os", issues)
    problem = pd.Series(None, index=frame.index, dtype=object)

    def flag(mask: pd.Series, column: str, text: str) -> None:
        new = mask & problem.isna()
        problem[new] = text
        for pid, value in raw.loc[new.to_numpy(), column].items():
            issues.append(_issue(pid, column, value, text, "os"))

    vital = names["vital_status"]
    flag(status.isna(), vital, "vital status missing")
    flag(status.notna() & ~dead & ~alive, vital, "unknown vital status")
    death_text, contact_text = values[names["death_days"]], values[names["contact_days"]]
    flag(dead & death.isna() & death_text.isna(), names["death_days"], "dead without a death day")
    flag(alive & death_text.notna(), names["death_days"], "alive with a death day")
    flag(
        alive & contact.isna() & contact_text.isna(),
        names["contact_days"],
        "alive without a last contact day",
    )
    flag(dead & (contact > death), names["contact_days"], "last contact after death")
    # a bad number already has its own issue row; it still excludes the patient
    bad_death = dead & death.isna() & death_text.notna()
    bad_contact = alive & contact.isna() & contact_text.notna()
    problem[(bad_death | bad_contact) & problem.isna()] = "invalid days value"
    ok = problem.isna()
    frame["os_time"] = death.where(dead, contact).where(ok).to_numpy()
    frame["os_event"] = dead.astype(float).where(ok).to_numpy()
    frame["os_issue"] = problem.to_numpy()


def _covariates(frame: pd.DataFrame, values: pd.DataFrame, names: dict, issues) -> None:
    if "age" in names:
        frame["age"] = _numbers(values, names["age"], "age", issues).to_numpy(float)
    elif "birth_days" in names:  # days_to_birth is negative: days before diagnosis
        age = -_numbers(values, names["birth_days"], "age", issues) / DAYS_PER_YEAR
        frame["age"] = age.to_numpy()
    else:
        frame["age"] = np.nan
    for key in ("gender", "race"):
        frame[key] = values[names[key]].str.upper().to_numpy() if key in names else None


def _numbers(
    values: pd.DataFrame,
    column: str,
    affects: str,
    issues: list[dict],
    problem: str = "not a number",
) -> pd.Series:
    """A column as float: text that is not a number -> NaN, each recorded as an issue."""
    text = values[column]
    numbers = pd.to_numeric(text, errors="coerce")
    for pid, value in text[numbers.isna() & text.notna()].items():
        issues.append(_issue(pid, column, value, problem, affects))
    return numbers


def _progression_free(frame: pd.DataFrame, values: pd.DataFrame, names: dict, issues) -> None:
    """New tumour event or death, whichever first; censored at last contact otherwise."""
    column = names["new_tumor_days"]
    tumour = _days(values, column, "pfs", issues).to_numpy()
    given = values[column].notna().to_numpy()
    os_time, os_event = frame["os_time"].to_numpy(), frame["os_event"].to_numpy()
    issue = frame["os_issue"].to_numpy(dtype=object).copy()
    has_os = pd.isna(issue)
    with np.errstate(invalid="ignore"):
        progressed = ~np.isnan(tumour) & (tumour <= os_time)
        late = ~np.isnan(tumour) & has_os & (tumour > os_time)
    flagged = np.zeros(len(frame), dtype=bool)
    if "new_tumor_indicator" in names:
        said_yes = values[names["new_tumor_indicator"]].str.upper().eq("YES").to_numpy()
        flagged = said_yes & ~given & has_os
        for pid in frame.index[flagged]:
            issues.append(_issue(pid, column, None, "new tumour event without a day", "pfs"))
    for pid, value in zip(frame.index[late], values[column].to_numpy()[late], strict=True):
        issues.append(
            _issue(pid, column, value, "new tumour event after death/last contact", "pfs")
        )
    issue[late] = "new tumour event after death/last contact"
    issue[flagged] = "new tumour event without a day"
    issue[given & np.isnan(tumour) & has_os] = "invalid days value"
    excluded = ~pd.isna(issue)
    frame["pfs_time"] = np.where(excluded, np.nan, np.where(progressed, tumour, os_time))
    frame["pfs_event"] = np.where(excluded, np.nan, np.where(progressed, 1.0, os_event))
    frame["pfs_issue"] = issue


def _collapse_duplicates(frame: pd.DataFrame, raw: pd.Series, issues: list[dict]) -> pd.DataFrame:
    """One row per patient: a barcode in several rows keeps the first, without survival."""
    repeated = frame.index.duplicated(keep=False)
    if not repeated.any():
        return frame
    counts = frame.index[repeated].value_counts()
    for pid, n in counts.items():
        text = f"barcode occurs in {n} rows"
        rows = [r for r, i in zip(raw, frame.index, strict=True) if i == pid]
        issues.append(_issue(pid, str(raw.name), ", ".join(rows), text, "os"))
    frame = frame[~frame.index.duplicated(keep="first")].copy()
    dup = frame.index.isin(counts.index)
    endpoints = [c for c in ("os_time", "os_event", "pfs_time", "pfs_event") if c in frame]
    frame.loc[dup, endpoints] = np.nan
    for column in ("os_issue", "pfs_issue"):
        if column in frame:
            reason = [f"barcode occurs in {counts[p]} rows" for p in frame.index[dup]]
            frame.loc[dup, column] = reason
    return frame


def _log_issues(path: Path, issues: pd.DataFrame) -> None:
    for affects, rows in issues.groupby("affects", sort=True):
        listed = [f"{p} ({q})" for p, q in zip(rows["patient_id"], rows["problem"], strict=True)]
        more = f" and {len(listed) - LOGGED_BARCODES} more" if len(listed) > LOGGED_BARCODES else ""
        log.warning(
            "%s: %d clinical problem(s) affecting %s: %s%s",
            path,
            len(listed),
            affects,
            "; ".join(listed[:LOGGED_BARCODES]),
            more,
        )
