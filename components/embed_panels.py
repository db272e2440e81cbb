"""Iframe panels (`/embed/<kind>/<id>`): their paths, and one part of the product each, with
minimal chrome, filling whatever frame the platform gives them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, unquote

from dash import dcc, html

from components import ids
from components.figures import LIVE_GRAPH_CONFIG, live_figure
from components.home_page import glance_cells, live_count, titled
from components.live_page import (
    ENDED_MESSAGE,
    anomaly_list,
    category_class,
    connection_light,
    format_category,
    format_score,
    format_time,
    live_banner,
    live_href,
    notice,
    socket_config,
    stale_banner,
    waiting_message,
)
from services.access.tokens import EmbedResource, PanelKind
from services.storage.metrics_store import ENDED, SessionRecord
from services.storage.overview import TREND_MINUTES, SessionGlance

EMBED_PREFIX = "/embed/"
NO_SESSIONS_IN_EVENT = "No live sessions in this event right now."


def panel_of_path(path: str) -> EmbedResource | None:
    """The resource a decoded `/embed/<kind>/<id>` path shows (Flask's `request.path`), or None
    for any other path."""
    if not path.startswith(EMBED_PREFIX):
        return None
    try:
        return EmbedResource.parse(path[len(EMBED_PREFIX) :])
    except ValueError:
        return None


def panel_of_url(pathname: str) -> EmbedResource | None:
    """The same for a path as the browser's address bar has it (percent-encoded), which is what
    Dash's `dcc.Location` reports."""
    return panel_of_path(unquote(pathname))


def embed_href(resource: EmbedResource) -> str:
    return f"{EMBED_PREFIX}{resource.kind.value}/{quote(resource.target, safe='')}"


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
                    html.Span(
                        record.title or record.session_id,
                        className="embed-title",
                        title=record.session_id,
                    ),
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
            live_banner(banner),
            stale_banner(),
            dcc.Graph(
                id=ids.GRAPH,
                className="embed-graph",
                figure=live_figure(record.session_id, points, anomalies),
                config=LIVE_GRAPH_CONFIG,
                responsive=True,
            ),
        ],
    )


def anomaly_list_panel(record: SessionRecord, anomalies: Sequence[dict[str, Any]]) -> html.Div:
    return html.Div(
        className="embed-panel embed-anomalies",
        children=[
            _head("Anomalies", record.title or record.session_id, live=True),
            stale_banner(),
            anomaly_list(anomalies),
        ],
    )


def intervention_log_panel(
    record: SessionRecord, log: html.Div | html.Table, refresh_ms: int
) -> html.Div:
    return html.Div(
        className="embed-panel embed-interventions",
        children=[
            _head("Interventions", record.title or record.session_id, live=True),
            stale_banner(),
            html.Div(log, id=ids.EMBED_BODY, className="embed-body", role="log"),
            dcc.Store(id=ids.EMBED_SIGNAL, data=0),
            # The push makes changes show at once; this catches what a reconnect missed.
            dcc.Interval(id=ids.EMBED_REFRESH, interval=refresh_ms),
        ],
    )


def event_tile_body(sessions: Sequence[SessionGlance]) -> html.Div | html.Table:
    """Live sessions, the ones needing attention first, each linking to its live page in a new
    tab: inside the platform's frame a producer's page would be cramped (and needs a producer's
    sign-in on this server, which the tile's pass is not)."""
    if not sessions:
        return html.Div(NO_SESSIONS_IN_EVENT, className="notice notice-empty")
    rows = [
        html.Tr(
            className="overview-row",
            **{"data-session": glance.record.session_id},
            children=[
                html.Td(
                    html.A(
                        titled(glance.record.title, glance.record.session_id),
                        href=live_href(glance.record.session_id),
                        target="_blank",
                        rel="noopener",
                        className="titled-link",
                    ),
                    className="embed-session",
                ),
                *glance_cells(glance),
            ],
        )
        for glance in sessions
    ]
    header = html.Tr(
        [
            html.Th(name, className="num" if name == "Score" else None)
            for name in ("Session", "Score", "Category", f"Last {TREND_MINUTES} min", "Anomalies")
        ]
    )
    return html.Table(
        className="sessions-table embed-table",
        children=[html.Thead(header), html.Tbody(rows)],
    )


def _event_name(event_id: str, sessions: Sequence[SessionGlance]) -> str:
    title = next((g.record.event_title for g in sessions if g.record.event_title), None)
    return f"{title} ({event_id})" if title else event_id


def event_tile_panel(event_id: str, sessions: Sequence[SessionGlance], refresh_ms: int) -> html.Div:
    return html.Div(
        className="embed-panel embed-event",
        children=[
            _head(_event_name(event_id, sessions), live_count(sessions), live=False),
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
    # A panel has no body to grey out: its stale line says it.
    shown["body"] = None
    shown["agentSignal"] = ids.EMBED_SIGNAL if kind is PanelKind.INTERVENTIONS else None
    if kind is not PanelKind.ANOMALIES:
        shown["anomalies"] = None
    if kind is not PanelKind.LIVE:
        for part in ("graph", "banner", "score", "category", "updated"):
            shown[part] = None
    return config
