"""The software and machine behind a number: installed packages, Python, platform, CPU, threads.

:func:`freeze_text` is a complete ``pip freeze`` equivalent (every installed distribution with its
version, from :mod:`importlib.metadata`, sorted by name) headed by ``#`` lines for Python, the
platform, torch's CPU capability (the SIMD kernels it dispatches to: AVX2 and AVX512 sum floats
in different orders), torch and BLAS threads and the CUDA device; the sweep summary writes it to
``summary/environment.txt``. :func:`job_environment` is the short record every job keeps in its
metrics.json: the same machine facts and the versions of the numerically relevant packages.
"""

from __future__ import annotations

import platform
import sys
from importlib.metadata import PackageNotFoundError, distributions, version
from typing import Any

# the packages whose versions can change a job's numbers
NUMERIC_PACKAGES = (
    "torch",
    "numpy",
    "scikit-learn",
    "xgboost",
    "pytorch-lightning",
    "pandas",
    "scipy",
)


def _normal(name: str) -> str:
    """A distribution name as pip compares them (PEP 503: case and ``-_.`` runs folded)."""
    return "-".join(name.lower().replace("_", "-").replace(".", "-").split("-"))


def installed() -> list[tuple[str, str]]:
    """(name, version) of every installed distribution, sorted by name; the first of duplicates
    (the one ``importlib.metadata.version`` and ``import`` find) wins."""
    found: dict[str, tuple[str, str]] = {}
    for dist in distributions():
        name = dist.metadata["Name"]
        if name and _normal(name) not in found:
            found[_normal(name)] = (name, dist.version)
    return [found[k] for k in sorted(found)]


def package_versions(names: tuple[str, ...] = NUMERIC_PACKAGES) -> dict[str, str | None]:
    """Version of each of ``names`` (None when not installed)."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def _blas_threads() -> list[str]:
    """``openblas 4 (libopenblas...)`` per BLAS/OpenMP library loaded now (threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [
        f"{i.get('internal_api', i.get('user_api'))} {i.get('num_threads')} "
        f"({i.get('filepath', '').rsplit('/', 1)[-1]})"
        for i in threadpool_info()
    ]


def machine() -> dict[str, Any]:
    """Python, platform, torch's CPU capability and threads, BLAS threads, CUDA device."""
    import torch

    cuda = torch.cuda.is_available()
    return {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "blas_threads": _blas_threads(),
        "cuda_device": torch.cuda.get_device_name(0) if cuda else None,
        "cuda_version": torch.version.cuda,
    }


def cpu_vendor() -> str:
    """The CPU vendor (``GenuineIntel``, ``AuthenticAMD``; Linux's /proc/cpuinfo), else the
    processor name Python reports, else the architecture."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("vendor_id"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine_kind() -> str:
    """``<CPU vendor>/<torch CPU capability>``, e.g. ``GenuineIntel/AVX512``: what picks the
    kernels that sum floats (MKL by vendor and instruction set, torch by capability), so seeded
    numbers repeat bit for bit within one kind and may move across kinds."""
    import torch

    return f"{cpu_vendor()}/{torch.backends.cpu.get_cpu_capability()}"


def job_environment() -> dict[str, Any]:
    """A job's record (metrics.json ``environment``): machine facts and the numeric packages."""
    facts = machine()
    keep = ("python", "platform", "cpu_capability", "torch_threads", "cuda_device")
    return {**{k: facts[k] for k in keep}, "packages": package_versions()}


def freeze_text(note: str = "") -> str:
    """``#`` header lines (``# key: value``) and one ``name==version`` line per distribution."""
    header = [f"# {note}"] if note else []
    for key, value in machine().items():
        text = ", ".join(value) if isinstance(value, list) else value
        header.append(f"# {key}: {'none' if text in (None, '') else text}")
    return "\n".join(header + [f"{n}=={v}" for n, v in installed()]) + "\n"


def read_freeze(text: str) -> tuple[dict[str, str], dict[str, str]]:
    """(header facts, {name: version}) of a :func:`freeze_text` file."""
    facts, packages = {}, {}
    for line in text.splitlines():
        if line.startswith("#"):
            key, sep, value = line[1:].strip().partition(": ")
            if sep:
                facts[key] = value
        elif "==" in line:
            name, _, value = line.partition("==")
            packages[name.strip()] = value.strip()
    return facts, packages
