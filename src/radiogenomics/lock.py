"""The lock file: the exact versions behind the README's numbers, and how far an install is off it.

``requirements/lock.txt`` is a pip constraints file made from ``pip freeze`` of a fresh venv
installed the README way (``pip install torch==<version>``, then ``pip install -e ".[dev]"``),
without the project's own line. ``pyproject.toml`` keeps version ranges for users; the lock is for
reproducing numbers::

    pip install torch==2.13.0
    pip install -c requirements/lock.txt -e ".[dev]"

:func:`fresh_freeze` makes such a venv (``scripts/lock.py`` writes the lock from it),
:func:`lock_text` turns a freeze into the lock, :func:`drift` compares an environment with it
(``scripts/reproduce.py`` writes the installed versions and their drift next to its results).
Standard library only: this runs before anything is installed.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

LOCK_FILE = Path("requirements") / "lock.txt"
PROJECT = "radiogenomics"
# not in a default `pip freeze` (the installer's own tools)
INSTALLER_TOOLS = frozenset({"pip", "setuptools", "wheel", "distribute"})

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)")


def canonical(name: str) -> str:
    """PEP 503 name: ``Jinja2`` and ``typing_extensions`` as pip compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def public(version: str) -> str:
    """A version without its local label: ``2.13.0+cpu`` -> ``2.13.0`` (what ``==2.13.0`` matches)."""
    return version.split("+", 1)[0]


def read_pins(text: str) -> dict[str, tuple[str, str]]:
    """``name==version`` lines of a freeze or lock: canonical name -> (name as written, version).

    Comments, blank lines, options, editable (``-e``) and direct-URL (``name @ url``) lines are
    skipped: the project itself is one of those.
    """
    pins = {}
    for line in text.splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins[canonical(match.group(1))] = (match.group(1), match.group(2))
    return pins


def lock_text(freeze: str, torch: str, python: str | None = None) -> str:
    """The lock file for a ``pip freeze`` of a fresh README-way venv.

    The project's own line is dropped; torch is pinned to its public version (``torch==2.13.0``
    also matches the ``+cpu`` and ``+cu126`` builds), so that a CUDA user installs the same
    version for their platform first.
    """
    python = python or platform.python_version()
    minor = ".".join(python.split(".")[:2])
    pins = {k: v for k, v in read_pins(freeze).items() if k != PROJECT}
    lines = [
        "# Exact versions behind the README's numbers (a pip constraints file; pyproject.toml keeps",
        "# the ranges users install from). Install, from the repository root:",
        f"#     pip install torch=={torch}",
        f'#     pip install -c {LOCK_FILE.as_posix()} -e ".[dev]"',
        f"# Made for CPython {minor} on {platform.system()} {platform.machine()} (here Python {python}).",
        "# The project allows Python >= 3.10, but many pins (numpy, scipy, scikit-learn, ...) need",
        "# >= 3.11: on another Python install without -c and compare (python scripts/lock.py --check).",
        "# A package only some platforms need is pinned if this one needs it (nvidia-nccl-cu12, for",
        "# xgboost on Linux) and ignored where nothing requires it; one only other platforms need",
        "# (colorama on Windows) is not pinned.",
        "# Regenerate: python scripts/lock.py (a fresh venv installed the README way without this",
        "# file, then its pip freeze without the project's line).",
    ]
    for key in sorted(pins):
        name, version = pins[key]
        if key == "torch":
            lines += [
                f"# torch: the CPU wheel here ({version}); a CUDA user installs torch=={public(version)}",
                "# for their platform first (https://pytorch.org), which this pin then accepts.",
                f"torch=={public(version)}",
            ]
        else:
            lines.append(f"{name}=={version}")
    return "\n".join(lines) + "\n"


def installed() -> dict[str, tuple[str, str]]:
    """The distributions of this environment, as :func:`read_pins` reads a freeze."""
    found = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(canonical(name), (name, dist.version))
    return found


def drift(lock: dict[str, tuple[str, str]], have: dict[str, tuple[str, str]]) -> list[str]:
    """Differences of an environment from the lock, one line each (empty: it matches).

    A locked package at another version or missing, or a package the lock does not hold (the
    project and the installer's own tools aside). Local labels are ignored for locked versions
    without one (torch ``2.13.0+cpu`` matches ``torch==2.13.0``).
    """
    lines = []
    for key, (name, want) in sorted(lock.items()):
        if key not in have:
            lines.append(f"{name}: locked {want}, not installed")
            continue
        got = have[key][1]
        if got != want and not ("+" not in want and public(got) == want):
            lines.append(f"{name}: locked {want}, installed {got}")
    for key, (name, got) in sorted(have.items()):
        if key not in lock and key != PROJECT and key not in INSTALLER_TOOLS:
            lines.append(f"{name}: installed {got}, not in the lock")
    return lines


def environment_text(have: dict[str, tuple[str, str]] | None = None) -> str:
    """Python, platform and every installed distribution (``name==version``), sorted."""
    have = installed() if have is None else have
    lines = [
        f"# python {platform.python_version()} ({sys.executable})",
        f"# platform {platform.platform()}",
    ]
    lines += [f"{name}=={version}" for _, (name, version) in sorted(have.items())]
    return "\n".join(lines) + "\n"


def fresh_freeze(root: Path, torch: str, python: str = sys.executable) -> str:
    """``pip freeze`` of a new venv installed the README way (torch first, then the project).

    The venv lives in a temporary directory, removed afterwards. Takes minutes: it downloads or
    copies every wheel.
    """
    with tempfile.TemporaryDirectory(prefix="rg-lock-") as tmp:
        venv = Path(tmp) / "venv"
        # nothing of this environment may leak in (PYTHONPATH=src would show the project early)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        subprocess.run([python, "-m", "venv", str(venv)], check=True, env=env)
        pip = [str(venv / "bin" / "python"), "-m", "pip"]
        for args in (["--upgrade", "pip"], [f"torch=={torch}"], ["-e", f"{root}[dev]"]):
            subprocess.run([*pip, "install", "--quiet", *args], check=True, env=env)
        freeze = subprocess.run(
            [*pip, "freeze"], check=True, capture_output=True, text=True, env=env
        )
        return freeze.stdout
