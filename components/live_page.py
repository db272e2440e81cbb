"""The producer's live page (`/live/<session_id>`) and the pickers page (`/live`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from dash import dcc, html

from components import ids
from components.anomalies import anomaly_config, anomaly_items
from components.figures import LIVE_GRAPH_CONFIG, live_figure, live_layout, live_trace, mark_config
from services.ingest.score import CATEGORY_BANDS, category_of
from services.storage.metrics_store import ENDED, EventSummary, SessionRecord

LIVE_PATH = "/live"
SOCKET_PATH = "/ws/live/"
# The agent's panels re-render on every push about this session's interventions
# (assets/live.js), so their interval is slow: it only catches up with what the agent learns
# from other sessions. While a suggestion waits, callbacks/live.py speeds it up to keep the
# suggestion's countdown current.
AGENT_IDLE_REFRESH_MS = 60_000

NO_LIVE_SESSIONS = (
    "No live sessions yet. The collector is waiting for events on the platform streams "
    "(chat, polls, reactions, presence); a session appears here within one tick of its "
    "first event."
)
PICK_A_SESSION = "Pick an event and one of its live sessions to follow it live."
ENDED_MESSAGE = (
    "This session has ended: no new scores are coming. The chart shows its last recorded "
    "minutes and picks up again if the session goes live again."
)
# assets/live.js fills in {since}, {ago} and {why}, or uses the short form before any score.
STALE_MESSAGES = {
    "since": "Not live: the newest score is from {since} UTC, {ago} ago ({why}). "
    "The values shown are from then.",
    "short": "Not live: {why}.",
    "socket": "the connection to the server is down; reconnecting",
    "ticks": "no new score came for two ticks",
}
HUB_DOWN_MESSAGE = (
    "The server lost its live feed from Redis. The chart keeps the last data and refills "
    "itself as soon as the feed is back."
)


def waiting_message(tick_seconds: float) -> str:
    return (
        "Waiting for this session's first score: the collector scores every "
        f"{tick_seconds:g} s and the chart fills in as scores arrive."
    )


def first_score_message(session_id: str, tick_seconds: float) -> str:
    return (
        f"Waiting for the first score of session “{session_id}”. This page turns into its live "
        f"page by itself as soon as the collector scores it (every {tick_seconds:g} s, once "
        "its first event arrives). If it never does, check the id or pick a live session."
    )


def waiting_page(
    session_id: str,
    events: Sequence[EventSummary],
    sessions: Sequence[SessionRecord],
    tick_seconds: float,
    refresh_ms: int,
) -> html.Div:
    """`/live/<id>` for a session not scored yet: producers open links from the platform as the
    session starts. callbacks/live.py checks on every tick and swaps in the live page."""
    return html.Div(
        className="live-page live-waiting",
        children=[
            html.H1(session_id, className="session-title"),
            notice(first_score_message(session_id, tick_seconds), "info"),
            dcc.Interval(id=ids.SESSION_WAIT, interval=max(1000, int(tick_seconds * 1000))),
            pickers(events, sessions, None, refresh_ms),
        ],
    )


def invalid_session_message(session_id: str) -> str:
    shown = session_id if len(session_id) <= 80 else session_id[:80] + "…"
    return (
        f"“{shown}” is not a valid session id: ids are 1-255 printable characters "
        "with no leading or trailing spaces."
    )


def live_href(session_id: str) -> str:
    return f"{LIVE_PATH}/{quote(session_id, safe='')}"


# -- formatting (assets/live.js formats the same way for pushed points) -------------------------


def format_score(score: float | None) -> str:
    return "—" if score is None else f"{score:.2f}"


def format_category(score: float | None) -> str:
    return "NO SCORE YET" if score is None else category_of(score)


def category_class(score: float | None) -> str:
    return "category cat-none" if score is None else f"category cat-{category_of(score)}"


def format_time(value: datetime | str | None) -> str:
    if value is None:
        return "no scores yet"
    stamp = datetime.fromisoformat(value) if isinstance(value, str) else value
    return f"updated {stamp:%H:%M:%S} UTC"


def format_signals(signals: dict[str, Any] | None) -> dict[str, str]:
    if not signals:
        return dict.fromkeys(ids.SIGNAL_IDS, "—")
    return {
        "chat": f"{signals.get('chat_msgs_per_min', 0):.1f}",
        "poll": NO_POLL
        if signals.get("poll_active") is False
        else f"{signals.get('poll_participation', 0) * 100:.0f} %",
        "users": f"{signals.get('active_users', 0)} / {signals.get('total_users', 0)}",
        "reactions": f"{signals.get('reactions_per_min', 0):.1f}",
        "leave": f"{signals.get('user_leave_rate', 0) * 100:.1f} %",
    }


NO_POLL = "no poll"
SIGNAL_LABELS: dict[str, tuple[str, str]] = {
    "chat": ("Chat", "messages a minute"),
    "poll": ("Poll", "of the room voted"),
    "users": ("Active / present", "interacting / in the room"),
    "reactions": ("Reactions", "a minute"),
    "leave": ("Leave rate", "left in the last minute"),
}


# -- pickers ------------------------------------------------------------------------------------


def event_options(events: Sequence[EventSummary]) -> list[dict[str, str]]:
    """The event's title where the platform sent one, its id beside it (ids stay visible)."""
    return [
        {
            "label": _titled(event.title, event.event_id) + f" · {event.live} live",
            "value": event.event_id,
        }
        for event in events
    ]


def _titled(title: str | None, identifier: str) -> str:
    return f"{title} ({identifier})" if title else identifier


def session_options(
    sessions: Sequence[SessionRecord], current: SessionRecord | None = None
) -> list[dict[str, str]]:
    """Live sessions labelled with their current score; the session on screen always appears
    so the dropdown can show it even after it ended or belongs to another event."""
    options = [{"label": _session_label(record), "value": record.session_id} for record in sessions]
    if current is not None and all(o["value"] != current.session_id for o in options):
        options.insert(0, {"label": _session_label(current), "value": current.session_id})
    return options


def _session_label(record: SessionRecord) -> str:
    name = _titled(record.title, record.session_id)
    if record.status == ENDED:
        return f"{name} · ended"
    if record.last_score is None:
        return f"{name} · no score yet"
    users = "" if record.present_users is None else f" · {record.present_users} present"
    score = record.last_score
    return f"{name} · {score:.2f} {category_of(score)}{users}"


def pickers(
    events: Sequence[EventSummary],
    sessions: Sequence[SessionRecord],
    current: SessionRecord | None,
    refresh_ms: int,
) -> html.Div:
    return html.Div(
        className="pickers",
        children=[
            html.Div(
                className="picker",
                children=[
                    html.Label("Event", htmlFor=ids.EVENT_PICK),
                    dcc.Dropdown(
                        id=ids.EVENT_PICK,
                        options=event_options(events),
                        value=current.event_id if current is not None else None,
                        placeholder="All events",
                        clearable=True,
                    ),
                ],
            ),
            html.Div(
                className="picker picker-wide",
                children=[
                    html.Label("Live session", htmlFor=ids.SESSION_PICK),
                    dcc.Dropdown(
                        id=ids.SESSION_PICK,
                        options=session_options(sessions, current),
                        value=current.session_id if current is not None else None,
                        placeholder="Choose a live session",
                        clearable=False,
                    ),
                ],
            ),
            dcc.Interval(id=ids.PICKER_REFRESH, interval=refresh_ms),
        ],
    )


# -- the page -----------------------------------------------------------------------------------


def notice(text: str, kind: str) -> html.Div:
    """A state the producer should read: kind is 'empty', 'info' or 'error'."""
    return html.Div(text, className=f"notice notice-{kind}", role="status")


def picker_page(
    events: Sequence[EventSummary],
    sessions: Sequence[SessionRecord],
    refresh_ms: int,
    problem: html.Div | None = None,
) -> html.Div:
    """`/live` without a usable session: the pickers plus what to do next."""
    if problem is None:
        problem = notice(NO_LIVE_SESSIONS if not sessions else PICK_A_SESSION, "empty")
    return html.Div(
        className="live-page",
        children=[html.H1("Live session"), pickers(events, sessions, None, refresh_ms), problem],
    )


def live_banner(text: str) -> html.Div:
    """The live chart's status line (waiting for data, session ended); hidden when empty."""
    return html.Div(
        text,
        id=ids.LIVE_BANNER,
        className="banner" + ("" if text else " banner-empty"),
        role="status",
    )


def connection_light() -> html.Div:
    return html.Div(
        id=ids.LIGHT,
        className="light light-connecting",
        title="opening the live feed",
        children=[html.Span(className="light-dot"), html.Span("connecting", id=ids.LIGHT_TEXT)],
    )


def _banner_text(record: SessionRecord, points: Sequence[dict[str, Any]], tick: float) -> str:
    if record.status == ENDED:
        return ENDED_MESSAGE
    return "" if points else waiting_message(tick)


def score_card(newest: dict[str, Any] | None) -> html.Div:
    score = newest["score"] if newest else None
    category = format_category(score)
    return html.Div(
        className="card score-card",
        children=[
            html.Div("Engagement now", className="card-label"),
            html.Div(
                className="score-line",
                children=[
                    # Read out when it changes, without interrupting the screen reader.
                    html.Div(
                        format_score(score),
                        id=ids.SCORE_VALUE,
                        className="score-value",
                        **{"aria-live": "polite", "aria-atomic": "true"},
                    ),
                    html.Div(category, id=ids.SCORE_CATEGORY, className=category_class(score)),
                ],
            ),
            html.Div(
                format_time(newest["timestamp"] if newest else None),
                id=ids.SCORE_UPDATED,
                className="card-note",
            ),
        ],
    )


def signal_cards(signals: dict[str, Any] | None) -> html.Div:
    values = format_signals(signals)
    cards = []
    for key, component_id in ids.SIGNAL_IDS.items():
        label, hint = SIGNAL_LABELS[key]
        cards.append(
            html.Div(
                className="signal-card",
                children=[
                    html.Div(label, className="card-label"),
                    html.Div(values[key], id=component_id, className="signal-value"),
                    html.Div(hint, className="card-note"),
                ],
            )
        )
    return html.Div(className="card signal-cards", children=cards)


def anomaly_list(anomalies: Sequence[dict[str, Any]]) -> html.Div:
    """The session's anomaly episodes, newest first; assets/live_anomalies.js keeps it live."""
    return html.Div(
        anomaly_items(anomalies, datetime.now(UTC)),
        id=ids.ANOMALY_LIST,
        className="anomaly-list",
        role="log",
    )


def anomaly_panel(anomalies: Sequence[dict[str, Any]]) -> html.Section:
    return html.Section(
        className="card anomaly-panel",
        **{"aria-label": "Anomalies"},
        children=[html.H2("Anomalies", className="panel-title"), anomaly_list(anomalies)],
    )


def stale_banner() -> html.Div:
    """Shown by assets/live.js while the values on screen are not current (the socket is down,
    or no tick came for two tick intervals); says since when."""
    return html.Div(id=ids.STALE_BANNER, className="stale-banner banner-empty", role="alert")


def session_heading(record: SessionRecord) -> html.Div:
    """The session's title (its id where the platform sent none), the id smaller beneath, and
    its event."""
    event = record.event_id or "no event id"
    return html.Div(
        className="session-heading",
        children=[
            html.H1(record.title or record.session_id, className="session-title"),
            html.Div(
                className="session-sub",
                children=[
                    html.Span(record.session_id, className="ident small") if record.title else None,
                    html.Span(
                        f"event {_titled(record.event_title, event)}", className="session-event"
                    ),
                ],
            ),
        ],
    )


def live_page(
    record: SessionRecord,
    events: Sequence[EventSummary],
    sessions: Sequence[SessionRecord],
    points: Sequence[dict[str, Any]],
    tick_seconds: float,
    refresh_ms: int,
    anomalies: Sequence[dict[str, Any]] = (),
    decision: html.Section | None = None,
    agent: Sequence[html.Div | html.Details] = (),
) -> html.Div:
    """The live view of one known session; `points` are ChartPoint.as_json() dicts and
    `anomalies` EPISODE dicts; `decision` the agent's suggestions waiting for the producer and
    `agent` its other panels.

    Everything a producer runs the show from fits one 1440x900 screen: the score, the chart and
    the signals on the left, the decision waiting and the anomalies on the right; the agent's
    log and settings follow below. On a phone the chart comes first and a waiting decision sits
    at the bottom of the screen (assets/style.css)."""
    newest = points[-1] if points else None
    banner = _banner_text(record, points, tick_seconds)
    side = [decision] if decision is not None else []
    return html.Div(
        className="live-page",
        children=[
            html.Div(
                className="live-head",
                children=[session_heading(record), connection_light()],
            ),
            pickers(events, sessions, record, refresh_ms),
            live_banner(banner),
            stale_banner(),
            html.Div(
                id=ids.LIVE_BODY,
                className="live-body",
                children=[
                    html.Div(
                        className="live-main",
                        children=[
                            score_card(newest),
                            dcc.Graph(
                                id=ids.GRAPH,
                                className="live-graph",
                                figure=live_figure(record.session_id, points, anomalies),
                                config=LIVE_GRAPH_CONFIG,
                                # Fills its grid cell and follows window resizes; the height
                                # is the layout's (assets/style.css, desktop and phone).
                                responsive=True,
                                style={"height": "var(--live-chart-height)"},
                            ),
                            signal_cards(newest["signals"] if newest else None),
                        ],
                    ),
                    html.Div(className="live-side", children=[*side, anomaly_panel(anomalies)]),
                ],
            ),
            *agent,
        ],
    )


def socket_config(record: SessionRecord, chart_points: int, tick_seconds: float) -> dict[str, Any]:
    """Everything assets/live.js needs to run the page, so ids and texts live only here."""
    return {
        "sessionId": record.session_id,
        "socketPath": SOCKET_PATH,
        "maxPoints": chart_points,
        "tickSeconds": tick_seconds,
        "ended": record.status == ENDED,
        "ids": {
            "graph": ids.GRAPH,
            "light": ids.LIGHT,
            "lightText": ids.LIGHT_TEXT,
            "banner": ids.LIVE_BANNER,
            "score": ids.SCORE_VALUE,
            "category": ids.SCORE_CATEGORY,
            "updated": ids.SCORE_UPDATED,
            "signals": dict(ids.SIGNAL_IDS),
            "anomalies": ids.ANOMALY_LIST,
            "agentSignal": ids.AGENT_SIGNAL,
            "body": ids.LIVE_BODY,
            "stale": ids.STALE_BANNER,
        },
        "anomalies": anomaly_config(),
        "marks": mark_config(),
        # Highest floor first: the script takes the first band the score reaches.
        "bands": [[floor, name] for floor, name in sorted(CATEGORY_BANDS, reverse=True)],
        "trace": {k: v for k, v in live_trace([]).items() if k not in ("x", "y", "meta")},
        "layout": live_layout(record.session_id),
        "messages": {
            "waiting": waiting_message(tick_seconds),
            "ended": ENDED_MESSAGE,
            "hubDown": HUB_DOWN_MESSAGE,
            "stale": STALE_MESSAGES,
        },
    }
