"""OmegaConf resolvers the configs use; registered when this module is imported (with the
config schemas of :mod:`radiogenomics.config_schema`).

``${rg_job_dirname:${hydra.job.override_dirname}}`` names a sweep's job dirs by their overrides
(``fold=3,trait=enhancement``) so that reruns find them. A name is always one path component
inside the sweep dir:

- a key or value holding a path separator or ``..`` (``data.expression_file=../../x.tsv``) is
  replaced by its last component plus a hash of the whole value (``x.tsv~1f0c2a9e``), so no
  override can move a job dir out of its sweep or onto another job's dir;
- a name too long for a file system (255 bytes per path component) keeps a readable prefix plus
  a hash of the whole.

Names without separators are kept as they are; ``null_permutation=null`` (the real jobs of a
sweep with ``+interpret=permutation_null``) is left out, so a real job has the same dir with or without its
permutation null. Every job's full overrides stay in its ``.hydra/overrides.yaml``.

``${rg_null_ids:K}`` is the sweep value of ``null_permutation`` for K null replicates:
``null,0,1,...,K-1`` (the real model first), ``null`` for K = 0.

``${rg_repeat_ids:R}`` is the sweep value of ``repeat`` for R repetitions of the cross-validation
(``repeats=R``): ``0,1,...,R-1``. ``repeat=0`` and ``repeats=R`` are left out of job dir names,
so a single-repeat sweep keeps its dirs and the first repeat of a repeated sweep is the same job
as the single-repeat sweep's (same dir, same config hash: it is resumed, not retrained).
"""

from __future__ import annotations

import re
import sys

from omegaconf import OmegaConf

from radiogenomics.interpreters import job_adding
from radiogenomics.utils import stable_hash

MAX_DIRNAME = 200  # characters of a job dir name; longer ones are cut and hashed
HASH_LENGTH = 12
PATH_HASH_LENGTH = 8  # hash of a path-like key or value inside a name
PATH_MARK = "~"  # between a path's last component and its hash
_PART = re.compile(r"[^,=]+")  # a key or a value of ``key=value,key=value``
_SEPARATORS = re.compile(r"[/\\]")
_OPENERS = re.compile(r"[\[('\"]*")
# repeated CV: the first repeat and the number of repeats are left out of job dir names
_REPEAT_TOKENS = re.compile(r"(^|,)(repeat=0|repeats=[^,]*)(?=,|$)")
_INTERPRET_LIST = re.compile(r"(\+*interpret=\[)([^\]]*)(\])")


def safe_part(part: str) -> str:
    """``part`` itself, or its last path component plus a hash when it could name a path."""
    if not _SEPARATORS.search(part) and ".." not in part:
        return part
    lead = _OPENERS.match(part).group(0)  # a list's or a quote's opening stays readable
    last = _SEPARATORS.split(part.rstrip("/\\"))[-1].replace("..", "__")
    return f"{lead}{last}{PATH_MARK}{stable_hash(part, length=PATH_HASH_LENGTH)}"


def job_dirname(override_dirname: str, max_len: int = MAX_DIRNAME) -> str:
    """The job dir name: one path component, readable, the same in every process.

    ``override_dirname`` itself when it holds no path separator or ``..`` and fits
    ``max_len``; path-like parts are shortened (see the module docstring), and a name still too
    long becomes a prefix plus a hash of the whole ``override_dirname``.
    """
    override_dirname = without_repeat_overrides(without_null_overrides(override_dirname))
    name = _PART.sub(lambda m: safe_part(m.group(0)), override_dirname)
    if len(name) <= max_len:
        return name
    digest = stable_hash(override_dirname, length=HASH_LENGTH)
    return f"{name[: max_len - HASH_LENGTH - 1]}-{digest}"


def _null_tokens() -> re.Pattern:
    """The overrides of the interpreters that add jobs (the permutation null), and
    ``null_permutation=null``: left out of job dir names (see job_dirname)."""
    names = "|".join(re.escape(n) for n in job_adding())
    return re.compile(
        rf"(^|,)(null_permutation=null|\+*interpret=(?:{names})"
        rf"|\+*interpret\.(?:{names})\.n_permutations=[^,]*)(?=,|$)"
    )


def without_null_overrides(override_dirname: str) -> str:
    """``override_dirname`` less the permutation null's overrides, so a real job keeps its dir.

    Drops ``null_permutation=null``, ``interpret.<null>.n_permutations=K`` and the entry of
    ``+interpret=[...]`` of every interpreter that adds jobs (the permutation null); null jobs
    keep ``null_permutation=k``.
    """
    adding = job_adding()

    def drop_entry(match: re.Match) -> str:
        kept = [e for e in match.group(2).split(",") if e.strip() not in adding]
        return f"{match.group(1)}{','.join(kept)}{match.group(3)}"

    name = _INTERPRET_LIST.sub(drop_entry, override_dirname)
    return _null_tokens().sub("", name).lstrip(",")


def without_repeat_overrides(override_dirname: str) -> str:
    """``override_dirname`` less ``repeat=0`` and ``repeats=R``: repeat 0 keeps the plain CV dir."""
    return _REPEAT_TOKENS.sub("", override_dirname).lstrip(",")


def _count_or_exit(value: object, key: str, minimum: int, meaning: str) -> int:
    """``value`` when it is an integer >= ``minimum``; else one error line and exit status 2.

    SystemExit passes through OmegaConf and Hydra, which would print a resolver's ValueError
    inside a long traceback.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        print(
            f"error: {key}={value!r}: expected an integer >= {minimum} ({meaning})",
            file=sys.stderr,
        )
        raise SystemExit(2)  # as the other config errors
    return value


def null_ids(n_permutations: object, key: str = "n_permutations") -> str:
    """The sweep value of ``null_permutation`` for K null replicates: ``null,0,...,K-1``.

    A bad K stops the sweep with its message alone (see ``_count_or_exit``), naming ``key``
    (the config key K was read from).
    """
    meaning = "the number of permutation-null replicates, e.g. 20"
    k = _count_or_exit(n_permutations, key, 0, meaning)
    return ",".join(["null", *map(str, range(k))])


def repeat_ids(repeats: object) -> str:
    """The sweep value of ``repeat`` for ``repeats=R`` repetitions of the CV: ``0,1,...,R-1``."""
    r = _count_or_exit(repeats, "repeats", 1, "how often the cross-validation is repeated, e.g. 5")
    return ",".join(map(str, range(r)))


def register() -> None:
    """Register the resolvers once, and the config schemas (and the configs of interpreters without
    a YAML) in Hydra's ConfigStore (idempotent:
    safe in every process that imports this; Hydra needs both before it composes ``train``)."""
    from radiogenomics.config_schema import register as register_schemas
    from radiogenomics.interpreters import register_configs

    register_schemas()
    register_configs()
    if not OmegaConf.has_resolver("rg_job_dirname"):
        OmegaConf.register_new_resolver("rg_job_dirname", job_dirname)
    if not OmegaConf.has_resolver("rg_null_ids"):
        OmegaConf.register_new_resolver("rg_null_ids", null_ids)
    if not OmegaConf.has_resolver("rg_repeat_ids"):
        OmegaConf.register_new_resolver("rg_repeat_ids", repeat_ids)


register()
