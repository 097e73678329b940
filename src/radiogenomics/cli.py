"""Command-line helpers for ``train.py``: Hydra's flags and overrides in any order.

Hydra parses its command line with argparse, which takes the positional overrides only as one
contiguous run: ``python train.py trait=enhancement -m hydra.sweep.dir=X`` fails with
"unrecognized arguments" because overrides stand on both sides of ``-m``. :func:`hydra_argv`
moves every Hydra flag (with its value) before the overrides, so that any order works::

    sys.argv[:] = hydra_argv(sys.argv)   # before the @hydra.main function is called

:func:`run_main` runs the ``@hydra.main`` function so that what fails before (or around) our
code ends in one line instead of Hydra's multi-line report or a traceback: an unknown config
group option (``trait=enhancment``) is a ``config error`` and an output dir Hydra cannot make or
write (read-only, a file in the way, disk full) or a SLURM launcher without a cluster an
``environment error``, and a value of the wrong type for its schema (``seed=abc``, refused
while Hydra composes) the same ``config error`` line the job's check would give, each with
exit status 2.
"""

from __future__ import annotations

import argparse
import difflib
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["check_group_choices", "entry_error_line", "hydra_argv", "run_main"]

CONFIG_ERROR_STATUS = 2  # as tasks.run: a config, data or environment error


def _hydra_flags() -> dict[str, argparse.Action]:
    """Hydra's own flags (``-m``, ``--cfg``, ``--info``, ...) by option string, from its parser."""
    from hydra._internal.utils import get_args_parser

    # argparse has no public list of a parser's actions; _actions is stable across versions
    return {opt: a for a in get_args_parser()._actions for opt in a.option_strings}


def _lookup(token: str, flags: dict[str, argparse.Action]) -> tuple[str, str | None] | None:
    """``(option string, inline value)`` if ``token`` is a Hydra flag, else None.

    Accepts what argparse accepts here: the exact option (``-cd``, ``--multirun``), an inline value
    (``--config-dir=X``, ``-cd=X``) and a unique prefix of a long option (``--multi``).
    """
    if not token.startswith("-") or token == "-":
        return None
    option, sep, value = token.partition("=")
    inline = value if sep else None
    if option in flags:
        return option, inline
    if option.startswith("--"):
        matches = {flags[o] for o in flags if o.startswith("--") and o.startswith(option)}
        if len(matches) == 1:
            action = matches.pop()
            return next(o for o in action.option_strings if o.startswith(option)), inline
    return None


def hydra_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` (a whole ``sys.argv``: program first) with Hydra's flags before the overrides.

    Each flag keeps its value: the next token for a flag that takes one (``--cfg job``,
    ``-cd DIR``, ``-p PKG``), or the ``=`` form (``--config-dir=DIR``). ``--info`` takes the next
    token only if it is one of its choices (``--info defaults``); a bare ``--info`` becomes
    ``--info=all`` (its argparse ``const``), so that a following override is not read as its
    value. Flags keep their order, and so do the overrides; anything after ``--`` stays as it is,
    as do unknown ``-x`` tokens (Hydra's parser then reports them as before).

    >>> hydra_argv(["train.py", "trait=enhancement", "-m", "hydra.sweep.dir=X"])
    ['train.py', '-m', 'trait=enhancement', 'hydra.sweep.dir=X']
    >>> hydra_argv(["train.py", "fold=1", "--cfg", "job", "--info"])
    ['train.py', '--cfg', 'job', '--info=all', 'fold=1']
    """
    if not argv:
        return []
    flags = _hydra_flags()
    program, args = argv[0], list(argv[1:])
    moved: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        token = args[i]
        i += 1
        if token == "--":  # argparse: everything after it is positional
            rest += args[i - 1 :]
            break
        found = _lookup(token, flags)
        if found is None:
            rest.append(token)
            continue
        option, inline = found
        action = flags[option]
        if inline is not None or action.nargs == 0:
            moved.append(token)
        elif action.nargs is None:  # exactly one value: the next token, whatever it is
            moved += args[i - 1 : i + 1]
            i += 1
        elif action.nargs == "?":
            if i < len(args) and action.choices is not None and args[i] in action.choices:
                moved += [token, args[i]]
                i += 1
            else:  # spelled out: an override after it is then not read as its value
                moved.append(token if action.const is None else f"{option}={action.const}")
        else:  # not in Hydra 1.3's parser (nargs "*", "+", N): left where it is
            rest.append(token)
    return [program, *moved, *rest]


def _override_groups(token: str) -> tuple[str, str] | None:
    """``(group, value)`` of an override ``[+|++|~]group[@package]=value``, else None."""
    key, sep, value = token.partition("=")
    if not sep or token.startswith("-"):
        return None
    group = key.lstrip("+~").split("@", 1)[0]
    return (group, value.strip()) if group and "." not in group else None


def group_options(config_dir: Path, group: str) -> list[str]:
    """The options of a config group: the names of ``configs/<group>/*.yaml`` and the configs
    stored for it in Hydra's ConfigStore (an interpreter without a YAML; schemas aside)."""
    from hydra.core.config_store import ConfigStore

    from radiogenomics.config_schema import SCHEMAS

    names = {p.stem for p in (config_dir / group).glob("*.yaml")}
    try:
        stored = ConfigStore.instance().list(group)
    except OSError:  # nothing stored for the group
        stored = []
    schemas = set(SCHEMAS.get(group) or {})
    names |= {n.removesuffix(".yaml") for n in stored} - schemas
    return sorted(names)


def check_group_choices(args: Sequence[str], config_dir: Path) -> str | None:
    """The ``config error`` line for the first unknown option of a config group, else None.

    Checks the groups under ``config_dir`` (``trait``, ``model``, ``data``, ...), not Hydra's
    own (``hydra/launcher`` also has plugin options), and a sweep's comma list item by item.
    Values Hydra computes (``choice(...)``, ``glob(...)``, interpolations) and a command line
    that adds config dirs (``--config-dir``, ``hydra.searchpath``) are left to Hydra.
    """
    if any(
        a.startswith(("-cd", "--config-dir", "hydra.searchpath", "+hydra.searchpath")) for a in args
    ):
        return None
    for token in args:
        parsed = _override_groups(token)
        if parsed is None:
            continue
        group, value = parsed
        if group.startswith("hydra") or not (config_dir / group).is_dir():
            continue
        if value in ("", "null") or any(c in value for c in "()[]{}$*?'\""):
            continue
        options = group_options(config_dir, group)
        for item in (v.strip() for v in value.split(",")):
            if item and item not in options:
                close = difflib.get_close_matches(item, options, n=1, cutoff=0.6)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                return f"config error: {group}={item} is not one of {', '.join(options)}{hint}"
    return None


SLURM_COMMANDS = ("srun", "sbatch", "squeue", "sacct", "scontrol", "slurm")


def _slurm_error(err: BaseException) -> bool:
    """Whether ``err`` comes from submitting to SLURM (no srun/sbatch, no controller)."""
    if isinstance(err, subprocess.CalledProcessError):
        return any(w in str(err.cmd) for w in SLURM_COMMANDS)
    from_submitit = type(err).__module__.split(".")[0] == "submitit"
    text = str(err).lower()
    return (from_submitit or isinstance(err, RuntimeError)) and any(
        w in text for w in SLURM_COMMANDS
    )


def entry_error_line(err: BaseException, slurm: bool = False) -> str | None:
    """One line for a failure before or around the jobs (Hydra's output dirs, the launcher), or
    None when it is none of those (then the exception is reported as Hydra would). ``slurm``:
    the command chose ``hydra/launcher=slurm`` (only then is a submission error reported so)."""
    from hydra.errors import MissingConfigException

    from radiogenomics.config_schema import compose_error_line
    from radiogenomics.utils import error_line, output_error

    if isinstance(err, MissingConfigException):
        return f"config error: {error_line(err, limit=None)}"
    refused = compose_error_line(err)  # a value of the wrong type for its schema
    if refused is not None:
        return refused
    if isinstance(err, OSError) and err.filename:
        path = Path(str(err.filename))
        known = output_error(path, err)
        why = known.reason if known is not None else (err.strerror or type(err).__name__)
        if isinstance(err, FileExistsError) and path.exists() and not path.is_dir():
            why = "it is a file, not a directory"
        return (
            f"environment error: cannot write {path} ({why}); point hydra.run.dir / "
            "hydra.sweep.dir (or paths.log_dir) at a writable directory with free space"
        )
    if slurm and _slurm_error(err):
        return (
            f"environment error: hydra/launcher=slurm cannot submit jobs ({error_line(err)}); "
            "run on a SLURM submit host whose controller answers (sinfo), or choose another "
            "launcher (hydra/launcher=serial, local or gpus)"
        )
    return None


def run_main(main: Callable[[], Any], config_dir: Path, argv: Sequence[str] | None = None) -> None:
    """Run ``main`` (the ``@hydra.main`` function); its known failures become one line, exit 2.

    Hydra reports an exception itself (a trimmed traceback, exit status 1) unless
    ``HYDRA_FULL_ERROR=1``; that is set here while ``main`` runs, so that the exception reaches
    this function. A user who set ``HYDRA_FULL_ERROR=1`` gets every exception as it is.
    """
    from hydra.errors import CompactHydraException

    args = list(sys.argv[1:] if argv is None else argv)
    line = check_group_choices(args, config_dir)
    if line is not None:
        print(line, file=sys.stderr)
        raise SystemExit(CONFIG_ERROR_STATUS)
    user_full = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        main()
    except Exception as err:
        if user_full == "1":
            raise
        slurm = any(a.lstrip("+").startswith("hydra/launcher=slurm") for a in args)
        line = entry_error_line(err, slurm=slurm)
        if line is None and isinstance(err, CompactHydraException):  # as Hydra prints it
            print(str(err), file=sys.stderr)
            raise SystemExit(1) from None
        if line is None:
            raise
        print(line, file=sys.stderr)
        raise SystemExit(CONFIG_ERROR_STATUS) from None
    finally:
        if user_full is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = user_full
