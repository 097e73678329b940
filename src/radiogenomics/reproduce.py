"""Rerun every command behind a README number and check the number (``scripts/reproduce.py``).

The registry (``benchmarks/claims.yaml``) holds **runs**: a run is one or more commands (a sweep
through ``train.py``, then scripts such as ``scripts/compare.py``) writing into one directory,
``<out>/<run name>``, and the **claims** read from it::

    default_tolerance: 0.005          # absolute, for claims without their own
    reference_machine: GenuineIntel/AVX512   # the machine kind the expected values come from
    other_machine_tolerance: 0.03     # on a kind a claim has no value for (see below)
    runs:
      default_sweep:
        what: default sweep           # the README row's first cell
        quick: true                   # in the --quick subset
        commands:                     # each: a script under the repository root, then arguments;
          - [train.py, trait=enhancement, -m, "hydra.sweep.dir={sweep}"]   # {sweep}: the run dir
        claims:                       # checked: expected, tolerance (optional)
          pooled_auroc: {table: cv_summary, column: pooled_auroc, expected: 0.786,
                         by_machine: {AuthenticAMD/AVX512: 0.803}}   # measured on another kind
        values:                       # read and shown in the README row, not checked
          sd_fold_auroc: {table: cv_summary, column: sd_auroc}
        result: "pooled AUROC {pooled_auroc:.3f}; {wall}"   # the README row's result cell

A reader names a sweep table (:data:`TABLES`), a column and optionally ``where: {column:
value}``; the filtered table must have exactly one row. A claim is ``run.claim``; ``--only``
takes claim or run names. Seeded numbers repeat bit for bit on one machine kind
(:func:`radiogenomics.environment.machine_kind`: CPU vendor and torch's CPU capability) and can
move across kinds (other kernels sum in other orders, and early stopping on small validation
sets amplifies it): a claim is checked against its ``by_machine`` value for this kind when it has
one, against ``expected`` on ``reference_machine``, and otherwise against ``expected`` with the
tolerance widened to ``other_machine_tolerance`` (the row's note says so). Commands run with this
Python, in the repository root; a sweep rerun into the same directory skips its finished jobs, so
a second call reuses the first one's work.
Writes ``reproduce.csv``, ``reproduce.md`` and ``environment.txt`` (installed versions and their
difference from ``requirements/lock.txt``) to the output root.
"""

from __future__ import annotations

import csv
import difflib
import math
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from radiogenomics.environment import machine_kind
from radiogenomics.lock import LOCK_FILE, drift, environment_text, installed, read_pins
from radiogenomics.results import layout

CLAIMS_FILE = Path("benchmarks") / "claims.yaml"
DEFAULT_OUT = Path("outputs") / "reproduce"
DEFAULT_TOLERANCE = 0.005
# the tables a reader may name, relative to a run's directory
TABLES = {
    "cv_summary": Path(layout.SUMMARY_DIR) / layout.CV_SUMMARY,
    "folds": Path(layout.SUMMARY_DIR) / layout.FOLDS,
    "per_class": Path(layout.SUMMARY_DIR) / layout.PER_CLASS,
    "compare_models": Path(layout.COMPARE_DIR) / layout.compare_table("models"),
    "masking_hallmark": Path(layout.SUMMARY_DIR) / layout.masking_table("hallmark"),
    "masking_calibration": Path(layout.SUMMARY_DIR) / layout.MASKING_CALIBRATION_SUMMARY,
}
COLUMNS = ["claim", "expected", "measured", "tolerance", "diff", "ok", "command", "note"]
_RUN_KEYS = {"what", "quick", "commands", "claims", "values", "result"}
_READER_KEYS = {"table", "column", "where", "dir"}
_CLAIM_KEYS = _READER_KEYS | {"expected", "tolerance", "at_most", "by_machine"}
_TOP_KEYS = {"default_tolerance", "reference_machine", "other_machine_tolerance", "runs"}
OTHER_MACHINE_TOLERANCE = 0.03


class ReproduceError(ValueError):
    """A bad option or registry entry: one line, exit status 2."""


@dataclass(frozen=True)
class Reader:
    """Where a value is: one row (``where``) and column of a sweep table (in ``dir`` of the run)."""

    table: str
    column: str
    where: dict[str, str] = field(default_factory=dict)
    dir: str = ""

    def read(self, run_dir: Path) -> float:
        """The value; a :class:`LookupError` says why there is none."""
        path = run_dir / self.dir / TABLES[self.table]
        if not path.is_file():
            raise LookupError(f"no {path}")
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        rows = [r for r in rows if all(r.get(k) == v for k, v in self.where.items())]
        if len(rows) != 1:
            where = ", ".join(f"{k}={v}" for k, v in self.where.items()) or "no filter"
            raise LookupError(f"{len(rows)} rows of {path.name} match ({where}), expected 1")
        if self.column not in rows[0]:
            raise LookupError(f"{path.name} has no column {self.column!r}")
        try:
            return float(rows[0][self.column])
        except ValueError:
            raise LookupError(f"{path.name} {self.column}={rows[0][self.column]!r}") from None


@dataclass(frozen=True)
class Claim:
    """A README number: where to read it, what it should be, and how close is close enough."""

    run: str
    name: str
    reader: Reader
    expected: float
    tolerance: float
    at_most: bool = False  # the claim is "measured <= expected" (a count or a q), not a value
    by_machine: dict[str, float] = field(default_factory=dict)  # machine kind -> its value
    reference_machine: str = ""  # the kind ``expected`` was measured on ("": any kind)
    other_tolerance: float = OTHER_MACHINE_TOLERANCE  # a kind neither reference nor listed

    @property
    def full_name(self) -> str:
        return f"{self.run}.{self.name}"

    def target(self, kind: str) -> tuple[float, float, str]:
        """(expected, tolerance, note) on machine kind ``kind`` (see the module docstring)."""
        if kind in self.by_machine:
            return self.by_machine[kind], self.tolerance, f"value for {kind}"
        if not self.reference_machine or kind == self.reference_machine:
            return self.expected, self.tolerance, ""
        widened = max(self.tolerance, self.other_tolerance)
        note = f"no value for {kind} (measured on {self.reference_machine}): tolerance {widened:g}"
        return self.expected, widened, note


@dataclass(frozen=True)
class Run:
    """Commands writing one directory, and the claims read from it."""

    name: str
    what: str
    quick: bool
    commands: tuple[tuple[str, ...], ...]
    claims: tuple[Claim, ...]
    values: dict[str, Reader]
    result: str

    def shown(self) -> str:
        """The commands as the README shows them (``python ...``, no sweep dir override)."""
        parts = []
        for command in self.commands:
            words = [
                w.replace("{sweep}", "<sweep>")
                for w in command
                if "{sweep}" not in w or "=" not in w
            ]
            parts.append("python " + " ".join(words))
        return " then ".join(parts)


@dataclass
class Outcome:
    """What one call measured: the table rows, README rows and whether every claim held."""

    rows: list[dict]
    readme_rows: list[str]
    drift: list[str]
    out: Path
    machine: str = ""  # the machine kind the claims were checked on

    @property
    def ok(self) -> bool:
        return all(r["ok"] for r in self.rows)


# ------------------------------------------------------------------------------- the registry


def _mapping(value: object, where: str, keys: set[str] | None = None) -> dict:
    if not isinstance(value, dict):
        raise ReproduceError(f"{where}: expected a mapping, got {value!r}")
    if keys is not None and set(value) - keys:
        raise ReproduceError(
            f"{where}: unknown keys {sorted(set(value) - keys)}; known {sorted(keys)}"
        )
    return value


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ReproduceError(f"{where}={value!r}: expected a finite number")
    return float(value)


def _reader(spec: dict, where: str) -> Reader:
    if spec.get("table") not in TABLES:
        raise ReproduceError(
            f"{where}.table={spec.get('table')!r}: expected one of {sorted(TABLES)}"
        )
    if not isinstance(spec.get("column"), str):
        raise ReproduceError(f"{where}.column: expected a column name")
    filters = _mapping(spec.get("where", {}), f"{where}.where")
    subdir = str(spec.get("dir", ""))
    if Path(subdir).is_absolute() or ".." in Path(subdir).parts:
        raise ReproduceError(f"{where}.dir={subdir!r}: expected a folder inside the run directory")
    filters = {str(k): str(v) for k, v in filters.items()}
    return Reader(spec["table"], spec["column"], filters, subdir)


def load_runs(path: Path, root: Path) -> list[Run]:
    """Read and check the registry; a :class:`ReproduceError` names the first bad entry."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as err:
        raise ReproduceError(f"{path}: {err.strerror or err}") from None
    except yaml.YAMLError as err:
        raise ReproduceError(f"{path}: not YAML ({' '.join(str(err).split())})") from None
    data = _mapping(data, str(path), _TOP_KEYS)
    default = _number(data.get("default_tolerance", DEFAULT_TOLERANCE), "default_tolerance")
    reference = data.get("reference_machine", "")
    if not isinstance(reference, str):
        raise ReproduceError(f"reference_machine={reference!r}: expected a machine kind")
    other = _number(
        data.get("other_machine_tolerance", OTHER_MACHINE_TOLERANCE), "other_machine_tolerance"
    )
    runs = []
    for name, spec in _mapping(data.get("runs"), "runs").items():
        spec = _mapping(spec, f"runs.{name}", _RUN_KEYS)
        commands = spec.get("commands")
        if not commands or not all(
            isinstance(c, list) and c and all(isinstance(w, str) for w in c) for c in commands
        ):
            raise ReproduceError(f"runs.{name}.commands: expected a list of [script, arg, ...]")
        for command in commands:
            if not (root / command[0]).is_file():
                raise ReproduceError(f"runs.{name}.commands: no script {root / command[0]}")
        claims = []
        for claim, cspec in _mapping(spec.get("claims", {}), f"runs.{name}.claims").items():
            where = f"runs.{name}.claims.{claim}"
            cspec = _mapping(cspec, where, _CLAIM_KEYS)
            tolerance = _number(cspec.get("tolerance", default), f"{where}.tolerance")
            if tolerance < 0:
                raise ReproduceError(f"{where}.tolerance={tolerance}: expected >= 0")
            at_most = "at_most" in cspec
            if at_most == ("expected" in cspec):
                raise ReproduceError(f"{where}: give exactly one of expected or at_most")
            key = "at_most" if at_most else "expected"
            expected = _number(cspec[key], f"{where}.{key}")
            reader = _reader(cspec, where)
            by_machine = {
                str(kind): _number(value, f"{where}.by_machine.{kind}")
                for kind, value in _mapping(
                    cspec.get("by_machine", {}), f"{where}.by_machine"
                ).items()
            }
            claims.append(
                Claim(
                    name, claim, reader, expected, tolerance, at_most, by_machine, reference, other
                )
            )
        values = {
            key: _reader(_mapping(v, f"runs.{name}.values.{key}", _READER_KEYS), key)
            for key, v in _mapping(spec.get("values", {}), f"runs.{name}.values").items()
        }
        runs.append(
            Run(
                name=str(name),
                what=str(spec.get("what", name)),
                quick=bool(spec.get("quick", False)),
                commands=tuple(tuple(c) for c in commands),
                claims=tuple(claims),
                values=values,
                result=str(spec.get("result", "")),
            )
        )
    return runs


def select(runs: list[Run], quick: bool, only: Sequence[str] | None) -> list[Run]:
    """The runs to do, each with only the claims asked for (``--only``: run or claim names)."""
    if not only:
        return [r for r in runs if r.quick or not quick]
    known = {r.name: r for r in runs}
    claims = {c.full_name: c for r in runs for c in r.claims}
    wanted: dict[str, set[str]] = {}
    for name in only:
        if name in known:
            wanted.setdefault(name, set()).update(c.full_name for c in known[name].claims)
        elif name in claims:
            wanted.setdefault(claims[name].run, set()).add(name)
        else:
            match = difflib.get_close_matches(name, [*known, *claims], n=1, cutoff=0.6)
            hint = f"; did you mean {match[0]!r}?" if match else f"; runs: {', '.join(known)}"
            raise ReproduceError(f"--only {name}: no such run or claim{hint}")
    return [
        Run(
            r.name,
            r.what,
            r.quick,
            r.commands,
            tuple(c for c in r.claims if c.full_name in wanted[r.name]),
            r.values,
            r.result,
        )
        for r in runs
        if r.name in wanted
    ]


# ------------------------------------------------------------------------------- running them


def _wall(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs} s wall" if minutes else f"{secs} s wall"


def run_commands(run: Run, root: Path, out: Path, env: dict[str, str]) -> tuple[int, float]:
    """Run a run's commands in order (stop at the first failure): (exit status, seconds)."""
    run_dir = out / run.name
    log_path = out / layout.reproduce_log(run.name)
    start = time.perf_counter()
    with log_path.open("a") as log:
        for command in run.commands:
            argv = [sys.executable, *(w.replace("{sweep}", str(run_dir)) for w in command)]
            log.write(f"$ {' '.join(argv)}\n")
            log.flush()
            print(f"reproduce: {run.name}: {' '.join(argv[1:])}", flush=True)
            code = subprocess.run(
                argv, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT
            ).returncode
            if code != 0:
                return code, time.perf_counter() - start
    return 0, time.perf_counter() - start


def check(run: Run, run_dir: Path, failed: str | None, kind: str = "") -> list[dict]:
    """One table row per claim of ``run``: measured from ``run_dir``, ok within tolerance on
    machine kind ``kind`` (see :meth:`Claim.target`)."""
    rows = []
    for claim in run.claims:
        expected, tolerance, machine_note = claim.target(kind)
        measured, note = math.nan, failed or ""
        if failed is None:
            try:
                measured = claim.reader.read(run_dir)
            except LookupError as err:
                note = str(err)
        diff = measured - expected
        if claim.at_most:
            ok = math.isfinite(diff) and diff <= tolerance + 1e-12
        else:
            ok = math.isfinite(diff) and abs(diff) <= tolerance + 1e-12
        if not ok and not note:
            note = "outside tolerance"
        note = "; ".join(n for n in (note, machine_note) if n)
        rows.append(
            {
                "claim": claim.full_name,
                "expected": f"<= {expected:g}" if claim.at_most else expected,
                "measured": measured,
                "tolerance": tolerance,
                "diff": diff,
                "ok": ok,
                "command": run.shown(),
                "note": note,
            }
        )
    return rows


def readme_row(run: Run, run_dir: Path, seconds: float) -> str:
    """The README "Numbers" row of a run, its result cell filled with the measured values."""
    values: dict[str, object] = {"wall": _wall(seconds)}
    for name, reader in [*((c.name, c.reader) for c in run.claims), *run.values.items()]:
        try:
            values[name] = reader.read(run_dir)
        except LookupError:
            values[name] = math.nan
    try:
        result = run.result.format(**values) if run.result else ""
    except (KeyError, ValueError, IndexError) as err:
        result = f"(result template: {err!r})"
    return f"| {run.what} | `{run.shown()}` | {result} |"


def _fmt(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        return (
            "-" if math.isnan(value) else f"{value:.4f}".rstrip("0").rstrip(".") if value else "0"
        )
    return str(value)


def markdown(rows: list[dict]) -> str:
    """``| claim | expected | measured | tolerance | ok |`` (the note when it is not ok)."""
    lines = ["| claim | expected | measured | tolerance | ok | note |", "|---|---|---|---|---|---|"]
    for r in rows:
        cells = [r["claim"], r["expected"], r["measured"], r["tolerance"], r["ok"], r["note"]]
        lines.append("| " + " | ".join(_fmt(c) for c in cells) + " |")
    return "\n".join(lines)


def reproduce(
    root: Path,
    out: Path,
    *,
    claims_file: Path | None = None,
    quick: bool = False,
    only: Sequence[str] | None = None,
    cache: Path | None = None,
) -> Outcome:
    """Run the selected commands into ``out``, read every claim, write and return the table.

    ``cache`` sets ``RADIOGENOMICS_CACHE`` for the commands (e.g. an empty directory for a
    cold-cache timing); otherwise they use the environment's (default ``<root>/.cache``).
    Raises :class:`ReproduceError` for bad options or registry entries, before running anything.
    """
    runs = select(load_runs(claims_file or root / CLAIMS_FILE, root), quick, only)
    if out.exists() and not out.is_dir():
        raise ReproduceError(f"--out {out}: not a directory")
    out.mkdir(parents=True, exist_ok=True)
    have = installed()
    lock = root / LOCK_FILE
    drifted = drift(read_pins(lock.read_text()), have) if lock.is_file() else [f"no {lock}"]
    kind = machine_kind()
    header = [f"# machine kind: {kind}"]
    header += [f"# differs from {LOCK_FILE.as_posix()}: {line}" for line in drifted]
    (out / layout.ENVIRONMENT).write_text("\n".join(header + [environment_text(have)]))
    if drifted:
        print(
            f"reproduce: this environment differs from {LOCK_FILE.as_posix()} ({len(drifted)}"
            f" packages, see {out / layout.ENVIRONMENT}): {'; '.join(drifted[:3])}",
            flush=True,
        )
    env = dict(os.environ)
    if cache is not None:
        env["RADIOGENOMICS_CACHE"] = str(cache)
    rows, readme = [], []
    for run in runs:
        code, seconds = run_commands(run, root, out, env)
        failed = None
        if code != 0:
            failed = f"command failed (exit {code}), see {out / layout.reproduce_log(run.name)}"
        rows += check(run, out / run.name, failed, kind)
        readme.append(readme_row(run, out / run.name, seconds))
    with (out / layout.REPRODUCE_TABLE).open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    text = markdown(rows) + "\n\nREADME rows:\n\n" + "\n".join(readme) + "\n"
    (out / layout.REPRODUCE_MARKDOWN).write_text(text)
    return Outcome(rows, readme, drifted, out, kind)
