"""Inline SVG charts for the HTML report: lines with interval bands, heatmaps, bars and a timeline.

Written by hand on purpose (docs/DESIGN-NOTES.md, "The HTML report"): the report
must open offline, print, and be byte-identical for the same inputs. A chart
library would bring JavaScript, fonts or generation dates; these few shapes
need none of that. Every chart is an ``<svg>`` with ``data-chart`` naming its
kind and ``role="img"`` with a title; coordinates are written with one decimal,
so the same numbers always give the same bytes. A point whose metric has "not
enough data" is drawn as a hollow grey ring, never as a healthy dot; a missing
value breaks the line.

Examples
--------
>>> chart = line_chart("recall", ["03-01", "03-02"], [Series("all", (Point(0.8, 0.7, 0.9),
...                    Point(0.6, 0.5, 0.7)))], low=0.0, high=1.0)
>>> chart.startswith('<svg') and 'data-chart="line"' in chart and chart.count("<polygon") == 1
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import escape

__all__ = ["Bar", "Cell", "Lane", "Point", "Series", "bars", "heatmap", "line_chart", "timeline"]

#: Series colours, colour-blind safe (Okabe & Ito 2008).
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#f0e442")
NOT_ENOUGH = "#9a9a9a"
FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def _f(value: float) -> str:
    """A coordinate with one decimal (``-0.0`` written ``0.0``)."""
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def _open(kind: str, title: str, width: float, height: float) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" data-chart="{kind}" role="img" '
            f'viewBox="0 0 {_f(width)} {_f(height)}" width="{_f(width)}" height="{_f(height)}" {FONT}>',
            f"<title>{escape(title)}</title>"]


@dataclass(frozen=True)
class Point:
    """A value with its interval (NaN for none); ``enough`` False draws it as "not enough data"."""

    value: float
    low: float = math.nan
    high: float = math.nan
    enough: bool = True
    note: str = ""


@dataclass(frozen=True)
class Series:
    """One line: a name and one point per x label; ``dashed`` for estimates."""

    name: str
    points: tuple[Point, ...]
    dashed: bool = False


def _bounds(series: Sequence[Series], low: float | None, high: float | None) -> tuple[float, float]:
    values = [v for s in series for p in s.points for v in (p.value, p.low, p.high) if math.isfinite(v)]
    lo = min(values, default=0.0) if low is None else low
    hi = max(values, default=1.0) if high is None else high
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    return lo, hi


def line_chart(title: str, labels: Sequence[str], series: Sequence[Series], *, low: float | None = None,
               high: float | None = None, width: float = 640, height: float = 200,
               fmt: str = "{:.2f}", band: tuple[Sequence[float], Sequence[float]] | None = None) -> str:
    """Lines over ``labels`` with each point's interval as a shaded band.

    ``band`` is an extra band (e.g. the expected range of a baseline), drawn grey
    behind the lines. Points that are not finite break their line.
    """
    left, right, top, bottom = 56.0, 12.0, 22.0, 40.0
    lo, hi = _bounds(list(series) + ([Series("band", tuple(Point(a, b, b) for a, b in zip(*band,
                                                                                      strict=True)))]
                                     if band else []), low, high)
    plot_w, plot_h = width - left - right, height - top - bottom
    count = max(len(labels), 1)

    def x(i: int) -> float:
        return left + (plot_w * (i + 0.5) / count)

    def y(v: float) -> float:
        return top + plot_h * (1 - (min(max(v, lo), hi) - lo) / (hi - lo))

    out = _open("line", title, width, height)
    out.append(f'<text x="{_f(left)}" y="14" font-weight="600">{escape(title)}</text>')
    out += _legend(series, left, height - 8, band is not None)
    for k in range(5):
        value = lo + (hi - lo) * k / 4
        out.append(f'<line x1="{_f(left)}" x2="{_f(width - right)}" y1="{_f(y(value))}" '
                   f'y2="{_f(y(value))}" stroke="#e4e4e4"/>')
        out.append(f'<text x="{_f(left - 4)}" y="{_f(y(value) + 4)}" text-anchor="end" fill="#555">'
                   f"{escape(fmt.format(value))}</text>")
    step = max(1, math.ceil(count / 8))
    for i, label in enumerate(labels):
        if i % step == 0 or (i == count - 1 and i % step > step / 2):
            out.append(f'<text x="{_f(x(i))}" y="{_f(height - bottom + 13)}" text-anchor="middle" '
                       f'fill="#555">{escape(label)}</text>')
    if band is not None:
        out += _band([(i, a, b) for i, (a, b) in enumerate(zip(*band, strict=True))], x, y, "#bbbbbb",
                     "expected")
    for n, s in enumerate(series):
        colour = PALETTE[n % len(PALETTE)]
        points = [(i, p) for i, p in enumerate(s.points)]
        out += _band([(i, p.low, p.high) for i, p in points if p.enough], x, y, colour, s.name)
        for run in _runs([(i, p) for i, p in points if math.isfinite(p.value) and p.enough]):
            if len(run) > 1:
                path = " ".join(f"{_f(x(i))},{_f(y(p.value))}" for i, p in run)
                dash = ' stroke-dasharray="4 3"' if s.dashed else ""
                out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" '
                           f'stroke-width="1.6"{dash}><title>{escape(s.name)}</title></polyline>')
        for i, p in points:
            if not math.isfinite(p.value):
                continue
            label = f"{s.name} {labels[i] if i < len(labels) else ''}: {fmt.format(p.value)}"
            if math.isfinite(p.low) and math.isfinite(p.high):
                label += f" [{fmt.format(p.low)}, {fmt.format(p.high)}]"
            if p.note:
                label += f" ({p.note})"
            if p.enough:
                out.append(f'<circle class="point" cx="{_f(x(i))}" cy="{_f(y(p.value))}" r="2.2" '
                           f'fill="{colour}"><title>{escape(label)}</title></circle>')
            else:
                out.append(f'<circle class="point thin" cx="{_f(x(i))}" cy="{_f(y(p.value))}" r="3" '
                           f'fill="#fff" stroke="{NOT_ENOUGH}" stroke-width="1.4">'
                           f"<title>{escape(label)} — not enough data</title></circle>")
    out.append("</svg>")
    return "".join(out)


def _legend(series: Sequence[Series], left: float, y: float, band: bool) -> list[str]:
    """A swatch and the name of each series (and of the grey band), on one line."""
    out, x = [], left
    names = [(s.name, PALETTE[n % len(PALETTE)], s.dashed) for n, s in enumerate(series)]
    if band:
        names.append(("expected range", "#bbbbbb", False))
    for name, colour, dashed in names:
        dash = ' stroke-dasharray="4 3"' if dashed else ""
        out.append(f'<line x1="{_f(x)}" x2="{_f(x + 16)}" y1="{_f(y - 4)}" y2="{_f(y - 4)}" '
                   f'stroke="{colour}" '
                   f'stroke-width="{"6" if name == "expected range" else "2"}"{dash}/>'
                   f'<text class="legend" x="{_f(x + 20)}" y="{_f(y)}">{escape(name)}</text>')
        x += 28 + 6.2 * len(name)
    return out


def _runs(items: list[tuple[int, Point]]) -> list[list[tuple[int, Point]]]:
    """Consecutive indices grouped (a gap breaks a line or a band)."""
    runs: list[list[tuple[int, Point]]] = []
    for item in items:
        if runs and runs[-1][-1][0] == item[0] - 1:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def _band(values: list[tuple[int, float, float]], x: object, y: object, colour: str, name: str) -> list[str]:
    fx, fy = x, y
    assert callable(fx) and callable(fy)
    finite = [(i, a, b) for i, a, b in values if math.isfinite(a) and math.isfinite(b)]
    out = []
    groups: list[list[tuple[int, float, float]]] = []
    for item in finite:
        if groups and groups[-1][-1][0] == item[0] - 1:
            groups[-1].append(item)
        else:
            groups.append([item])
    for group in groups:
        if len(group) < 2:
            i, a, b = group[0]
            out.append(f'<line x1="{_f(fx(i))}" x2="{_f(fx(i))}" y1="{_f(fy(a))}" y2="{_f(fy(b))}" '
                       f'stroke="{colour}" stroke-opacity="0.35" stroke-width="4"/>')
            continue
        upper = [f"{_f(fx(i))},{_f(fy(b))}" for i, _, b in group]
        lower = [f"{_f(fx(i))},{_f(fy(a))}" for i, a, _ in reversed(group)]
        out.append(f'<polygon class="band" points="{" ".join(upper + lower)}" fill="{colour}" '
                   f'fill-opacity="0.16" stroke="none"><title>{escape(name)}: interval</title></polygon>')
    return out


@dataclass(frozen=True)
class Cell:
    """One heatmap cell: ``level`` in [0, 1] sets the colour; ``None`` is "not enough data"."""

    level: float | None
    text: str = ""
    title: str = ""


def _colour(level: float) -> str:
    """White to dark red."""
    t = min(max(level, 0.0), 1.0)
    r = round(255 - 75 * t)
    g = round(255 - 225 * t)
    b = round(255 - 215 * t)
    return f"#{r:02x}{g:02x}{b:02x}"


def heatmap(title: str, rows: Sequence[str], columns: Sequence[str], cells: Sequence[Sequence[Cell]], *,
            cell_width: float = 18, cell_height: float = 18, label_width: float = 150,
            key: str = "map") -> str:
    """Rows × columns of cells coloured by level; "not enough data" cells are hatched grey.

    ``key`` makes the hatching pattern's id unique when a page holds several heatmaps.
    """
    top = 40.0
    step = max(1, math.ceil(len(columns) / 12))
    width = label_width + cell_width * max(len(columns), 1) + 8
    height = top + cell_height * max(len(rows), 1) + 6
    out = _open("heatmap", title, width, height)
    out.append(f'<defs><pattern id="thin-{key}" width="4" height="4" patternUnits="userSpaceOnUse" '
               'patternTransform="rotate(45)"><rect width="4" height="4" fill="#f2f2f2"/>'
               f'<line x1="0" y1="0" x2="0" y2="4" stroke="{NOT_ENOUGH}" stroke-width="1"/></pattern></defs>')
    for j, column in enumerate(columns):
        if j % step == 0:
            cx = label_width + cell_width * (j + 0.5)
            out.append(f'<text x="{_f(cx)}" y="{_f(top - 6)}" transform="rotate(-45 {_f(cx)} {_f(top - 6)})" '
                       f'fill="#555">{escape(column)}</text>')
    for i, row in enumerate(rows):
        ry = top + cell_height * i
        out.append(f'<text x="{_f(label_width - 6)}" y="{_f(ry + cell_height * 0.7)}" text-anchor="end">'
                   f"{escape(row)}</text>")
        for j, cell in enumerate(cells[i]):
            fill = f"url(#thin-{key})" if cell.level is None else _colour(cell.level)
            kind = "thin" if cell.level is None else "level"
            out.append(f'<rect class="cell {kind}" x="{_f(label_width + cell_width * j)}" y="{_f(ry)}" '
                       f'width="{_f(cell_width - 1)}" height="{_f(cell_height - 1)}" fill="{fill}">'
                       f"<title>{escape(cell.title)}</title></rect>")
            if cell.text:
                out.append(f'<text x="{_f(label_width + cell_width * (j + 0.5) - 0.5)}" '
                           f'y="{_f(ry + cell_height * 0.68)}" text-anchor="middle" font-size="8" '
                           f'fill="{"#fff" if (cell.level or 0) > 0.6 else "#333"}">'
                           f"{escape(cell.text)}</text>")
    out.append("</svg>")
    return "".join(out)


@dataclass(frozen=True)
class Bar:
    """One horizontal bar with its interval; ``reference`` is drawn as a tick; ``enough`` False greys it."""

    label: str
    value: float
    low: float = math.nan
    high: float = math.nan
    reference: float = math.nan
    enough: bool = True
    title: str = ""
    alarm: bool = False
    n: int | None = None


def bars(title: str, items: Sequence[Bar], *, high: float = 1.0, fmt: str = "{:.0%}",
         width: float = 640, label_width: float = 170) -> str:
    """Horizontal bars (0 to ``high``) with interval whiskers and a reference tick each."""
    row, top = 18.0, 6.0
    plot = width - label_width - 150
    height = top + row * max(len(items), 1) + 6
    out = _open("bars", title, width, height)

    def x(v: float) -> float:
        return label_width + plot * min(max(v / high if high else 0.0, 0.0), 1.0)

    for i, bar in enumerate(items):
        y = top + row * i
        colour = NOT_ENOUGH if not bar.enough else ("#d55e00" if bar.alarm else "#0072b2")
        out.append(f'<text x="{_f(label_width - 6)}" y="{_f(y + 12)}" text-anchor="end">'
                   f"{escape(bar.label)}</text>")
        value = bar.value if math.isfinite(bar.value) else 0.0
        out.append(f'<rect class="bar{"" if bar.enough else " thin"}" x="{_f(label_width)}" y="{_f(y + 3)}" '
                   f'width="{_f(max(x(value) - label_width, 0.5))}" height="{_f(row - 7)}" fill="{colour}" '
                   f'fill-opacity="{"0.85" if bar.enough else "0.35"}">'
                   f"<title>{escape(bar.title)}</title></rect>")
        if math.isfinite(bar.low) and math.isfinite(bar.high):
            out.append(f'<line x1="{_f(x(bar.low))}" x2="{_f(x(bar.high))}" y1="{_f(y + row / 2 - 0.5)}" '
                       f'y2="{_f(y + row / 2 - 0.5)}" stroke="#222" stroke-width="1.2"/>')
        if math.isfinite(bar.reference):
            out.append(f'<line x1="{_f(x(bar.reference))}" x2="{_f(x(bar.reference))}" y1="{_f(y + 1)}" '
                       f'y2="{_f(y + row - 2)}" stroke="#222" stroke-width="2"><title>reference '
                       f"{escape(fmt.format(bar.reference))}</title></line>")
        text = fmt.format(bar.value) if math.isfinite(bar.value) else "–"
        if bar.n is not None:
            text += f" n={bar.n:,}"
        out.append(f'<text x="{_f(width - 144)}" y="{_f(y + 12)}">{escape(text)}'
                   f'{"" if bar.enough else " (too few)"}</text>')
    out.append("</svg>")
    return "".join(out)


@dataclass(frozen=True)
class Lane:
    """One alert on the timeline: hatched from onset to detection, solid until resolved (or the end).

    Times are in days from the timeline's start; ``marks`` are mitigations (day, text).
    """

    label: str
    onset: float
    detected: float
    end: float
    severity: str
    title: str = ""
    resolved: bool = False
    marks: tuple[tuple[float, str], ...] = ()
    #: False for a lane of marks only (mitigations tied to no alert)
    bar: bool = True


def timeline(title: str, lanes: Sequence[Lane], *, days: float, labels: Sequence[tuple[float, str]],
             width: float = 900, label_width: float = 260) -> str:
    """Alerts as lanes over ``days`` days: time to detect hatched, open time solid, mitigations as ◆."""
    row, top = 20.0, 24.0
    plot = width - label_width - 12
    height = top + row * max(len(lanes), 1) + 8
    out = _open("timeline", title, width, height)
    out.append('<defs><pattern id="detect" width="5" height="5" patternUnits="userSpaceOnUse" '
               'patternTransform="rotate(45)"><rect width="5" height="5" fill="#fff"/>'
               '<line x1="0" y1="0" x2="0" y2="5" stroke="#888" stroke-width="2"/></pattern></defs>')

    def x(day: float) -> float:
        return label_width + plot * min(max(day / days if days else 0.0, 0.0), 1.0)

    for day, text in labels:
        out.append(f'<line x1="{_f(x(day))}" x2="{_f(x(day))}" y1="{_f(top - 6)}" y2="{_f(height - 6)}" '
                   f'stroke="#eeeeee"/><text x="{_f(x(day))}" y="{_f(top - 10)}" text-anchor="middle" '
                   f'fill="#555">{escape(text)}</text>')
    colours = {"page": "#c0392b", "warning": "#e69f00", "info": "#56b4e9"}
    for i, lane in enumerate(lanes):
        y = top + row * i
        colour = colours.get(lane.severity, "#777")
        out.append(f'<text x="{_f(label_width - 6)}" y="{_f(y + 13)}" text-anchor="end">'
                   f"{escape(lane.label)}</text>")
        if lane.bar and lane.detected > lane.onset:
            out.append(f'<rect class="detect" x="{_f(x(lane.onset))}" y="{_f(y + 4)}" '
                       f'width="{_f(max(x(lane.detected) - x(lane.onset), 0.5))}" height="{_f(row - 8)}" '
                       f'fill="url(#detect)" stroke="{colour}" stroke-width="0.6"><title>time to detect: '
                       f"{escape(lane.title)}</title></rect>")
        out.append("" if not lane.bar else
                   f'<rect class="alert {lane.severity}" x="{_f(x(lane.detected))}" y="{_f(y + 4)}" '
                   f'width="{_f(max(x(lane.end) - x(lane.detected), 1.5))}" height="{_f(row - 8)}" '
                   f'fill="{colour}" fill-opacity="{"0.45" if lane.resolved else "0.9"}">'
                   f"<title>{escape(lane.title)}</title></rect>")
        for day, text in lane.marks:
            mx, my = x(day), y + row / 2
            out.append(f'<path class="mitigation" d="M{_f(mx)} {_f(my - 6)} L{_f(mx + 5)} {_f(my)} '
                       f'L{_f(mx)} {_f(my + 6)} L{_f(mx - 5)} {_f(my)} Z" fill="#222">'
                       f"<title>{escape(text)}</title></path>")
    out.append("</svg>")
    return "".join(out)
