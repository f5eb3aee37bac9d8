"""The embedded store: decisions and outcomes as Parquet files, read through DuckDB via Ibis.

Layout under the store root::

    decisions/model=<model>/date=<YYYY-MM-DD>/part-<uuid>.parquet   (date of the decision, UTC)
    outcomes/model=<model>/date=<YYYY-MM-DD>/part-<uuid>.parquet    (date the outcome was observed)
    quarantine/model=<model>/date=<YYYY-MM-DD>/part-<uuid>.parquet  (date the row was rejected)
    _journal/                                                       (compactions in flight)
    .lock                                                           (one writer at a time)

Guarantees:

* **Atomic files.** A file is written under a temporary name, fsynced and renamed;
  readers only ever list ``*.parquet``, so they never see a partial file.
* **Idempotent rows.** A decision is identified by its ``decision_id`` (within the
  model and the day of its timestamp); an outcome by its ``decision_id`` and
  observed time. A resent row is counted as a duplicate and not written again.
* **Nothing lost.** A rejected row goes to quarantine with its reason and source.
* **Compaction** merges the files of a partition into one and changes no query's
  result; a journal makes it safe against a crash at any point.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from loopwatch.core.schema import Conformed, Rejection, TableSchema, decision_schema, outcome_schema
from loopwatch.core.spec import MODEL_COLUMN, Spec
from loopwatch.core.store import Kind, WriteResult
from loopwatch.errors import StoreError

__all__ = ["CompactionResult", "ParquetStore", "duckdb_connection"]

QUARANTINE_SCHEMA = pa.schema([
    pa.field("kind", pa.string()),
    pa.field("source", pa.string()),
    pa.field("reason", pa.string()),
    pa.field("row", pa.string()),
    pa.field("received_at", pa.timestamp("us", tz="UTC")),
])
_KINDS: tuple[Kind, ...] = ("decisions", "outcomes")
#: Memory the embedded engine may use before spilling to disk (``LOOPWATCH_ENGINE_MEMORY``).
DEFAULT_ENGINE_MEMORY = "512MB"
MEMORY_SIZE = r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)"


@dataclass(frozen=True)
class CompactionResult:
    """What a compaction did."""

    partitions: int
    files_before: int
    files_after: int
    duplicates_removed: int


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_temp(table: pa.Table, directory: Path) -> tuple[Path, Path]:
    """Write ``table`` under a temporary name, fsynced; returns (temporary, final) paths."""
    directory.mkdir(parents=True, exist_ok=True)
    name = f"part-{uuid.uuid4().hex}.parquet"
    tmp, final = directory / f".{name}.tmp", directory / name
    try:
        with open(tmp, "wb") as handle:
            pq.write_table(table, handle, compression="zstd")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise StoreError(f"cannot write {final}: {exc.strerror or exc}") from exc
    return tmp, final


def _commit(tmp: Path, final: Path) -> None:
    try:
        os.rename(tmp, final)
        _fsync_dir(final.parent)
    except OSError as exc:
        raise StoreError(f"cannot write {final}: {exc.strerror or exc}") from exc


def _write_atomic(table: pa.Table, directory: Path) -> Path:
    """Write ``table`` as a new Parquet file in ``directory``: temp name, fsync, rename."""
    tmp, final = _write_temp(table, directory)
    _commit(tmp, final)
    return final


class ParquetStore:
    """Decisions, outcomes and quarantine of one model, as a partitioned Parquet dataset.

    Parameters
    ----------
    root
        Directory of the store; created on first write.
    spec
        The model's spec: it gives the model id and the schemas.
    pii_key
        Secret for ``pii: hash`` features (see ``LOOPWATCH_PII_KEY``).

    Examples
    --------
    >>> import tempfile
    >>> from loopwatch.core.spec import spec_from_mapping
    >>> spec = spec_from_mapping({"model": "m", "features": [{"name": "x", "dtype": "numeric"}]})
    >>> store = ParquetStore(tempfile.mkdtemp(), spec=spec)
    >>> rows = [{"decision_id": "a", "timestamp": "2026-03-01T10:00:00Z", "score": 0.9, "x": 1.0}]
    >>> store.ingest("decisions", pa.Table.from_pylist(rows), source="doctest").written
    1
    >>> store.ingest("decisions", pa.Table.from_pylist(rows), source="doctest").duplicates
    1
    >>> store.count("decisions")
    1
    """

    def __init__(self, root: str | Path, *, spec: Spec, pii_key: bytes | None = None,
                 engine_memory: str = DEFAULT_ENGINE_MEMORY) -> None:
        self.root = Path(root)
        self.spec = spec
        self.engine_memory = _memory_size(engine_memory)
        self._schemas: dict[Kind, TableSchema] = {
            "decisions": decision_schema(spec, pii_key=pii_key),
            "outcomes": outcome_schema(spec),
        }
        # keys already stored, per partition directory, and the files they were read from
        self._keys: dict[Path, tuple[set[str], set[str]]] = {}

    @classmethod
    def for_spec(
        cls, spec: Spec, *, location: str | None = None, pii_key: bytes | None = None,
        engine_memory: str = DEFAULT_ENGINE_MEMORY,
    ) -> ParquetStore:
        """The store that ``spec`` names (``location`` overrides it, as ``LOOPWATCH_STORE``)."""
        return cls(spec.store_location(location), spec=spec, pii_key=pii_key,
                   engine_memory=engine_memory)

    def __repr__(self) -> str:
        return f"ParquetStore({str(self.root)!r}, model={self.spec.model!r})"

    # --- layout ---------------------------------------------------------------------

    def _table_dir(self, kind: str) -> Path:
        return self.root / kind / f"{MODEL_COLUMN}={self.spec.model}"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            handle = open(self.root / ".lock", "a+b")  # noqa: SIM115 - held for the block
        except OSError as exc:
            raise StoreError(f"cannot open the store at {self.root}: {exc.strerror}") from exc
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            self._recover()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()

    def files(self, kind: str, *, between: tuple[datetime, datetime] | None = None) -> list[Path]:
        """The committed Parquet files of ``kind`` (never a temporary or replaced one).

        ``between=(start, end)``: only the files of the UTC days that ``[start, end)``
        touches (a row's file is in the partition of its time's UTC day); only those
        days' directories are listed.
        """
        if not (self.root / kind).exists():
            return []
        with self._locked():
            if between is None:
                return sorted(self._table_dir(kind).glob("date=*/*.parquet"))
            start, end = (t.astimezone(UTC) for t in between)
            first = f"date={start:%Y-%m-%d}"
            last = f"date={end - timedelta(microseconds=1):%Y-%m-%d}"
            days = sorted(d for d in self._table_dir(kind).glob("date=*")
                          if first <= d.name <= last)
            return [f for d in days for f in sorted(d.glob("*.parquet"))]

    def schema(self, kind: Kind) -> TableSchema:
        """The validator and stored schema of ``kind``."""
        return self._schemas[kind]

    # --- writing --------------------------------------------------------------------

    def ingest(self, kind: Kind, data: pa.Table, *, source: str) -> WriteResult:
        """Validate ``data`` (any Arrow table) and write it; bad rows go to quarantine."""
        return self.write(kind, self._schemas[kind].conform(data, source=source))

    def write(self, kind: Kind, conformed: Conformed) -> WriteResult:
        """Write validated rows, skipping keys already stored, and quarantine rejections."""
        schema = self._schemas[kind]
        table = conformed.table
        written = duplicates = 0
        with self._locked():
            if table.num_rows:
                # the UTC day of each row; formatting only the distinct days is 10x cheaper
                days = pc.cast(pc.floor_temporal(table.column(schema.time), unit="day"),
                               pa.date32()).combine_chunks()
                keys = self._row_keys(kind, table)
                for day in pc.unique(days).to_pylist():
                    mask = pc.equal(days, pa.scalar(day, pa.date32()))
                    part = table.filter(mask)
                    part_keys = keys.filter(mask).to_pylist()
                    directory = self._table_dir(kind) / f"date={day:%Y-%m-%d}"
                    stored = self._stored_keys(kind, directory)
                    keep: list[bool] = []
                    fresh: list[str] = []
                    for key in part_keys:
                        new = key not in stored
                        keep.append(new)
                        if new:
                            stored.add(key)
                            fresh.append(key)
                    duplicates += len(part_keys) - len(fresh)
                    if fresh:
                        part = part.filter(pa.array(keep))
                        try:
                            path = _write_atomic(part, directory)
                        except StoreError:
                            stored.difference_update(fresh)
                            raise
                        self._keys[directory][1].add(path.name)
                        written += part.num_rows
            if conformed.rejected:
                self._quarantine(kind, conformed.rejected)
        return WriteResult(
            written=written,
            duplicates=duplicates,
            quarantined=len(conformed.rejected),
            reasons=Counter(_reason_kind(r.reason) for r in conformed.rejected),
            unknown_columns=conformed.unknown_columns,
        )

    def _row_keys(self, kind: str, table: pa.Table) -> pa.Array:
        schema = self._schemas["decisions" if kind == "decisions" else "outcomes"]
        ids = table.column(schema.key).combine_chunks()
        if kind == "decisions":
            return ids
        micros = pc.cast(table.column(schema.time), pa.int64()).cast(pa.string())
        return pc.binary_join_element_wise(ids, micros.combine_chunks(), "\x1f")

    def _stored_keys(self, kind: str, directory: Path) -> set[str]:
        keys, seen = self._keys.setdefault(directory, (set(), set()))
        if directory.exists():
            for path in sorted(directory.glob("*.parquet")):
                if path.name not in seen:
                    table = pq.read_table(path, columns=self._key_columns(kind))
                    keys.update(self._row_keys(kind, table).to_pylist())
                    seen.add(path.name)
        return keys

    def _key_columns(self, kind: str) -> list[str]:
        schema = self._schemas["decisions" if kind == "decisions" else "outcomes"]
        return [schema.key] if kind == "decisions" else [schema.key, schema.time]

    def _quarantine(self, kind: str, rejected: tuple[Rejection, ...]) -> None:
        now = datetime.now(UTC)
        table = pa.table({
            "kind": [kind] * len(rejected),
            "source": [r.source for r in rejected],
            "reason": [r.reason for r in rejected],
            "row": [r.row_json() for r in rejected],
            "received_at": pa.array([now] * len(rejected), pa.timestamp("us", tz="UTC")),
        }, schema=QUARANTINE_SCHEMA)
        _write_atomic(table, self._table_dir("quarantine") / f"date={now:%Y-%m-%d}")

    # --- reading --------------------------------------------------------------------

    def read(self, kind: Kind | str) -> pa.Table:
        """Every stored row of ``kind`` (``decisions``, ``outcomes`` or ``quarantine``) as Arrow.

        Meant for small stores, tests and exports; queries should use :meth:`table`.
        """
        schema = QUARANTINE_SCHEMA if kind == "quarantine" else self._schemas[kind].arrow  # type: ignore[index]
        files = self.files(kind)
        if not files:
            return schema.empty_table()
        return ds.dataset([str(f) for f in files], schema=schema, format="parquet").to_table()

    def count(self, kind: Kind | str) -> int:
        """Number of stored rows of ``kind``, from the files' metadata."""
        return sum(pq.ParquetFile(f).metadata.num_rows for f in self.files(kind))

    def connect(self) -> Any:
        """A new in-memory DuckDB connection through Ibis, set up for this store's files."""
        return duckdb_connection(self.engine_memory)

    def table(self, kind: Kind | str, *, con: Any = None,
              between: tuple[datetime, datetime] | None = None) -> Any:
        """``kind`` as an Ibis table over the store's files (an empty table if none).

        ``between=(start, end)`` keeps the rows whose time is in ``[start, end)``, read
        from the files of those UTC days only: a query over a few days of a long log
        then opens a few files, not every file's footer.
        """
        con = con or self.connect()
        if between is not None and kind not in self._schemas:
            raise ValueError(f"{kind!r} rows have no time to select by")
        files = self.files(kind, between=between)
        schema = QUARANTINE_SCHEMA if kind == "quarantine" else self._schemas[kind].arrow  # type: ignore[index]
        if not files:
            table = con.create_table(f"empty_{kind}", schema.empty_table(), temp=True,
                                     overwrite=True)
        else:
            # the files carry every column; hive partitioning would add a `date` column
            # (and only when the store is not empty)
            table = con.read_parquet([str(f) for f in files], union_by_name=True,
                                     hive_partitioning=False)
        if between is None:
            return table
        import ibis

        time = table[self._schemas[kind].time]  # type: ignore[index]
        start, end = between
        return table.filter((time >= ibis.literal(start)) & (time < ibis.literal(end)))

    def outcomes_latest(self, *, con: Any = None) -> Any:
        """Outcomes, one per decision: the latest observed (a correction replaces a label)."""
        import ibis

        outcomes = self.table("outcomes", con=con)
        o = self.spec.outcomes
        rank = ibis.row_number().over(group_by=outcomes[o.decision_id],
                                      order_by=ibis.desc(outcomes[o.observed_at]))
        return outcomes.mutate(_rank=rank).filter(lambda t: t._rank == 0).drop("_rank", MODEL_COLUMN)

    def joined(self, *, con: Any = None) -> Any:
        """Decisions with their latest outcome (null label until it arrives), as an Ibis table.

        Outcomes may arrive before, with, or long after their decision: the join
        is done at read time, so arrival order does not matter.
        """
        con = con or self.connect()
        decisions = self.table("decisions", con=con)
        o = self.spec.outcomes
        outcomes = self.outcomes_latest(con=con).rename({"_outcome_id": o.decision_id})
        joined = decisions.left_join(
            outcomes, decisions[self.spec.columns.decision_id] == outcomes["_outcome_id"]
        )
        return joined.drop("_outcome_id")

    # --- maintenance ----------------------------------------------------------------

    def compact(self) -> CompactionResult:
        """Merge each partition's files into one, dropping duplicate keys.

        Safe against a crash at any point: a journal records the swap, and the
        next open of the store completes or undoes it.
        """
        partitions = files_before = files_after = removed = 0
        with self._locked():
            for kind in (*_KINDS, "quarantine"):
                base = self._table_dir(kind)
                for directory in sorted(p for p in base.glob("date=*") if p.is_dir()):
                    for stale in directory.glob(".*.tmp"):  # left by a writer that died
                        stale.unlink()
                    old = sorted(directory.glob("*.parquet"))
                    files_before += len(old)
                    if len(old) <= 1:
                        files_after += len(old)
                        continue
                    removed += self._compact_partition(kind, directory, old)
                    partitions += 1
                    files_after += 1
        return CompactionResult(partitions, files_before, files_after, removed)

    def _compact_partition(self, kind: str, directory: Path, old: list[Path]) -> int:
        schema = QUARANTINE_SCHEMA if kind == "quarantine" else self._schemas[kind].arrow  # type: ignore[index]
        merged = ds.dataset([str(p) for p in old], schema=schema, format="parquet").to_table()
        before = merged.num_rows
        if kind != "quarantine":
            keys = self._row_keys(kind, merged)
            first = pa.table({"k": keys, "i": pa.array(range(before), pa.int64())}) \
                .group_by("k", use_threads=False).aggregate([("i", "min")]).column("i_min")
            merged = merged.take(pc.take(first, pc.sort_indices(first)))
        journal_dir = self.root / "_journal"
        journal_dir.mkdir(exist_ok=True)
        tmp, new = _write_temp(merged, directory)
        # the journal is durable before the new file becomes visible, so a crash at any
        # point is either undone (temp file dropped) or completed (old files removed)
        journal = journal_dir / f"{uuid.uuid4().hex}.json"
        record = {"tmp": str(tmp), "new": str(new), "old": [str(p) for p in old]}
        with open(journal.with_suffix(".tmp"), "w", encoding="utf-8") as handle:
            handle.write(json.dumps(record))
            handle.flush()
            os.fsync(handle.fileno())  # a power loss must not leave an empty journal
        os.rename(journal.with_suffix(".tmp"), journal)
        _fsync_dir(journal_dir)
        _commit(tmp, new)
        self._finish(journal)
        self._keys.pop(directory, None)
        return int(before - merged.num_rows)

    def _finish(self, journal: Path) -> None:
        record = json.loads(journal.read_text())
        if Path(record["new"]).exists():
            for path in record["old"]:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(record["tmp"])
        journal.unlink()
        _fsync_dir(journal.parent)

    def _recover(self) -> None:
        """Complete compactions that a crash interrupted; clear stale temp files of dead writers."""
        journal_dir = self.root / "_journal"
        if journal_dir.exists():
            for journal in sorted(journal_dir.glob("*.json")):
                self._finish(journal)
            for tmp in journal_dir.glob("*.tmp"):
                tmp.unlink()


def _reason_kind(reason: str) -> str:
    """The reason without the offending value, for summaries: ``x: expected a number``."""
    return reason.split(";")[0]


def duckdb_connection(engine_memory: str = DEFAULT_ENGINE_MEMORY) -> Any:
    """A new in-memory DuckDB connection through Ibis, set up for Parquet files of decisions.

    ``engine_memory`` is the most memory DuckDB takes before spilling (a size such as
    ``'512MB'``).
    """
    import ibis  # deferred: serving code that only logs decisions never pays for it

    engine_memory = _memory_size(engine_memory)
    con = ibis.duckdb.connect()
    # Parquet min/max statistics exclude NaN, and DuckDB folds NaN tests on them
    # (ENGINE-NOTES); the store writes no NaN, but files from elsewhere may.
    con.raw_sql("SET disabled_optimizers = 'statistics_propagation'")
    # DuckDB takes 80% of RAM by default; a monitoring job beside serving code should
    # not: past the limit its aggregates spill to disk (same results, measured no slower)
    con.raw_sql(f"SET memory_limit = '{engine_memory}'")  # validated above: a size only
    # spill to the system's temporary directory, not to `.tmp` in whatever directory
    # the command runs from
    spill = Path(tempfile.gettempdir()) / "loopwatch-duckdb"
    con.raw_sql("SET temp_directory = '{}'".format(str(spill).replace("'", "''")))
    return con


def _memory_size(value: str) -> str:
    if not re.fullmatch(MEMORY_SIZE, value):
        raise ValueError(f"engine_memory: expected a size such as '512MB' or '2GB'; got {value!r}")
    return value
