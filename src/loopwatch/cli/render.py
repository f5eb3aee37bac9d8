"""How the ``loopwatch`` command shows results: numbers, tables that fit the width, findings, JSON.

Every command prints through this module, so that a number, an interval, a
table and a JSON document look the same everywhere:

* numbers: counts with thousands separators (``253,519``); rates and shares as
  percentages with three significant digits (``35.7%``, ``0.480%``); other
  statistics with four significant digits, trailing zeros dropped (``0.4535``,
  ``346,300``), in scientific notation below 1e-4 (``2.192e-05``); a value that
  is missing or not finite as ``-``;
* intervals as ``low–high`` (``0.725–0.760``, ``32.8%–39.3%``), ``low to high``
  when an end is negative;
* tables are laid out for the console's width (80 columns when piped, or
  ``COLUMNS``): headers wrap between words, each column is as wide as its
  widest value, and a table too wide for the console is split by columns into
  several tables that repeat the key columns. Nothing is cut off with an
  ellipsis: a single value wider than the console folds onto the next line;
* JSON: sorted keys, two-space indent, times in ISO 8601, non-finite numbers
  as ``null``.

Output goes to standard output; progress and notes to standard error, shown on
a terminal and silent when piped.
"""

from __future__ import annotations

import json as _json
import math
import numbers
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from functools import partial
from pathlib import Path
from typing import Any, Literal

from rich import box
from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from loopwatch.core.alerts import AlertDraft
from loopwatch.core.findings import Finding, Severity

__all__ = [
    "Column",
    "count",
    "err",
    "escape",
    "findings",
    "interval",
    "number",
    "out",
    "percent",
    "print_json",
    "progress",
    "table",
    "to_json",
]

#: How each severity is styled on a terminal.
SEVERITY_STYLES = {Severity.PAGE: "bold red", Severity.WARNING: "yellow", Severity.INFO: "dim"}
_SEVERITY_WIDTH = max(len(str(s)) for s in Severity)


def out() -> Console:
    """The console of results (standard output), as wide as the terminal or ``COLUMNS`` (80 when piped).

    Made anew for each use, so that it follows the standard output and ``COLUMNS``
    of the moment (a test's runner replaces both).
    """
    return Console(highlight=False)


def err() -> Console:
    """The console of errors, notes and progress (standard error)."""
    return Console(stderr=True, highlight=False)


def progress() -> Progress:
    """A progress bar on standard error, shown on a terminal only and removed when done."""
    console = err()
    return Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                    console=console, disable=not console.is_terminal, transient=True)


# --- numbers -------------------------------------------------------------------------------------


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def count(value: int | None) -> str:
    """A count with thousands separators.

    >>> count(253519), count(None)
    ('253,519', '-')
    """
    return "-" if value is None else f"{value:,}"


def number(value: float | None, *, digits: int = 4, zeros: bool = False, decimals: int | None = None) -> str:
    """A statistic with ``digits`` significant digits (trailing zeros dropped unless ``zeros``),
    or with a fixed number of ``decimals``.

    >>> number(0.45351), number(346312.7), number(2.1923e-05), number(3.0), number(float("nan"))
    ('0.4535', '346,300', '2.192e-05', '3', '-')
    >>> number(0.75, digits=3, zeros=True), number(-0.0123456), number(0.0177, decimals=3)
    ('0.750', '-0.01235', '0.018')
    """
    value = _finite(value)
    if value is None:
        return "-"
    if decimals is not None:
        return f"{value:,.{decimals}f}"
    if value == 0:
        return "0" if not zeros else f"{0:.{digits - 1}f}"
    if abs(value) < 1e-4 or abs(value) >= 1e15:
        return f"{value:.{digits - 1}e}"
    rounded = float(f"{value:.{digits}g}")
    places = max(0, digits - 1 - math.floor(math.log10(abs(rounded))))
    text = f"{rounded:,.{places}f}"
    if not zeros and "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def percent(value: float | None, *, digits: int = 3) -> str:
    """A share as a percentage with ``digits`` significant digits (at least one decimal).

    >>> percent(0.35712), percent(0.0048), percent(1.0), percent(0.0), percent(None)
    ('35.7%', '0.480%', '100.0%', '0.0%', '-')
    """
    value = _finite(value)
    if value is None:
        return "-"
    scaled = value * 100
    if scaled == 0:
        return "0.0%"
    if abs(scaled) < 1e-4:
        return f"{scaled:.{digits - 1}e}%"
    rounded = float(f"{scaled:.{digits}g}")
    places = max(1, digits - 1 - math.floor(math.log10(abs(rounded))))
    return f"{rounded:,.{places}f}%"


def interval(low: float | None, high: float | None, show: Callable[[float | None], str] | None = None) -> str:
    """``low–high`` (``low to high`` when an end is negative), each end written by ``show``
    (three significant digits by default); ``-`` when either end is undefined.

    >>> interval(0.7254, 0.76), interval(0.328, 0.393, percent), interval(-0.001, 0.0048)
    ('0.725–0.760', '32.8%–39.3%', '-0.00100 to 0.00480')
    """
    low, high = _finite(low), _finite(high)
    if low is None or high is None:
        return "-"
    show = show or partial(number, digits=3, zeros=True)
    joint = "–" if low >= 0 and high >= 0 else " to "
    return f"{show(low)}{joint}{show(high)}"


# --- tables --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A column of :func:`table`: its header, alignment, and how its values may break.

    ``key`` columns (the row's name) are repeated in every part when a table is
    split by columns to fit the width. A ``wrap`` column (text) may wrap its
    values between words to make room; other columns keep their widest value on
    one line. ``max_width`` folds longer values of a column that would otherwise
    crowd out the others.
    """

    header: str
    justify: Literal["left", "right"] = "right"
    key: bool = False
    wrap: bool = False
    max_width: int | None = None


Cell = str | Text
#: A ``wrap`` column may narrow to this many characters, folding a longer word.
WRAP_FLOOR = 20


def _lines(cell: Cell) -> list[str]:
    return (cell.plain if isinstance(cell, Text) else cell).split("\n")


def _widths(column: Column, cells: Iterable[Cell]) -> tuple[int, int]:
    """The narrowest and the natural width of a column."""
    lines = [line for cell in cells for line in _lines(cell)]
    header = max((cell_len(word) for word in column.header.split()), default=1)
    natural = max([header, *(cell_len(line) for line in lines)])
    narrowest = natural
    if column.wrap:
        longest_word = max([header, *(cell_len(word) for line in lines for word in line.split())])
        narrowest = min(longest_word, max(header, WRAP_FLOOR))
    if column.max_width:
        cap = max(column.max_width, header)
        natural, narrowest = min(natural, cap), min(narrowest, cap)
    return narrowest, natural


def _build(columns: Sequence[tuple[Column, int, int]], rows: Sequence[Sequence[Cell]], picks: Sequence[int],
           *, narrowest: bool = False) -> Table:
    grid = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for index in picks:
        column, least, natural = columns[index]
        if narrowest or not column.wrap:
            grid.add_column(column.header, justify=column.justify, width=least if narrowest else natural,
                            overflow="fold")
        else:
            grid.add_column(column.header, justify=column.justify, min_width=least, max_width=natural,
                            overflow="fold")
    for row in rows:
        grid.add_row(*(row[i] for i in picks))
    return grid


def table(columns: Sequence[Column], rows: Sequence[Sequence[Cell]], *,
          width: int | None = None) -> list[Table]:
    """``rows`` as one or more tables no wider than ``width`` (the console's by default).

    Each column is as wide as its widest value (a ``wrap`` column may narrow to
    its longest word); columns are added to a table while it fits, and the rest
    go to further tables that repeat the ``key`` columns, so a wide table reads
    as a few narrow ones at 80 columns and as one on a wide terminal.

    >>> parts = table([Column("cohort", "left", key=True), Column("a"), Column("b")],
    ...               [["all", "1" * 30, "2" * 30]], width=50)
    >>> [[c.header for c in part.columns] for part in parts]
    [['cohort', 'a'], ['cohort', 'b']]
    """
    limit = width or out().width
    measured = [(column, *_widths(column, [row[i] for row in rows])) for i, column in enumerate(columns)]
    keys = [i for i, (column, _, _) in enumerate(measured) if column.key]
    others = [i for i, (column, _, _) in enumerate(measured) if not column.key]
    probe = Console(width=10_000)
    parts: list[list[int]] = []
    current: list[int] = []
    for index in others:
        trial = sorted([*keys, *current, index])
        fits = probe.measure(_build(measured, [], trial, narrowest=True)).maximum <= limit
        if current and not fits:
            parts.append(current)
            current = []
        current.append(index)
    if current or not parts:
        parts.append(current)
    return [_build(measured, rows, sorted([*keys, *part])) for part in parts]


def print_tables(tables: Sequence[RenderableType], *, title: str | None = None,
                 console: Console | None = None) -> None:
    """Print a title line (wrapped at the console's width), then the tables, a blank line between them."""
    console = console or out()
    if title:
        console.print(title, style="bold", markup=False)
    for index, part in enumerate(tables):
        if index:
            console.print()
        console.print(part)


def key_values(pairs: Sequence[tuple[str, str]]) -> Table:
    """A two-column list of labelled values (``decisions  253,519``)."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in pairs:
        grid.add_row(label, value)
    return grid


# --- findings ------------------------------------------------------------------------------------


def subject(finding: Finding) -> str:
    """What a finding concerns: its feature, cohort and entity, or ``all``."""
    parts = (finding.feature, finding.cohort, finding.entity if finding.entity != finding.cohort else None)
    return " · ".join(x for x in parts if x) or "all"


def findings(found: Sequence[Finding], *, numbers: bool = True) -> Table:
    """Findings one below the other: severity, then kind · subject · window, the sentence, the numbers.

    The text wraps under itself, so a finding reads as one block at any width.
    ``numbers`` adds a line with the statistic, its interval and n (leave it
    out where the sentence already says them).
    """
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=_SEVERITY_WIDTH, no_wrap=True)
    grid.add_column(overflow="fold")
    for f in found:
        body = Text()
        body.append(f"{f.kind} · {subject(f)} · {f.start:%Y-%m-%d} → {f.end:%Y-%m-%d}", style="bold")
        body.append(f"\n{f.message}")
        if numbers:
            line = f"{f.statistic} {number(f.value)}"
            if f.interval:
                line += f" ({interval(*f.interval, partial(number, digits=4, zeros=True))})"
            if f.n is not None:
                line += f" · n {count(f.n)}"
            body.append(f"\n{line}", style="dim")
        grid.add_row(Text(str(f.severity), style=SEVERITY_STYLES[f.severity]), body)
    return grid


def alerts(drafts: Sequence[AlertDraft]) -> Table:
    """Alerts one below the other: severity, then kind · subject, the headline, and who owns
    it with how many findings it groups and suppressed."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=_SEVERITY_WIDTH, no_wrap=True)
    grid.add_column(overflow="fold")
    for d in drafts:
        what = d.feature or d.entity or d.source or d.cohort or d.metric or "all"
        body = Text()
        body.append(f"{d.kind} · {what}", style="bold")
        body.append(f"\n{d.headline}")
        line = (f"owner {d.owner or '-'} · {count(len(d.findings))} finding"
                f"{'s' if len(d.findings) != 1 else ''}")
        if d.suppressed:
            line += f" · {count(len(d.suppressed))} suppressed"
        body.append(f"\n{line}", style="dim")
        grid.add_row(Text(str(d.severity), style=SEVERITY_STYLES[d.severity]), body)
    return grid


# --- JSON ----------------------------------------------------------------------------------------


def to_json(data: Any) -> str:
    """``data`` as JSON for scripts: sorted keys, ISO 8601 times, non-finite numbers as ``null``.

    >>> from datetime import UTC, datetime
    >>> print(to_json({"b": float("nan"), "a": datetime(2026, 3, 1, tzinfo=UTC), "c": (1, 2)}))
    {
      "a": "2026-03-01T00:00:00+00:00",
      "b": null,
      "c": [
        1,
        2
      ]
    }
    """
    return _json.dumps(_plain(data), indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False)


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):  # before int: a Severity is an IntEnum, written by name
        return str(value)
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Iterable):
        return [_plain(v) for v in value]
    raise TypeError(f"cannot write a {type(value).__name__} as JSON")


def print_json(data: Any) -> None:
    """Write ``data`` to standard output as JSON (see :func:`to_json`)."""
    sys.stdout.write(to_json(data) + "\n")
