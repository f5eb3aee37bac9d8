"""The one error tree of loopwatch.

Every error loopwatch raises on purpose derives from :class:`LoopwatchError`, and
each also derives from the builtin that a caller would naturally catch::

    LoopwatchError(Exception)
    ├── SpecError(ValueError)            the spec file is missing, malformed or invalid
    ├── InputError(ValueError)           data handed to loopwatch cannot be read as a whole
    │                                    (a file that is not CSV/Parquet/JSON Lines, a table
    │                                    without a required column); single bad rows are never
    │                                    errors: they go to quarantine with a reason
    ├── StoreError(OSError)              the store cannot be read or written
    └── LoggerClosedError(RuntimeError)  a decision was logged after ``close()``

Messages say what was received and what was expected, and name where: a key
path in the spec, a file and line, a column.
"""

from __future__ import annotations

__all__ = [
    "InputError",
    "LoggerClosedError",
    "LoopwatchError",
    "SpecError",
    "StoreError",
]


class LoopwatchError(Exception):
    """Base of every error loopwatch raises on purpose."""


class SpecError(LoopwatchError, ValueError):
    """The spec (``loopwatch.yaml``) is missing, malformed or invalid."""


class InputError(LoopwatchError, ValueError):
    """Input data cannot be read as a whole (bad format, required column missing)."""


class StoreError(LoopwatchError, OSError):
    """The store cannot be read or written."""


class LoggerClosedError(LoopwatchError, RuntimeError):
    """A decision was logged after the logger was closed; open a new ``DecisionLogger``."""
