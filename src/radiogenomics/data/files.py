"""Whether a path can be read as a data file, checked before anything opens it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from radiogenomics.errors import DataError


def file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as a data file (``"file not found"``, ...), or None.

    Checked before a file is opened: a FIFO would block the reader and ``/dev/zero`` never ends.
    """
    try:
        mode = path.stat().st_mode
    except PermissionError:
        return "cannot read (permission denied)"
    except (OSError, ValueError):  # ValueError: a NUL in the path
        return "file not found"
    if stat.S_ISDIR(mode):
        return "is a directory; expected a file"
    if not stat.S_ISREG(mode):
        return "is not a regular file (a FIFO, device or socket); expected a data file"
    if not os.access(path, os.R_OK):
        return "cannot read (permission denied)"
    return None


def check_file(path: Path) -> Path:
    """``path`` if it is a readable regular file, else a DataError naming it and why."""
    problem = file_problem(path)
    if problem is not None:
        raise DataError(f"{path}: {problem}")
    return path
