"""Small shared helpers: atomic file writes and stable hashing."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

# OS errors a write can hit that the user fixes (disk, permissions, paths), phrased for a person
WRITE_ERRORS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large for this file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ENOTDIR: "a parent directory is a file",
    errno.EISDIR: "a directory of that name is in the way",
    errno.EEXIST: "a file is in the way of a directory",
}
# what torch.save (and other C++ writers) raise when the disk fills up mid-write
SHORT_WRITE = re.compile(r"unexpected pos|failed writing|file write failed", re.IGNORECASE)


class OutputError(OSError):
    """A file could not be written or a directory made: the message names the path and why.

    An ``OSError`` (with the original ``errno``), so code that handles OS errors still does;
    ``radiogenomics.tasks.run`` reports it in one line and exits with status 2.
    """

    def __init__(self, path: str | Path, reason: str, code: int | None = None) -> None:
        super().__init__(code, reason, str(path))
        self.path, self.reason = Path(path), reason

    def __str__(self) -> str:
        return f"cannot write {self.path}: {self.reason}"


def describe_os_error(err: BaseException) -> str | None:
    """A one-line reason for a disk-full, permission or path error; None for any other error."""
    if isinstance(err, OSError) and err.errno in WRITE_ERRORS:
        return WRITE_ERRORS[err.errno]
    return None


def _short_write_reason(directory: Path) -> str:
    """Why a writer stopped short: the disk (or quota) filled up; with the space left."""
    try:
        free = f" ({shutil.disk_usage(directory).free:,} bytes free on its file system)"
    except OSError:
        free = ""
    return f"the write stopped short: no space left on device or disk quota exceeded{free}"


def os_error_line(err: OSError) -> str | None:
    """One line for the user on a disk-full, permission or path error; None for any other."""
    if isinstance(err, OutputError):
        return f"output error: {err}"
    reason = describe_os_error(err)
    if reason is None:
        return None
    where = f"{err.filename}: " if err.filename else ""
    return f"file system error: {where}{reason}"


def _file_on_the_way(path: Path) -> Path | None:
    """The first parent of ``path`` that exists but is not a directory, if any."""
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            return parent
    return None


def output_error(path: Path, err: BaseException) -> OutputError | None:
    """``err`` as an :class:`OutputError` naming ``path`` when it is a disk, permission or path
    problem (an ``OSError`` errno of ``WRITE_ERRORS``, or a short write), else None."""
    if isinstance(err, OutputError):
        return err
    reason = describe_os_error(err)
    if reason is not None:
        blocking = _file_on_the_way(path) if err.errno in (errno.ENOTDIR, errno.EEXIST) else None
        if blocking is not None:
            reason = f"{blocking} is a file, not a directory"
        return OutputError(path, reason, err.errno)
    if isinstance(err, RuntimeError) and SHORT_WRITE.search(str(err)):
        return OutputError(path, _short_write_reason(path.parent), errno.ENOSPC)
    return None


def current_umask() -> int:
    """The process's umask, read without changing it where the OS allows (Linux)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore
    os.umask(mask)
    return mask


def _follow_umask(path: str) -> None:
    """Give a temp file the mode ``open`` would have (best effort: some file systems refuse)."""
    try:
        os.chmod(path, 0o666 & ~current_umask())
    except OSError:
        pass


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` then rename the temp file onto ``path`` (readers never see half a file).

    The file gets the permissions a plain ``open`` would give it (``0o666`` minus the umask), not
    the temp file's private ``0o600``, so collaborators can read a shared sweep. A full disk, a
    permission problem or a file in the way raises :class:`OutputError` naming the path.
    """
    path = Path(path)
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        write(Path(tmp))
        _follow_umask(tmp)
        os.replace(tmp, path)
    except BaseException as err:
        if tmp is not None:
            try:
                Path(tmp).unlink(missing_ok=True)
            except OSError:
                pass
        clear = output_error(path, err) if isinstance(err, Exception) else None
        if clear is None:
            raise
        raise clear from err
    return path


def write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    return atomic_write(path, lambda p: p.write_text(json.dumps(obj, indent=2, default=_jsonable)))


def write_csv(path: str | Path, df: pd.DataFrame, index: bool = False) -> Path:
    """Write a DataFrame as CSV, atomically."""
    return atomic_write(path, lambda p: df.to_csv(p, index=index))


def write_parquet(path: str | Path, df: pd.DataFrame) -> Path:
    """Write a DataFrame as Parquet, atomically."""
    return atomic_write(path, lambda p: df.to_parquet(p))


def stable_hash(obj: Any, length: int = 12) -> str:
    """Hash any JSON-serialisable object (key order independent) to a short hex string."""
    text = json.dumps(obj, sort_keys=True, default=_jsonable)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def file_digest(path: str | Path, length: int = 16) -> str:
    """SHA-256 of a file's bytes, truncated; identifies data independently of its path."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:length]


def error_line(err: BaseException, limit: int | None = 200) -> str:
    """An exception's first non-empty line (at most ``limit`` characters), else its type name."""
    text = str(err).strip()
    return text.splitlines()[0][:limit] if text else type(err).__name__


def to_plain(obj: Any) -> Any:
    """Plain JSON types (numpy scalars and arrays, tuples, paths become numbers and lists)."""
    return json.loads(json.dumps(obj, default=_jsonable))


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
