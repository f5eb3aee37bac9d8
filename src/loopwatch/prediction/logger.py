"""The decision logger: a bounded enqueue for serving code that never loses a decision silently.

The caller's thread only copies the decision (or a batch of decisions given as
columns) and appends it to a bounded queue under a lock; a background thread
(:class:`~loopwatch.prediction.log_writer.LogWriter`) validates batches with the
shared row validator (:class:`~loopwatch.core.schema.TableSchema`, which also applies
the PII rules) and writes them through the store. Batches close by size
(``batch_size``) or by time (``flush_interval``), whichever comes first.

Nothing accepted is lost silently: a failed write keeps its batch and is retried
with backoff, :attr:`DecisionLogger.last_error` says why, and :meth:`DecisionLogger.flush`
raises :class:`~loopwatch.errors.StoreError`. When the queue is full, ``log()`` waits
for room (``on_full="block"``, the default) for at most ``block_timeout`` seconds; a
decision is dropped only after that wait, or at once with ``on_full="drop"``, and
every drop is counted and reported at WARNING (rate-limited).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Literal

from loopwatch.core.schema import decision_schema
from loopwatch.core.spec import Spec
from loopwatch.core.store import RowSink
from loopwatch.errors import InputError
from loopwatch.prediction.log_writer import ColumnBatch, LoggerStats, LogWriter, register_at_exit
from loopwatch.settings import Settings

__all__ = ["DecisionLogger", "LoggerStats"]

OnFull = Literal["drop", "block"]
_DEFAULT_BATCH = 10_000
#: Seconds ``log()`` waits for room in a full queue by default before it drops (and reports).
DEFAULT_BLOCK_TIMEOUT = 10.0


class DecisionLogger:
    """Log decisions from serving code without waiting on the store, and without losing them.

    :meth:`log` copies the decision (:meth:`log_columns` a whole batch, given as
    columns) and appends it to a bounded queue; a background
    thread validates batches (casting types, hashing ``pii: hash`` features with
    HMAC-SHA256, removing ``pii: drop`` features), writes them through the store,
    and sends rejected rows to quarantine with their reason. At interpreter exit,
    decisions still queued are flushed.

    Parameters
    ----------
    spec
        The model's spec: decision columns, features and their PII rules.
    store
        Where decisions go (a :class:`~loopwatch.core.store.RowSink`); by default the
        Parquet store the spec names (``LOOPWATCH_STORE`` overrides its location).
    queue_size
        Most decisions accepted but not yet written (queued or being written).
    batch_size
        Most decisions written in one batch; a full batch is written at once.
        Default: ``min(10_000, queue_size)``.
    flush_interval
        Seconds after which queued decisions are written even if no batch is full.
    on_full
        When the queue is full: ``"block"`` (the default) waits for room, for at most
        ``block_timeout`` seconds; ``"drop"`` drops the decision at once (the caller
        never waits). A dropped decision is counted (``stats().dropped``), ``log()``
        returns ``False``, and drops are reported at WARNING with their counts (the
        first at once, then at most one warning every 10 s).
    block_timeout
        Most seconds ``log()`` waits for room with ``on_full="block"``; a decision
        still without room is dropped and reported. The default (10 s) outlasts any
        healthy write of a batch by far: it ends only when the store stops taking
        writes, when the choice is between dropping with a warning and stalling the
        caller for good.
    pii_key
        Secret for HMAC-SHA256 of ``pii: hash`` features; default
        ``LOOPWATCH_PII_KEY``. It is never logged, printed or shown in ``repr``.

    Raises
    ------
    ValueError
        A parameter is out of range, or the spec has ``pii: hash`` features and
        no key is given.

    Notes
    -----
    A failed write keeps its batch and retries it with exponential backoff (0.05 s
    doubling to 5 s) until it succeeds; :meth:`flush` raises
    :class:`~loopwatch.errors.StoreError` after three consecutive failures (at least
    one of them during the call). The store is idempotent on ``decision_id``, so when
    a batch spanning two days failed after one day's file was committed, the retry
    counts that day's rows as ``duplicates``: ``written + duplicates`` is then exact,
    ``written`` alone an undercount.

    See Also
    --------
    loopwatch.storage.parquet_store.ParquetStore : the default store.

    Examples
    --------
    >>> import tempfile
    >>> from datetime import UTC, datetime
    >>> from loopwatch.core.spec import spec_from_mapping
    >>> tmp = tempfile.TemporaryDirectory()
    >>> spec = spec_from_mapping({"model": "card-fraud", "store": tmp.name,
    ...                           "features": [{"name": "amount", "dtype": "numeric"}]})
    >>> with DecisionLogger(spec, flush_interval=0.1) as logger:
    ...     logger.log({"decision_id": "d-1", "timestamp": datetime.now(UTC),
    ...                 "amount": 12.5, "score": 0.91})
    ...     logger.log({"decision_id": "d-2", "timestamp": datetime.now(UTC),
    ...                 "amount": "twelve", "score": 0.15})
    True
    True
    >>> stats = logger.stats()
    >>> (stats.accepted, stats.written, stats.quarantined, stats.pending)
    (2, 1, 1, 0)
    >>> tmp.cleanup()
    """

    def __init__(
        self,
        spec: Spec,
        *,
        store: RowSink | None = None,
        queue_size: int = 100_000,
        batch_size: int | None = None,
        flush_interval: float = 1.0,
        on_full: OnFull = "block",
        block_timeout: float = DEFAULT_BLOCK_TIMEOUT,
        pii_key: bytes | None = None,
    ) -> None:
        _positive_int("queue_size", queue_size)
        if batch_size is None:
            batch_size = min(_DEFAULT_BATCH, queue_size)
        _positive_int("batch_size", batch_size)
        if batch_size > queue_size:
            raise ValueError(f"batch_size must be <= queue_size ({queue_size}); got {batch_size}")
        if (isinstance(flush_interval, bool) or not isinstance(flush_interval, int | float)
                or not math.isfinite(flush_interval) or flush_interval <= 0):
            raise ValueError(f"flush_interval must be a number of seconds > 0; "
                             f"got {flush_interval!r}")
        if (isinstance(block_timeout, bool) or not isinstance(block_timeout, int | float)
                or not math.isfinite(block_timeout) or block_timeout < 0):
            raise ValueError(f"block_timeout must be a number of seconds >= 0; "
                             f"got {block_timeout!r}")
        if on_full not in ("drop", "block"):
            raise ValueError(f"on_full must be one of 'drop', 'block'; got {on_full!r}")
        if pii_key is not None and (not isinstance(pii_key, bytes) or not pii_key):
            # never echo the value: it is a secret
            raise ValueError(f"pii_key must be non-empty bytes; got a {type(pii_key).__name__}"
                             f"{' (empty)' if not pii_key else ''}")
        settings: Settings | None = None
        if pii_key is None and any(f.pii == "hash" for f in spec.features):
            settings = Settings()
            secret = settings.pii_key
            pii_key = None if secret is None else secret.get_secret_value().encode()
        schema = decision_schema(spec, pii_key=pii_key)
        schema.require_key()
        if store is None:
            # wired here, at the edge, so that passing a store never imports storage
            from loopwatch.storage.parquet_store import ParquetStore

            location = (settings or Settings()).store
            store = ParquetStore.for_spec(spec, location=location, pii_key=pii_key)
        self._spec = spec
        self._options = (f"queue_size={queue_size}, batch_size={batch_size}, "
                         f"flush_interval={flush_interval}, on_full={on_full!r}, "
                         f"block_timeout={block_timeout}")
        self._closed_message = _closed_message(spec.model)
        self._writer = LogWriter(schema, store, capacity=queue_size, batch_size=batch_size,
                                 interval=float(flush_interval), block=on_full == "block",
                                 block_timeout=float(block_timeout),
                                 name=f"loopwatch-decision-logger[{spec.model}]")
        register_at_exit()
        self._writer.start()
        # on garbage collection without close(): drain in the background, do not block
        weakref.finalize(self, LogWriter.request_stop, self._writer).atexit = False

    def log(self, decision: Mapping[str, Any]) -> bool:
        """Queue one decision; ``True`` if accepted, ``False`` if dropped (queue full, reported).

        The decision is copied, so the caller may reuse the mapping. Validation
        happens later, on the writer thread: a bad row goes to quarantine.

        Raises
        ------
        InputError
            ``decision`` is not a mapping of column names to values.
        LoggerClosedError
            The logger is closed.
        """
        if type(decision) is not dict and not isinstance(decision, Mapping):
            raise InputError(f"DecisionLogger.log takes one decision as a mapping of column "
                             f"name to value (a dict); got {_kind(decision)}")
        row = dict(decision)
        w = self._writer
        # the common case inline (the serving thread's cost); a full or closed queue goes
        # through offer(), which waits, drops and reports, or raises
        with w.lock:
            room = not w.closed and w.accepted - w.finished < w.capacity
            if room:
                w.buffer.append(row)
                w.buffered += 1
                w.accepted += 1
                full = w.buffered == w.batch_size
        if not room:
            return w.offer(row, 1, self._closed_message)
        if full:
            w.wake.set()
        return True

    def log_columns(self, columns: Mapping[str, Sequence[Any]]) -> bool:
        """Queue a batch of decisions given as columns, in one step; ``True`` if accepted.

        ``columns[name][i]`` is decision ``i``'s value of ``name``; every column has
        the same length. This is the serving path: one enqueue per batch, and a
        column of values is validated and cast as a whole on the writer thread. The
        columns are copied, as tuples (which the garbage collector stops tracking). The
        batch is accepted or dropped as a whole (and counted by its rows); with
        ``on_full="block"`` it waits for room for all of its rows (a batch larger than
        ``queue_size`` waits for an empty queue).

        Raises
        ------
        InputError
            ``columns`` is not a mapping of names to sequences of one length.
        LoggerClosedError
            The logger is closed.

        Examples
        --------
        >>> import tempfile
        >>> from datetime import UTC, datetime
        >>> from loopwatch.core.spec import spec_from_mapping
        >>> tmp = tempfile.TemporaryDirectory()
        >>> spec = spec_from_mapping({"model": "m", "store": tmp.name,
        ...                           "features": [{"name": "amount", "dtype": "numeric"}]})
        >>> now = datetime.now(UTC)
        >>> with DecisionLogger(spec) as logger:
        ...     logger.log_columns({"decision_id": ["a", "b"], "timestamp": [now, now],
        ...                         "amount": [3.5, 8.0], "score": [0.2, 0.7]})
        True
        >>> logger.stats().written
        2
        >>> tmp.cleanup()
        """
        batch = _column_batch(columns)
        if batch.rows == 0:
            return True
        return self._writer.offer(batch, batch.rows, self._closed_message)

    def flush(self, timeout: float | None = None) -> None:
        """Block until every decision accepted before the call is written or quarantined.

        Raises
        ------
        TimeoutError
            ``timeout`` seconds passed first; the decisions stay queued.
        StoreError
            Writing failed repeatedly (see :attr:`last_error`); the decisions are
            kept in memory and retried in the background.
        """
        self._writer.flush(timeout)

    def close(self, timeout: float | None = None) -> None:
        """Stop taking decisions, flush, and stop the writer thread. Idempotent.

        If the flush raises, the writer keeps retrying; call ``close()`` again.
        """
        self._writer.close(timeout)

    def stats(self) -> LoggerStats:
        """A consistent snapshot of the counters."""
        return self._writer.snapshot()

    @property
    def last_error(self) -> BaseException | None:
        """The error of the last write attempt if it failed; ``None`` once a write succeeds."""
        return self._writer.last_error

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (or the logger is being collected)."""
        return self._writer.closed

    def __enter__(self) -> DecisionLogger:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._writer.closed else "open"
        return f"DecisionLogger(model={self._spec.model!r}, {self._options}, {state})"


def _positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1; got {value!r}")


def _kind(value: object) -> str:
    return "None" if value is None else f"a {type(value).__name__}"


def _column_batch(columns: Mapping[str, Sequence[Any]]) -> ColumnBatch:
    if not isinstance(columns, Mapping):
        raise InputError(f"DecisionLogger.log_columns takes a mapping of column name to a "
                         f"sequence of values; got {_kind(columns)}")
    # held as tuples: a tuple of scalars leaves the garbage collector's lists at the first
    # collection that sees it, so the decisions queued between writes (a whole interval's)
    # are not traversed by every full collection, as lists would be
    copied: dict[str, tuple[Any, ...]] = {}
    rows: int | None = None
    first = ""
    for name, values in columns.items():
        if not isinstance(name, str):
            raise InputError(f"DecisionLogger.log_columns: column names are strings; got {name!r}")
        if type(values) is list or type(values) is tuple:  # the serving loop's: no ABC check
            copied[name] = tuple(values)
        else:
            tolist = getattr(values, "tolist", None)  # NumPy arrays: Python scalars, in C
            if callable(tolist):
                values = tolist()
            if isinstance(values, str | bytes) or not isinstance(values, Sequence):
                raise InputError(f"DecisionLogger.log_columns: column {name!r} must be a sequence "
                                 f"of values; got {_kind(values)}")
            copied[name] = tuple(values)
        if rows is None:
            rows, first = len(values), name
        elif len(values) != rows:
            raise InputError(f"DecisionLogger.log_columns: column {name!r} has {len(values)} "
                             f"values but column {first!r} has {rows}; every column needs one "
                             "value per decision")
    return ColumnBatch(copied, rows or 0)


def _closed_message(model: str) -> str:
    return (f"the decision logger of model {model!r} is closed; "
            "create a new DecisionLogger to log more decisions")
