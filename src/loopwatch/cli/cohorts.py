"""Which cohorts a command shows: ``--cohort`` checked against the spec, natural order, a row limit.

Cohort columns come in the order the profiles know them: the spec's cohort
columns, its entities, the source, hour of day, day of week; ``all`` (the
global cohort) first. Within a column, values sort naturally: numbers as
numbers (``hour_of_day`` 0, 1, 2, …, 23), text by its runs of digits and letters
(``v2`` before ``v10``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, overload

from loopwatch.cli.app import usage_error
from loopwatch.core.profile import ALL, DAY_OF_WEEK, Cohort

if TYPE_CHECKING:
    from loopwatch.core.spec import Spec

__all__ = ["CohortFilter", "Rows", "choose_rows", "known_columns", "natural_key", "parse_filter"]

_DIGITS = re.compile(r"(\d+)")


def natural_key(value: str) -> tuple[int, float, tuple[tuple[int, int, str], ...]]:
    """A sort key that orders numbers as numbers and text by its runs of digits and letters.

    >>> sorted(["10", "2", "1", "-1.5"], key=natural_key)
    ['-1.5', '1', '2', '10']
    >>> sorted(["v10", "v2", "EU", "AFR"], key=natural_key)
    ['AFR', 'EU', 'v2', 'v10']
    """
    try:
        as_number = float(value)
    except ValueError:
        as_number = math.nan
    if math.isfinite(as_number):
        return (0, as_number, ())
    runs = tuple((0, int(run), "") if run.isdigit() else (1, 0, run.casefold())
                 for run in _DIGITS.split(value) if run)
    return (1, 0.0, runs)


def known_columns(spec: Spec) -> tuple[str, ...]:
    """Every cohort column a profile of ``spec`` has, ``all`` first, in the order they are shown."""
    from loopwatch.storage.profiling import dimensions

    return (ALL.column, *dimensions(spec), DAY_OF_WEEK)


def _order(column: str, known: Sequence[str]) -> tuple[int, str]:
    return (known.index(column), "") if column in known else (len(known), column)


@dataclass(frozen=True)
class CohortFilter:
    """``--cohort COLUMN`` (every value of a column) or ``--cohort COLUMN=VALUE`` (one cohort)."""

    column: str
    value: str | None = None

    def __str__(self) -> str:
        return str(Cohort(self.column, self.value))

    def matches(self, cohort: Cohort) -> bool:
        """Whether ``cohort`` is selected (``all`` selects the global cohort alone)."""
        return cohort.column == self.column and (self.value is None or cohort.value == self.value)

    def matches_name(self, name: str | None) -> bool:
        """Whether a cohort written as text (``region=EU``; ``None`` for the global cohort) is selected."""
        column, _, value = (name or ALL.column).partition("=")
        return self.matches(Cohort(column, value or None))

    def check_present(self, present: Iterable[Cohort], *, option: str = "--cohort") -> None:
        """A usage error when no cohort in ``present`` matches, naming the values there are."""
        present = list(present)
        if any(self.matches(c) for c in present):
            return
        values = sorted({c.value for c in present if c.column == self.column and c.value is not None},
                        key=natural_key)
        found = f"its values here: {', '.join(values)}" if values else "it has no values here"
        usage_error(option, f"no cohort {str(self)!r} in this window; {found}")


@overload
def parse_filter(text: str, spec: Spec, *, option: str = ..., value_required: bool = ...) -> CohortFilter: ...
@overload
def parse_filter(text: None, spec: Spec, *, option: str = ..., value_required: bool = ...) -> None: ...
@overload
def parse_filter(text: str | None, spec: Spec, *, option: str = ...,
                 value_required: bool = ...) -> CohortFilter | None: ...


def parse_filter(text: str | None, spec: Spec, *, option: str = "--cohort",
                 value_required: bool = False) -> CohortFilter | None:
    """``--cohort`` checked against the cohort columns of ``spec``; ``None`` when not given.

    ``all`` is the global cohort; an unknown column is a usage error that names
    the known ones.
    """
    if text is None:
        return None
    column, sep, value = text.partition("=")
    known = known_columns(spec)
    expected = "'all' or COLUMN=VALUE" if value_required else "'all', COLUMN or COLUMN=VALUE"
    if not column or (sep and not value) or (value_required and not sep and column != ALL.column):
        usage_error(option, f"expected {expected}; got {text!r}")
    if column not in known or (column == ALL.column and sep):
        usage_error(option, f"unknown cohort column {column!r}; the cohort columns are: "
                            f"{', '.join(known)}")
    return CohortFilter(column, value or None)


@dataclass(frozen=True)
class Rows:
    """The cohorts to show, and what was left out to keep within the row limit."""

    shown: tuple[Cohort, ...]
    left_out: tuple[tuple[str, int], ...] = ()
    partial: tuple[str, int, int] | None = None  # column, shown, of how many
    columns: tuple[str, ...] = field(default=())

    def note(self) -> str | None:
        """A sentence saying what is not shown and how to see it; ``None`` when everything is."""
        notes = []
        if self.partial:
            column, shown, total = self.partial
            notes.append(f"{column}: the {shown:,} largest of {total:,} cohorts by decisions")
        if self.left_out:
            notes.append("not shown: " + ", ".join(
                f"{column} ({n:,} cohort{'s' if n != 1 else ''})" for column, n in self.left_out))
        if not notes:
            return None
        return "; ".join(notes) + " — --cohort COLUMN shows one column, --rows 0 every row"


def choose_rows(cohorts: Sequence[tuple[Cohort, int]], *, known: Sequence[str], limit: int) -> Rows:
    """The cohorts to show, grouped by column in ``known`` order, each group in natural order.

    ``cohorts`` pairs each cohort with its number of decisions. With a ``limit``
    (0: none), whole columns are shown while they fit and the others are named
    as left out; when not even the first column fits, its ``limit`` largest
    cohorts are shown.

    >>> from loopwatch.core.profile import Cohort
    >>> found = [(Cohort("h", str(h)), 10 + h) for h in (10, 2, 0)] + [(Cohort("all"), 99)]
    >>> [str(c) for c in choose_rows(found, known=["all", "h"], limit=0).shown]
    ['all', 'h=0', 'h=2', 'h=10']
    >>> rows = choose_rows(found, known=["all", "h"], limit=2)
    >>> [str(c) for c in rows.shown], rows.left_out
    (['all'], (('h', 3),))
    """
    groups: dict[str, list[tuple[Cohort, int]]] = {}
    for cohort, n in cohorts:
        groups.setdefault(cohort.column, []).append((cohort, n))
    ordered = sorted(groups, key=lambda column: _order(column, known))
    for column in ordered:
        groups[column].sort(key=lambda item: natural_key(item[0].value or ""))
    if limit <= 0:
        return Rows(shown=tuple(c for column in ordered for c, _ in groups[column]), columns=tuple(ordered))
    shown: list[Cohort] = []
    left_out: list[tuple[str, int]] = []
    for column in ordered:
        if len(groups[column]) <= limit - len(shown):
            shown += [c for c, _ in groups[column]]
        else:
            left_out.append((column, len(groups[column])))
    partial = None
    if not shown and left_out:
        column, total = left_out.pop(0)
        largest = {c for c, _ in sorted(groups[column], key=lambda item: -item[1])[:limit]}
        shown = [c for c, _ in groups[column] if c in largest]
        partial = (column, len(shown), total)
    return Rows(shown=tuple(shown), left_out=tuple(left_out), partial=partial,
                columns=tuple(c for c in ordered if any(x.column == c for x in shown)))
