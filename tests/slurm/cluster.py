"""Find a SLURM cluster to test against, or start the one-node cluster of start_local_slurm.sh.

``find_or_start()`` returns a ``Cluster`` (whose ``env`` the test commands run with) or raises
``Unavailable`` with the reason the ``slurm`` tests skip. Order:

1. a cluster the environment already points at (``SLURM_CONF``, else /etc/slurm/slurm.conf, else
   the script's ``$RG_SLURM_DIR/slurm.conf``) with an idle node: used, left running;
2. else, as root with slurmctld, slurmd and munged installed: ``start_local_slurm.sh start``.

Test sessions may share the local cluster (several pytest runs on one machine): each holds
``$RG_SLURM_DIR/users.lock`` shared while it runs, and ``Cluster.close()`` stops the cluster only
if a test session started it (``started-by-pytest``) and no other session holds the lock. A
cluster started by hand or by CI (``start_local_slurm.sh start``) is left running.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

SCRIPT = Path(__file__).with_name("start_local_slurm.sh")
STATE_DIR = Path(os.environ.get("RG_SLURM_DIR", "/var/tmp/radiogenomics-slurm"))
CLIENTS = ("sbatch", "sinfo", "squeue", "scancel", "srun")
DAEMONS = ("slurmctld", "slurmd", "munged")
READY = ("idle", "mix")  # a node that can start a job now
INSTALL = "apt-get install -y slurmctld slurmd slurm-client munge"
USERS_LOCK = STATE_DIR / "users.lock"  # held shared by every test session using the cluster
STARTED_BY_TESTS = STATE_DIR / "started-by-pytest"  # a test session started it: one may stop it


class Unavailable(Exception):
    """No SLURM cluster to test against (the message is the skip reason)."""


@dataclass
class Cluster:
    """A reachable cluster: its client environment and partition; holds USERS_LOCK while used."""

    env: dict[str, str]
    partition: str
    accounting: bool
    lock_fd: int | None = field(default=None, repr=False)

    def run(self, *cmd: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """A SLURM client command against this cluster."""
        return subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=timeout)

    def close(self) -> None:
        """Leave the cluster; stop it if a test session started it and no other one uses it."""
        fd, self.lock_fd = self.lock_fd, None
        if fd is None:
            return
        try:
            if STARTED_BY_TESTS.exists():
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the last session out
                except BlockingIOError:
                    return  # another session still runs tests on it
                env = {**self.env, "RG_SLURM_FORCE_STOP": "1"}
                subprocess.run([str(SCRIPT), "stop"], env=env, capture_output=True, timeout=120)
                STARTED_BY_TESTS.unlink(missing_ok=True)
        finally:
            os.close(fd)


def client_env(conf: Path | None) -> dict[str, str]:
    """os.environ with SLURM_CONF pointing at ``conf`` (None: as it is)."""
    env = dict(os.environ)
    if conf is not None:
        env["SLURM_CONF"] = str(conf)
    return env


def candidate_confs() -> list[Path | None]:
    """Where a running cluster's config may be (None: the clients' own default)."""
    if os.environ.get("SLURM_CONF"):
        return [None]
    confs: list[Path | None] = []
    if Path("/etc/slurm/slurm.conf").exists():
        confs.append(None)
    if (STATE_DIR / "slurm.conf").exists() and (STATE_DIR / "pids" / "slurmctld.pid").exists():
        confs.append(STATE_DIR / "slurm.conf")  # the script's cluster, if not stopped
    return confs


def ready_partition(env: dict[str, str]) -> str | None:
    """The partition to use (RG_SLURM_PARTITION, else the default one) if a node is ready."""
    try:
        proc = subprocess.run(
            ["sinfo", "--noheader", "--format=%P %t"],
            env=env,
            capture_output=True,
            text=True,
            timeout=15,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    wanted = os.environ.get("RG_SLURM_PARTITION")
    for line in proc.stdout.splitlines():
        name, _, state = line.strip().partition(" ")
        default = name.endswith("*")
        name = name.rstrip("*")
        if state.rstrip("*~#!%$@^-") in READY and (name == wanted or (not wanted and default)):
            return name
    return None


def accounting_on(env: dict[str, str]) -> bool:
    """Whether the cluster stores accounting (sacct answers)."""
    proc = subprocess.run(
        ["scontrol", "show", "config"], env=env, capture_output=True, text=True, timeout=15
    )
    for line in proc.stdout.splitlines():
        if line.startswith("AccountingStorageType"):
            return "accounting_storage/none" not in line
    return True


def hold_users_lock() -> int | None:
    """Hold USERS_LOCK shared (waits while a session stops the cluster); None if impossible."""
    try:
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        fd = os.open(USERS_LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        return None
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def find_or_start() -> Cluster:
    """A cluster with a ready node, starting the local one if needed (see module docstring)."""
    missing = [c for c in CLIENTS if shutil.which(c) is None]
    if missing:
        raise Unavailable(f"SLURM not installed (no {', '.join(missing)} on PATH): {INSTALL}")
    fd = hold_users_lock()
    try:
        return _find_or_start(fd)
    except BaseException:
        if fd is not None:
            os.close(fd)
        raise


def _find_or_start(fd: int | None) -> Cluster:
    for conf in candidate_confs():
        env = client_env(conf)
        partition = ready_partition(env)
        if partition:
            return Cluster(env, partition, accounting_on(env), lock_fd=fd)
    sbin = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    absent = [d for d in DAEMONS if shutil.which(d, path=sbin) is None]
    if absent or os.geteuid() != 0:
        why = f"{', '.join(absent)} not installed" if absent else "not root"
        raise Unavailable(
            f"no SLURM node idle (sinfo) and cannot start the local cluster ({why}); "
            f"start one with {SCRIPT.relative_to(SCRIPT.parents[2])} start"
        )
    env = client_env(STATE_DIR / "slurm.conf")
    proc = subprocess.run(
        [str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=180
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-20:])
        raise Unavailable(f"start_local_slurm.sh start failed:\n{tail}")
    if "already running" not in proc.stderr:  # started now (else: by a concurrent session)
        STARTED_BY_TESTS.write_text(f"{os.getpid()}\n")
    partition = ready_partition(env)
    if partition is None:
        raise Unavailable("start_local_slurm.sh started the daemons but sinfo shows no idle node")
    return Cluster(env, partition, accounting_on(env), lock_fd=fd)
