"""Compaction merges a partition's files, removes duplicates, and survives a crash at any point."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loopwatch.core.spec import Spec
from loopwatch.storage import compaction, journal
from loopwatch.storage.parquet_store import ParquetStore

DAY = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SPEC = {"model": "fraud", "features": [{"name": "amount", "dtype": "numeric"}],
        "cohorts": ["region"]}


def decisions(ids: range, *, day: int = 0) -> list[dict[str, Any]]:
    at = DAY + timedelta(days=day)
    return [{"decision_id": f"d{i}", "timestamp": at.isoformat(), "score": i / 100,
             "amount": float(i), "region": "EU" if i % 2 else "US"} for i in ids]


def fill(store: ParquetStore) -> None:
    """Three files on day 0, two on day 1, one on day 2; outcomes in two files; quarantine."""
    for chunk in (range(0, 5), range(5, 10), range(10, 12)):
        store.ingest("decisions", pa.Table.from_pylist(decisions(chunk)), source="t")
    for chunk in (range(20, 23), range(23, 25)):
        store.ingest("decisions", pa.Table.from_pylist(decisions(chunk, day=1)), source="t")
    store.ingest("decisions", pa.Table.from_pylist(decisions(range(30, 31), day=2)), source="t")
    for label, chunk in ((True, range(0, 3)), (False, range(3, 6))):
        store.ingest("outcomes", pa.Table.from_pylist([
            {"decision_id": f"d{i}", "observed_at": (DAY + timedelta(days=3)).isoformat(),
             "label": label} for i in chunk]), source="t")
    for _ in range(2):
        store.ingest("decisions", pa.Table.from_pylist(
            [{"decision_id": "bad", "timestamp": DAY.isoformat(), "score": "high"}]), source="t")


def snapshot(store: ParquetStore) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored row of every kind, sorted (quarantine without its receive time)."""
    out = {}
    for kind in ("decisions", "outcomes", "quarantine"):
        table = store.read(kind)
        if kind == "quarantine":
            table = table.drop_columns(["received_at"])
        out[kind] = sorted(tuple(r.values()) for r in table.to_pylist())
    return out


@pytest.fixture
def filled(tmp_path: Path, spec: Spec) -> ParquetStore:
    store = ParquetStore(tmp_path / "store", spec=spec)
    fill(store)
    return store


def test_compaction_merges_each_partition_into_one_file(filled: ParquetStore) -> None:
    assert len(filled.files("decisions")) == 6
    result = filled.compact()
    assert result.files_before == 6 + 2 + 2
    assert result.files_after == 3 + 1 + 1
    assert result.partitions == 2 + 1 + 1  # day 2 has one file already
    assert result.duplicates_removed == 0
    assert len(filled.files("decisions")) == 3
    assert len({p.parent for p in filled.files("decisions")}) == 3


def test_compaction_changes_no_row(filled: ParquetStore, spec: Spec) -> None:
    before = snapshot(filled)
    joined_before = sorted(filled.joined().to_pyarrow().to_pylist(), key=str)
    filled.compact()
    assert snapshot(filled) == before
    assert snapshot(ParquetStore(filled.root, spec=spec)) == before
    assert sorted(filled.joined().to_pyarrow().to_pylist(), key=str) == joined_before


def test_compaction_is_idempotent(filled: ParquetStore) -> None:
    filled.compact()
    files = filled.files("decisions")
    again = filled.compact()
    assert again.partitions == 0
    assert filled.files("decisions") == files


def test_compaction_removes_duplicates_that_slipped_into_a_partition(
    filled: ParquetStore,
) -> None:
    # a copy of a committed file, as a writer without the lock (or a restored backup) leaves
    original = filled.files("decisions")[0]
    copied = pq.read_metadata(original).num_rows
    (original.parent / "part-copy.parquet").write_bytes(original.read_bytes())
    assert filled.count("decisions") == 18 + copied
    result = filled.compact()
    assert result.duplicates_removed == copied
    ids = filled.read("decisions").column("decision_id").to_pylist()
    assert len(ids) == len(set(ids)) == 18


def test_writes_after_compaction_still_skip_resent_decisions(filled: ParquetStore) -> None:
    filled.compact()
    result = filled.ingest("decisions", pa.Table.from_pylist(decisions(range(0, 13))),
                           source="t")
    assert (result.written, result.duplicates) == (1, 12)


def test_stale_temp_files_of_a_dead_writer_are_removed_by_compaction(
    filled: ParquetStore,
) -> None:
    partition = filled.files("decisions")[0].parent
    stale = partition / ".part-dead.parquet.tmp"
    stale.write_bytes(b"PAR1 half")
    filled.compact()
    assert not stale.exists()


@pytest.mark.parametrize("failing", ["commit", "unlink"])
def test_compaction_that_fails_after_its_journal_reads_right_and_the_next_write_completes_it(
    filled: ParquetStore, spec: Spec, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    before = snapshot(filled)

    def crash(*args: Any, **kwargs: Any) -> None:
        raise OSError("simulated crash")

    # before the merged file is renamed in, or after it (the old files still there)
    monkeypatch.setattr(journal if failing == "commit" else journal.os, failing, crash)
    with pytest.raises(OSError, match="simulated crash"):
        filled.compact()
    monkeypatch.undo()
    journals = list((filled.root / "_journal").glob("*.json"))
    assert journals
    # a reader sees every row once, and writes nothing to do so
    reopened = ParquetStore(filled.root, spec=spec)
    assert snapshot(reopened) == before
    assert list((filled.root / "_journal").glob("*.json")) == journals
    # the next write completes the swap
    assert reopened.ingest("decisions", pa.Table.from_pylist(decisions(range(0, 1))),
                           source="t").duplicates == 1
    assert not list((filled.root / "_journal").iterdir())
    assert not list(filled.root.rglob("*.tmp"))
    assert snapshot(reopened) == before


def test_a_reader_keeps_its_files_through_a_compaction_which_completes_after_it(
    filled: ParquetStore,
) -> None:
    before = snapshot(filled)
    con = filled.connect()
    table = filled.joined(con=con)
    rows = sorted(table.to_pyarrow().to_pylist(), key=str)
    result = filled.compact(wait=0)
    # every partition is merged, but no file the reader listed has gone
    assert (result.partitions, result.pending) == (4, 4)
    assert result.files_after == result.files_before == 10
    assert sorted(table.to_pyarrow().to_pylist(), key=str) == rows
    # another reader meanwhile sees the old files, each row once; a write goes on
    assert snapshot(filled) == before
    assert filled.ingest("decisions", pa.Table.from_pylist(decisions(range(40, 41))),
                         source="t").written == 1
    assert len(filled.files("decisions")) == 7
    del table, con  # the reader is done: the next write completes the swaps
    filled.ingest("decisions", pa.Table.from_pylist(decisions(range(40, 41))), source="t")
    assert not list((filled.root / "_journal").glob("*.json"))
    assert len(filled.files("decisions")) == 4  # three merged days and the file written since
    assert filled.count("decisions") == 19


def test_an_ingest_goes_on_while_a_compaction_merges(
    filled: ParquetStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    merging, release = threading.Event(), threading.Event()
    merge = compaction._merge

    def slow_merge(*args: Any) -> Any:
        merging.set()
        assert release.wait(30)
        return merge(*args)

    monkeypatch.setattr(compaction, "_merge", slow_merge)
    compactor = threading.Thread(target=filled.compact)
    compactor.start()
    try:
        assert merging.wait(30)
        # the compaction is inside a merge: the writers' lock is free
        result = filled.ingest("decisions", pa.Table.from_pylist(decisions(range(0, 41))),
                               source="t")
        assert (result.written, result.duplicates) == (29, 12)  # d0..d11 are stored
    finally:
        release.set()
        compactor.join()
    rows = filled.read("decisions").select(["decision_id", "timestamp"]).to_pylist()
    assert len(rows) == len({tuple(r.values()) for r in rows}) == 18 + 29


def test_compaction_waits_for_a_reader_that_closes_meanwhile(filled: ParquetStore) -> None:
    holder = [filled.connect()]
    filled.table("decisions", con=holder[0])
    closer = threading.Timer(0.3, holder.clear)  # the reader's connection goes at 0.3 s
    closer.start()
    began = time.monotonic()
    result = filled.compact(wait=30)
    closer.join()
    assert (result.pending, result.files_after) == (0, 5)
    assert 0.3 <= time.monotonic() - began < 10


# --- a real process killed at each point of a compaction -------------------------------

# The child fills nothing: it opens the store, arms a SIGKILL at one point of
# compaction (by wrapping the store's own functions, so no test hook lives in the
# source), and compacts. The parent then reopens the directory.
CHILD = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from loopwatch.core.spec import spec_from_mapping
    from loopwatch.storage import compaction, journal
    from loopwatch.storage.parquet_store import ParquetStore

    root, point, spec = sys.argv[1], sys.argv[2], spec_from_mapping(eval(sys.argv[3]))

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    def after(function, *, calls=1):
        seen = []
        def wrapped(*args, **kwargs):
            out = function(*args, **kwargs)
            seen.append(1)
            if len(seen) >= calls:
                die()
            return out
        return wrapped

    if point == "temp-written":           # merged file written, no journal yet
        compaction.write_temp = after(compaction.write_temp)
    elif point == "journal-written":      # journal durable, new file not yet visible
        journal.commit = die
    elif point == "new-file-visible":     # new file renamed in, old files still there
        journal.commit = after(journal.commit)
    elif point == "one-old-file-removed": # half of the old files removed
        journal.os.unlink = after(os.unlink)
    elif point == "second-partition":     # one partition done, the next one half way
        journal.commit = after(journal.commit, calls=2)
    ParquetStore(root, spec=spec).compact()
    print("compaction finished")
""")

POINTS = ["temp-written", "journal-written", "new-file-visible", "one-old-file-removed",
          "second-partition"]


@pytest.mark.parametrize("point", POINTS)
def test_compaction_killed_at_any_point_leaves_every_row_exactly_once(
    filled: ParquetStore, spec: Spec, point: str
) -> None:
    before = snapshot(filled)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(filled.root), point, repr(SPEC)],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert "compaction finished" not in child.stdout
    # the kill left the compaction half done: a temp file, or a journal to complete
    journals = list((filled.root / "_journal").glob("*.json"))
    temps = list((filled.root / "decisions").rglob(".part-*.parquet.tmp"))
    expected = {"temp-written": (0, 1), "journal-written": (1, 1)}.get(point, (1, 0))
    assert (len(journals), len(temps)) == expected
    # readers see every row once before anything is recovered (they write nothing)
    reopened = ParquetStore(filled.root, spec=spec)
    assert snapshot(reopened) == before
    assert reopened.count("decisions") == 18
    assert len(list((filled.root / "_journal").glob("*.json"))) == expected[0]
    # and a compaction after the crash completes the job
    reopened.compact()
    assert not list((filled.root / "_journal").glob("*.json"))
    assert not list(filled.root.rglob("*.tmp"))
    assert snapshot(ParquetStore(filled.root, spec=spec)) == before
    assert len(reopened.files("decisions")) == 3
