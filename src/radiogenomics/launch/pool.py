"""Run each task in a fresh process, a bounded number at a time; a crash stays with its task.

A fresh process per job matters for GPUs: CUDA reads CUDA_VISIBLE_DEVICES once, when it
starts, so a reused worker could not move to another device. With the ``forkserver`` start
method each job is forked from a server that imported the heavy modules (torch) once, so a
fresh process starts in well under a second; importing torch does not start CUDA. Tasks
travel by cloudpickle (Hydra's task function lives in ``__main__``).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

import cloudpickle

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """How task ``index`` ended: ``value`` if it returned, else ``error`` (and the exit code)."""

    index: int
    value: Any = None
    error: str | None = None
    exitcode: int | None = None

    @property
    def ok(self) -> bool:
        """True when the task returned a value."""
        return self.error is None


def _child(payload: bytes, conn: Connection) -> None:
    """Worker process body: run the task and send (ok, value or error text) back."""
    try:
        message = (True, cloudpickle.loads(payload)())
    except Exception:
        message = (False, traceback.format_exc())
    try:
        data = cloudpickle.dumps(message)
    except Exception as err:
        data = cloudpickle.dumps((False, f"task result could not be pickled: {err!r}"))
    conn.send_bytes(data)
    conn.close()


def _collect(index: int, proc: Any, conn: Connection) -> Outcome:
    """Read a finished (or dead) worker's message and reap the process."""
    message = None
    try:
        if conn.poll():
            message = cloudpickle.loads(conn.recv_bytes())
    except (EOFError, OSError):
        message = None
    conn.close()
    proc.join()
    if message is None:
        return Outcome(
            index, error=f"worker died (exit code {proc.exitcode})", exitcode=proc.exitcode
        )
    ok, value = message
    if ok:
        return Outcome(index, value=value, exitcode=proc.exitcode)
    return Outcome(index, error=value, exitcode=proc.exitcode)


def run_isolated(
    tasks: Sequence[Callable[[], Any]],
    n_workers: int,
    on_outcome: Callable[[Outcome], None] | None = None,
    start_method: str = "spawn",
    preload: Sequence[str] = (),
    stop: Callable[[], bool] | None = None,
) -> list[Outcome]:
    """Run every task in its own process, at most ``n_workers`` at once; outcomes in task order.

    ``preload``: modules the forkserver imports once (``start_method="forkserver"`` only).
    ``stop``: once it returns True no task starts, and a ``KeyboardInterrupt`` (the launcher's
    signal handler) ends the wait: running workers are terminated (their tasks' outcomes say so)
    and the outcomes so far returned (tasks never started have none). Without ``stop`` an
    interrupt propagates as before.
    """
    if n_workers < 1:
        raise ValueError(f"n_workers must be >= 1, got {n_workers}")
    ctx = mp.get_context(start_method)
    if start_method == "forkserver" and preload:
        ctx.set_forkserver_preload(list(preload))
    pending = deque(enumerate(tasks))
    running: dict[int, tuple[Any, Connection]] = {}
    outcomes: dict[int, Outcome] = {}
    stopped = False
    try:
        try:
            while pending or running:
                while pending and len(running) < n_workers and not (stop is not None and stop()):
                    index, task = pending.popleft()
                    receiver, sender = ctx.Pipe(duplex=False)
                    proc = ctx.Process(target=_child, args=(cloudpickle.dumps(task), sender))
                    proc.start()
                    sender.close()
                    running[index] = (proc, receiver)
                if not running:  # stopped before another task started
                    break
                handles = [c for _, c in running.values()] + [
                    p.sentinel for p, _ in running.values()
                ]
                ready = set(wait(handles))
                for index, (proc, conn) in list(running.items()):
                    if conn in ready or proc.sentinel in ready:
                        del running[index]
                        outcomes[index] = _collect(index, proc, conn)
                        if on_outcome is not None:
                            on_outcome(outcomes[index])
        except KeyboardInterrupt:
            if stop is None or not stop():
                raise
            stopped = True
    finally:
        for index, (proc, conn) in running.items():  # interrupted: do not leave workers behind
            proc.terminate()
            proc.join()
            conn.close()
            if stopped:  # its job was abandoned: an outcome, so that it counts as failed
                outcomes[index] = Outcome(
                    index, error="stopped by a signal (worker terminated)", exitcode=proc.exitcode
                )
    return [outcomes[i] for i in sorted(outcomes)]
