"""Chart geometry for inline SVG: numbers in, shapes out; the templates draw them.

Every chart scales to a fixed ``viewBox`` and stretches to its container's width. A page
draws each chart twice (``responsive``): a laptop geometry and a narrow phone geometry whose
text stays legible at a phone's width, and the stylesheet shows the one that fits, so nothing
is clipped or scrolled. Each bar and point carries its tooltip (``<title>``) and may link to
the customers behind it. No script and no external asset is involved.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

PALETTE = ["#1456d9", "#12b76a", "#f79009", "#7a5af8", "#ee46bc", "#06aed4", "#667085"]


def nice_ceiling(value: float) -> float:
    """The smallest round number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10ⁿ) at or above
    ``value``, at least 1."""
    if value <= 1:
        return 1
    exponent = math.floor(math.log10(value))
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        candidate = float(step * 10**exponent)
        if candidate >= value:
            return candidate
    return float(10 ** (exponent + 1))


def tick_step(value: float, ticks: int = 4) -> float:
    """A whole, round step (1, 2, 3, 4, 5, 6, 8, 10, 20, 25, …) so that ``ticks`` steps reach
    ``value``."""
    wanted = max(value / ticks, 1)
    exponent = math.floor(math.log10(wanted))
    for step in (1, 2, 2.5, 3, 4, 5, 6, 8, 10):
        candidate = step * 10**exponent
        if candidate >= wanted and float(candidate).is_integer():
            return float(candidate)
    return float(10 ** (exponent + 1))


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str
    x: float
    y: float
    width: float
    height: float
    color: str = PALETTE[0]
    href: str = ""

    @property
    def end(self) -> float:
        return self.x + self.width

    @property
    def center(self) -> float:
        return self.x + self.width / 2

    @property
    def bottom(self) -> float:
        return self.y + self.height


@dataclass
class BarChart:
    width: int
    height: int
    label_width: int
    bars: list[Bar] = field(default_factory=list)
    labels: list[tuple[str, float]] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.bars

    @property
    def label_x(self) -> int:
        return self.label_width - 8


def bars(
    items: Sequence[tuple[str, float]],
    *,
    width: int = 560,
    row: int = 28,
    label_width: int = 96,
    percent: bool = False,
    full_scale: float | None = None,
    color: str = PALETTE[0],
    hrefs: Sequence[str] = (),
) -> BarChart:
    """Horizontal bars, one per item, scaled to ``full_scale`` (or a round number above the
    longest); ``percent`` only changes how values are written; ``hrefs`` links each bar."""
    top = max([value for _, value in items] + [0])
    scale_max = full_scale or nice_ceiling(top)
    plot = width - label_width - 56
    chart = BarChart(width, max(len(items), 1) * row + 8, label_width)
    for index, (label, value) in enumerate(items):
        y = 4 + index * row
        length = plot * value / scale_max if scale_max else 0
        text = f"{value:.0f}%" if percent else f"{value:g}"
        href = hrefs[index] if index < len(hrefs) else ""
        chart.bars.append(
            Bar(label, value, text, label_width, y + 6, max(length, 2), row - 12, color, href)
        )
        chart.labels.append((label, y + row / 2 + 4))
    return chart


@dataclass
class GroupedChart:
    width: int
    height: int
    label_width: int
    series: list[tuple[str, str]]
    bars: list[Bar] = field(default_factory=list)
    labels: list[tuple[str, float]] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.labels

    @property
    def label_x(self) -> int:
        return self.label_width - 8


def grouped_bars(
    rows: Sequence[tuple[str, Sequence[float]]],
    series: Sequence[str],
    *,
    width: int = 560,
    label_width: int = 96,
    hrefs: Sequence[str] = (),
) -> GroupedChart:
    """Horizontal bars grouped per label, one bar per series; ``hrefs`` links each group."""
    top = max([v for _, values in rows for v in values] + [0])
    scale_max = nice_ceiling(top)
    plot = width - label_width - 48
    bar_height, gap = 11, 14
    group = bar_height * len(series) + gap
    chart = GroupedChart(
        width,
        max(len(rows), 1) * group + 8,
        label_width,
        [(name, PALETTE[i * 2 % len(PALETTE)]) for i, name in enumerate(series)],
    )
    for index, (label, values) in enumerate(rows):
        top_y = 4 + index * group
        for position, value in enumerate(values):
            color = chart.series[position][1]
            length = plot * value / scale_max
            y = top_y + position * bar_height
            chart.bars.append(
                Bar(
                    label,
                    value,
                    f"{value:g}",
                    label_width,
                    y,
                    max(length, 2),
                    bar_height - 2,
                    color,
                    hrefs[index] if index < len(hrefs) else "",
                )
            )
        chart.labels.append((label, top_y + bar_height * len(series) / 2 + 4))
    return chart


@dataclass
class ColumnChart:
    width: int
    height: int
    base: float
    columns: list[Bar] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.columns

    @property
    def label_y(self) -> float:
        return self.height - 6


def columns(
    items: Sequence[tuple[str, float]], *, width: int = 560, height: int = 160
) -> ColumnChart:
    """Vertical columns (e.g. customers per day), labels under each column."""
    top = nice_ceiling(max([value for _, value in items] + [0]))
    base = height - 22
    slot = (width - 16) / max(len(items), 1)
    chart = ColumnChart(width, height, base)
    for index, (label, value) in enumerate(items):
        column_height = (base - 18) * value / top
        x = 8 + index * slot + slot * 0.2
        chart.columns.append(
            Bar(label, value, f"{value:g}", x, base - column_height, slot * 0.6, column_height)
        )
    return chart


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    title: str


@dataclass(frozen=True)
class Series:
    name: str
    color: str
    points: str
    area: str
    last: float
    marks: tuple[Point, ...] = ()
    href: str = ""


@dataclass
class LineChart:
    width: int
    height: int
    left: int
    bottom: float
    series: list[Series] = field(default_factory=list)
    y_ticks: list[tuple[str, float]] = field(default_factory=list)
    x_ticks: list[tuple[str, float]] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.series

    @property
    def tick_x(self) -> int:
        return self.left - 6

    @property
    def tick_y(self) -> int:
        return self.height - 4


def lines(
    days: Sequence[date],
    values: Mapping[str, Sequence[float]],
    *,
    width: int = 1120,
    height: int = 250,
    left: int = 48,
    hrefs: Mapping[str, str] | None = None,
) -> LineChart:
    """One polyline per named series over the same days, with 4 y ticks and ~6 x ticks (3 on
    a narrow chart); each day's value is a point with its tooltip."""
    top = 4 * tick_step(max([v for series in values.values() for v in series] + [0]))
    bottom = height - 24.0
    plot_w, plot_h = width - left - 12, bottom - 10
    chart = LineChart(width, height, left, bottom)
    if len(days) < 2:
        return chart

    def x_of(index: int) -> float:
        return left + plot_w * index / (len(days) - 1)

    def y_of(value: float) -> float:
        return bottom - plot_h * value / top

    for index, (name, series) in enumerate(values.items()):
        points = " ".join(f"{x_of(i):.1f},{y_of(v):.1f}" for i, v in enumerate(series))
        area = f"{x_of(0):.1f},{bottom:.1f} {points} {x_of(len(series) - 1):.1f},{bottom:.1f}"
        last = series[-1] if series else 0
        marks = tuple(
            Point(round(x_of(i), 1), round(y_of(v), 1), f"{name} {days[i]:%m-%d}: {v:g}")
            for i, v in enumerate(series)
        )
        href = (hrefs or {}).get(name, "")
        color = PALETTE[index % len(PALETTE)]
        chart.series.append(Series(name, color, points, area, last, marks, href))
    chart.y_ticks = [(f"{top * i / 4:g}", y_of(top * i / 4)) for i in range(5)]
    step = max(1, (len(days) - 1) // (5 if width >= 600 else 2))
    chart.x_ticks = [(days[i].strftime("%m-%d"), x_of(i)) for i in range(0, len(days), step)]
    return chart


PHONE_WIDTH = 360


@dataclass(frozen=True)
class Responsive:
    """One chart in two geometries: ``laptop`` and ``phone`` (module docstring)."""

    laptop: Any
    phone: Any

    @property
    def is_empty(self) -> bool:
        return bool(self.laptop.is_empty)


def responsive(
    draw: Callable[..., Any], *args: Any, phone: Mapping[str, Any], **kwargs: Any
) -> Responsive:
    """The chart ``draw(*args, **kwargs)`` for a laptop, and with ``phone`` overriding its
    geometry for a phone."""
    return Responsive(draw(*args, **kwargs), draw(*args, **{**kwargs, **phone}))


PHONE_BARS = {"width": PHONE_WIDTH, "label_width": 84}
PHONE_LINES = {"width": PHONE_WIDTH, "height": 220, "left": 34}
