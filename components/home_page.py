"""`/`: the event overview, every event with its live sessions and their current scores."""

from __future__ import annotations

from collections.abc import Sequence

from dash import dcc, html

from components import ids
from components.live_page import (
    NO_LIVE_SESSIONS,
    category_class,
    format_category,
    format_score,
    live_href,
    notice,
)
from components.sparkline import sparkline
from services.storage.metrics_store import EventSummary
from services.storage.overview import TREND_MINUTES, SessionGlance, events_by_attention

NO_EVENT = "Sessions without an event id"


def _badges(glance: SessionGlance) -> list[html.Span]:
    return [
        html.Span(
            f"{episode.type.replace('_', ' ').lower()} · {episode.severity}",
            className=f"badge badge-{episode.severity}",
        )
        for episode in glance.open_episodes
    ]


def glance_cells(glance: SessionGlance) -> list[html.Td]:
    """Score, category, recent trend and open anomalies: the overview's cells of a session,
    also on the embedded event tile."""
    score = glance.record.last_score
    return [
        html.Td(format_score(score), className="num", **{"data-label": "Score"}),
        html.Td(html.Span(format_category(score), className=category_class(score))),
        html.Td(sparkline(glance.trend, TREND_MINUTES), className="trend-cell"),
        html.Td(_badges(glance) or "—", **{"data-label": "Open anomalies"}),
    ]


def live_count(sessions: Sequence[SessionGlance]) -> str:
    return f"{len(sessions)} live session" + ("" if len(sessions) == 1 else "s")


def titled(title: str | None, identifier: str) -> list[html.Span]:
    """A title with its id beneath, smaller; the id alone where there is no title."""
    if not title:
        return [html.Span(identifier, className="ident")]
    return [html.Span(title, className="title"), html.Span(identifier, className="ident small")]


def _session_row(glance: SessionGlance) -> html.Tr:
    record = glance.record
    present = "—" if record.present_users is None else str(record.present_users)
    return html.Tr(
        className="overview-row",
        **{"data-session": record.session_id},
        children=[
            html.Td(
                dcc.Link(
                    titled(record.title, record.session_id),
                    href=live_href(record.session_id),
                    className="titled-link",
                )
            ),
            *glance_cells(glance),
            # Labelled for the phone layout, where each row becomes a card (assets/style.css).
            html.Td(glance.mode, className="agent-mode", **{"data-label": "Agent"}),
            html.Td(present, className="num", **{"data-label": "Present"}),
            html.Td(f"{record.last_seen:%H:%M:%S} UTC", **{"data-label": "Last scored"}),
        ],
    )


def _event_block(event_id: str | None, sessions: Sequence[SessionGlance]) -> html.Section:
    if not sessions:
        body: html.Div | html.Table = html.Div(
            "No live sessions in this event right now.", className="muted"
        )
    else:
        body = html.Table(
            className="sessions-table",
            children=[
                html.Thead(
                    html.Tr(
                        [
                            html.Th("Session"),
                            html.Th("Score", className="num"),
                            html.Th("Category"),
                            html.Th(f"Last {TREND_MINUTES} min"),
                            html.Th("Open anomalies"),
                            html.Th("Agent"),
                            html.Th("Present", className="num"),
                            html.Th("Last scored"),
                        ]
                    )
                ),
                html.Tbody([_session_row(glance) for glance in sessions]),
            ],
        )
    title = next((g.record.event_title for g in sessions if g.record.event_title), None)
    if event_id is None:
        heading = [html.Span(NO_EVENT, className="title")]
    else:
        heading = titled(title, event_id)
    return html.Section(
        className="event-block",
        **{"data-event": event_id or ""},
        children=[
            html.H2([*heading, html.Span(live_count(sessions), className="event-count")]),
            body,
        ],
    )


def home_body(events: Sequence[EventSummary], sessions: Sequence[SessionGlance]) -> html.Div:
    """`sessions` are the live ones, most in need of attention first; the events in that order
    too (the worst open anomaly, then the lowest score), those without live sessions last."""
    by_event: dict[str | None, list[SessionGlance]] = {}
    for glance in sessions:
        by_event.setdefault(glance.record.event_id, []).append(glance)
    blocks = [
        _event_block(event_id, by_event.get(event_id, []))
        for event_id in events_by_attention(events, sessions)
    ]
    children: list[html.Div | html.Section] = []
    if not sessions:
        children.append(notice(NO_LIVE_SESSIONS, "empty"))
    children.extend(blocks)
    return html.Div(children)


def home_page(
    events: Sequence[EventSummary], sessions: Sequence[SessionGlance], refresh_ms: int
) -> html.Div:
    return html.Div(
        className="home-page",
        children=[
            html.H1("Events"),
            html.P(
                "Live sessions, those that need attention first (open critical anomalies, "
                "then warnings, then the lowest scores), and their events in the same order; "
                "open one to follow it live.",
                className="muted",
            ),
            notification_controls(),
            html.Div(home_body(events, sessions), id=ids.HOME_BODY),
            dcc.Interval(id=ids.HOME_REFRESH, interval=refresh_ms),
        ],
    )


def notification_controls() -> html.Div:
    """Opt-in browser notifications (and a sound) for CRITICAL alerts in other sessions;
    assets/alerts_notify.js does the asking and the notifying, the choice stays in the browser."""
    return html.Div(
        className="notify-controls",
        children=[
            html.Button(
                "Notify me of critical alerts",
                id=ids.NOTIFY_TOGGLE,
                className="button",
                type="button",
                **{"aria-pressed": "false"},
            ),
            html.Label(
                [
                    dcc.Checklist(
                        id=ids.NOTIFY_SOUND,
                        options=[{"label": " with a sound", "value": "sound"}],
                        value=[],
                        inline=True,
                    )
                ]
            ),
            html.Span(id=ids.NOTIFY_STATUS, className="muted small", role="status"),
        ],
    )


def not_found_page(pathname: str) -> html.Div:
    return html.Div(
        className="not-found",
        children=[
            html.H1("Page not found"),
            notice(f"There is no page at “{pathname}”.", "error"),
            html.P(["Go to the ", dcc.Link("event overview", href="/"), "."]),
        ],
    )


def error_page(problem: str) -> html.Div:
    return html.Div(
        className="error-page",
        children=[html.H1("Something is unavailable"), notice(problem, "error")],
    )
