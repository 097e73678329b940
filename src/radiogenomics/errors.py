"""The user-facing error types: a bad data file or a bad option ends the run in one line.

Every layer raises them, so they sit below every layer (``data``, ``models`` and ``tasks``
subclass them: a bundle's, a training run's, a config's error).
"""

from __future__ import annotations


class DataError(ValueError):
    """A user-supplied data file is malformed; the message names the file and what is wrong."""


class ConfigError(DataError):
    """A config option has a bad value, type or shape; the message names it and the fix."""
