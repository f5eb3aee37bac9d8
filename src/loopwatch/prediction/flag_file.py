"""Flags in a local JSON file: the :class:`~loopwatch.core.flags.FlagReader` until the control plane.

The file holds ``{"flags": [<mitigation>, ...]}``. Writers replace it atomically
(temporary file, fsync, rename, under an exclusive lock), so a reader sees the old
or the new file, never a partial one. Readers look at the file's identity (inode,
size, modification time) at most once every ``ttl`` seconds and parse it again only
when it changed: a serving process sees a change within ``ttl`` without a restart,
and reading flags costs a dictionary lookup on every other decision.

A file that cannot be read or parsed keeps the last good snapshot in force (a broken
control plane must not change what the model does); :attr:`FileFlags.last_error`
says why, and :meth:`FileFlags.errors` counts it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loopwatch.core.flags import FlagSet, Mitigation, parse_mitigations
from loopwatch.errors import InputError, StoreError

__all__ = ["FileFlags"]

_log = logging.getLogger(__name__)


class FileFlags:
    """Read (and write) mitigations kept in a JSON file.

    Parameters
    ----------
    path
        The flags file; a missing file means no flags.
    ttl
        Seconds a snapshot is served before the file is looked at again.
    clock
        Monotonic clock (for tests).

    Examples
    --------
    >>> import tempfile
    >>> from datetime import UTC, datetime
    >>> from loopwatch.core.flags import UseBaseline
    >>> flags = FileFlags(tempfile.mkdtemp() + "/flags.json", ttl=0)
    >>> bool(flags.current("card-fraud"))
    False
    >>> flags.set(UseBaseline(id="b-1", model="card-fraud", who="ana", why="drift",
    ...                       when=datetime(2026, 3, 1, tzinfo=UTC)))
    >>> flags.current("card-fraud").baseline.id
    'b-1'
    """

    def __init__(self, path: str | Path, *, ttl: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not ttl >= 0:
            raise ValueError(f"ttl must be a number of seconds >= 0; got {ttl!r}")
        self.path = Path(path)
        self.ttl = float(ttl)
        self._clock = clock
        self._lock = threading.Lock()
        self._identity: tuple[int, int, int] | None = None
        self._mitigations: list[Mitigation] = []
        self._snapshots: dict[str, tuple[float, FlagSet]] = {}
        self._checked = -float("inf")
        self._errors = 0
        self.last_error: Exception | None = None

    def __repr__(self) -> str:
        return f"FileFlags({str(self.path)!r}, ttl={self.ttl})"

    # --- reading --------------------------------------------------------------------

    def current(self, model: str) -> FlagSet:
        """The mitigations of ``model`` in force now (cached for ``ttl`` seconds)."""
        now = self._clock()
        with self._lock:
            cached = self._snapshots.get(model)
            if cached is not None and now - cached[0] < self.ttl and now - self._checked < self.ttl:
                return cached[1]
            self._refresh(now)
            snapshot = FlagSet.of(model, self._mitigations, source=str(self.path))
            self._snapshots[model] = (now, snapshot)
            return snapshot

    def errors(self) -> int:
        """How many times the file could not be read or parsed (the last good flags stayed)."""
        return self._errors

    def _refresh(self, now: float) -> None:
        self._checked = now
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._identity, self._mitigations = None, []
            return
        except OSError as exc:
            self._failed(StoreError(f"cannot read the flags file {self.path}: {exc.strerror}"))
            return
        identity = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if identity == self._identity:
            return
        try:
            self._mitigations = self._read()
        except (InputError, StoreError) as exc:
            self._failed(exc)
            return
        self._identity = identity
        self.last_error = None

    def _failed(self, exc: Exception) -> None:
        self._errors += 1
        self.last_error = exc
        _log.error("%s; the flags read before stay in force", exc)

    def _read(self) -> list[Mitigation]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StoreError(f"cannot read the flags file {self.path}: {exc.strerror}") from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{self.path} is not JSON: {exc.msg} at line {exc.lineno}, "
                             f"column {exc.colno}") from None
        if not isinstance(data, dict) or not isinstance(data.get("flags"), list):
            raise InputError(f'{self.path}: expected {{"flags": [...]}}; got {text[:80]!r}')
        return parse_mitigations(data["flags"], source=str(self.path))

    # --- writing --------------------------------------------------------------------

    def set(self, mitigation: Mitigation) -> None:
        """Add ``mitigation`` (replacing one with the same id); atomic, visible within ``ttl``."""
        self._update(lambda flags: [m for m in flags if m.id != mitigation.id] + [mitigation])

    def revert(self, mitigation_id: str, *, now: datetime | None = None) -> bool:
        """End the mitigation ``mitigation_id`` (it expires now); ``False`` if there is none."""
        moment = now or datetime.now(UTC)
        found = False

        def end(flags: list[Mitigation]) -> list[Mitigation]:
            nonlocal found
            out: list[Mitigation] = []
            for m in flags:
                if m.id == mitigation_id and m.active(moment):
                    found = True
                    m = m.model_copy(update={"expires": moment})
                out.append(m)
            return out

        self._update(end)
        return found

    def _update(self, change: Callable[[list[Mitigation]], list[Mitigation]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_name(self.path.name + ".lock")
        with open(lock, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                flags = change(self._read())
                _write_atomic(self.path, {"flags": [m.model_dump(mode="json") for m in flags]})
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        with self._lock:
            self._checked = -float("inf")  # this process sees its own change at once


def _write_atomic(path: Path, data: Any) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise StoreError(f"cannot write the flags file {path}: {exc.strerror or exc}") from exc
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
