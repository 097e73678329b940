"""Trait specifications: which label column to read and how its categories map to classes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class TraitClass:
    """One output class and the source category strings that map to it."""

    name: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class TraitSpec:
    """How to turn one label column into integer classes (0..K-1)."""

    name: str
    column: str
    classes: tuple[TraitClass, ...]
    drop: tuple[str, ...] = ("n/a", "indeterminate", "")
    positive_class: str | None = None
    permute_labels: bool = False
    permute_seed: int = 0
    extra: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if len(self.classes) < 2:
            raise ValueError(
                f"trait {self.name!r}: needs at least two classes, got {len(self.classes)}"
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
    def class_names(self) -> list[str]:
        """Class names in output-index order."""
        return [c.name for c in self.classes]

    @property
    def n_classes(self) -> int:
        """Number of output classes."""
        return len(self.classes)

    @property
    def is_binary(self) -> bool:
        """True for two-class traits (one sigmoid output)."""
        return self.n_classes == 2

    @property
    def allowed_values(self) -> list[str]:
        """Every source category the mapping accepts, dropped ones included."""
        return [v for c in self.classes for v in c.values] + list(self.drop)

    @classmethod
    def from_config(cls, cfg: Mapping) -> TraitSpec:
        """Build from a ``configs/trait/*.yaml`` mapping."""
        classes = tuple(
            TraitClass(name=str(c["name"]), values=tuple(str(v) for v in c["values"]))
            for c in cfg["classes"]
        )
        return cls(
            name=str(cfg["name"]),
            column=str(cfg["column"]),
            classes=classes,
            drop=tuple(str(v) for v in cfg.get("drop", ())),
            positive_class=cfg.get("positive_class"),
            permute_labels=bool(cfg.get("permute_labels", False)),
            permute_seed=int(cfg.get("permute_seed", 0)),
        )


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


def encode_labels(values: pd.Series, spec: TraitSpec, source: str = "labels") -> EncodedLabels:
    """Map a label column (indexed by patient id) to class indices; raise on unknown categories."""
    lookup = {_norm(v): i for i, c in enumerate(spec.classes) for v in c.values}
    drop = {_norm(v) for v in spec.drop}
    normed = values.map(_norm)
    unknown = normed[~normed.isin(lookup.keys()) & ~normed.isin(drop)]
    if len(unknown):
        bad = values[unknown.index]
        examples = ", ".join(f"{pid}: {val!r}" for pid, val in list(bad.items())[:5])
        raise ValueError(
            f"{source}: column {spec.column!r} has value(s) not in the mapping of trait "
            f"{spec.name!r} ({examples}{', ...' if len(bad) > 5 else ''}). Allowed values: "
            f"{spec.allowed_values}. Add them to the trait's classes or its drop list."
        )
    kept = normed[normed.isin(lookup.keys())]
    dropped = values[normed.isin(drop)].fillna("<empty>").astype(str).value_counts().to_dict()
    labels = kept.map(lookup).astype(np.int64)
    labels.name = spec.name
    return EncodedLabels(labels=labels, dropped={str(k): int(v) for k, v in dropped.items()})


def permute(labels: pd.Series, seed: int) -> pd.Series:
    """Shuffle labels among patients (null control); the class counts are unchanged."""
    rng = np.random.default_rng(seed)
    return pd.Series(rng.permutation(labels.to_numpy()), index=labels.index, name=labels.name)


def class_counts(labels: Sequence[int] | np.ndarray, spec: TraitSpec) -> dict[str, int]:
    """Number of patients per class name."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=spec.n_classes)
    return {name: int(n) for name, n in zip(spec.class_names, counts, strict=True)}
