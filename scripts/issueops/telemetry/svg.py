"""Small inline-SVG charts for the HTML report: no JavaScript, no fonts or files to fetch.

Every chart sits in `<figure data-chart="ID">`; every drawn mark carries `data-series`,
`data-label` and `data-value`, so a test (or a curious reader) can check what was drawn.
Charts use a viewBox and `width:100%`, so they shrink to a phone's width.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 380
CHAR_W = 6.8  # the width of one character of 12px text, roughly: sizes the label column
Fmt = Callable[[float], str]


@dataclass(frozen=True)
class Series:
    """One named series: `name` is the stable id, `label` what the legend shows."""

    name: str
    label: str
    values: Sequence[float]


def _attr(value: object) -> str:
    return escape(str(value), quote=True)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}".rstrip("0").rstrip(".")


def _figure(chart_id: str, title: str, body: str, height: float, caption: str = "") -> str:
    title_id = f"chart-{chart_id}-title"
    cap = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return (
        f'<figure class="chart" data-chart="{_attr(chart_id)}">'
        f'<svg viewBox="0 0 {WIDTH} {_num(height)}" role="img" aria-labelledby="{title_id}" '
        f'xmlns="http://www.w3.org/2000/svg"><title id="{title_id}">{escape(title)}</title>{body}</svg>'
        f"{cap}</figure>"
    )


def empty(chart_id: str, message: str) -> str:
    """A chart with nothing to draw says so (and is marked so tests can tell it apart)."""
    return (
        f'<figure class="chart" data-chart="{_attr(chart_id)}" data-empty="true">'
        f'<p class="empty">{escape(message)}</p></figure>'
    )


def _legend(series: Sequence[Series], y: float) -> str:
    if len(series) < 2:
        return ""
    parts, x = [], 0.0
    for index, s in enumerate(series):
        parts.append(
            f'<rect class="swatch s{index}" x="{_num(x)}" y="{_num(y)}" width="12" height="12" rx="2"/>'
            f'<text x="{_num(x + 16)}" y="{_num(y + 10)}">{escape(s.label)}</text>'
        )
        x += 28 + CHAR_W * len(s.label)
    return "".join(parts)


def hbar(
    chart_id: str, title: str, labels: Sequence[str], series: Sequence[Series], fmt: Fmt, caption: str = ""
) -> str:
    """Horizontal bars, one group per label, one bar per series (states, reasons, durations)."""
    longest = max((min(len(label), 22) for label in labels), default=4)
    label_w = min(max(48.0, longest * CHAR_W + 10), 160.0)
    value_w, bar_h, gap, group_gap = 52.0, 14.0, 3.0, 10.0
    area = WIDTH - label_w - value_w
    top = max([0.0, *(v for s in series for v in s.values)]) or 1.0
    legend_h = 22.0 if len(series) > 1 else 0.0
    group_h = len(series) * bar_h + (len(series) - 1) * gap
    parts = [_legend(series, 0)]
    y = legend_h
    for row, label in enumerate(labels):
        mid = y + group_h / 2 + 4
        short = label if len(label) <= 22 else label[:21] + "…"
        parts.append(f'<text class="label" x="{_num(label_w - 6)}" y="{_num(mid)}" text-anchor="end">')
        parts.append(f"{escape(short)}<title>{escape(label)}</title></text>")
        for index, s in enumerate(series):
            value = float(s.values[row])
            width = area * value / top
            by = y + index * (bar_h + gap)
            parts.append(
                f'<rect class="bar s{index}" data-series="{_attr(s.name)}" data-label="{_attr(label)}" '
                f'data-value="{_attr(_num(value))}" x="{_num(label_w)}" y="{_num(by)}" '
                f'width="{_num(round(width, 2))}" height="{_num(bar_h)}" rx="2">'
                f"<title>{escape(label)} · {escape(s.label)}: {escape(fmt(value))}</title></rect>"
                f'<text class="value" x="{_num(label_w + width + 4)}" y="{_num(by + bar_h - 3)}">'
                f"{escape(fmt(value))}</text>"
            )
        y += group_h + group_gap
    return _figure(chart_id, title, "".join(parts), max(y, 20.0), caption)


def vbar(chart_id: str, title: str, labels: Sequence[str], series: Series, fmt: Fmt) -> str:
    """Vertical bars over a category axis (one bar per day); at most ~8 axis labels are written."""
    left, bottom, top_pad, height = 34.0, 26.0, 8.0, 200.0
    plot_h = height - bottom - top_pad
    plot_w = WIDTH - left - 4
    top = nice_top(max([0.0, *series.values]))
    step = plot_w / max(len(labels), 1)
    every = max(1, -(-len(labels) // 8))
    parts = [_grid(left, top_pad, plot_w, plot_h, top, fmt)]
    for index, (label, raw) in enumerate(zip(labels, series.values, strict=True)):
        value = float(raw)
        bar_h = plot_h * value / top
        x = left + index * step + step * 0.15
        parts.append(
            f'<rect class="bar s0" data-series="{_attr(series.name)}" data-label="{_attr(label)}" '
            f'data-value="{_attr(_num(value))}" x="{_num(round(x, 2))}" '
            f'y="{_num(round(top_pad + plot_h - bar_h, 2))}" width="{_num(round(step * 0.7, 2))}" '
            f'height="{_num(round(bar_h, 2))}"><title>{escape(label)}: {escape(fmt(value))}</title></rect>'
        )
        if index % every == 0:
            cx = left + index * step + step / 2
            parts.append(
                f'<text class="tick" x="{_num(round(cx, 2))}" y="{_num(height - 8)}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    return _figure(chart_id, title, "".join(parts), height)


def line(chart_id: str, title: str, labels: Sequence[str], series: Sequence[Series], fmt: Fmt) -> str:
    """One polyline per series with a dot per point (requests per run)."""
    left, bottom, top_pad = 34.0, 26.0, 8.0 + (22.0 if len(series) > 1 else 0.0)
    height = 200.0 + top_pad
    plot_h = height - bottom - top_pad
    plot_w = WIDTH - left - 8
    top = nice_top(max([0.0, *(v for s in series for v in s.values)]))
    n = max(len(labels), 1)
    step = plot_w / max(n - 1, 1)
    parts = [_legend(series, 0), _grid(left, top_pad, plot_w, plot_h, top, fmt)]
    every = max(1, -(-n // 8))
    for index, label in enumerate(labels):
        if index % every == 0:
            x = left + (index * step if n > 1 else plot_w / 2)
            parts.append(
                f'<text class="tick" x="{_num(round(x, 2))}" y="{_num(height - 8)}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    for k, s in enumerate(series):
        points = []
        for index, raw in enumerate(s.values):
            x = left + (index * step if n > 1 else plot_w / 2)
            y = top_pad + plot_h - plot_h * float(raw) / top
            points.append((round(x, 2), round(y, 2), float(raw), labels[index]))
        coords = " ".join(f"{_num(x)},{_num(y)}" for x, y, _, _ in points)
        values = ",".join(_num(v) for _, _, v, _ in points)
        parts.append(
            f'<polyline class="line s{k}" data-series="{_attr(s.name)}" data-values="{_attr(values)}" '
            f'points="{coords}" fill="none"/>'
        )
        parts.extend(
            f'<circle class="dot s{k}" data-series="{_attr(s.name)}" data-label="{_attr(label)}" '
            f'data-value="{_attr(_num(v))}" cx="{_num(x)}" cy="{_num(y)}" r="3">'
            f"<title>{escape(label)} · {escape(s.label)}: {escape(fmt(v))}</title></circle>"
            for x, y, v, label in points
        )
    return _figure(chart_id, title, "".join(parts), height)


def stack(chart_id: str, title: str, parts: Sequence[Series], fmt: Fmt) -> str:
    """One bar split into parts (hands-off vs. intervened); each part's series has one value."""
    total = sum(float(p.values[0]) for p in parts) or 1.0
    body, x = [], 0.0
    for index, p in enumerate(parts):
        value = float(p.values[0])
        width = WIDTH * value / total
        body.append(
            f'<rect class="bar s{index}" data-series="{_attr(p.name)}" data-label="{_attr(p.label)}" '
            f'data-value="{_attr(_num(value))}" x="{_num(round(x, 2))}" y="0" '
            f'width="{_num(round(width, 2))}" height="28"><title>{escape(p.label)}: {escape(fmt(value))}'
            "</title></rect>"
        )
        x += width
    legend_y, lx = 40.0, 0.0
    for index, p in enumerate(parts):
        text = f"{p.label}: {fmt(float(p.values[0]))}"
        body.append(
            f'<rect class="swatch s{index}" x="{_num(lx)}" y="{_num(legend_y)}" '
            'width="12" height="12" rx="2"/>'
            f'<text x="{_num(lx + 16)}" y="{_num(legend_y + 10)}">{escape(text)}</text>'
        )
        lx += 34 + CHAR_W * len(text)
    return _figure(chart_id, title, "".join(body), 56.0)


def nice_top(value: float) -> float:
    """The axis top: the smallest 2, 4, 6, 8 or 10 times a power of ten at or above `value`,
    so the half-way tick is a round number too (counts get whole-number ticks)."""
    if value <= 0:
        return 2.0
    scale = 10.0 ** math.floor(math.log10(value))
    for step in (2, 4, 6, 8, 10):
        if step * scale >= value * (1 - 1e-9):
            return step * scale
    return 10 * scale


def _grid(left: float, top_pad: float, plot_w: float, plot_h: float, top: float, fmt: Fmt) -> str:
    parts = ['<g class="axis">']
    for fraction in (0.0, 0.5, 1.0):
        y = round(top_pad + plot_h - plot_h * fraction, 2)
        parts.append(f'<line x1="{_num(left)}" x2="{_num(left + plot_w)}" y1="{_num(y)}" y2="{_num(y)}"/>')
        parts.append(
            f'<text class="tick" x="{_num(left - 4)}" y="{_num(y + 4)}" text-anchor="end">'
            f"{escape(fmt(top * fraction))}</text>"
        )
    parts.append("</g>")
    return "".join(parts)
