"""Running the project's commands from tests."""

from __future__ import annotations

import subprocess

from ..conftest import ROOT


def run_ok(cmd: list[str], env: dict, timeout: int = 1800) -> subprocess.CompletedProcess:
    """Run ``cmd`` in the repository root; fail the test with its stderr tail unless it exits 0."""
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc
