"""Read an offline W&B run back (what ``wandb sync`` would upload): run info, config, summary.

wandb 0.31 writes offline runs with its Go core and ships no Python reader, so this decodes the
``run-<id>.wandb`` file itself: a 7-byte header (``:W&B``, magic, version), then LevelDB-log
records (32 KiB blocks; each chunk has a 7-byte header: CRC, length, type) holding
``wandb_internal_pb2.Record`` protobufs.
"""

from __future__ import annotations

import json
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FILE_HEADER = 7
BLOCK_SIZE = 32 * 1024
CHUNK_HEADER = struct.Struct("<IHB")  # crc32c, payload length, chunk type
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
POLL_S = 0.1  # seconds between reads while waiting for a run's exit record


@dataclass
class OfflineRun:
    """The parts of an offline run that a dashboard shows."""

    run_id: str = ""
    name: str = ""
    group: str = ""
    job_type: str = ""
    config: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    exit_code: int | None = None


def record_payloads(data: bytes) -> list[bytes]:
    """Reassembled record payloads of a ``.wandb`` file's bytes."""
    payloads, pending, pos = [], b"", FILE_HEADER
    while pos + CHUNK_HEADER.size <= len(data):
        left = BLOCK_SIZE - pos % BLOCK_SIZE
        if left < CHUNK_HEADER.size:  # block trailer padding
            pos += left
            continue
        _, length, kind = CHUNK_HEADER.unpack_from(data, pos)
        pos += CHUNK_HEADER.size
        chunk, pos = data[pos : pos + length], pos + length
        if kind == FULL:
            payloads.append(chunk)
        elif kind == FIRST:
            pending = chunk
        elif kind == MIDDLE:
            pending += chunk
        elif kind == LAST:
            payloads.append(pending + chunk)
    return payloads


def _items(updates: Any) -> dict:
    """Summary or history items (``key`` or ``nested_key``) as {"a/b": value}."""
    out = {}
    for item in updates:
        key = item.key or "/".join(item.nested_key)
        out[key] = json.loads(item.value_json)
    return out


def read_run(run_dir: str | Path, wait_s: float = 0.0) -> OfflineRun:
    """Decode the offline run in ``run_dir`` (``.../wandb/offline-run-*``).

    wandb's core process writes the file after ``wandb.finish`` returns: ``wait_s`` > 0 polls
    for up to that long until the run's exit record is there.
    """
    deadline = time.monotonic() + wait_s
    while True:
        run = _decode(Path(run_dir))
        if run.exit_code is not None or time.monotonic() >= deadline:
            return run
        time.sleep(POLL_S)


def _decode(run_dir: Path) -> OfflineRun:
    """The records of ``run_dir``'s ``run-*.wandb`` file so far (empty if it is not there yet)."""
    from wandb.proto import wandb_internal_pb2 as pb

    run = OfflineRun()
    paths = list(run_dir.glob("run-*.wandb"))
    if not paths:
        return run
    (path,) = paths
    for payload in record_payloads(path.read_bytes()):
        record = pb.Record()
        record.ParseFromString(payload)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            r = record.run
            run.run_id, run.name, run.group, run.job_type = (
                r.run_id,
                r.display_name,
                r.run_group,
                r.job_type,
            )
            run.config.update(_items(r.config.update))
        elif kind == "config":
            run.config.update(_items(record.config.update))
        elif kind == "summary":
            run.summary.update(_items(record.summary.update))
        elif kind == "history":
            run.history.append(_items(record.history.item))
        elif kind == "files":
            run.files += [f.path for f in record.files.files]
        elif kind == "exit":
            run.exit_code = record.exit.exit_code
    return run


def offline_runs(root: str | Path) -> list[Path]:
    """Every offline run dir under ``root``."""
    return sorted(p for p in Path(root).rglob("offline-run-*") if p.is_dir())
