"""The store's locks: one writer at a time, and readers that compaction never pulls files from under.

* ``.lock`` — an exclusive ``flock`` held by a writer (an ingest, and a compaction while
  it records and completes a swap) for the milliseconds of one write, so that two
  processes never both add the same key. Readers never take it: ingest only adds
  files, each committed by a rename, so a reader never needs to wait for it.
* ``.compacting`` — exclusive, for a whole compaction: one at a time, while ingest goes
  on (a compaction reads and merges a partition's files without the writers' lock).
* ``.readers`` — a *shared* ``flock`` held by each reader for as long as it may open the
  files it listed (a brief listing, or the life of an engine connection). Readers never
  block one another. The only change that removes files, the swap that ends a
  compaction, takes it *exclusively and without waiting*: while any reader holds it the
  swap is left pending in its journal (the old files stay, the merged one stays hidden)
  and a later writer completes it. Readers therefore never see a half-swapped partition,
  never lose a file they listed, and never hold up a writer.

A store whose directory this process cannot write is read without the reader lock
when ``.readers`` does not exist (it cannot be created there; no writer of this
process can compact it either).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from loopwatch.errors import StoreError
from loopwatch.storage.layout import StoreLayout

__all__ = ["acquire_reader_lease", "compacting", "readers_absent", "reading",
           "release_reader_lease", "writing"]

_READ_ONLY = (errno.EACCES, errno.EPERM, errno.EROFS)


@contextlib.contextmanager
def writing(layout: StoreLayout) -> Iterator[None]:
    """Hold the writers' exclusive lock (creating the store's directory if needed)."""
    with _exclusive(layout, layout.lock("writers")):
        yield


@contextlib.contextmanager
def compacting(layout: StoreLayout) -> Iterator[None]:
    """Hold the compactors' exclusive lock: one compaction at a time (writers go on)."""
    with _exclusive(layout, layout.lock("compaction")):
        yield


@contextlib.contextmanager
def _exclusive(layout: StoreLayout, path: Path) -> Iterator[None]:
    try:
        layout.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        read_only = " (it is read-only here)" if exc.errno in _READ_ONLY else ""
        raise StoreError(f"cannot write to the store at {layout.root}{read_only}: "
                         f"{exc.strerror or exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock


def _open_reader_lock(layout: StoreLayout) -> int | None:
    try:
        return os.open(layout.lock("readers"), os.O_RDONLY | os.O_CREAT, 0o666)
    except OSError as exc:
        if exc.errno not in _READ_ONLY:
            raise StoreError(f"cannot read the store at {layout.root}: "
                             f"{exc.strerror or exc}") from exc
    try:  # a directory this process may not write: the lock file, if a writer made it
        return os.open(layout.lock("readers"), os.O_RDONLY)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read the store at {layout.root}: {exc.strerror or exc}") from exc


def acquire_reader_lease(layout: StoreLayout) -> int | None:
    """Take a shared reader lock; returns its descriptor (``None``: no lock file here)."""
    fd = _open_reader_lock(layout)
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def release_reader_lease(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)


@contextlib.contextmanager
def reading(layout: StoreLayout) -> Iterator[None]:
    """Hold a reader lease for the block (listing files and reading them)."""
    fd = acquire_reader_lease(layout)
    try:
        yield
    finally:
        release_reader_lease(fd)


@contextlib.contextmanager
def readers_absent(layout: StoreLayout) -> Iterator[bool]:
    """Hold the reader lock exclusively if no reader holds it now; never waits.

    Yields whether it is held: a swap runs only then, and is otherwise left pending.
    """
    try:
        fd = os.open(layout.lock("readers"), os.O_RDONLY | os.O_CREAT, 0o666)
    except OSError as exc:
        raise StoreError(f"cannot write to the store at {layout.root}: "
                         f"{exc.strerror or exc}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
