"""A search space as a config mapping, sampled into Hydra overrides by an Optuna trial.

Each entry maps an override key to ``{type, ...}``:

* ``{type: float, low, high, log: false}`` and ``{type: int, low, high, log: false}``;
* ``{type: categorical, choices: [...]}`` (strings, numbers, booleans or null; a list value such
  as a layer-size list is written as a string, ``"[256,128,64]"``, and passed to Hydra as is);
* optional ``when: {other_key: [allowed values]}``: sample this key only when every listed key
  (searched earlier in the mapping, or fixed by the job's overrides) has an allowed value;
  otherwise the key is not overridden (its config default applies).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

TYPES = ("float", "int", "categorical")


class SearchSpaceError(ValueError):
    """A search-space entry that cannot be sampled; the message names the key and the fix."""


def override_key(line: str) -> str:
    """``+model.x=3`` -> ``model.x``."""
    return line.split("=", 1)[0].lstrip("+~")


def check_space(space: Mapping[str, Mapping[str, Any]]) -> None:
    """Raise :class:`SearchSpaceError` on an entry with a bad type, bounds, choices or condition."""
    seen: list[str] = []
    for key, spec in space.items():
        kind = spec.get("type") if isinstance(spec, Mapping) else None
        if kind not in TYPES:
            raise SearchSpaceError(f"search space {key}: type={kind!r}, expected one of {TYPES}")
        if kind == "categorical":
            choices = spec.get("choices")
            if not isinstance(choices, Sequence) or isinstance(choices, str) or not choices:
                raise SearchSpaceError(f"search space {key}: expected a non-empty list of choices")
        else:
            low, high = spec.get("low"), spec.get("high")
            if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)):
                raise SearchSpaceError(f"search space {key}: expected numbers low and high")
            if low > high or (spec.get("log", False) and low <= 0):
                raise SearchSpaceError(
                    f"search space {key}: expected low <= high (and low > 0 with log: true), "
                    f"got low={low}, high={high}"
                )
        for other in spec.get("when") or {}:
            if other not in seen and other not in ("",):
                raise SearchSpaceError(
                    f"search space {key}: its condition names {other!r}, which must be an "
                    "earlier key of the search space"
                )
        seen.append(key)


def _format(value: Any) -> str:
    """A sampled value as a Hydra override value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _allowed(spec: Mapping[str, Any], values: Mapping[str, Any]) -> bool:
    for other, allowed in (spec.get("when") or {}).items():
        if str(values.get(other)) not in {str(a) for a in allowed}:
            return False
    return True


def sample(trial: Any, space: Mapping[str, Mapping[str, Any]], fixed: Sequence[str] = ()) -> dict:
    """Ask ``trial`` for every key of ``space`` not fixed by ``fixed`` overrides: {key: value}."""
    fixed_values = {override_key(o): o.split("=", 1)[1] for o in fixed if "=" in o}
    values: dict[str, Any] = dict(fixed_values)
    sampled: dict[str, Any] = {}
    for key, spec in space.items():
        if key in fixed_values or not _allowed(spec, values):
            continue
        kind = spec["type"]
        if kind == "float":
            value = trial.suggest_float(key, spec["low"], spec["high"], log=spec.get("log", False))
        elif kind == "int":
            value = trial.suggest_int(key, spec["low"], spec["high"], log=spec.get("log", False))
        else:
            value = trial.suggest_categorical(key, list(spec["choices"]))
        values[key] = sampled[key] = value
    return sampled


def as_overrides(sampled: Mapping[str, Any]) -> list[str]:
    """``{key: value}`` -> ``["key=value", ...]`` in the search space's order."""
    return [f"{key}={_format(value)}" for key, value in sampled.items()]
