"""The live chart's figure as plain plotly JSON, so the browser script can rebuild it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from components.agent_panel import type_label
from components.anomalies import anomaly_shapes
from services.core.vocabulary import INTERVENTION_TYPES
from services.ingest.score import CATEGORY_BANDS

BAND_COLOURS: dict[str, str] = {
    "VERY_HIGH": "#1a9850",
    "HIGH": "#91cf60",
    "MODERATE": "#fee08b",
    "LOW": "#fc8d59",
    "VERY_LOW": "#d73027",
}
LINE_COLOUR = "#1f3b73"
# Intervention marks on the live chart (assets/live_marks.js draws them): named with this prefix,
# coloured by how they went, and saying so in words beside the colour.
MARK_PREFIX = "mark:"
MARK_COLOURS = {"worked": "#1a7f37", "failed": "#b42318", "pending": LINE_COLOUR}
MARK_STATES = {
    "approved": "sending",
    "executed": "measuring",
    "failed": "not delivered",
    "measured": "measured",
    "unmeasured": "not measurable",
}
# The live chart draws no plotly toolbar: a producer reads it, and its zoom would stop following
# the newest points.
LIVE_GRAPH_CONFIG = {"displayModeBar": False, "displaylogo": False, "scrollZoom": False}


def mark_config() -> dict[str, Any]:
    """What assets/live_marks.js needs to label and colour the marks."""
    return {
        "prefix": MARK_PREFIX,
        "labels": {arm.value: type_label(arm.value) for arm in INTERVENTION_TYPES},
        "colours": dict(MARK_COLOURS),
        "states": dict(MARK_STATES),
    }


def band_ranges() -> list[tuple[str, float, float]]:
    """(category, floor, ceiling) for each band, highest first; together they cover 0-1."""
    ranges = []
    ceiling = 1.0
    for floor, name in sorted(CATEGORY_BANDS, key=lambda band: band[0], reverse=True):
        ranges.append((name, floor, ceiling))
        ceiling = floor
    return ranges


def live_trace(points: Sequence[dict[str, Any]], revision: int = 0) -> dict[str, Any]:
    """The score line; `meta` carries the figure's revision so the browser can tell a redraw
    of this figure from a stale one that happens to end on the same timestamp."""
    return {
        "type": "scatter",
        "mode": "lines+markers",
        "name": "engagement",
        "x": [point["timestamp"] for point in points],
        "y": [point["score"] for point in points],
        "meta": revision,
        "line": {"color": LINE_COLOUR, "width": 2},
        "marker": {"size": 4, "color": LINE_COLOUR},
        "hovertemplate": "%{x|%H:%M:%S} UTC<br>score %{y:.2f}<extra></extra>",
    }


def live_layout(session_id: str) -> dict[str, Any]:
    shapes = []
    annotations = []
    for name, floor, ceiling in band_ranges():
        shapes.append(
            {
                "type": "rect",
                "xref": "paper",
                "yref": "y",
                "x0": 0,
                "x1": 1,
                "y0": floor,
                "y1": ceiling,
                "fillcolor": BAND_COLOURS.get(name, "#cccccc"),
                "opacity": 0.18,
                "layer": "below",
                "line": {"width": 0},
            }
        )
        annotations.append(
            {
                "xref": "paper",
                "yref": "y",
                "x": 1.0,
                "y": (floor + ceiling) / 2,
                "xanchor": "left",
                "showarrow": False,
                "text": name.replace("_", " ").lower(),
                "font": {"size": 11, "color": "#555"},
            }
        )
    return {
        # Same session -> same revision, so a producer's zoom survives every update; another
        # session starts unzoomed.
        "uirevision": session_id,
        "margin": {"l": 40, "r": 86, "t": 8, "b": 30},
        "showlegend": False,
        "plot_bgcolor": "#ffffff",
        "paper_bgcolor": "#ffffff",
        # Times in UTC, as everywhere on the page; the labels stand clear of the score's.
        "xaxis": {
            "type": "date",
            "showgrid": False,
            # Whole minutes as 06:41, shorter steps with seconds: short enough for a phone.
            "tickformatstops": [
                {"dtickrange": [None, 59_000], "value": "%H:%M:%S"},
                {"dtickrange": [60_000, None], "value": "%H:%M"},
            ],
            "hoverformat": "%H:%M:%S UTC",
            "ticklabelstandoff": 6,
            "tickangle": 0,
            "nticks": 6,
        },
        "yaxis": {
            "range": [0, 1],
            "autorange": False,
            "fixedrange": True,
            "dtick": 0.2,
            "tickformat": ".1f",
            "ticklabelstandoff": 6,
            "gridcolor": "rgba(0,0,0,0.08)",
        },
        "shapes": shapes,
        "annotations": annotations,
    }


def live_figure(
    session_id: str,
    points: Sequence[dict[str, Any]],
    anomalies: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The chart for `points` (ChartPoint.as_json() dicts, oldest first), with a band for each
    of the `anomalies` (EPISODE dicts) in its window."""
    layout = live_layout(session_id)
    layout["shapes"] += anomaly_shapes(anomalies, [point["timestamp"] for point in points])
    return {"data": [live_trace(points)], "layout": layout}
