"""requirements/lock.txt and radiogenomics.lock: the lock's pins, and an environment's drift."""

from __future__ import annotations

from radiogenomics.lock import drift, lock_text, read_pins

from .conftest import ROOT


def test_lock_pins_torch_without_its_local_label_and_drift_names_every_difference():
    freeze = "torch==2.13.0+cpu\nNumPy==2.4.6\n-e /src/radiogenomics\nradiogenomics @ file:///x\n"
    lock = read_pins(lock_text(freeze, "2.13.0"))
    assert lock == {"torch": ("torch", "2.13.0"), "numpy": ("NumPy", "2.4.6")}
    have = {"torch": ("torch", "2.13.0+cpu"), "numpy": ("numpy", "2.4.5"), "pip": ("pip", "26")}
    have["extra-pkg"] = ("extra_pkg", "1.0")
    assert drift(lock, have) == [
        "NumPy: locked 2.4.6, installed 2.4.5",
        "extra_pkg: installed 1.0, not in the lock",
    ]


def test_the_lock_file_is_what_scripts_lock_writes():
    """requirements/lock.txt is the lock of its own pins (regenerated, not edited by hand)."""
    lock = (ROOT / "requirements" / "lock.txt").read_text()
    freeze = "\n".join(f"{n}=={v}" for n, v in read_pins(lock).values())
    pins = [line for line in lock_text(freeze, "2.13.0").splitlines() if not line.startswith("#")]
    assert pins == [line for line in lock.splitlines() if not line.startswith("#")]
    assert "# torch: the CPU wheel here" in lock and "torch==2.13.0\n" in lock
