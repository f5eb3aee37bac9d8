"""Counting the decisions a logger drops, and saying so at WARNING without flooding the log.

A drop is never silent: the first one is reported at once, later ones at most once
every :data:`DROP_WARNING_INTERVAL` seconds with the count since the previous report
and the total, and the remainder when the logger closes. The writer thread looks at
the report after each batch, so drops that stop are still reported.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

__all__ = ["DROP_WARNING_INTERVAL", "DropReport", "DropWarning"]

#: Fewest seconds between two warnings about dropped decisions.
DROP_WARNING_INTERVAL = 10.0


@dataclass(frozen=True, slots=True)
class DropWarning:
    """One warning about dropped decisions, emitted outside the logger's lock."""

    message: str

    def emit(self, log: logging.Logger) -> None:
        log.warning("%s", self.message)


class DropReport:
    """Drop counts of one logger and the rate limit of their warnings (callers hold the logger's lock).

    Examples
    --------
    >>> report = DropReport(model="m", capacity=10, block=False, block_timeout=0.0)
    >>> print(report.dropped(3, None, now=100.0).message)  # doctest: +NORMALIZE_WHITESPACE
    decision logger of model 'm': dropped 3 decisions (3 since start) because its queue of 10 was
    full (on_full='drop'); raise queue_size, use on_full='block', or look at the store
    >>> report.dropped(2, None, now=101.0) is None  # within the interval: counted, not reported
    True
    >>> print(report.due(111.0, None).message)  # doctest: +NORMALIZE_WHITESPACE
    decision logger of model 'm': dropped 2 decisions in the last 11 s (5 since start) because its
    queue of 10 was full (on_full='drop'); raise queue_size, use on_full='block', or look at the store
    """

    def __init__(self, *, model: str, capacity: int, block: bool, block_timeout: float,
                 interval: float = DROP_WARNING_INTERVAL) -> None:
        self.model = model
        self.capacity = capacity
        self.block = block
        self.block_timeout = block_timeout
        self.interval = interval
        self.total = 0
        self.unreported = 0
        self.reported_at: float | None = None

    def dropped(self, rows: int, last_error: BaseException | None, *,
                now: float | None = None) -> DropWarning | None:
        """Count ``rows`` dropped; the warning to emit now, if the rate limit allows one."""
        self.total += rows
        self.unreported += rows
        return self.due(time.monotonic() if now is None else now, last_error)

    def due(self, now: float, last_error: BaseException | None, *,
            final: bool = False) -> DropWarning | None:
        """The warning about unreported drops, when one is due at ``now`` (or ``final``)."""
        if not self.unreported:
            return None
        since = self.reported_at
        if not final and since is not None and now - since < self.interval:
            return None
        span = "" if since is None else f" in the last {now - since:.3g} s"
        why = (f"after waiting {self.block_timeout:g} s for room (on_full='block')" if self.block
               else "(on_full='drop')")
        advice = ("raise queue_size or block_timeout, or look at the store" if self.block
                  else "raise queue_size, use on_full='block', or look at the store")
        cause = "" if last_error is None else f"; the last write failed with {last_error!r}"
        message = (f"decision logger of model {self.model!r}: dropped {self.unreported:,} "
                   f"decisions{span} ({self.total:,} since start) because its queue of "
                   f"{self.capacity:,} was full {why}{cause}; {advice}")
        self.unreported = 0
        self.reported_at = now
        return DropWarning(message)

