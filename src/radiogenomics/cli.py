"""Command-line helpers for ``train.py``: Hydra's flags and overrides in any order.

Hydra parses its command line with argparse, which takes the positional overrides only as one
contiguous run: ``python train.py trait=enhancement -m hydra.sweep.dir=X`` fails with
"unrecognized arguments" because overrides stand on both sides of ``-m``. :func:`hydra_argv`
moves every Hydra flag (with its value) before the overrides, so that any order works::

    sys.argv[:] = hydra_argv(sys.argv)   # before the @hydra.main function is called
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

__all__ = ["hydra_argv"]


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
