"""Small inline SVG charts for reports: overlaid distributions and time series.

Plain strings, no plotting library and nothing fetched when the page opens. Every
chart's size depends on the number of bins or points it draws, never on the rows
behind them. Text is escaped; coordinates are rounded to one decimal.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Mapping, Sequence

__all__ = ["bars", "density", "lines"]

WIDTH, HEIGHT = 520, 170
_PAD_LEFT, _PAD_RIGHT, _PAD_TOP, _PAD_BOTTOM = 48, 10, 10, 28
COLORS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")


def _frame(body: list[str], legend: Sequence[tuple[str, str]]) -> str:
    keys = "".join(f'<span class="key"><i style="background:{color}"></i>{html.escape(label)}</span>'
                   for label, color in legend)
    return (f'<figure><svg viewBox="0 0 {WIDTH} {HEIGHT}" '
            f'width="{WIDTH}" height="{HEIGHT}" role="img">{"".join(body)}</svg>'
            f'<figcaption>{keys}</figcaption></figure>')


def _number(value: float) -> str:
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    magnitude = abs(value)
    if magnitude >= 1e5 or magnitude < 1e-3:
        return f"{value:.2e}"
    return f"{value:.4g}"


def _axes(low: float, high: float, x_labels: tuple[str, str]) -> list[str]:
    x0, x1 = _PAD_LEFT, WIDTH - _PAD_RIGHT
    y0, y1 = HEIGHT - _PAD_BOTTOM, _PAD_TOP
    return [
        f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y0}" class="axis"/>',
        f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" class="axis"/>',
        f'<text x="{x0 - 4}" y="{y0}" text-anchor="end">{html.escape(_number(low))}</text>',
        f'<text x="{x0 - 4}" y="{y1 + 8}" text-anchor="end">{html.escape(_number(high))}</text>',
        f'<text x="{x0}" y="{HEIGHT - 8}">{html.escape(x_labels[0])}</text>',
        f'<text x="{x1}" y="{HEIGHT - 8}" text-anchor="end">{html.escape(x_labels[1])}</text>',
    ]


def _scale(value: float, low: float, high: float, start: float, end: float) -> float:
    if high <= low:
        return (start + end) / 2
    return round(start + (value - low) / (high - low) * (end - start), 1)


def density(edges: Sequence[float], series: Sequence[tuple[str, Sequence[float]]]) -> str:
    """Histograms on shared ``edges`` drawn as step outlines of density (share / width)."""
    widths = [max(b - a, 1e-300) for a, b in zip(edges, edges[1:], strict=False)]
    shapes = []
    for label, counts in series:
        total = sum(counts) or 1.0
        shapes.append((label, [c / total / w for c, w in zip(counts, widths, strict=False)]))
    top = max((max(d, default=0.0) for _, d in shapes), default=0.0) or 1.0
    low, high = edges[0], edges[-1]
    body = _axes(0.0, top, (_number(low), _number(high)))
    y_base = HEIGHT - _PAD_BOTTOM
    for index, (_, heights) in enumerate(shapes):
        points = [f"{_scale(low, low, high, _PAD_LEFT, WIDTH - _PAD_RIGHT)},{y_base}"]
        for a, b, h in zip(edges, edges[1:], heights, strict=False):
            y = _scale(h, 0.0, top, y_base, _PAD_TOP)
            points.append(f"{_scale(a, low, high, _PAD_LEFT, WIDTH - _PAD_RIGHT)},{y}")
            points.append(f"{_scale(b, low, high, _PAD_LEFT, WIDTH - _PAD_RIGHT)},{y}")
        points.append(f"{_scale(high, low, high, _PAD_LEFT, WIDTH - _PAD_RIGHT)},{y_base}")
        color = COLORS[index % len(COLORS)]
        fill = f'fill="{color}" fill-opacity="0.25"' if index == 0 else 'fill="none"'
        body.append(f'<polyline points="{" ".join(points)}" {fill} stroke="{color}" stroke-width="1.5"/>')
    return _frame(body, [(label, COLORS[i % len(COLORS)]) for i, (label, _) in enumerate(series)])


def bars(categories: Sequence[str], series: Sequence[tuple[str, Sequence[float]]]) -> str:
    """Shares of each category, one bar per series side by side."""
    shares = []
    for label, counts in series:
        total = sum(counts) or 1.0
        shares.append((label, [c / total for c in counts]))
    top = max((max(s, default=0.0) for _, s in shares), default=0.0) or 1.0
    body = _axes(0.0, top, ("", ""))
    slot = (WIDTH - _PAD_LEFT - _PAD_RIGHT) / max(len(categories), 1)
    width = slot * 0.8 / max(len(series), 1)
    y_base = HEIGHT - _PAD_BOTTOM
    for i, category in enumerate(categories):
        x = _PAD_LEFT + i * slot + slot * 0.1
        for j, (_, values) in enumerate(shares):
            y = _scale(values[i], 0.0, top, y_base, _PAD_TOP)
            body.append(f'<rect x="{round(x + j * width, 1)}" y="{y}" width="{round(width, 1)}" '
                        f'height="{round(y_base - y, 1)}" fill="{COLORS[j % len(COLORS)]}"/>')
        if len(categories) <= 24:
            body.append(f'<text x="{round(x + slot * 0.4, 1)}" y="{y_base + 11}" text-anchor="middle">'
                        f'{html.escape(category[:8])}</text>')
    return _frame(body, [(label, COLORS[i % len(COLORS)]) for i, (label, _) in enumerate(series)])


def _when(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M")


def lines(series: Mapping[str, Sequence[tuple[int, float | None]]], threshold: float | None = None) -> str:
    """Time series (ms since the epoch → value); a None value breaks its line."""
    times = [t for points in series.values() for t, _ in points]
    values = [v for points in series.values() for _, v in points if v is not None]
    if threshold is not None:
        values.append(threshold)
    if not times:
        return ""
    t0, t1 = min(times), max(times)
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    low = min(low, 0.0)
    body = _axes(low, high, (_when(t0), _when(t1)))
    if threshold is not None:
        y = _scale(threshold, low, high, HEIGHT - _PAD_BOTTOM, _PAD_TOP)
        body.append(f'<line x1="{_PAD_LEFT}" y1="{y}" x2="{WIDTH - _PAD_RIGHT}" y2="{y}" class="threshold"/>')
    for index, points in enumerate(series.values()):
        color = COLORS[index % len(COLORS)]
        runs: list[list[str]] = [[]]
        for t, v in sorted(points, key=lambda p: p[0]):
            if v is None:
                runs.append([])
                continue
            runs[-1].append(f"{_scale(t, t0, t1, _PAD_LEFT, WIDTH - _PAD_RIGHT)},"
                            f"{_scale(v, low, high, HEIGHT - _PAD_BOTTOM, _PAD_TOP)}")
        for run in runs:
            if len(run) == 1:
                cx, cy = run[0].split(",")
                body.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{color}"/>')
            elif run:
                body.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="{color}" stroke-width="1.5"/>')
    return _frame(body, [(name, COLORS[i % len(COLORS)]) for i, name in enumerate(series)])
