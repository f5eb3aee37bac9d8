"""Readers of the store: never blocked, never wrong, and clear about a store that is not there.

The concurrency test runs a writer, a compactor and two readers as separate processes
(``store_worker.py``) on one store; the read-only test reads a store in a process that
may not write it (as root, one without capabilities).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from loopwatch.core.spec import Spec, spec_from_mapping
from loopwatch.errors import InputError, StoreError
from loopwatch.storage import journal
from loopwatch.storage.ingest import ingest_table
from loopwatch.storage.parquet_store import ParquetStore
from loopwatch.storage.profile_history import ProfileHistory
from loopwatch.storage.summary import summarize

WORKER = Path(__file__).with_name("store_worker.py")
SPEC = {"model": "fraud", "features": [{"name": "amount", "dtype": "numeric"}],
        "reference": {"trailing": "1d"}}
DAY = datetime(2026, 3, 1, 12, tzinfo=UTC)


def rows(ids: range, *, day: int = 0, **extra: Any) -> pa.Table:
    return pa.Table.from_pylist([
        {"decision_id": f"d{i}", "timestamp": (DAY + timedelta(days=day)).isoformat(),
         "score": i / 100, "amount": float(i), **extra} for i in ids])


@pytest.fixture
def fraud() -> Spec:
    return spec_from_mapping(SPEC)


# --- concurrent processes ----------------------------------------------------------------


def _worker(role: str, root: Path, stop: Path, *arg: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), role, str(root), str(stop), json.dumps(SPEC), *arg],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})


def _result(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    result: dict[str, Any] = json.loads(out)
    return result


@pytest.mark.slow
def test_readers_during_ingest_and_compaction_see_each_row_once_and_never_fail(
    tmp_path: Path, fraud: Spec,
) -> None:
    root, stop = tmp_path / "store", tmp_path / "stop"
    ParquetStore(root, spec=fraud).ingest("decisions", rows(range(0)), source="t")
    readers = [_worker("reader", root, stop, mode) for mode in ("short", "held")]
    compactor = _worker("compactor", root, stop)
    writer = _worker("writer", root, stop, "60", "3")  # once the three others are up
    written = _result(writer)
    stop.touch()
    compacted, seen = _result(compactor), [_result(r) for r in readers]

    for reader in seen:
        assert reader["error_count"] == 0, reader["errors"]
        assert reader["snapshots"] >= 3
    # 60 batches of 30 new decisions, each batch but the first resending 10
    assert (written["written"], written["duplicates"]) == (1800, 590)
    # the compactor merged partitions while readers held them, and swapped when it could
    assert compacted["runs"] >= 3 and compacted["merged"] >= 3
    store = ParquetStore(root, spec=fraud)
    final = store.compact(wait=5)
    assert final.pending == 0
    ids = store.read("decisions").column("decision_id").to_pylist()
    assert sorted(ids) == sorted(f"d{i}" for i in range(1800))
    assert all(len(store.files(kind)) <= 3 for kind in ("decisions", "outcomes"))
    assert not list((root / "_journal").glob("*.json"))


# --- a store that is not there -------------------------------------------------------------


def test_a_missing_store_is_a_store_error_that_names_the_path_and_what_to_do(
    tmp_path: Path, fraud: Spec,
) -> None:
    store = ParquetStore(tmp_path / "typo", spec=fraud)
    reads = [lambda: store.count("decisions"), lambda: store.read("outcomes"),
             lambda: store.table("decisions"), lambda: store.joined(),
             lambda: store.files("quarantine"), lambda: summarize(store),
             lambda: ProfileHistory(store).update(), lambda: store.compact()]
    for read in reads:
        with pytest.raises(StoreError) as info:
            read()
        message = str(info.value)
        assert f"no store at {tmp_path / 'typo'}" in message
        assert "loopwatch ingest decisions" in message and "--store" in message
    assert not (tmp_path / "typo").exists()  # and nothing was created there


def test_a_directory_that_is_not_a_store_or_holds_another_model_is_named(
    tmp_path: Path, fraud: Spec,
) -> None:
    (tmp_path / "notes.txt").write_text("not a store")
    with pytest.raises(StoreError, match="is not a loopwatch store"):
        summarize(ParquetStore(tmp_path, spec=fraud))
    assert not (tmp_path / ".readers").exists()
    ParquetStore(tmp_path / "s", spec=fraud).ingest("decisions", rows(range(3)), source="t")
    other = spec_from_mapping({**SPEC, "model": "churn"})
    with pytest.raises(StoreError, match="holds no rows of model 'churn', only of 'fraud'"):
        ParquetStore(tmp_path / "s", spec=other).count("decisions")


def test_a_store_without_decisions_is_empty_not_missing(tmp_path: Path, fraud: Spec) -> None:
    store = ParquetStore(tmp_path / "s", spec=fraud)
    assert store.ingest("decisions", rows(range(2), score="high"), source="t").quarantined == 2
    summary = summarize(store)
    assert (summary.decisions, summary.quarantined) == (0, 2)
    with pytest.raises(InputError, match="holds no decisions of model 'fraud' yet: ingest"):
        ProfileHistory(store).update()


def test_an_unknown_kind_is_an_input_error_naming_the_kinds(tmp_path: Path, fraud: Spec) -> None:
    store = ParquetStore(tmp_path / "s", spec=fraud)
    with pytest.raises(InputError, match=r"unknown kind 'decision'; did you mean 'decisions'\? "
                                         r"expected one of: decisions, outcomes"):
        ingest_table(store, "decision", [{"decision_id": "a"}])  # type: ignore[arg-type]
    with pytest.raises(InputError, match="expected one of: decisions, outcomes, quarantine"):
        store.read("quarantined")  # type: ignore[arg-type]
    assert not (tmp_path / "s").exists()


# --- a store this process may not write --------------------------------------------------

READ_ONLY_CHILD = textwrap.dedent("""
    import json, sys
    from loopwatch.core.spec import spec_from_mapping
    from loopwatch.errors import StoreError
    from loopwatch.storage.parquet_store import ParquetStore
    from loopwatch.storage.profile_history import ProfileHistory
    from loopwatch.storage.summary import summarize

    store = ParquetStore(sys.argv[1], spec=spec_from_mapping(json.loads(sys.argv[2])))
    summary = summarize(store)
    history = ProfileHistory(store)
    out = {"decisions": summary.decisions, "outcomes": summary.outcomes,
           "quarantined": summary.quarantined, "read": store.read("decisions").num_rows,
           "profiled": history.update().days_profiled, "profile_n": history.profile().n}
    try:
        store.compact()
    except StoreError as exc:
        out["compact"] = str(exc)
    print(json.dumps(out))
""")


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A directory whose tree is made read-only after the test fills it; writable again after."""
    root = tmp_path / "store"
    yield root
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def test_a_read_only_store_is_summarized_profiled_and_read_exactly_once_despite_a_crash(
    read_only: Path, fraud: Spec, monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = ParquetStore(read_only, spec=fraud)
    for chunk in (range(0, 5), range(5, 10)):
        store.ingest("decisions", rows(chunk), source="t")
        store.ingest("decisions", rows(chunk, day=1), source="t")
    store.ingest("decisions", rows(range(10, 11), score="high"), source="t")
    store.ingest("outcomes", pa.Table.from_pylist([
        {"decision_id": "d1", "observed_at": DAY.isoformat(), "label": True}]), source="t")
    # a compaction that died after renaming a merged file in, before removing the old ones
    with monkeypatch.context() as patch:
        patch.setattr(journal.os, "unlink", _crash)
        with pytest.raises(OSError):
            store.compact()
    assert len(list((read_only / "_journal").glob("*.json"))) == 1
    ProfileHistory(store).update()
    for path in [read_only, *read_only.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)

    # as root, a process without capabilities: the permissions then apply to it too
    drop = ([shutil.which("setpriv") or "setpriv", "--bounding-set=-all", "--inh-caps=-all"]
            if os.geteuid() == 0 else [])
    child = subprocess.run([*drop, sys.executable, "-c", READ_ONLY_CHILD, str(read_only),
                            json.dumps(SPEC)], capture_output=True, text=True, timeout=120,
                           check=False)
    assert child.returncode == 0, child.stderr
    out = json.loads(child.stdout)
    assert {k: out[k] for k in ("decisions", "outcomes", "quarantined", "read", "profiled",
                                "profile_n")} == {
        "decisions": 20, "outcomes": 1, "quarantined": 1, "read": 20, "profiled": 0,
        "profile_n": 20}
    assert f"cannot write to the store at {read_only} (it is read-only here)" in out["compact"]


def _crash(*args: Any) -> None:
    raise OSError("simulated crash")
