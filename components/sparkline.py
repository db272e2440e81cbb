"""A session's recent scores as a small line on a fixed 0-1 scale, so a fall reads as a fall
whatever the session's level (block characters scaled each cell on its own and drew dark
blocks in which a 45 % drop was one step)."""

from __future__ import annotations

import math
from base64 import b64encode
from collections.abc import Sequence

from dash import html

WIDTH = 100
HEIGHT = 24
_PAD = 2  # keeps a line at 0 or 1 off the frame's edge


def finite(values: Sequence[float | None]) -> list[float]:
    return [min(1.0, max(0.0, v)) for v in values if v is not None and math.isfinite(v)]


def sparkline_svg(values: Sequence[float | None]) -> str:
    """The SVG drawing: the line, and a faint rule at 0.5 to read the level against."""
    scores = finite(values)
    inner = HEIGHT - 2 * _PAD
    mid = _PAD + inner / 2
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}">',
        f'<line x1="0" y1="{mid:g}" x2="{WIDTH}" y2="{mid:g}" stroke="#c8c8c8" '
        'stroke-dasharray="2 2" stroke-width="1"/>',
    ]
    if len(scores) == 1:
        y = _PAD + (1 - scores[0]) * inner
        parts.append(f'<circle cx="{WIDTH - _PAD}" cy="{y:.1f}" r="2" fill="#1f5fa8"/>')
    elif scores:
        step = (WIDTH - 2 * _PAD) / (len(scores) - 1)
        points = " ".join(
            f"{_PAD + i * step:.1f},{_PAD + (1 - v) * inner:.1f}" for i, v in enumerate(scores)
        )
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="#1f5fa8" stroke-width="1.6" '
            'stroke-linejoin="round"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


def trend_words(values: Sequence[float | None], minutes: int) -> str:
    """What the line shows, for screen readers and the tooltip."""
    scores = finite(values)
    if not scores:
        return f"no score in the last {minutes} minutes"
    if len(scores) == 1:
        return f"one score in the last {minutes} minutes: {scores[0]:.2f}"
    return (
        f"engagement over the last {minutes} minutes: {scores[0]:.2f} to {scores[-1]:.2f}, "
        f"lowest {min(scores):.2f}"
    )


def sparkline(values: Sequence[float | None], minutes: int) -> html.Img:
    words = trend_words(values, minutes)
    source = "data:image/svg+xml;base64," + b64encode(sparkline_svg(values).encode()).decode()
    return html.Img(
        src=source, alt=words, title=words, width=WIDTH, height=HEIGHT, className="sparkline"
    )
