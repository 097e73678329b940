"""Run the real-data benchmark panel and write its table, summary and figure (``scripts/panel.py``).

The tasks file (default ``benchmarks/panel/tasks.yaml``) lists the tasks: a list of entries, or a
mapping whose ``tasks`` key holds one::

    tasks:
      - name: verhaak_mesenchymal     # letters, digits, _ . - (a directory name)
        half: dev                     # dev (choose the default network) | report (held back)
        overrides: [data=verhaak840, trait=mesenchymal]   # train.py overrides: data and trait
        what: Verhaak 2010 Mesenchymal vs rest            # any other keys are descriptive

Per task, one sweep ``train.py -m <overrides> model=<models> repeats=R save_model=false`` into
``<out>/<task>/models`` (every family on the same outer folds: same ``n_folds``, ``split_seed``),
and per ``--variant NAME="overrides"`` one sweep ``model=nn <overrides>`` into
``<out>/<task>/variants/<NAME>`` (same folds), labelled NAME. Per ``--tuned
NAME="hparams_search=... overrides"`` one nested-tuning sweep ``model=nn hparams_search=...
<overrides>`` into ``<out>/<task>/tuned/<NAME>`` (same outer folds; one Optuna study per outer
fold, told only the trials' inner-validation AUROC), whose row is the nested estimate: per outer
fold the trial with the best inner-validation AUROC, its held-out fold scored once (as
``scripts/select_hparams.py`` and ``scripts/compare.py --nested``). ``--jobs N > 1`` runs each
sweep's jobs in N CPU workers (``hydra/launcher=gpus hydra.launcher.n_jobs=N``; without GPUs
listed they are CPU processes). Each command's output goes to ``<sweep>.log`` beside its sweep.

Resuming: a sweep whose command finished with exit 0 records it (``panel_done.json``, with a
fingerprint of the repository's ``configs/``) and is not started again for the same command and
the same configs; after a config change (a new default) it is rerun, and train.py skips the
jobs whose resolved config is unchanged and refuses, in one line, a finished job whose config
changed (use a new ``--out``); any other sweep is rerun into the same dir, where train.py
skips the jobs that finished (``resume=true``; a tuning sweep resumes its studies from their
journals in ``<sweep>/tuning/``, so only the missing trials run). A failed sweep (exit 1: some job
failed; 2: bad config or data) is reported and the panel goes on with the other tasks. SIGINT /
SIGTERM are passed to the running sweep, which stops its jobs and writes its summary; the panel
then writes the tables of what finished and exits 130 / 143.

The tables and figure are :mod:`radiogenomics.evaluation.panel`'s statistics and
:mod:`radiogenomics.figures.panel`'s heatmap, over the selected tasks.
"""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from radiogenomics.evaluation.panel import (
    BELOW_FLAG,
    COLUMNS,
    NETWORK,
    WITHIN_FLAG,
    PanelDataError,
    Source,
    panel_summary,
    task_rows,
)
from radiogenomics.figures.panel import panel_heatmap
from radiogenomics.results import layout
from radiogenomics.summaries.markdown import markdown
from radiogenomics.utils import atomic_write, file_digest, stable_hash, write_csv, write_json

TASKS_FILE = Path("benchmarks") / "panel" / "tasks.yaml"
DEFAULT_OUT = Path("outputs") / "panel"
MODELS = ("nn", "logit_l2", "svm", "rf", "xgboost")
HALVES = ("dev", "report")
DEFAULTS = ("save_model=false",)  # no model bundles: not needed here, and model.ensemble needs it
PLACEHOLDER = "<!-- panel table: filled by scripts/panel.py --markdown -->"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_RESERVED = {"model", "hydra.sweep.dir"}  # set by the panel for every sweep
_TASK_KEYS = {"name", "half", "overrides"}
TUNING_KEY = "hparams_search"  # a --tuned row's overrides choose its nested tuning with it


class PanelError(ValueError):
    """A bad option or tasks-file entry: one line, exit status 2."""


@dataclass(frozen=True)
class Task:
    """One cohort and trait: the train.py overrides that select them, and its half."""

    name: str
    half: str
    overrides: tuple[str, ...]
    what: str = ""


@dataclass(frozen=True)
class Variant:
    """One more network row: ``model=nn`` plus these overrides, labelled ``name``. ``tuned``: the
    overrides choose a nested tuning (``hparams_search=...``) and the row is its nested estimate."""

    name: str
    overrides: tuple[str, ...]
    tuned: bool = False


@dataclass
class Outcome:
    """What one call did: the table, the summary and every failure (one line each)."""

    table: pd.DataFrame
    summary: pd.DataFrame
    failures: list[str] = field(default_factory=list)
    stopped: int | None = None  # the signal that stopped the panel
    out: Path = Path()

    @property
    def exit_status(self) -> int:
        if self.stopped is not None:
            return 128 + self.stopped
        return 1 if self.failures else 0


# --------------------------------------------------------------------------------- the inputs


def override_key(override: str) -> str:
    """``+a.b=1`` -> ``a.b``; ``~x`` -> ``x``; ``hydra/launcher=gpus`` -> ``hydra/launcher``."""
    return override.split("=", 1)[0].lstrip("+~")


def _check_overrides(values: object, where: str, allow_empty: bool = False) -> tuple[str, ...]:
    if isinstance(values, str):
        values = shlex.split(values)
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        raise PanelError(f"{where}: expected a list of train.py overrides (key=value)")
    if not values and not allow_empty:
        raise PanelError(
            f"{where}: no overrides (expected e.g. [data=verhaak840, trait=proneural])"
        )
    for value in values:
        if value.startswith("-"):
            raise PanelError(f"{where}: {value!r}: only key=value overrides (the panel adds -m)")
        if "=" not in value and not value.startswith("~"):
            raise PanelError(f"{where}: {value!r} is not a key=value override")
        if override_key(value) in _RESERVED:
            raise PanelError(
                f"{where}: {value!r}: the panel sets {override_key(value)} itself "
                "(--models, --variant, --out)"
            )
    return tuple(values)


def _check_name(name: object, where: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise PanelError(
            f"{where}: name {name!r}: expected letters, digits, '_', '.', '-' (a directory name)"
        )
    return name


def load_tasks(path: Path) -> list[Task]:
    """Read and check the tasks file; a :class:`PanelError` names the first bad entry."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as err:
        raise PanelError(f"--tasks {path}: {err.strerror or err}") from None
    except yaml.YAMLError as err:
        raise PanelError(f"--tasks {path}: not YAML ({' '.join(str(err).split())})") from None
    entries = data.get("tasks") if isinstance(data, dict) else data
    if isinstance(entries, dict):  # tasks: {name: {...}}
        entries = [{"name": k, **v} if isinstance(v, dict) else v for k, v in entries.items()]
    if not isinstance(entries, list) or not entries:
        raise PanelError(f"{path}: expected a list of tasks (or a mapping with a 'tasks' list)")
    tasks, seen = [], set()
    for i, entry in enumerate(entries):
        where = f"{path}: task {i + 1}"
        if not isinstance(entry, dict):
            raise PanelError(f"{where}: expected a mapping with {sorted(_TASK_KEYS)}")
        missing = sorted(_TASK_KEYS - set(entry))
        name = entry.get("name")
        where = f"{path}: task {name!r}" if isinstance(name, str) else where
        if missing:
            raise PanelError(f"{where}: missing {', '.join(missing)}")
        name = _check_name(name, where)
        if name in seen:
            raise PanelError(f"{where}: a second task of this name")
        seen.add(name)
        if entry["half"] not in HALVES:
            raise PanelError(f"{where}: half {entry['half']!r}: expected one of {list(HALVES)}")
        overrides = _check_overrides(entry["overrides"], f"{where}: overrides")
        tasks.append(Task(name, entry["half"], overrides, str(entry.get("what", "") or "")))
    return tasks


def parse_variant(text: str, tuned: bool = False) -> Variant:
    """``NAME="override override ..."`` (shell-quoted) -> :class:`Variant`.

    ``tuned`` (``--tuned``): the overrides must choose a nested tuning, ``hparams_search=NAME``
    (``configs/hparams_search/``), whose sweep gives the row's nested estimate."""
    option = "--tuned" if tuned else "--variant"
    name, sep, rest = text.partition("=")
    if not sep:
        raise PanelError(f'{option} {text!r}: expected NAME="override override ..."')
    name = _check_name(name, f"{option} {text!r}")
    if len(rest) >= 2 and rest[0] == rest[-1] and rest[0] in "'\"":  # quotes kept (no shell)
        rest = rest[1:-1]
    try:
        overrides = shlex.split(rest)
    except ValueError as err:
        raise PanelError(f"{option} {text!r}: {err}") from None
    overrides = _check_overrides(overrides, f"{option} {name}", allow_empty=True)
    if tuned and not any(override_key(o) == TUNING_KEY for o in overrides):
        raise PanelError(
            f"{option} {name}: no {TUNING_KEY}=... among its overrides (a nested tuning, e.g. "
            f'{name}="{TUNING_KEY}=nn_optuna_labelled hydra.sweeper.n_trials=4")'
        )
    return Variant(name, overrides, tuned)


def parse_set(texts: Sequence[str]) -> list[str]:
    """``--set "override override ..."`` (repeatable) -> the overrides, in order."""
    overrides: list[str] = []
    for text in texts:
        try:
            words = shlex.split(text)
        except ValueError as err:
            raise PanelError(f"--set {text!r}: {err}") from None
        overrides += _check_overrides(words, f"--set {text!r}", allow_empty=True)
    return overrides


def select_tasks(tasks: list[Task], half: str, only: Sequence[str] | None) -> list[Task]:
    """The tasks of ``half`` (dev, report or all), restricted to ``only`` when given."""
    chosen = [t for t in tasks if half == "all" or t.half == half]
    if only:
        known = {t.name for t in tasks}
        unknown = [n for n in only if n not in known]
        if unknown:
            raise PanelError(f"--only {','.join(unknown)}: no such task; tasks: {', '.join(known)}")
        chosen = [t for t in chosen if t.name in set(only)]
        if not chosen:
            raise PanelError(f"--only {','.join(only)}: none of these tasks is in half {half!r}")
    if not chosen:
        raise PanelError(f"no task in half {half!r}")
    return chosen


def check_models(models: Sequence[str], variants: Sequence[Variant], root: Path) -> None:
    """Known model configs, no repeats, variant names distinct from models and each other."""
    known = sorted(p.stem for p in (root / "configs" / "model").glob("*.yaml"))
    for model in models:
        if model not in known:
            raise PanelError(f"--models {model}: unknown model; known: {', '.join(known)}")
    labels = [*models, *(v.name for v in variants)]
    twice = sorted({x for x in labels if labels.count(x) > 1})
    if twice:
        raise PanelError(f"{', '.join(twice)}: given twice (--models, --variant and --tuned names)")
    for variant in variants:
        if variant.tuned:
            _check_tuning(variant, root)
    if not models and not variants:
        raise PanelError("--models: nothing to run")


def _check_tuning(variant: Variant, root: Path) -> None:
    """A --tuned row's ``hparams_search`` names a config of ``configs/hparams_search``."""
    value = [o for o in variant.overrides if override_key(o) == TUNING_KEY][-1].split("=", 1)[1]
    known = sorted(p.stem for p in (root / "configs" / TUNING_KEY).glob("*.yaml"))
    if value not in known:
        raise PanelError(
            f"--tuned {variant.name}: {TUNING_KEY}={value}: unknown; known: {', '.join(known)}"
        )


# ------------------------------------------------------------------------------- the commands


def merged(overrides: Sequence[str]) -> list[str]:
    """Overrides with one value per key: a later one replaces an earlier one in its place."""
    by_key: dict[str, str] = {}
    for value in overrides:
        by_key.pop(override_key(value), None)
        by_key[override_key(value)] = value
    return list(by_key.values())


def sweep_command(
    task: Task,
    models: Sequence[str],
    sweep_dir: Path,
    *,
    variant: Variant | None = None,
    repeats: int = 1,
    jobs: int = 1,
    extra: Sequence[str] = (),
) -> list[str]:
    """The train.py arguments of one panel sweep (without the python executable)."""
    launcher = []
    if jobs > 1 and not any(override_key(e) == "hydra/launcher" for e in extra):
        launcher = ["hydra/launcher=gpus", f"hydra.launcher.n_jobs={jobs}"]
    model = f"model={NETWORK}" if variant else f"model={','.join(models)}"
    overrides = merged(
        [
            *task.overrides,
            model,
            f"repeats={repeats}",
            *DEFAULTS,
            *launcher,
            *extra,
            *(variant.overrides if variant else ()),
        ]
    )
    return ["train.py", "-m", *overrides, f"hydra.sweep.dir={sweep_dir}"]


class _Stopper:
    """SIGINT / SIGTERM while a sweep runs: passed to it (it stops and writes its summary); the
    panel starts nothing more. A second signal with no sweep running stops the panel at once."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.child: subprocess.Popen | None = None
        self._previous: dict[int, object] = {}

    def __call__(self, signum: int, frame) -> None:
        first = self.signum is None
        if first:
            self.signum = signum
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signum)
        elif not first:
            raise KeyboardInterrupt

    def __enter__(self) -> _Stopper:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self)
            except ValueError:  # not the main thread: leave the signals alone
                pass
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _error_line(log_path: Path) -> str:
    """The last line of a command's log that reads as an error (else its last line)."""
    try:
        lines = [ln.strip() for ln in log_path.read_text(errors="replace").splitlines()]
    except OSError:
        return ""
    lines = [ln for ln in lines if ln]
    errors = [ln for ln in lines if "error" in ln.lower() or "failed" in ln.lower()]
    return (errors or lines or [""])[-1][:300]


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m{secs:02d}s"


def configs_fingerprint(root: Path) -> str:
    """A hash of every config file under ``root/configs`` (names and bytes): a sweep finished
    under other configs (a changed default) is not taken as finished."""
    configs = root / "configs"
    files = sorted(p for p in configs.rglob("*.yaml") if p.is_file())
    return stable_hash([(p.relative_to(configs).as_posix(), file_digest(p)) for p in files])


def finished_before(command: list[str], sweep_dir: Path, configs: str) -> bool:
    """Whether this very command finished this sweep with exit 0 under the same configs
    (``panel_done.json``; ``configs`` is :func:`configs_fingerprint`)."""
    try:
        done = json.loads((sweep_dir / layout.PANEL_DONE).read_text())
        return done.get("command") == command and done.get("configs") == configs
    except (OSError, ValueError, AttributeError):
        return False


def run_sweep(
    command: list[str],
    root: Path,
    sweep_dir: Path,
    env: dict | None,
    stopper: _Stopper,
    configs: str,
) -> int:
    """Run one sweep, its output appended to its log; the exit status. Exit 0 is recorded in
    ``panel_done.json`` with the ``configs`` fingerprint (see :func:`finished_before`)."""
    done = sweep_dir / layout.PANEL_DONE
    sweep_dir.parent.mkdir(parents=True, exist_ok=True)
    log_path = layout.panel_log(sweep_dir)
    with log_path.open("a") as log:
        log.write(f"$ python {shlex.join(command)}\n")
        log.flush()
        stopper.child = subprocess.Popen(
            [sys.executable, *command],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            code = stopper.child.wait()
        finally:
            stopper.child = None
    if code == 0:
        write_json(done, {"command": command, "configs": configs, "exit": 0})
    return code


# --------------------------------------------------------------------------------- the panel


def variant_dir(out: Path, task: Task, variant: Variant) -> Path:
    """The sweep of one variant or tuned row of a task."""
    return layout.panel_sweep_dir(out, task.name, variant.name, tuned=variant.tuned)


def row_sources(
    out: Path, task: Task, models: Sequence[str], variants: Sequence[Variant]
) -> dict[str, Source]:
    """Row label -> its :class:`Source`, in table order: the models, then the variants and tuned
    rows (a tuned row: its tuning sweep, read as the nested estimate)."""
    sources = {m: Source(layout.panel_sweep_dir(out, task.name), m) for m in models}
    for v in variants:
        sources[v.name] = Source(variant_dir(out, task, v), NETWORK, v.tuned)
    return sources


def build_table(
    out: Path, tasks: Sequence[Task], models: Sequence[str], variants: Sequence[Variant]
) -> tuple[pd.DataFrame, list[str]]:
    """The panel table of every task with results, and one line per task or row without."""
    comparators = [m for m in models if m != NETWORK]
    networks = [*([NETWORK] if NETWORK in models else []), *(v.name for v in variants)]
    parts, problems = [], []
    for task in tasks:
        sources = row_sources(out, task, models, variants)
        try:
            rows = task_rows(task.name, task.half, sources, comparators, networks)
        except PanelDataError as err:
            problems.append(f"{task.name}: no table rows: {err}")
            continue
        absent = [label for label in sources if label not in set(rows["model"])]
        if absent:
            problems.append(f"{task.name}: no summary row for {', '.join(absent)}")
        incomplete = list(rows.loc[~rows["folds_complete"].astype(bool), "model"])
        if incomplete:
            problems.append(f"{task.name}: incomplete folds (not ranked): {', '.join(incomplete)}")
        parts.append(rows)
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)
    return table, problems


def _ci(row: pd.Series) -> str:
    if pd.isna(row["pooled_auroc"]):
        return ""
    text = f"{row['pooled_auroc']:.3f} [{row['pooled_ci_low']:.3f}, {row['pooled_ci_high']:.3f}]"
    if row["n_repeats"] > 1:
        text = (
            f"{row['repeat_mean_pooled_auroc']:.3f} ± {row['repeat_sd_pooled_auroc']:.3f} "
            f"(first repeat {text})"
        )
    return text


def _signed(value: float, digits: int = 3) -> str:
    if pd.isna(value):
        return ""
    text = f"{value:+.{digits}f}"
    return text[1:] if float(text) == 0 else text  # no sign on a difference that rounds to 0


def table_markdown(table: pd.DataFrame) -> str:
    """panel.md: one row per task and model, the comparison columns formatted."""
    if table.empty:
        return "(no results)"
    repeated = (table["n_repeats"] > 1).any()
    shown = pd.DataFrame(
        {
            "task": table["task"],
            "half": table["half"],
            "n": table["n"].map(lambda v: "" if pd.isna(v) else str(int(v))),
            "model": table["model"],
            ("AUROC, mean ± sd over repeats" if repeated else "pooled AUROC [95% CI]"): table.apply(
                _ci, axis=1
            ),
            "mean fold AUROC": table["mean_fold_auroc"].map(lambda v: f"{v:.3f}"),
            "rank": [
                "" if pd.isna(r) else f"{int(r)}/{int(n)}"
                for r, n in zip(table["rank"], table["n_ranked"], strict=True)
            ],
            "best comparator": table["best_comparator"].fillna(""),
            "Δ best": table["diff_to_best"].map(_signed),
            "Δ best, folds (p)": [
                "" if pd.isna(d) else f"{d:+.3f} ({p:.2g})"
                for d, p in zip(table["fold_diff_to_best"], table["p_value"], strict=True)
            ],
            WITHIN_FLAG: table[WITHIN_FLAG].map(
                lambda v: "" if pd.isna(v) else "yes" if v else "no"
            ),
            "beats best": table["beats_best"].map(
                lambda v: "" if pd.isna(v) else "**yes**" if v else "no"
            ),
        }
    )
    incomplete = ~table["folds_complete"].astype(bool)
    shown.loc[incomplete, "rank"] = "incomplete"
    return markdown(shown)


def summary_markdown(summary: pd.DataFrame) -> str:
    """panel_summary.md: per half and network row, counts against the best comparator; then
    the comparators' reference rows (each against the best of the others)."""
    if summary.empty:
        return "(no network rows)"
    shown = pd.DataFrame(
        {
            "half": summary["half"],
            "row": summary["model"],
            "against": summary["against"],
            "tasks": summary["n_tasks"],
            "within 0.01 of best": summary[f"n_{WITHIN_FLAG}"],
            "> 0.03 below best": summary[f"n_{BELOW_FLAG}"],
            "beats best": summary["n_beats_best"],
            "mean rank (of)": [
                "" if pd.isna(r) else f"{r:.2f} (of {n:.3g})"
                for r, n in zip(summary["mean_rank"], summary["mean_n_ranked"], strict=True)
            ],
            "mean Δ best": summary["mean_diff_to_best"].map(_signed),
            "median Δ best": summary["median_diff_to_best"].map(_signed),
            "mean Δ folds": summary["mean_fold_diff_to_best"].map(_signed),
            "p < 0.05": summary["n_p_below_0.05"].map(lambda v: "" if pd.isna(v) else f"{v:.0f}"),
        }
    )
    return markdown(shown)


LEGEND = (
    "AUROC: pooled out-of-fold AUROC (with repeats: mean over repeats of each repeat's pooled "
    f"AUROC), from each sweep's {layout.SUMMARY_DIR}/{layout.CV_SUMMARY}; a nested-tuned row "
    "(--tuned): per outer fold the trial with the best inner-validation AUROC, its held-out "
    "predictions pooled (the nested estimate). Best comparator: the "
    "non-network model with the highest AUROC in the task. Δ best: AUROC minus the best "
    "comparator's; Δ best, "
    "folds: mean paired per-fold AUROC difference with the corrected resampled t-test p "
    "(Nadeau-Bengio; Bouckaert-Frank over R x k folds with repeats). within 0.01: Δ best >= "
    "-0.01 (better counts too); > 0.03 below: Δ best < -0.03; beats best: Δ best > 0. Rank: "
    "1 = highest AUROC of the task's rows with complete folds. Reference rows (against: best "
    "other comparator): each comparator held to the same bar against the best of the other "
    "comparators, ranked among the comparators; no paired test."
)


def write_panel(
    out: Path, table: pd.DataFrame, summary: pd.DataFrame, rows_order: Sequence[str]
) -> None:
    """panel.csv/.md, panel_summary.csv/.md and panel.png under ``out``."""
    write_csv(out / layout.PANEL_TABLE, table.reindex(columns=COLUMNS))
    write_csv(out / layout.PANEL_SUMMARY, summary)
    text = f"{table_markdown(table)}\n\n{LEGEND}\n"
    atomic_write(out / layout.PANEL_MARKDOWN, lambda p: p.write_text(text))
    text = f"{summary_markdown(summary)}\n\n{LEGEND}\n"
    atomic_write(out / layout.PANEL_SUMMARY_MARKDOWN, lambda p: p.write_text(text))
    if not table.empty:
        panel_heatmap(table, out / layout.PANEL_FIGURE, list(rows_order))


def run_panel(
    root: Path,
    out: Path,
    tasks: Sequence[Task],
    models: Sequence[str] = MODELS,
    variants: Sequence[Variant] = (),
    *,
    repeats: int = 1,
    jobs: int = 1,
    extra: Sequence[str] = (),
    run: bool = True,
    env: dict | None = None,
    echo: Callable[[str], None] = print,
) -> Outcome:
    """Run every task's sweeps (``run``), then write the tables and the figure of ``tasks``."""
    out = Path(out).resolve()  # train.py runs in the repository root, the panel anywhere
    if out.exists() and not out.is_dir():
        raise PanelError(f"--out {out}: not a directory")
    out.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    stopper = _Stopper()
    configs = configs_fingerprint(root)
    with stopper:
        plan = []
        for task in tasks:
            if models:
                plan.append((task, None, layout.panel_sweep_dir(out, task.name)))
            plan += [(task, v, variant_dir(out, task, v)) for v in variants]
        for i, (task, variant, sweep_dir) in enumerate(plan if run else ()):
            if stopper.signum is not None:
                break
            kind = "tuned" if variant and variant.tuned else "variant"
            what = f"{kind} {variant.name}" if variant else f"models {','.join(models)}"
            command = sweep_command(
                task, models, sweep_dir, variant=variant, repeats=repeats, jobs=jobs, extra=extra
            )
            head = f"panel: [{i + 1}/{len(plan)}] {task.name} ({task.half}) {what}"
            if finished_before(command, sweep_dir, configs):
                echo(f"{head}: finished earlier, skipped ({sweep_dir})")
                continue
            echo(f"{head} -> {sweep_dir}")
            start = time.perf_counter()
            code = run_sweep(command, root, sweep_dir, env, stopper, configs)
            took = _duration(time.perf_counter() - start)
            if stopper.signum is not None:
                echo(
                    f"panel: stopped by signal {stopper.signum} during {task.name} {what} "
                    f"(exit {code}); finished jobs are kept, rerun to resume"
                )
                break
            if code != 0:
                line = _error_line(layout.panel_log(sweep_dir))
                failures.append(
                    f"{task.name} {what}: train.py exit {code} after {took}: {line} "
                    f"(log {layout.panel_log(sweep_dir)})"
                )
                echo(f"panel: FAILED {failures[-1]}")
            else:
                echo(f"panel: done {task.name} {what} in {took}")
        table, problems = build_table(out, tasks, models, variants)
        networks = [*([NETWORK] if NETWORK in models else []), *(v.name for v in variants)]
        comparators = [m for m in models if m != NETWORK]
        summary = panel_summary(table, networks, comparators) if not table.empty else pd.DataFrame()
        order = [*networks, *(m for m in models if m != NETWORK)]
        write_panel(out, table, summary, order)
    return Outcome(table, summary, failures + problems, stopper.signum, out)


def readme_markdown(outcome: Outcome) -> str:
    """The README block: the summary table, then the full table, with the legend."""
    return f"{summary_markdown(outcome.summary)}\n\n{table_markdown(outcome.table)}\n\n{LEGEND}"
