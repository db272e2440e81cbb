"""The live page's anomaly list and chart bands.

Episodes are the EPISODE dicts of the socket's `anomaly` pushes and backfills. The page's first
render uses these helpers; assets/live_format.js and assets/live_anomalies.js format and draw
the same way for pushed episodes (texts and colours reach them through `anomaly_config`).

Each item leads with a headline: the type, the severity, and what fell in the numbers of the
alarm that set that severity (the episode's `trigger`), so the two always agree. The detector
opens no episode on the score's distance from its expected value, so the headline never shows it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from dash import html

TYPE_LABELS: dict[str, str] = {
    "SUDDEN_DROP": "Sudden drop",
    "GRADUAL_DECLINE": "Gradual decline",
    "MASS_EXIT": "Mass exit",
    "LOW_ENGAGEMENT": "Low engagement",
}
SEVERITY_COLOURS: dict[str, str] = {"WARNING": "#e08a00", "CRITICAL": "#c0392b"}
# The band labels' text: darker than the bands, for contrast on white (WCAG AA).
SEVERITY_INK: dict[str, str] = {"WARNING": "#8a5300", "CRITICAL": "#a12b1f"}
BAND_OPACITY = 0.22
# Shapes of anomaly bands are named with this prefix, so they can be told from the category
# bands (the browser replaces only these).
BAND_PREFIX = "anomaly:"
# The band's label, a shape of its own (assets/live_anomalies.js): not a band.
LABEL_PREFIX = "band-label:"
NO_ANOMALIES = "No anomalies in this session"
ARROW = "\u2192"
# What each type's alarm measured, for episodes stored before their trigger was: the numbers are
# then only in the explanation below the headline. A LOW_ENGAGEMENT was then either a lull in
# activity or the score under its floor.
UNMEASURED: dict[str, str] = {
    "SUDDEN_DROP": "chat and reactions fell",
    "GRADUAL_DECLINE": "chat and reactions slid",
    "MASS_EXIT": "people left",
    "LOW_ENGAGEMENT": "activity or the score stayed low",
}


def type_label(kind: Any) -> str:
    if not isinstance(kind, str) or not kind:
        return "Anomaly"
    return TYPE_LABELS.get(kind, kind.replace("_", " ").capitalize())


def severity_of(episode: dict[str, Any]) -> str:
    return "CRITICAL" if episode.get("severity") == "CRITICAL" else "WARNING"


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _half_up(value: float) -> int:
    """Round half up, as Math.round does in the browser."""
    return math.floor(value + 0.5)


def format_clock(value: str | None) -> str:
    stamp = _parse(value)
    return "--:--:-- UTC" if stamp is None else f"{stamp.astimezone(UTC):%H:%M:%S} UTC"


def format_duration(seconds: float | None) -> str:
    """45s, 1m 20s, 1h 05m."""
    total = max(0, _half_up(seconds or 0.0))
    if total < 60:
        return f"{total}s"
    if total < 3600:
        return f"{total // 60}m {total % 60:02d}s"
    return f"{total // 3600}h {total % 3600 // 60:02d}m"


class Headline(NamedTuple):
    """What an episode's item leads with: 'Mass exit', 'CRITICAL', '91 of 278 left in 15s'."""

    label: str
    severity: str
    what_fell: str


def _number(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def _hundredths(value: float) -> str:
    """Two decimals, rounded half up as in the browser (toFixed rounds the binary value)."""
    return f"{_half_up(value * 100) / 100:.2f}"


def what_fell(episode: dict[str, Any]) -> str:
    """The trigger's numbers in plain words; the type's words for an episode without them."""
    trigger = episode.get("trigger")
    fallback = UNMEASURED.get(str(episode.get("type")), "")
    if not isinstance(trigger, dict):
        return fallback
    reference, value = _number(trigger.get("reference")), _number(trigger.get("value"))
    seconds = _number(trigger.get("seconds"))
    if reference is None or value is None:
        return fallback
    rule = trigger.get("rule")
    if rule == "activity":
        return f"chat and reactions {_half_up(reference)}/min {ARROW} {_half_up(value)}/min"
    if rule == "exit" and seconds is not None:
        before = _half_up(reference)
        return f"{before - _half_up(value)} of {before} left in {format_duration(seconds)}"
    if rule == "score" and seconds is not None:
        return (
            f"engagement {_hundredths(value)}, under {_hundredths(reference)} "
            f"for {format_duration(seconds)}"
        )
    if rule == "attention":
        return f"viewers looking {_half_up(reference * 100)}% {ARROW} {_half_up(value * 100)}%"
    return fallback


def headline(episode: dict[str, Any]) -> Headline:
    return Headline(type_label(episode.get("type")), severity_of(episode), what_fell(episode))


def format_lasted(episode: dict[str, Any], now: datetime) -> str:
    """How long the episode has lasted and how it ended."""
    started = _parse(episode.get("startedAt"))
    ended = _parse(episode.get("endedAt"))
    if started is None:
        return ""
    if ended is None:
        return f"ongoing for {format_duration((now - started).total_seconds())}"
    lasted = f"lasted {format_duration((ended - started).total_seconds())}"
    if episode.get("recovered"):
        seconds = episode.get("recoverySeconds")
        if isinstance(seconds, int | float):
            return f"{lasted} · recovered in {format_duration(seconds)}"
        return f"{lasted} · recovered"
    return f"{lasted} · ended without recovery"


def newest_first(episodes: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """By start, then id (as the browser sorts)."""

    def key(episode: dict[str, Any]) -> tuple[float, str]:
        stamp = _parse(episode.get("startedAt"))
        return (stamp.timestamp() if stamp else 0.0, str(episode.get("episodeId")))

    return sorted(episodes, key=key, reverse=True)


def anomaly_item(episode: dict[str, Any], now: datetime) -> html.Div:
    label, severity, fell = headline(episode)
    state = "open" if not episode.get("endedAt") else "ended"
    return html.Div(
        className=f"anomaly anomaly-{state} anomaly-{severity}",
        children=[
            html.Div(
                className="anomaly-head",
                children=[
                    html.Span(label, className="anomaly-type"),
                    html.Span(severity, className=f"severity severity-{severity}"),
                    # Right beside the severity: the numbers it was decided on.
                    html.Span(fell, className="anomaly-score"),
                    html.Span(
                        "started " + format_clock(episode.get("startedAt")),
                        className="anomaly-time",
                    ),
                    html.Span(format_lasted(episode, now), className="anomaly-lasted"),
                ],
            ),
            # A string child: React renders it as text, never as markup.
            html.Div(str(episode.get("explanation") or ""), className="anomaly-explanation"),
        ],
    )


def anomaly_items(episodes: Iterable[dict[str, Any]], now: datetime) -> list[html.Div]:
    ordered = newest_first(episodes)
    if not ordered:
        return [html.Div(NO_ANOMALIES, className="anomaly-empty")]
    return [anomaly_item(episode, now) for episode in ordered]


def anomaly_shapes(
    episodes: Iterable[dict[str, Any]], timestamps: Sequence[str]
) -> list[dict[str, Any]]:
    """One shaded band per episode that overlaps the plotted points' time span, from its start
    (or the window's) to its end (or the newest point while open), oldest first."""
    if not timestamps:
        return []
    first, last = _parse(timestamps[0]), _parse(timestamps[-1])
    if first is None or last is None:
        return []
    shapes = []
    for episode in reversed(newest_first(episodes)):
        started = _parse(episode.get("startedAt"))
        ended = _parse(episode.get("endedAt"))
        if started is None or (ended is not None and ended < first):
            continue
        x0 = timestamps[0] if started < first else episode["startedAt"]
        if ended is not None:
            x1 = episode["endedAt"]
        else:
            x1 = timestamps[-1] if last > started else episode["startedAt"]
        shapes.append(band_shape(episode, x0, x1))
    return shapes


def band_shape(episode: dict[str, Any], x0: str, x1: str) -> dict[str, Any]:
    return {
        "type": "rect",
        "name": BAND_PREFIX + str(episode.get("episodeId")),
        "xref": "x",
        "yref": "paper",
        "x0": x0,
        "x1": x1,
        "y0": 0,
        "y1": 1,
        "fillcolor": SEVERITY_COLOURS[severity_of(episode)],
        "opacity": BAND_OPACITY,
        "layer": "below",
        "line": {"width": 0},
    }


def anomaly_config() -> dict[str, Any]:
    """What the browser script needs to format and draw episodes like this module."""
    return {
        "labels": dict(TYPE_LABELS),
        "unmeasured": dict(UNMEASURED),
        "colours": dict(SEVERITY_COLOURS),
        "ink": dict(SEVERITY_INK),
        "opacity": BAND_OPACITY,
        "prefix": BAND_PREFIX,
        "labelPrefix": LABEL_PREFIX,
        "empty": NO_ANOMALIES,
    }
