"""Real-data benchmark panel: every model and network variant on every task, one table and figure.

    python scripts/panel.py                                   # every task of benchmarks/panel/tasks.yaml
    python scripts/panel.py --half dev --jobs 2               # the dev half, 2 jobs at a time
    python scripts/panel.py --half dev --variant nn_ens="model.ensemble=5 model.gene_filter.method=anova"
    python scripts/panel.py --half dev --tuned nn_tuned="hparams_search=nn_optuna_labelled hydra.sweeper.n_trials=4"
    python scripts/panel.py --only verhaak_proneural --models nn,logit_l2 --repeats 5
    python scripts/panel.py --no-run --markdown               # tables of what is there, README rows

Tasks file (``--tasks``, default benchmarks/panel/tasks.yaml): a list of entries (or a mapping with a
``tasks`` list), each ``name`` (a directory name), ``half`` (``dev``: where the default network is
chosen; ``report``: held back to report it), ``overrides`` (train.py overrides selecting the data and
trait, e.g. ``[data=verhaak840, trait=proneural]``; not ``model``), plus any descriptive keys
(``what``, ...).

Per task: ``python train.py -m <overrides> model=<--models> repeats=<--repeats> save_model=false
<--set ...> hydra.sweep.dir=<out>/<task>/models``: every model family on the same outer folds. Each
``--variant NAME="override ..."`` adds one network row: ``model=nn <its overrides>`` into
``<out>/<task>/variants/<NAME>`` (same folds). Each ``--tuned NAME="hparams_search=CONFIG
override ..."`` adds one nested-tuned network row: a tuning sweep ``model=nn hparams_search=CONFIG
<its overrides>`` into ``<out>/<task>/tuned/<NAME>`` (same outer folds; per outer fold an Optuna
study told only inner-validation AUROCs), read as its nested estimate: per outer fold the trial
with the best inner-validation AUROC, its held-out predictions pooled (as select_hparams.py).
For a fully labelled cohort, ``hparams_search=nn_optuna_labelled`` searches around the default.
``--set "override ..."`` adds overrides to every sweep (e.g. ``--set "n_folds=5"``); ``--jobs N``
runs N jobs at a time (``hydra/launcher=gpus hydra.launcher.n_jobs=N``). Each command's output:
``<sweep>.log`` beside the sweep.

Resumable: rerun the same command; sweeps that finished (exit 0) are skipped, the others rerun into
their dir, where finished jobs (a tuning sweep: finished trials) are skipped. A failing task is
reported and the others go on. Ctrl-C stops the running sweep cleanly (its finished jobs kept) and
writes the tables of what finished.

Writes to --out (default outputs/panel):
  panel.csv / panel.md   one row per (task, model): task, half, n, model, kind (network|comparator),
                         n_folds, n_repeats, folds_complete, pooled_auroc, pooled_ci_low/high (95%,
                         from the sweep's summary/cv_summary.csv; a tuned row: its nested
                         estimate, same bootstrap), repeat_mean/sd_pooled_auroc,
                         auroc (ranked: pooled, or the repeat mean with --repeats > 1),
                         mean_fold_auroc, rank (1 = best) of n_ranked, best_comparator (best
                         non-nn model) and its auroc, diff_to_best, fold_diff_to_best + p_value +
                         n_paired_folds (paired folds, corrected resampled t-test), within_0.01
                         (diff >= -0.01, better included), below_0.03 (diff < -0.03), beats_best
  panel_summary.csv/.md  per half (and all) and network row (nn, each variant, each tuned
                         row): tasks compared, n_within_0.01, n_below_0.03, n_beats_best, mean
                         rank, mean and median diff_to_best, mean fold diff, tasks with p < 0.05;
                         then each comparator's reference row (against = best other comparator):
                         the same counts against the best of the other comparators, so the bar
                         the network is held to can be read against what one comparator achieves
  panel.png              models x tasks heatmap of auroc minus the task's best comparator

Exit status: 0 all ran, 1 a sweep failed or a row is missing, 2 a bad option or tasks file (one
line), 130/143 stopped by SIGINT/SIGTERM. See radiogenomics.panel, radiogenomics.evaluation.panel.
"""

from __future__ import annotations

import sys
from pathlib import Path

from radiogenomics.panel import (
    DEFAULT_OUT,
    MODELS,
    TASKS_FILE,
    PanelError,
    check_models,
    load_tasks,
    parse_set,
    parse_variant,
    readme_markdown,
    run_panel,
    select_tasks,
    summary_markdown,
)
from radiogenomics.script_args import ScriptParser, int_at_least

ROOT = Path(__file__).resolve().parents[1]


def _names(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run the panel, write and print its tables; the exit status."""
    parser = ScriptParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=Path, default=ROOT / TASKS_FILE, help="tasks file (YAML)")
    parser.add_argument("--half", choices=["dev", "report", "all"], default="all")
    parser.add_argument("--only", type=_names, help="task names, comma-separated")
    parser.add_argument(
        "--models",
        type=_names,
        default=list(MODELS),
        help=f"model families, comma-separated (default {','.join(MODELS)})",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar='NAME="OVERRIDES"',
        help="one more network row: model=nn plus these overrides (repeatable)",
    )
    parser.add_argument(
        "--tuned",
        action="append",
        default=[],
        metavar='NAME="hparams_search=CONFIG OVERRIDES"',
        help="one more network row, nested-tuned: model=nn plus these overrides, which choose "
        "a nested tuning (hparams_search=...); the row is its nested estimate (repeatable)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar='"OVERRIDES"',
        help="train.py overrides added to every sweep (repeatable), e.g. 'n_folds=5'",
    )
    parser.add_argument("--out", type=Path, default=ROOT / DEFAULT_OUT, help="output directory")
    parser.add_argument("--repeats", type=int_at_least(1), default=1, help="CV repeats per sweep")
    parser.add_argument("--jobs", type=int_at_least(1), default=1, help="jobs run at a time")
    parser.add_argument("--no-run", action="store_true", help="only tabulate the finished sweeps")
    parser.add_argument("--markdown", action="store_true", help="print the README block")
    args = parser.parse_args(argv)
    try:
        variants = [parse_variant(v) for v in args.variant]
        variants += [parse_variant(t, tuned=True) for t in args.tuned]
        extra = parse_set(args.set)
        check_models(args.models, variants, ROOT)
        tasks = select_tasks(load_tasks(args.tasks), args.half, args.only)
        outcome = run_panel(
            ROOT,
            args.out,
            tasks,
            args.models,
            variants,
            repeats=args.repeats,
            jobs=args.jobs,
            extra=extra,
            run=not args.no_run,
        )
    except PanelError as err:
        print(f"{parser.prog}: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    print(readme_markdown(outcome) if args.markdown else summary_markdown(outcome.summary))
    for line in outcome.failures:
        print(f"panel: problem: {line}", file=sys.stderr)
    print(f"\nwritten to {outcome.out}", flush=True)
    return outcome.exit_status


if __name__ == "__main__":
    sys.exit(main())
