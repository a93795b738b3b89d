"""The sales area chart, drawn on the server as SVG: tickets sold so far (cumulative) over time."""
from __future__ import annotations

from html import escape
from typing import Any

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 44


def grid_step(value: int, lines: int = 4) -> int:
    """The smallest round step (1, 2, 5, 10, 20, 25, 50, 100, ...) with lines * step >= value."""
    scale = 1
    while True:
        for factor in (1, 2, 5, 10, 20, 25, 50):
            if factor * scale * lines >= value:
                return factor * scale
        scale *= 10


def _clock(ts: str) -> str:
    return ts[11:19] if len(ts) >= 19 else ts


def render(points: list[dict[str, Any]], bucket_seconds: int) -> str:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    base_y = TOP + plot_h
    title = "Tickets sold over time (cumulative)"
    parts = [f'<svg class="admin_chart" role="img" aria-label="{title}" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'width="100%" xmlns="http://www.w3.org/2000/svg"><title>{title}</title>']
    step = grid_step(max([p["tickets"] for p in points] + [1]))
    top = step * 4
    for i in range(5):  # horizontal grid lines with their values
        value = step * i
        y = base_y - plot_h * i / 4
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="admin_chart-grid"/>'
                     f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end" class="admin_chart-tick">{value}</text>')
    parts.append(f'<text x="14" y="{TOP + plot_h / 2:.0f}" transform="rotate(-90 14 {TOP + plot_h / 2:.0f})" '
                 'text-anchor="middle" class="admin_chart-label">Tickets sold</text>')
    parts.append(f'<text x="{LEFT + plot_w / 2:.0f}" y="{HEIGHT - 6}" text-anchor="middle" class="admin_chart-label">'
                 f'Time (UTC, {bucket_seconds} s steps)</text>')
    if not points:
        parts.append(f'<text x="{LEFT + plot_w / 2:.0f}" y="{TOP + plot_h / 2:.0f}" text-anchor="middle" '
                     'class="admin_chart-empty">No sales yet</text></svg>')
        return "".join(parts)
    n = len(points)
    xs = [LEFT + (plot_w * i / (n - 1) if n > 1 else 0) for i in range(n)]
    ys = [base_y - plot_h * p["tickets"] / top for p in points]
    if n == 1:  # a single step: draw it across the whole width
        xs, ys = [LEFT, LEFT + plot_w], ys * 2
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
    parts.append(f'<polygon class="admin_chart-area" points="{xs[0]:.1f},{base_y} {line} {xs[-1]:.1f},{base_y}"/>')
    parts.append(f'<polyline class="admin_chart-line" fill="none" points="{line}"/>')
    for index in sorted({0, (n - 1) // 2, n - 1}):  # first, middle and last time
        x = xs[index] if n > 1 else LEFT
        anchor = "start" if index == 0 else "end" if index == n - 1 else "middle"
        parts.append(f'<text x="{x:.1f}" y="{base_y + 16}" text-anchor="{anchor}" class="admin_chart-tick">'
                     f'{escape(_clock(points[index]["t"]))}</text>')
    last = points[-1]["tickets"]
    parts.append(f'<text x="{xs[-1] - 4:.1f}" y="{ys[-1] - 6:.1f}" text-anchor="end" class="admin_chart-value" '
                 f'data-role="chart-total">{last}</text></svg>')
    return "".join(parts)
