"""Small inline SVG charts, so the report is one file that opens offline."""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 72, 16, 28, 36
COLORS = {"actual": "#1f5fbf", "prior": "#8c8c8c", "target": "#d0342c"}


def line_chart(labels: Sequence[str], actual: Sequence[float | None], prior: Sequence[float | None],
               target: float | None, fmt: Callable[[float], str], names: tuple[str, str, str]) -> str:
    actual, prior, (target,) = _finite(actual), _finite(prior), _finite((target,))
    values = [v for v in (*actual, *prior, target) if v is not None]
    top = max(values, default=1.0) * 1.1 or 1.0
    x = lambda i: LEFT + (WIDTH - LEFT - RIGHT) * (i + 0.5) / len(labels)  # noqa: E731
    y = lambda v: TOP + (HEIGHT - TOP - BOTTOM) * (1 - v / top)  # noqa: E731
    parts = [_frame(labels, top, x, y, fmt)]
    if target is not None:
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(target):.1f}" y2="{y(target):.1f}" '
                     f'stroke="{COLORS["target"]}" stroke-width="2" stroke-dasharray="6 4"/>')
    parts.append(_series(prior, x, y, COLORS["prior"], dashed=True))
    parts.append(_series(actual, x, y, COLORS["actual"], dashed=False))
    parts.append(_legend(names))
    return _svg(parts)


def bar_chart(bars: Sequence[tuple[str, float | None, str]], fmt: Callable[[float], str]) -> str:
    """(label, value, color key) per bar: for indicators with only a fiscal-year figure."""
    bars = [(label, value, color) for (label, _, color), value in zip(bars, _finite([v for _, v, _ in bars]))]
    values = [v for _, v, _ in bars if v is not None]
    top = max(values, default=1.0) * 1.2 or 1.0
    slot = (WIDTH - LEFT - RIGHT) / len(bars)
    y = lambda v: TOP + (HEIGHT - TOP - BOTTOM) * (1 - v / top)  # noqa: E731
    parts = [f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{HEIGHT - BOTTOM}" y2="{HEIGHT - BOTTOM}" stroke="#444"/>']
    for i, (label, value, color) in enumerate(bars):
        left = LEFT + slot * i + slot * 0.25
        parts.append(f'<text x="{left + slot * 0.25:.1f}" y="{HEIGHT - 14}" font-size="12" text-anchor="middle">'
                     f'{escape(label)}</text>')
        if value is None:
            continue
        parts.append(f'<rect x="{left:.1f}" y="{y(value):.1f}" width="{slot * 0.5:.1f}" '
                     f'height="{HEIGHT - BOTTOM - y(value):.1f}" fill="{COLORS[color]}"/>')
        parts.append(f'<text x="{left + slot * 0.25:.1f}" y="{y(value) - 6:.1f}" font-size="12" '
                     f'text-anchor="middle">{escape(fmt(value))}</text>')
    return _svg(parts)


def _finite(values: Sequence[float | None]) -> list[float | None]:
    """A value that is not a finite number is drawn as missing: one infinity would put every point at NaN."""
    return [v if v is not None and math.isfinite(v) else None for v in values]


def _frame(labels: Sequence[str], top: float, x: Callable, y: Callable, fmt: Callable[[float], str]) -> str:
    out = [f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{HEIGHT - BOTTOM}" y2="{HEIGHT - BOTTOM}" stroke="#444"/>']
    for fraction in (0, 0.5, 1):
        value = top / 1.1 * fraction
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="#e4e4e4"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" font-size="11" text-anchor="end">'
                   f'{escape(fmt(value))}</text>')
    for i, label in enumerate(labels):
        out.append(f'<text x="{x(i):.1f}" y="{HEIGHT - 16}" font-size="11" text-anchor="middle">{escape(label)}</text>')
    return "".join(out)


def _series(values: Sequence[float | None], x: Callable, y: Callable, color: str, dashed: bool) -> str:
    points = [(x(i), y(v)) for i, v in enumerate(values) if v is not None]
    if not points:
        return ""
    dash = ' stroke-dasharray="4 3"' if dashed else ""
    path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
    dots = "".join(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{color}"/>' for px, py in points)
    return f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2.5"{dash}/>{dots}'


def _legend(names: tuple[str, str, str]) -> str:
    out = []
    for i, (name, key) in enumerate(zip(names, ("actual", "prior", "target"))):
        left = LEFT + i * 150
        out.append(f'<rect x="{left}" y="8" width="14" height="4" fill="{COLORS[key]}"/>'
                   f'<text x="{left + 20}" y="14" font-size="12">{escape(name)}</text>')
    return "".join(out)


def _svg(parts: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
            f'height="{HEIGHT}" role="img">{"".join(parts)}</svg>')
