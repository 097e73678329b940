"""Trait specifications: which label column to read and how its values map to model targets.

Three kinds of trait (``trait.kind``): ``categorical`` (classes, binary or multiclass; the
paper's traits), ``ordinal`` (ordered levels, e.g. VASARI proportions ``Minimal`` < ... <
``More than 2/3``; encoded as level indices 0..K-1 in order) and ``continuous`` (a numeric
column, e.g. a volume; encoded as floats, no classes).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class TraitClass:
    """One output class and the source category strings that map to it."""

    name: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class TraitSpec:
    """How to turn one label column into integer classes (0..K-1).

    A spec with no classes (``trait=column``: ``classes: null``) is *unresolved*: its classes
    are inferred from the label column by :func:`resolve_spec` (``trait_cohort`` does it), as
    the sorted distinct values, or as ``low``/``high`` around ``threshold`` (a number or
    ``"median"``). A resolved threshold spec keeps the numeric threshold and binarizes with it.
    """

    name: str
    column: str
    classes: tuple[TraitClass, ...]
    drop: tuple[str, ...] = ("n/a", "indeterminate", "")
    positive_class: str | None = None
    permute_labels: bool = False
    permute_seed: int = 0
    threshold: float | str | None = None  # numeric column: low < threshold <= high
    min_class_size: int = 0  # inferred classes: fewest patients a class may have
    kind: str = "categorical"  # categorical | ordinal (classes are ordered levels) | continuous
    binary_cut: int | None = None  # ordinal: first level of the binarized trait's positive class
    extra: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in TRAIT_KINDS:
            raise ValueError(
                f"trait {self.name!r}: kind {self.kind!r} is not one of {list(TRAIT_KINDS)}"
            )
        if self.kind != "categorical" and self.threshold is not None:
            raise ValueError(
                f"trait {self.name!r}: a threshold binarizes a numeric column (kind "
                f"categorical); a {self.kind} trait takes no threshold"
            )
        if self.kind == "continuous":
            if self.classes:
                raise ValueError(f"trait {self.name!r}: a continuous trait has no classes")
            return
        if self.binary_cut is not None and not 0 < self.binary_cut < max(len(self.classes), 2):
            raise ValueError(
                f"trait {self.name!r}: binary_cut={self.binary_cut} must fall between two "
                f"levels (1..{len(self.classes) - 1})"
            )
        if isinstance(self.threshold, str) and self.threshold != "median":
            raise ValueError(
                f"trait {self.name!r}: threshold {self.threshold!r} is neither a number nor "
                "'median'"
            )
        if self.threshold is not None and not isinstance(self.threshold, str):
            if isinstance(self.threshold, bool) or not math.isfinite(float(self.threshold)):
                raise ValueError(
                    f"trait {self.name!r}: threshold {self.threshold!r} is not a finite number"
                )
        if not self.classes:  # unresolved: classes are inferred from the label column
            return
        if self.threshold is not None and self.n_classes != 2:
            raise ValueError(
                f"trait {self.name!r}: a threshold makes two classes (low, high), got "
                f"{self.class_names}"
            )
        if len(self.classes) < 2:
            what = "levels" if self.is_ordinal else "classes"
            raise ValueError(
                f"trait {self.name!r}: needs at least two {what}, got {len(self.classes)}"
            )
        if self.is_binary and self.positive_class is not None:
            if self.positive_class != self.classes[1].name:
                raise ValueError(
                    f"trait {self.name!r}: positive_class {self.positive_class!r} must be the second "
                    f"listed class ({self.classes[1].name!r}); list the negative class first"
                )
        seen: dict[str, str] = {}
        for cls in self.classes:
            for value in cls.values:
                key = _norm(value)
                if key in seen:
                    raise ValueError(
                        f"trait {self.name!r}: category {value!r} is mapped to both "
                        f"{seen[key]!r} and {cls.name!r}"
                    )
                seen[key] = cls.name

    @property
    def is_resolved(self) -> bool:
        """False while the classes (or the median threshold) are still to be inferred."""
        if self.kind == "continuous":
            return True
        return bool(self.classes) and self.threshold != "median"

    @property
    def is_ordinal(self) -> bool:
        """True when the classes are ordered levels (index = level)."""
        return self.kind == "ordinal"

    @property
    def is_continuous(self) -> bool:
        """True for a numeric target (regression; no classes)."""
        return self.kind == "continuous"

    @property
    def class_names(self) -> list[str]:
        """Class names in output-index order."""
        return [c.name for c in self.classes]

    @property
    def n_classes(self) -> int:
        """Number of output classes."""
        return len(self.classes)

    @property
    def is_binary(self) -> bool:
        """True for two-class traits (one sigmoid output); an ordinal trait of two levels too."""
        return self.n_classes == 2

    @property
    def allowed_values(self) -> list[str]:
        """Every source category the mapping accepts, dropped ones included."""
        return [v for c in self.classes for v in c.values] + list(self.drop)

    @classmethod
    def from_config(cls, cfg: Mapping) -> TraitSpec:
        """Build from a ``configs/trait/*.yaml`` mapping (``classes: null``: unresolved).

        ``kind: ordinal`` takes its ordered levels from ``levels`` (names, or ``{name, values}``
        mappings), else from ``classes`` in their listed order; when the file also lists the
        paper's two binary classes, ``binary_cut`` is where they split the levels.
        ``kind: continuous`` ignores ``classes`` and ``levels``.
        """
        if cfg.get("column") is None:
            raise ValueError(
                f"trait {cfg.get('name')!r} has no label column: set trait.column=NAME "
                "(a column of the label files)"
            )
        kind = str(cfg.get("kind") or "categorical")
        if kind not in TRAIT_KINDS:
            raise ValueError(f"trait.kind={kind!r}: expected one of {', '.join(TRAIT_KINDS)}")
        classes = _classes(cfg.get("classes"), "classes")
        binary_cut = cfg.get("binary_cut")
        if kind == "ordinal" and cfg.get("levels"):
            levels = _classes(cfg.get("levels"), "levels")
            binary_cut = _cut(levels, classes) if len(classes) == 2 else None
            classes = levels
        elif kind == "continuous":
            classes, binary_cut = (), None
        threshold = cfg.get("threshold")
        if threshold is not None and not (isinstance(threshold, str) and threshold == "median"):
            try:
                threshold = float(threshold)
            except (TypeError, ValueError):
                raise ValueError(
                    f"trait.threshold={threshold!r}: expected a number or 'median'"
                ) from None
        min_class_size = cfg.get("min_class_size") or 0
        if isinstance(min_class_size, bool) or not isinstance(min_class_size, int):
            raise ValueError(f"trait.min_class_size={min_class_size!r}: expected an integer >= 0")
        return cls(
            name=str(cfg["name"]),
            column=str(cfg["column"]),
            classes=classes,
            drop=tuple(str(v) for v in cfg.get("drop") or ()),  # null: nothing dropped
            positive_class=cfg.get("positive_class") if kind == "categorical" else None,
            permute_labels=bool(cfg.get("permute_labels", False)),
            permute_seed=int(cfg.get("permute_seed", 0)),
            threshold=threshold,
            min_class_size=int(min_class_size),
            kind=kind,
            binary_cut=None if binary_cut is None else int(binary_cut),
        )

    def to_config(self) -> dict:
        """The mapping :meth:`from_config` reads back (concrete classes once resolved)."""
        out = {
            "name": self.name,
            "column": self.column,
            "classes": [{"name": c.name, "values": list(c.values)} for c in self.classes] or None,
            "positive_class": self.positive_class,
            "drop": list(self.drop),
            "permute_labels": self.permute_labels,
            "permute_seed": self.permute_seed,
        }
        if self.threshold is not None:
            out["threshold"] = self.threshold
        if self.min_class_size:
            out["min_class_size"] = self.min_class_size
        if self.kind != "categorical":
            out["kind"] = self.kind
        if self.binary_cut is not None:
            out["binary_cut"] = self.binary_cut
        return out


TRAIT_KINDS = ("categorical", "ordinal", "continuous")


def _classes(entries: object, key: str) -> tuple[TraitClass, ...]:
    """``classes``/``levels`` entries (a name, or ``{name, values}``) as TraitClass tuples."""
    out = []
    for entry in entries or ():
        if isinstance(entry, Mapping):
            if "name" not in entry:
                raise ValueError(f"trait.{key}: entry {dict(entry)!r} has no name")
            values = entry["values"] if entry.get("values") is not None else [entry["name"]]
            out.append(TraitClass(name=str(entry["name"]), values=tuple(str(v) for v in values)))
        elif isinstance(entry, str | int | float) and not isinstance(entry, bool):
            out.append(TraitClass(name=str(entry), values=(str(entry),)))
        else:
            raise ValueError(
                f"trait.{key}: entry {entry!r} is neither a name nor a {{name, values}} mapping"
            )
    return tuple(out)


def _cut(levels: tuple[TraitClass, ...], classes: tuple[TraitClass, ...]) -> int | None:
    """Where two binary classes split ordered levels (levels of class 0 all come first)."""
    first = {_norm(v) for v in classes[0].values}
    in_first = [all(_norm(v) in first for v in level.values) for level in levels]
    cut = sum(in_first)
    return cut if 0 < cut < len(levels) and all(in_first[:cut]) else None


def _norm(value: object) -> str:
    """Normalise a category string for matching: strip, lower-case; NaN becomes ''."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value).strip().lower()


@dataclass
class EncodedLabels:
    """Integer class labels of the patients kept for a trait, and why others were dropped."""

    labels: pd.Series  # int64 class index, indexed by patient id
    dropped: dict[str, int]  # source value -> number of patients dropped


def _numeric(values: pd.Series, spec: TraitSpec, source: str) -> pd.Series:
    """The column's kept values as floats; raise naming examples of non-numeric ones."""
    numbers = pd.to_numeric(values.astype(str).str.strip(), errors="coerce")
    bad = values[numbers.isna() | ~np.isfinite(numbers.to_numpy(float))]
    if len(bad):
        examples = ", ".join(f"{pid}: {val!r}" for pid, val in list(bad.items())[:5])
        examples += ", ..." if len(bad) > 5 else ""
        if spec.is_continuous:
            raise ValueError(
                f"{source}: column {spec.column!r} of continuous trait {spec.name!r} has "
                f"{len(bad)} non-numeric value(s) ({examples}); add them to trait.drop, or use "
                "trait.kind=categorical for a column of categories"
            )
        raise ValueError(
            f"{source}: column {spec.column!r} of trait {spec.name!r} has a threshold "
            f"({spec.threshold!r}) but {len(bad)} non-numeric value(s) ({examples}); add them "
            "to trait.drop or drop the threshold to use the values as categories"
        )
    return numbers.astype(float)


def _split_dropped(values: pd.Series, spec: TraitSpec) -> tuple[pd.Series, dict[str, int]]:
    """(the values not in the drop list, source value -> patients dropped)."""
    dropped = values.map(_norm).isin({_norm(v) for v in spec.drop})
    counts = values[dropped].fillna("<empty>").astype(str).value_counts().to_dict()
    return values[~dropped], {str(k): int(v) for k, v in counts.items()}


def _kept(values: pd.Series, spec: TraitSpec) -> pd.Series:
    """Values that are present and not in the drop list."""
    drop = {_norm(v) for v in spec.drop}
    normed = values.map(_norm)
    return values[~normed.isin(drop)]


def _check_sizes(counts: dict[str, int], spec: TraitSpec, source: str) -> None:
    if len(counts) < 2:
        raise ValueError(
            f"{source}: column {spec.column!r} of trait {spec.name!r} has a single class "
            f"after dropping {list(spec.drop)} (counts {counts}); nothing to classify"
        )
    small = {k: n for k, n in counts.items() if n < spec.min_class_size}
    if small:
        raise ValueError(
            f"{source}: column {spec.column!r} of trait {spec.name!r} has class(es) {small} "
            f"with fewer than trait.min_class_size={spec.min_class_size} patients (counts "
            f"{counts}); drop them (trait.drop), merge classes in a trait file, or lower "
            "trait.min_class_size"
        )


def resolve_spec(values: pd.Series, spec: TraitSpec, source: str = "labels") -> TraitSpec:
    """A concrete spec for ``values`` (the trait's label column, all labelled patients).

    Resolved specs come back unchanged. With a threshold, the classes are ``low`` (< threshold)
    and ``high`` (>= threshold); ``"median"`` becomes the median of every labelled patient's
    value (the trait's definition, no outcome information). Without one, each distinct kept
    value is a class, sorted; ``positive_class`` (binary only) is moved second.
    Raises ``ValueError`` on non-numeric thresholded values, a single class, or a class
    smaller than ``min_class_size``.
    """
    if spec.is_resolved:
        return spec
    kept = _kept(values[values.notna()], spec)
    if spec.is_ordinal:
        return _ordinal_levels(kept, spec, source)
    if spec.threshold is not None:
        numbers = _numeric(kept, spec, source)
        if numbers.empty:
            raise ValueError(
                f"{source}: column {spec.column!r} of trait {spec.name!r} has no numeric value "
                "to threshold"
            )
        threshold = float(numbers.median()) if spec.threshold == "median" else float(spec.threshold)
        names = ["low", "high"]
        counts = {
            "low": int((numbers < threshold).sum()),
            "high": int((numbers >= threshold).sum()),
        }
        counts = {k: n for k, n in counts.items() if n}
        classes = [TraitClass("low", ()), TraitClass("high", ())]
    else:
        threshold = None
        by_key: dict[str, str] = {}
        for value in kept:
            by_key.setdefault(_norm(value), str(value).strip())
        names = [by_key[k] for k in sorted(by_key)]
        normed = kept.map(_norm)
        counts = {by_key[k]: int((normed == k).sum()) for k in sorted(by_key)}
        classes = [TraitClass(name, (name,)) for name in names]
    _check_sizes(counts, spec, source)
    positive = spec.positive_class
    if positive is not None:
        match = [c for c in classes if _norm(c.name) == _norm(positive)]
        if not match:
            raise ValueError(
                f"{source}: trait.positive_class={positive!r} is not a class of column "
                f"{spec.column!r} (classes: {names})"
            )
        if len(classes) != 2:
            raise ValueError(
                f"{source}: trait.positive_class={positive!r} applies to two-class traits; "
                f"column {spec.column!r} has {len(classes)} classes {names}: drop "
                "trait.positive_class or add values to trait.drop"
            )
        classes = [c for c in classes if c is not match[0]] + match
        positive = match[0].name
    return replace(spec, classes=tuple(classes), positive_class=positive, threshold=threshold)


def _ordinal_levels(kept: pd.Series, spec: TraitSpec, source: str) -> TraitSpec:
    """Levels of an ordinal column given none: its numeric values in numeric order."""
    numbers = pd.to_numeric(kept.astype(str).str.strip(), errors="coerce")
    if kept.empty or numbers.isna().any():
        text = sorted({str(v).strip() for v in kept[numbers.isna()]})[:5]
        raise ValueError(
            f"{source}: ordinal trait {spec.name!r} (column {spec.column!r}) has text values "
            f"{text} and no declared order: list the levels from lowest to highest, e.g. "
            f"trait.levels='[{','.join(text[:3])}]'"
        )
    order = sorted({float(n): str(v).strip() for v, n in zip(kept, numbers, strict=True)}.items())
    classes = tuple(TraitClass(name, (name,)) for _, name in order)
    counts = {c.name: int((numbers == n).sum()) for (n, _), c in zip(order, classes, strict=True)}
    _check_sizes(counts, spec, source)
    return replace(spec, classes=classes)


def _encode_continuous(values: pd.Series, spec: TraitSpec, source: str) -> EncodedLabels:
    """A numeric column as float targets; text or non-finite values end in one clear error."""
    kept, dropped = _split_dropped(values, spec)
    numbers = _numeric(kept, spec, source)
    distinct = int(numbers.nunique())
    if distinct < MIN_CONTINUOUS_VALUES:
        raise ValueError(
            f"{source}: column {spec.column!r} of continuous trait {spec.name!r} has "
            f"{distinct} distinct value(s) ({sorted(numbers.unique().tolist())[:5]}); a "
            f"continuous trait needs at least {MIN_CONTINUOUS_VALUES}: use trait.kind=categorical"
        )
    labels = numbers.astype(np.float64)
    labels.name = spec.name
    return EncodedLabels(labels=labels, dropped=dropped)


# fewer distinct values than this is a category column, not a measurement
MIN_CONTINUOUS_VALUES = 3


def encode_labels(values: pd.Series, spec: TraitSpec, source: str = "labels") -> EncodedLabels:
    """Map a label column (indexed by patient id) to targets; raise on unknown categories.

    Class (or level) indices for categorical and ordinal traits, floats for continuous ones.
    An unresolved spec is resolved on ``values`` first (see :func:`resolve_spec`).
    """
    if spec.is_continuous:
        return _encode_continuous(values, spec, source)
    spec = resolve_spec(values, spec, source)
    if spec.threshold is not None:
        return _encode_threshold(values, spec, source)
    lookup = {_norm(v): i for i, c in enumerate(spec.classes) for v in c.values}
    drop = {_norm(v) for v in spec.drop}
    normed = values.map(_norm)
    unknown = normed[~normed.isin(lookup.keys()) & ~normed.isin(drop)]
    if len(unknown):
        bad = values[unknown.index]
        examples = ", ".join(f"{pid}: {val!r}" for pid, val in list(bad.items())[:5])
        if spec.is_ordinal:
            raise ValueError(
                f"{source}: column {spec.column!r} has value(s) not among the declared levels of "
                f"ordinal trait {spec.name!r} ({examples}{', ...' if len(bad) > 5 else ''}); "
                f"levels in order: {spec.class_names}. Add them to trait.levels or trait.drop."
            )
        raise ValueError(
            f"{source}: column {spec.column!r} has value(s) not in the mapping of trait "
            f"{spec.name!r} ({examples}{', ...' if len(bad) > 5 else ''}). Allowed values: "
            f"{spec.allowed_values}. Add them to the trait's classes or its drop list."
        )
    kept = normed[normed.isin(lookup.keys())]
    labels = kept.map(lookup).astype(np.int64)
    labels.name = spec.name
    return EncodedLabels(labels=labels, dropped=_split_dropped(values, spec)[1])


def _encode_threshold(values: pd.Series, spec: TraitSpec, source: str) -> EncodedLabels:
    kept, dropped = _split_dropped(values, spec)
    numbers = _numeric(kept, spec, source)
    high = spec.class_names.index("high")
    labels = pd.Series(
        np.where(numbers.to_numpy() >= float(spec.threshold), high, 1 - high),
        index=numbers.index,
        dtype=np.int64,
        name=spec.name,
    )
    return EncodedLabels(labels=labels, dropped=dropped)


def permute(labels: pd.Series, seed: int) -> pd.Series:
    """Shuffle labels among patients (null control); the class counts are unchanged."""
    rng = np.random.default_rng(seed)
    return pd.Series(rng.permutation(labels.to_numpy()), index=labels.index, name=labels.name)


def class_counts(labels: Sequence[int] | np.ndarray, spec: TraitSpec) -> dict[str, int]:
    """Number of patients per class name."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=spec.n_classes)
    return {name: int(n) for name, n in zip(spec.class_names, counts, strict=True)}
