"""An interpreter's options and callback with its configs/interpret/<name>.yaml defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from radiogenomics.callbacks.interpretation import InterpretationCallback
from radiogenomics.interpreters import get

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "interpret"


def settings_of(name: str, **overrides: Any) -> dict:
    """The YAML's settings of interpreter ``name`` with ``overrides``."""
    return {**OmegaConf.to_container(OmegaConf.load(CONFIGS / f"{name}.yaml")), **overrides}


def options_of(name: str, **overrides: Any) -> Any:
    """The options of interpreter ``name``: its YAML defaults with ``overrides``."""
    return get(name).options_from(settings_of(name, **overrides))


def callback_of(
    name: str, fold: int | None = None, out_dir: str | Path = ".", **overrides: Any
) -> InterpretationCallback:
    """The Lightning callback of interpreter ``name``: its YAML defaults with ``overrides``."""
    return InterpretationCallback.of(name, settings_of(name, **overrides), fold, out_dir)
