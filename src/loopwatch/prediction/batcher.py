"""Micro-batching: rows from concurrent requests gathered into one call, deadlines honoured.

A :class:`MicroBatcher` takes one row at a time (a request with a list of rows
submits each), and runs ``process(batch)`` on its own thread for up to
``max_rows`` rows. While that thread is idle, a batch closes when it holds
``max_rows`` rows or when its first row has waited ``max_wait_ms``; while it is
busy, rows queue and the next batch takes them as soon as it is free (the queue
itself is the batch, so batches grow with load and a quiet service pays at most
the wait budget).

A row whose deadline cannot be met is shed, not queued: at submission, when the
estimated time to its result (the current batch's remaining time, the batches
queued ahead of it and its own, from a moving average of batch durations) passes
its deadline; and when its batch forms after its deadline. A shed row gets
:data:`SHED` with the reason, and the caller decides without the model.

``process`` returns the batch's results, one per row, and optionally a function to
run after the results are handed back (shadow scoring, logging), on the same thread
and before the next batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Batching", "MicroBatcher", "Shed"]

I = TypeVar("I")  # noqa: E741 - the conventional name of an item type
R = TypeVar("R")

_log = logging.getLogger(__name__)

After = Callable[[], None] | None


@dataclass(frozen=True, kw_only=True)
class Batching:
    """How rows are gathered: at most ``max_rows`` a call, after at most ``max_wait_ms``.

    ``max_rows=1`` scores every row alone (no batching).

    Examples
    --------
    >>> Batching(max_rows=0)
    Traceback (most recent call last):
    ...
    ValueError: max_rows must be an integer >= 1; got 0
    """

    max_rows: int = 64
    max_wait_ms: float = 2.0

    def __post_init__(self) -> None:
        if isinstance(self.max_rows, bool) or not isinstance(self.max_rows, int) or self.max_rows < 1:
            raise ValueError(f"max_rows must be an integer >= 1; got {self.max_rows!r}")
        if isinstance(self.max_wait_ms, bool) or not isinstance(self.max_wait_ms, int | float) \
                or not math.isfinite(self.max_wait_ms) or self.max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must be a finite number >= 0; got {self.max_wait_ms!r}")


@dataclass(frozen=True, slots=True)
class Shed:
    """A row that was not scored because its deadline could not be met."""

    reason: str
    detail: str


@dataclass(slots=True)
class _Entry(Generic[I, R]):
    item: I
    deadline: float | None
    arrived: float
    future: asyncio.Future[R | Shed]


class MicroBatcher(Generic[I, R]):
    """Gather rows of concurrent requests and process them in batches on one thread.

    Create it inside a running event loop; :meth:`close` stops it.
    """

    def __init__(self, process: Callable[[list[I]], tuple[Sequence[R], After]], batching: Batching,
                 *, name: str = "loopwatch-batcher",
                 initializer: Callable[[], None] | None = None) -> None:
        self._process = process
        self.batching = batching
        self._loop = asyncio.get_running_loop()
        self._queue: deque[_Entry[I, R]] = deque()
        self._arrived = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name,
                                            initializer=initializer)
        self._busy_since: float | None = None
        self._batch_s = 0.0  # moving average of a batch's duration; 0 until one ran
        self.batches = 0
        self.rows = 0
        self._task = self._loop.create_task(self._run(), name=name)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def estimate_s(self) -> float:
        """Estimated seconds from now until a row submitted now has its result."""
        if self._batch_s == 0.0:
            return 0.0
        now = time.monotonic()
        current = 0.0
        if self._busy_since is not None:
            current = max(0.0, self._busy_since + self._batch_s - now)
        ahead = len(self._queue) // self.batching.max_rows
        wait = 0.0 if self._busy_since is not None else self.batching.max_wait_ms / 1e3
        return current + wait + (ahead + 1) * self._batch_s

    async def submit(self, item: I, *, deadline: float | None = None) -> R | Shed:
        """The result of ``item``'s row, or :class:`Shed` when its deadline (monotonic) cannot be met."""
        now = time.monotonic()
        if deadline is not None:
            expected = now + self.estimate_s()
            if expected > deadline:
                return Shed("deadline", f"expected in {1e3 * (expected - now):.1f} ms, "
                                        f"deadline in {1e3 * (deadline - now):.1f} ms")
        future: asyncio.Future[R | Shed] = self._loop.create_future()
        self._queue.append(_Entry(item, deadline, now, future))
        self._arrived.set()
        return await future

    async def _run(self) -> None:
        max_rows, max_wait = self.batching.max_rows, self.batching.max_wait_ms / 1e3
        while True:
            if not self._queue:
                self._arrived.clear()
                await self._arrived.wait()
            first = self._queue[0].arrived
            while len(self._queue) < max_rows:
                remaining = first + max_wait - time.monotonic()
                if remaining <= 0:
                    break
                self._arrived.clear()
                try:
                    await asyncio.wait_for(self._arrived.wait(), remaining)
                except TimeoutError:
                    break
            batch: list[_Entry[I, R]] = []
            now = time.monotonic()
            while self._queue and len(batch) < max_rows:
                entry = self._queue.popleft()
                if entry.future.done():  # the caller went away
                    continue
                if entry.deadline is not None and now + self._batch_s > entry.deadline:
                    late = 1e3 * (now - entry.arrived)
                    entry.future.set_result(Shed("deadline", f"queued {late:.1f} ms; the batch "
                                                             "would end after the deadline"))
                    continue
                batch.append(entry)
            if batch:
                try:
                    await self._run_batch(batch)
                except Exception as exc:  # the batch thread is gone (shut down): never hang callers
                    _log.exception("a batch of %d rows could not run", len(batch))
                    _fail(batch, exc)

    async def _run_batch(self, batch: list[_Entry[I, R]]) -> None:
        started = time.monotonic()
        self._busy_since = started
        try:
            await self._loop.run_in_executor(self._executor, self._work, batch)
        finally:
            self._busy_since = None
        elapsed = time.monotonic() - started
        self._batch_s = elapsed if self._batch_s == 0.0 else 0.8 * self._batch_s + 0.2 * elapsed
        self.batches += 1
        self.rows += len(batch)

    def _work(self, batch: list[_Entry[I, R]]) -> None:
        """On the batch thread: process, hand the results back, then run the after-work."""
        try:
            results, after = self._process([entry.item for entry in batch])
        except BaseException as exc:
            self._loop.call_soon_threadsafe(_fail, batch, exc)
            return
        self._loop.call_soon_threadsafe(_resolve, batch, results)
        if after is not None:
            try:
                after()
            except Exception:  # the decisions are out; the batcher must go on
                _log.exception("the work after a batch of %d rows failed", len(batch))

    def abandon(self) -> None:
        """Let go of a batcher whose event loop is gone: its thread ends, nothing is awaited."""
        self._task.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def close(self) -> None:
        """Stop gathering; rows still queued are shed."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        while self._queue:
            entry = self._queue.popleft()
            if not entry.future.done():
                entry.future.set_result(Shed("closing", "the loop is shutting down"))
        self._executor.shutdown(wait=True)


def _resolve(batch: Sequence[_Entry[I, R]], results: Sequence[R]) -> None:
    for entry, result in zip(batch, results, strict=True):
        if not entry.future.done():
            entry.future.set_result(result)


def _fail(batch: Sequence[_Entry[I, R]], exc: BaseException) -> None:
    for entry in batch:
        if not entry.future.done():
            entry.future.set_exception(exc)
