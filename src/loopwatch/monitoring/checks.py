"""The check extension point: what a check receives, what it returns, how it is registered.

A check is any object with a ``name`` and ``run(context) -> list[Finding]``.
Built-ins register with :func:`register_check` exactly as plugins do (or
through the ``loopwatch.checks`` entry-point group). A check reports every
candidate with the p-value of its test in ``evidence["p_value"]``; the job
controls the false discovery rate across all checks of a run together. Its
windows are :class:`loopwatch.core.window.Window`, re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeVar, cast, runtime_checkable

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from loopwatch.core.findings import Finding
from loopwatch.core.profile import ALL, DAY_OF_WEEK, Binning, Cohort, Profile
from loopwatch.core.profile_parts import ProfileParts
from loopwatch.core.spec import Spec
from loopwatch.core.window import Window
from loopwatch.monitoring.baselines import OpenIncidents
from loopwatch.monitoring.impact import Signal
from loopwatch.plugins import Registry

__all__ = ["CHECKS", "Check", "CheckContext", "Window", "register_check"]

C = TypeVar("C")


@dataclass
class CheckContext:
    """Everything a check reads: the spec, the reference's bins and the stored profiles.

    ``current`` is the window checked, ``trend`` a longer window ending with it,
    ``baseline`` the window before ``current`` and ``reference`` the spec's
    reference. :meth:`profiles` merges stored daily aggregates (cached per window).
    """

    spec: Spec
    binning: Binning
    parts: ProfileParts
    as_of: datetime
    current: Window
    trend: Window
    baseline: Window
    reference: Window
    #: rows rejected at ingestion, per UTC day and reason
    quarantined: Mapping[tuple[datetime, str], int] = field(default_factory=dict)
    #: subjects held by open alerts, whose baselines stop at the alert's onset
    incidents: OpenIncidents = field(default_factory=OpenIncidents)
    #: time of the last decision before ``as_of`` (``None``: none at all)
    last_decision: datetime | None = None
    _cache: dict[Window, dict[Cohort, Profile]] = field(default_factory=dict, repr=False)
    _signal: Signal | None = field(default=None, repr=False)

    @property
    def windows(self) -> tuple[Window, ...]:
        """The windows checked: current, and trend when it is longer."""
        return tuple(dict.fromkeys((self.current, self.trend)))

    def pairs(self, window: Window, baseline: Window) -> Iterator[tuple[Cohort, Profile, Profile]]:
        """Each cohort of ``window`` with its profile in ``baseline``, when both hold at least
        ``min_decisions``; day-of-week cohorts are left out (sums of whole days)."""
        then = self.profiles(baseline)
        for cohort, current in sorted(self.profiles(window).items()):
            before = then.get(cohort)
            if cohort.column == DAY_OF_WEEK or before is None:
                continue
            if min(current.n, before.n) >= self.spec.monitoring.min_decisions:
                yield cohort, current, before

    def before(self, window: Window) -> Window:
        """The baseline of ``window``: as long as :attr:`baseline`, ending where ``window`` starts."""
        return window.before(self.baseline.length)

    def baseline_for(self, window: Window, kind: str, key: str | None) -> Window:
        """The baseline of ``window`` for one subject of family ``kind``: :meth:`before`, or,
        when an open alert holds the subject since before ``window`` starts, the baseline
        before that alert's onset (days inside an incident are not a baseline)."""
        onset = self.incidents.onset(kind, key)
        if onset is None or onset >= window.start:
            return self.before(window)
        return Window.ending(onset, self.baseline.length)

    def profiles(self, window: Window) -> dict[Cohort, Profile]:
        """Profiles of every cohort present in ``window``."""
        if window not in self._cache:
            self._cache[window] = self.parts.profiles(self.binning, start=window.start,
                                                      end=window.end)
        return self._cache[window]

    def profile(self, window: Window, cohort: Cohort = ALL) -> Profile:
        """One cohort's profile of ``window`` (empty if the cohort has no decisions there)."""
        return self.profiles(window).get(cohort) or self.binning.empty(window.start, window.end,
                                                                        cohort)

    def daily_counts(self, window: Window) -> dict[Cohort, dict[datetime, int]]:
        """Decisions per UTC day and cohort value (every dimension), from the stored moments."""
        moments = self.parts.select_days(window.start, window.end).moments
        # stored days carry differing dictionaries: group by the plain text
        narrow = pa.table({"day": moments.column("day"), "dim": moments.column("dim"),
                           "value": pc.cast(moments.column("value"), pa.string()),
                           "n": moments.column("n")})
        grouped = narrow.group_by(["day", "dim", "value"]).aggregate([("n", "sum")])
        days = grouped.column("day").to_pylist()
        dims = grouped.column("dim").to_pylist()
        values = grouped.column("value").to_pylist()
        out: dict[Cohort, dict[datetime, int]] = {}
        for day, dim, value, n in zip(days, dims, values, grouped.column("n_sum").to_pylist(),
                                      strict=True):
            out.setdefault(Cohort(self.parts.dims[dim], value), {})[day] = int(n)
            if dim == 0:
                totals = out.setdefault(ALL, {})
                totals[day] = totals.get(day, 0) + int(n)
        return out

    def positive_rows(self) -> npt.NDArray[np.int64]:
        """Rows of :attr:`Profile.score`'s ``by_action`` that are positive decisions."""
        return np.array([i for i, a in enumerate(self.binning.actions)
                         if a in self.spec.positive_actions], dtype=np.int64)

    @property
    def signal(self) -> Signal:
        """``positive`` when the reference logged positive decisions, else ``score``."""
        if self._signal is None:
            reference = self.profile(self.reference)
            positives = reference.score.by_action[self.positive_rows()].sum()
            self._signal = "positive" if positives > 0 else "score"
        return self._signal


@runtime_checkable
class Check(Protocol):
    """A monitoring check: ``run`` returns findings, each a candidate until the run's FDR control."""

    name: str

    def run(self, context: CheckContext) -> list[Finding]: ...


CHECKS: Registry[type[Check]] = Registry("check", group="loopwatch.checks")


def register_check(name: str) -> Callable[[type[C]], type[C]]:
    """Class decorator: register a check class (built-in or plugin) under ``name``.

    The class is instantiated with no arguments when a run uses it; its ``run``
    method receives a :class:`CheckContext` and returns findings.

    Examples
    --------
    >>> import loopwatch.monitoring.job  # the built-in checks register on import
    >>> {"health", "drift", "volume"} <= set(CHECKS.names())
    True
    """
    def decorate(cls: type[C]) -> type[C]:
        CHECKS.register(name)(cast("type[Check]", cls))
        return cls
    return decorate
