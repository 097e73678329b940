"""The ``slurm`` marker and a session-wide SLURM cluster for tests/launch/test_slurm.py."""

from __future__ import annotations

import os

import pytest

from ..slurm.cluster import Cluster, Unavailable, find_or_start


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "slurm: needs a SLURM cluster (tests/slurm/start_local_slurm.sh); skipped "
        "when none is reachable",
    )


@pytest.fixture(scope="session")
def slurm_cluster() -> Cluster:
    """A SLURM cluster with an idle node; started here (and stopped at the end) if needed.

    Skips when SLURM is not installed or cannot be started; RG_SLURM_REQUIRED=1 (CI, after
    installing it) turns that skip into a failure.
    """
    try:
        cluster = find_or_start()
    except Unavailable as why:
        if os.environ.get("RG_SLURM_REQUIRED") == "1":
            pytest.fail(f"RG_SLURM_REQUIRED=1 but {why}")
        pytest.skip(str(why))
    yield cluster
    cluster.close()
