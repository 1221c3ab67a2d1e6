"""Small inline SVG charts, so the report is one file that opens offline. A chart scales to its
container (viewBox, width 100%)."""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

# Two drawings of each chart, one shown at a time by the page's CSS (classes "wide" and "narrow"): a
# phone gets one drawn for its width, with every other month labelled, instead of a shrunken wide one.
SIZES = {"wide": (720, 200, 1), "narrow": (360, 240, 2)}   # viewBox width, height, label every n-th month
LEFT, RIGHT, TOP, BOTTOM = 6, 6, 22, 26
# The series take the colour of their status; the target is never one of those (dark, dashed).
STATUS_COLORS = {"A": "#1e7b3c", "achieved": "#1e7b3c", "B": "#c0221b", "missed": "#c0221b",
                 "at_risk": "#c77700", "on_track": "#1f5fbf", "no_data": "#8c8c8c"}
PRIOR_COLOR, TARGET_COLOR, GRID_COLOR = "#9a9a9a", "#222222", "#e2e2e2"
HALO = 'paint-order="stroke" stroke="#fff" stroke-width="4" stroke-linejoin="round"'


def nice_ticks(high: float, integer: bool = False) -> list[float]:
    """Round y ticks from 0: the smallest step of 1, 2 or 5 times a power of ten that covers `high` in at
    most five intervals, which always leaves at least three (4 to 6 ticks). `integer`: a count has no
    half steps, so a small one gets steps of 1 and still four ticks."""
    high = high if math.isfinite(high) and high > 0 else 1.0
    power = 10.0 ** math.floor(math.log10(high / 5))   # so that 5 <= high / power < 50
    steps = [power * m for m in (1, 2, 5, 10)]          # ten times power covers high in under five steps
    step = next(s for s in steps if math.ceil(high / s - 1e-9) <= 5)
    step = max(step, 1.0) if integer else step
    return [_round(step * i) for i in range(max(math.ceil(high / step - 1e-9), 3) + 1)]


def _round(value: float) -> float:
    """Tick values without binary noise (0.30000000000000004 would print as such in a title)."""
    return float(f"{value:.12g}")


def line_chart(labels: Sequence[str], actual: Sequence[float | None], prior: Sequence[float | None],
               target: float | None, fmt: Callable[[float], str], names: tuple[str, str, str], *,
               status: str = "on_track", projected: float | None = None, integer: bool = False,
               label: str = "") -> str:
    """Monthly values of this year (in the colour of `status`) and last year, the target as a labelled
    dashed line, and, when `projected` is given, a dashed line from the last actual to the last month.
    `label`: what a screen reader says the chart is (the indicator's name)."""
    actual, prior, (target, projected) = _finite(actual), _finite(prior), _finite((target, projected))
    color = STATUS_COLORS.get(status, STATUS_COLORS["on_track"])
    last = max((i for i, v in enumerate(actual) if v is not None), default=None)
    if last is None or last == len(labels) - 1:
        projected = None   # nothing left to project onto
    values = [v for v in (*actual, *prior, target, projected) if v is not None]
    ticks = nice_ticks(max(values, default=1.0), integer)
    legend = [(names[0], color, None), (names[1], PRIOR_COLOR, "3 4")]
    if target is not None:
        legend.append((names[2], TARGET_COLOR, "8 5"))
    if projected is not None:
        legend.append(("年度末見込み", color, "2 5"))
    drawings = []
    for css, (width, height, every) in SIZES.items():
        x = lambda i, w=width: LEFT + (w - LEFT - RIGHT) * (i + 0.5) / len(labels)  # noqa: E731
        y = lambda v, h=height: TOP + (h - TOP - BOTTOM) * (1 - max(v, 0.0) / ticks[-1])  # noqa: E731
        parts = [_frame(labels, ticks, x, y, fmt, width, height, every),
                 _series(prior, x, y, PRIOR_COLOR, dash="3 4", width=2)]
        above = projected is not None and (target is None or projected >= target)
        if projected is not None and last is not None:
            parts.append(_projection(x(last), y(actual[last]), x(len(labels) - 1), y(projected), color,
                                     f"見込み {fmt(projected)}", above, height))
        parts.append(_series(actual, x, y, color, dash=None, width=3))
        if target is not None:
            # The label sits at the right end, on the side of the line farther from what is drawn there.
            ends = [y(v) for v in (*actual[-2:], *prior[-2:], projected) if v is not None]
            parts.append(_target(y(target), f"{names[2]} {fmt(target)}", width, below=_below(y(target), ends)))
        drawings.append(f'<svg class="{css}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
                        f'width="100%" role="img" aria-label="{escape(label or names[0])}">{"".join(parts)}</svg>')
    return f'<figure class="chart">{_legend(legend)}{"".join(drawings)}</figure>'


def _finite(values: Sequence[float | None]) -> list[float | None]:
    """A value that is not a finite number is drawn as missing: one infinity would put every point at NaN."""
    return [v if v is not None and math.isfinite(v) else None for v in values]


def _frame(labels: Sequence[str], ticks: Sequence[float], x: Callable, y: Callable,
           fmt: Callable[[float], str], width: int, height: int, every: int) -> str:
    out = []
    for value in ticks:
        stroke = "#666" if value == 0 else GRID_COLOR
        out.append(f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
                   f'stroke="{stroke}"/>')
    for value in ticks[1:]:  # above its grid line, inside the plot: no margin to guess for long labels
        out.append(f'<text class="tick" x="{LEFT + 2}" y="{y(value) - 4:.1f}" font-size="12" fill="#555" {HALO}>'
                   f'{escape(fmt(value))}</text>')
    for i, label in enumerate(labels):
        if i % every == 0:
            out.append(f'<text x="{x(i):.1f}" y="{height - 8}" font-size="12" text-anchor="middle" '
                       f'fill="#333">{escape(label)}</text>')
    return "".join(out)


def _series(values: Sequence[float | None], x: Callable, y: Callable, color: str, dash: str | None,
            width: float) -> str:
    points = [(x(i), y(v)) for i, v in enumerate(values) if v is not None]
    if not points:
        return ""
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
    dots = "".join(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3.5" fill="{color}"/>' for px, py in points)
    return f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="{width}"{dashed}/>{dots}'


def _projection(x0: float, y0: float, x1: float, y1: float, color: str, label: str, above: bool,
                height: int) -> str:
    text_y = max(y1 - 8, 14.0) if above else min(y1 + 18, height - BOTTOM - 4)
    return (f'<line class="projection" x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}" stroke="{color}" '
            f'stroke-width="2.5" stroke-dasharray="2 5" stroke-linecap="round"/>'
            f'<circle cx="{x1:.1f}" cy="{y1:.1f}" r="4" fill="#fff" stroke="{color}" stroke-width="2"/>'
            f'<text class="projection-label" x="{x1 - 8:.1f}" y="{text_y:.1f}" font-size="12" text-anchor="end" '
            f'fill="{color}" font-weight="bold" {HALO}>{escape(label)}</text>')


def _below(ty: float, ends: Sequence[float]) -> bool:
    """Whether the target's label goes under its line: when what ends near it is closer above than below."""
    clearance = lambda centre: min((abs(e - centre) for e in ends), default=99.0)  # noqa: E731
    return ty < TOP + 4 or clearance(ty + 11) > clearance(ty - 10)


def _target(ty: float, label: str, width: int, below: bool) -> str:
    text_y = ty + 16 if below else ty - 6
    return (f'<line class="target" x1="{LEFT}" x2="{width - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}" '
            f'stroke="{TARGET_COLOR}" stroke-width="1.8" stroke-dasharray="8 5"/>'
            f'<text class="target-label" x="{width - RIGHT}" y="{text_y:.1f}" font-size="13" text-anchor="end" '
            f'font-weight="bold" fill="{TARGET_COLOR}" {HALO}>{escape(label)}</text>')


def _legend(entries: Sequence[tuple[str, str, str | None]]) -> str:
    """In HTML, not SVG, so it wraps on a narrow screen instead of running off the chart."""
    items = []
    for name, color, dash in entries:
        style = f"border-top:3px {'dashed' if dash else 'solid'} {color}"
        items.append(f'<li><span class="swatch" style="{style}"></span>{escape(name)}</li>')
    return f'<ul class="legend">{"".join(items)}</ul>'
