"""Iframe panels (`/embed/<kind>/<id>`): one part of the product each, with minimal chrome,
filling whatever frame the platform gives them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from dash import dcc, html

from components import ids
from components.anomalies import anomaly_items
from components.figures import live_figure
from components.home_page import anomaly_badges
from components.live_page import (
    ENDED_MESSAGE,
    category_class,
    connection_light,
    format_category,
    format_score,
    format_time,
    notice,
    socket_config,
    waiting_message,
)
from services.access_tokens import PanelKind
from services.metrics_store import ENDED, SessionRecord
from services.overview import TREND_MINUTES, SessionGlance, sparkline

NO_SESSIONS_IN_EVENT = "No live sessions in this event right now."


def embed_shell() -> html.Div:
    """The page around a panel: no navigation, no alerts; the same ids as the full shell so
    routing and the live socket work unchanged."""
    return html.Div(
        id=ids.SHELL,
        className="shell shell-embed",
        children=[
            dcc.Location(id=ids.URL, refresh="callback-nav"),
            html.Main(
                html.Div("Loading…", className="notice notice-info"),
                id=ids.PAGE,
                className="page embed-page",
            ),
            dcc.Store(id=ids.LIVE_CONFIG, data=None),
            dcc.Store(id=ids.SOCKET_SINK, data=None),
        ],
    )


def panel_problem(text: str) -> html.Div:
    return html.Div(className="embed-panel", children=[notice(text, "error")])


def _head(title: str, detail: str, live: bool) -> html.Div:
    return html.Div(
        className="embed-head",
        children=[
            html.Span(title, className="embed-title"),
            html.Span(detail, className="embed-detail"),
            *([connection_light()] if live else []),
        ],
    )


def live_chart_panel(
    record: SessionRecord,
    points: Sequence[dict[str, Any]],
    anomalies: Sequence[dict[str, Any]],
    tick_seconds: float,
) -> html.Div:
    newest = points[-1] if points else None
    score = newest["score"] if newest else None
    if record.status == ENDED:
        banner = ENDED_MESSAGE
    else:
        banner = "" if points else waiting_message(tick_seconds)
    return html.Div(
        className="embed-panel embed-live",
        children=[
            html.Div(
                className="embed-head",
                children=[
                    html.Span(record.session_id, className="embed-title"),
                    html.Span(format_score(score), id=ids.SCORE_VALUE, className="embed-score"),
                    html.Span(
                        format_category(score),
                        id=ids.SCORE_CATEGORY,
                        className=category_class(score),
                    ),
                    html.Span(
                        format_time(newest["timestamp"] if newest else None),
                        id=ids.SCORE_UPDATED,
                        className="embed-detail",
                    ),
                    connection_light(),
                ],
            ),
            html.Div(
                banner,
                id=ids.LIVE_BANNER,
                className="banner" + ("" if banner else " banner-empty"),
                role="status",
            ),
            dcc.Graph(
                id=ids.GRAPH,
                className="embed-graph",
                figure=live_figure(record.session_id, points, anomalies),
                config={"displaylogo": False, "scrollZoom": False, "displayModeBar": False},
                responsive=True,
            ),
        ],
    )


def anomaly_list_panel(record: SessionRecord, anomalies: Sequence[dict[str, Any]]) -> html.Div:
    return html.Div(
        className="embed-panel embed-anomalies",
        children=[
            _head("Anomalies", record.session_id, live=True),
            html.Div(
                anomaly_items(anomalies, datetime.now(UTC)),
                id=ids.ANOMALY_LIST,
                className="anomaly-list",
                role="log",
            ),
        ],
    )


def intervention_log_panel(
    record: SessionRecord, log: html.Div | html.Table, refresh_ms: int
) -> html.Div:
    return html.Div(
        className="embed-panel embed-interventions",
        children=[
            _head("Interventions", record.session_id, live=True),
            html.Div(log, id=ids.EMBED_BODY, className="embed-body", role="log"),
            dcc.Store(id=ids.EMBED_SIGNAL, data=0),
            # The push makes changes show at once; this catches what a reconnect missed.
            dcc.Interval(id=ids.EMBED_REFRESH, interval=refresh_ms),
        ],
    )


def event_tile_body(sessions: Sequence[SessionGlance]) -> html.Div | html.Table:
    """Live sessions, the ones needing attention first; plain text, since a link would open a
    producer's page inside the platform's frame."""
    if not sessions:
        return html.Div(NO_SESSIONS_IN_EVENT, className="notice notice-empty")
    rows = []
    for glance in sessions:
        record = glance.record
        score = record.last_score
        rows.append(
            html.Tr(
                className="overview-row",
                **{"data-session": record.session_id},
                children=[
                    html.Td(record.session_id, className="embed-session"),
                    html.Td(format_score(score), className="num"),
                    html.Td(html.Span(format_category(score), className=category_class(score))),
                    html.Td(
                        sparkline(glance.trend),
                        className="sparkline",
                        title=f"engagement over the last {TREND_MINUTES} minutes",
                    ),
                    html.Td(anomaly_badges(glance) or "—"),
                ],
            )
        )
    return html.Table(className="sessions-table embed-table", children=[html.Tbody(rows)])


def event_tile_panel(event_id: str, sessions: Sequence[SessionGlance], refresh_ms: int) -> html.Div:
    count = f"{len(sessions)} live session" + ("" if len(sessions) == 1 else "s")
    return html.Div(
        className="embed-panel embed-event",
        children=[
            _head(event_id, count, live=False),
            html.Div(event_tile_body(sessions), id=ids.EMBED_BODY, className="embed-body"),
            # No push bumps it here; the refresh callback takes it as input on every panel.
            dcc.Store(id=ids.EMBED_SIGNAL, data=0),
            dcc.Interval(id=ids.EMBED_REFRESH, interval=refresh_ms),
        ],
    )


def panel_socket_config(
    kind: PanelKind, record: SessionRecord, chart_points: int, tick_seconds: float
) -> dict[str, Any]:
    """The live page's socket config with the ids of the parts this panel does not show
    emptied, so assets/live.js leaves them alone."""
    config = socket_config(record, chart_points, tick_seconds)
    shown = config["ids"]
    shown["signals"] = {}
    shown["agentSignal"] = ids.EMBED_SIGNAL if kind is PanelKind.INTERVENTIONS else None
    if kind is not PanelKind.ANOMALIES:
        shown["anomalies"] = None
    if kind is not PanelKind.LIVE:
        for part in ("graph", "banner", "score", "category", "updated"):
            shown[part] = None
    return config
