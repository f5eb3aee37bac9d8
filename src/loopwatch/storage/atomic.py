"""The commit protocol of every file the store writes: temporary name, fsync, rename.

A file becomes visible only by the ``rename`` of a complete, fsynced temporary file
(``.<name>.tmp``, which no reader lists), and the directory is fsynced after it, so a
crash or a full disk leaves either the whole file or none of it. Writing the
temporary file and committing it are separate steps for compaction, which records
a journal in between.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from loopwatch.errors import StoreError

__all__ = ["commit", "fsync_dir", "replace_text", "write_atomic", "write_temp"]


def fsync_dir(path: Path) -> None:
    """Make the entries of ``path`` (a rename, a removal) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _cannot_write(path: Path, exc: OSError) -> StoreError:
    return StoreError(f"cannot write {path}: {exc.strerror or exc}")


def write_temp(table: pa.Table, directory: Path) -> tuple[Path, Path]:
    """Write ``table`` under a temporary name, fsynced; returns (temporary, final) paths."""
    name = f"part-{uuid.uuid4().hex}.parquet"
    tmp, final = directory / f".{name}.tmp", directory / name
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as handle:
            pq.write_table(table, handle, compression="zstd")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise _cannot_write(final, exc) from exc
    return tmp, final


def commit(tmp: Path, final: Path) -> None:
    """Make the temporary file ``tmp`` visible as ``final``, durably."""
    try:
        os.rename(tmp, final)
        fsync_dir(final.parent)
    except OSError as exc:
        raise _cannot_write(final, exc) from exc


def write_atomic(table: pa.Table, directory: Path) -> Path:
    """Write ``table`` as a new Parquet file in ``directory``: temp name, fsync, rename."""
    tmp, final = write_temp(table, directory)
    commit(tmp, final)
    return final


def replace_text(path: Path, text: str) -> None:
    """Replace (or create) the text file ``path`` atomically and durably."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())  # a power loss must not leave an empty file
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise _cannot_write(path, exc) from exc
