"""A small line chart written as SVG by hand (matplotlib is not a dependency).

``line_chart(title, series, x_label, y_label)`` draws each series as a polyline (or a step line) on linear axes with
"nice" ticks and a legend. Enough for a latency distribution or requests over time; nothing more.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 720, 400
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 40, 55
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#7f7f7f")


@dataclass
class Series:
    label: str
    points: Sequence[tuple[float, float]]
    step: bool = False
    """Draw as a staircase (the value holds until the next point)."""
    dashed: bool = False


def nice_ticks(low: float, high: float, count: int = 6) -> list[float]:
    """Round tick values covering [low, high]."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    ticks = [math.floor(low / step) * step]
    while ticks[-1] < high - step * 1e-9:  # the last tick reaches past the highest value
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _label(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:g}"


def line_chart(title: str, series: Sequence[Series], x_label: str, y_label: str,
               x_max: float | None = None) -> str:  # fmt: skip
    """An SVG document with ``series`` drawn over shared axes starting at 0."""
    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points]
    x_ticks = nice_ticks(0, x_max if x_max is not None else max(xs, default=1))
    y_ticks = nice_ticks(0, max(ys, default=1))
    x_hi, y_hi = x_ticks[-1], y_ticks[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + plot_w * min(x, x_hi) / x_hi

    def py(y: float) -> float:
        return TOP + plot_h * (1 - y / y_hi)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="22" text-anchor="middle" font-size="15">{escape(title)}</text>',
    ]
    for t in x_ticks:
        out.append(f'<line x1="{px(t):.1f}" y1="{TOP}" x2="{px(t):.1f}" y2="{TOP + plot_h}" stroke="#eee"/>')
        out.append(f'<text x="{px(t):.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">{_label(t)}</text>')
    for t in y_ticks:
        out.append(f'<line x1="{LEFT}" y1="{py(t):.1f}" x2="{LEFT + plot_w}" y2="{py(t):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{LEFT - 6}" y="{py(t) + 4:.1f}" text-anchor="end">{_label(t)}</text>')
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#888"/>')
    out.append(f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 14}" text-anchor="middle">{escape(x_label)}</text>')
    out.append(f'<text transform="translate(16 {TOP + plot_h / 2}) rotate(-90)" text-anchor="middle">'
               f"{escape(y_label)}</text>")  # fmt: skip
    for i, s in enumerate(series):
        color = COLORS[i % len(COLORS)]
        coords: list[str] = []
        previous: tuple[float, float] | None = None
        for x, y in s.points:
            if s.step and previous is not None:
                coords.append(f"{px(x):.1f},{py(previous[1]):.1f}")
            coords.append(f"{px(x):.1f},{py(y):.1f}")
            previous = (x, y)
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        out.append(f'<polyline points="{" ".join(coords)}" fill="none" stroke="{color}" stroke-width="1.8"{dash}/>')
        # The legend sits bottom right, where rising curves (distributions, cumulative counts) leave room.
        lx, ly = LEFT + plot_w - 260, TOP + plot_h - 12 - 18 * (len(series) - 1 - i)
        out.append(f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 24}" y2="{ly - 4}" stroke="{color}" '
                   f'stroke-width="2.5"{dash}/>')  # fmt: skip
        out.append(f'<text x="{lx + 30}" y="{ly}">{escape(s.label)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def cdf(values: Sequence[float], points: int = 250) -> list[tuple[float, float]]:
    """Points of the empirical distribution: (value, share of samples ≤ value in %), at most ``points`` of them
    (evenly spaced ranks, the extremes kept), so that the SVG stays small."""
    ordered = sorted(values)
    n = len(ordered)
    ranks = range(n) if n <= points else sorted({round(k * (n - 1) / (points - 1)) for k in range(points)})
    return [(ordered[i], 100 * (i + 1) / n) for i in ranks]
