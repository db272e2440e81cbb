"""The live page's intervention agent: mode, pending suggestions, manual launch, the intervention
log and what the agent has learnt. Pure layout; callbacks/agent.py fills it from the database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from dash import dcc, html

from components import ids
from components.anomalies import type_label as anomaly_label
from components.written_by import written_words
from services.agent.report import PerformanceRow
from services.core.vocabulary import INTERVENTION_TYPES, AgentMode
from services.storage.interventions import InterventionRecord

# The mode picker's value for "follow the event's mode".
EVENT_MODE = "EVENT"

MODE_HELP = {
    AgentMode.OFF: "no suggestions",
    AgentMode.MANUAL: "suggests; a producer approves",
    AgentMode.SEMI_AUTO: "acts alone when confident, otherwise asks",
    AgentMode.AUTO: "acts alone within the guards",
}

STATUS_TEXT = {
    "pending": "waiting for approval",
    "refused": "refused by a guard",
    "dismissed": "dismissed",
    "expired": "expired",
    "approved": "approved, sending",
    "executed": "sent; measuring",
    "failed": "failed",
    "measured": "measured",
    "unmeasured": "not measurable",
}

NO_INTERVENTIONS = (
    "No interventions yet. When an anomaly opens, the agent's suggestion or action shows here."
)
NO_PENDING = "No suggestion is waiting for a decision."
# A suggestion this close to expiring says so loudly (assets/live_decisions.js counts down).
EXPIRING_SECONDS = 20
KEY_HINT = "Keys: A approves, D dismisses the focused suggestion."


def type_label(value: str) -> str:
    return value.replace("_", " ").capitalize()


def mode_options(event_mode: AgentMode) -> list[dict[str, str]]:
    options = [{"label": f"Event's mode ({event_mode.value})", "value": EVENT_MODE}]
    options += [
        {"label": f"{mode.value}: {MODE_HELP[mode]}", "value": mode.value} for mode in AgentMode
    ]
    return options


def mode_note(mode: AgentMode, overridden: bool) -> str:
    source = "set for this session" if overridden else "the event's mode"
    return f"In force: {mode.value} ({source}) — {MODE_HELP[mode]}."


def decision_panel(refresh_ms: int) -> html.Section:
    """The suggestions waiting for the producer, filled by a callback; at the top of the live
    page's side column, and at the bottom of a phone's screen while one waits."""
    return html.Section(
        className="card decision-panel",
        **{"aria-label": "Waiting for your decision"},
        children=[
            dcc.Store(id=ids.AGENT_SIGNAL, data=0),
            dcc.Interval(id=ids.AGENT_REFRESH, interval=refresh_ms),
            html.H2("Waiting for your decision", className="panel-title"),
            html.Div(id=ids.AGENT_MESSAGE, className="agent-message", role="status"),
            html.Div(id=ids.AGENT_PENDING, className="agent-pending"),
        ],
    )


def agent_section(
    event_mode: AgentMode, session_mode: AgentMode | None, allowed: Sequence[str]
) -> html.Div:
    """The agent's mode, a launch by hand, what it has learnt and its log; the log and the
    performance table are filled by a callback."""
    return html.Div(
        className="agent-section",
        children=[
            html.Div(
                className="card agent-panel",
                children=[
                    html.H2("Intervention agent", className="panel-title"),
                    html.Div(
                        className="agent-controls",
                        children=[
                            html.Label("Agent mode", htmlFor=ids.AGENT_MODE),
                            dcc.Dropdown(
                                id=ids.AGENT_MODE,
                                options=mode_options(event_mode),
                                value=session_mode.value if session_mode else EVENT_MODE,
                                clearable=False,
                            ),
                            html.Div(
                                mode_note(session_mode or event_mode, session_mode is not None),
                                id=ids.AGENT_MODE_NOTE,
                                className="card-note",
                            ),
                        ],
                    ),
                    html.Div(
                        className="agent-launch",
                        children=[
                            html.Label("Launch now", htmlFor=ids.AGENT_LAUNCH_TYPE),
                            dcc.Dropdown(
                                id=ids.AGENT_LAUNCH_TYPE,
                                options=launch_options(allowed),
                                placeholder="Intervention type",
                            ),
                            html.Button("Launch", id=ids.AGENT_LAUNCH, className="button"),
                        ],
                    ),
                ],
            ),
            html.Div(
                className="card performance-panel",
                children=[
                    html.H2("What the agent has learnt", className="panel-title"),
                    dcc.RadioItems(
                        id=ids.AGENT_PERFORMANCE_SCOPE,
                        options=[
                            {"label": "All my events, per type", "value": "all"},
                            {"label": "This event", "value": "event"},
                            {
                                "label": "This session's context (learnt across all events)",
                                "value": "context",
                            },
                        ],
                        value="all",
                        inline=True,
                        className="scope-pick",
                    ),
                    html.Div(id=ids.AGENT_PERFORMANCE),
                ],
            ),
            html.Div(
                className="card intervention-panel",
                children=[
                    html.H2("Intervention log", className="panel-title"),
                    html.Div(id=ids.INTERVENTION_LOG, className="intervention-log", role="log"),
                ],
            ),
        ],
    )


def launch_options(allowed: Sequence[str]) -> list[dict[str, Any]]:
    return [
        {"label": type_label(arm.value), "value": arm.value, "disabled": arm.value not in allowed}
        for arm in INTERVENTION_TYPES
    ]


def _clock(value: datetime | None) -> str:
    return f"{value:%H:%M:%S}" if value is not None else "—"


def pending_cards(records: Sequence[InterventionRecord], now: datetime) -> list[html.Div]:
    if not records:
        return [html.Div(NO_PENDING, className="notice notice-empty")]
    return [suggestion_card(record, now) for record in records]


def expiry_text(left: float) -> str:
    """The countdown, as assets/live_decisions.js words it each second."""
    if left <= 0:
        return "expired"
    if left <= EXPIRING_SECONDS:
        return f"expires in {left:.0f} s: decide now"
    return f"expires in {left:.0f} s"


def suggestion_card(record: InterventionRecord, now: datetime) -> html.Div:
    """One suggestion: what the audience would see (once), why in plain words, its countdown,
    and Approve / Dismiss. Focusable, so A and D act on it from the keyboard."""
    left = (record.expires_at - now).total_seconds() if record.expires_at else 0.0
    expiring = left <= EXPIRING_SECONDS
    label = type_label(record.type)
    answers = f" for {anomaly_label(record.anomaly_type).lower()}" if record.anomaly_type else ""
    return html.Div(
        className="suggestion-card" + (" suggestion-expiring" if expiring else ""),
        tabIndex="0",
        **{
            "data-intervention": record.intervention_id,
            "data-expires": record.expires_at.isoformat() if record.expires_at else "",
            "data-expiring-seconds": str(EXPIRING_SECONDS),
            "aria-label": f"Suggested: {label.lower()}{answers}. {KEY_HINT}",
        },
        children=[
            html.Div(
                className="suggestion-head",
                children=[
                    html.Span(f"{label}{answers}", className="suggestion-type"),
                    html.Span(expiry_text(left), className="suggestion-expiry", role="timer"),
                ],
            ),
            _content_detail(record),
            _written_line(record),
            # Two forms of the same words: in full beside the chart, folded on a phone where
            # the card sits over the page (assets/style.css shows one of them).
            html.Div(record.reasoning or "", className="suggestion-reasoning"),
            html.Details(
                className="suggestion-why",
                children=[
                    html.Summary("Why this suggestion"),
                    html.Div(record.reasoning or "", className="card-note"),
                ],
            ),
            html.Div(
                className="suggestion-actions",
                children=[
                    html.Button(
                        ["Approve ", html.Kbd("A")],
                        id={"type": ids.APPROVE_BUTTON, "id": record.intervention_id},
                        className="button button-primary",
                        **{"aria-keyshortcuts": "A"},
                    ),
                    html.Button(
                        ["Dismiss ", html.Kbd("D")],
                        id={"type": ids.DISMISS_BUTTON, "id": record.intervention_id},
                        className="button",
                        **{"aria-keyshortcuts": "D"},
                    ),
                ],
            ),
        ],
    )


def _content_detail(record: InterventionRecord) -> html.Div:
    """What the audience or organisers will see, in full."""
    content = record.content or {}
    poll = content.get("poll")
    if isinstance(poll, dict):
        return html.Div(
            className="suggestion-content",
            children=[
                html.Div(str(poll.get("question", "")), className="poll-question"),
                html.Ol([html.Li(str(option)) for option in poll.get("options", [])]),
            ],
        )
    if "message" in content:
        return html.Div(str(content["message"]), className="suggestion-content")
    inner = content.get("content")
    if isinstance(inner, dict):
        lines = [
            inner.get("title") or inner.get("name"),
            inner.get("body") or inner.get("description"),
        ]
        return html.Div(
            className="suggestion-content",
            children=[html.Div(str(line)) for line in lines if line],
        )
    return html.Div(record.preview or "", className="suggestion-content")


def _written_line(record: InterventionRecord) -> html.Div | None:
    words = written_words(record.written_by, record.writing)
    if words is None:
        return None
    return html.Div(words, className="suggestion-written")


def _outcome_text(record: InterventionRecord) -> str:
    outcome = record.outcome or {}
    if "delta" in outcome:
        verdict = "worked" if outcome.get("success") else "did not work"
        return (
            f"{outcome['engagement_before']:.2f} → {outcome['engagement_after']:.2f} "
            f"({outcome['delta']:+.2f}, {verdict})"
        )
    delivery = outcome.get("delivery")
    if isinstance(delivery, dict):
        return "delivered" if delivery.get("success") else "delivery failed"
    return ""


def intervention_log(records: Sequence[InterventionRecord]) -> html.Div | html.Table:
    if not records:
        return html.Div(NO_INTERVENTIONS, className="notice notice-empty")
    header = html.Tr(
        [
            html.Th(name)
            for name in ("Time (UTC)", "Type", "Status", "By", "Content", "Confidence", "Outcome")
        ]
    )
    body = []
    for record in records:
        status = record.status
        detail = _log_note(record)
        body.append(
            html.Tr(
                className=f"intervention-row status-{status}",
                **{"data-intervention": record.intervention_id},
                children=[
                    html.Td(_clock(record.time)),
                    html.Td(type_label(record.type) if record.type != "NONE" else "—"),
                    html.Td(
                        [
                            html.Span(STATUS_TEXT.get(status, status), className="status-chip"),
                            html.Div(detail, className="card-note") if detail else None,
                        ]
                    ),
                    html.Td(record.approved_by or ("agent" if status != "pending" else "—")),
                    html.Td(
                        [
                            record.preview or "",
                            html.Div(written, className="card-note")
                            if record.type != "NONE"
                            and (written := written_words(record.written_by, record.writing))
                            else None,
                        ]
                    ),
                    html.Td(f"{record.confidence:.0%}" if record.confidence is not None else "—"),
                    html.Td(_outcome_text(record), className="intervention-outcome"),
                ],
            )
        )
    return html.Table(className="log-table", children=[html.Thead(header), html.Tbody(body)])


def _log_note(record: InterventionRecord) -> str:
    """The row's note without what its status and "By" columns already say: a dismissal's
    note is "dismissed by <who>[: reason]", of which only the reason is new."""
    note = record.note or ""
    said = f"dismissed by {record.approved_by}"
    if record.status == "dismissed" and note.startswith(said):
        return note[len(said) :].lstrip(": ")
    return note


def performance_table(
    rows: Sequence[PerformanceRow], caption: str, lessons: Sequence[str] = ()
) -> html.Div:
    """The types' records; `lessons` above them: what worked where, in plain words."""
    header = html.Tr(
        [
            html.Th(name)
            for name in ("Type", "Success rate", "95 % interval", "Attempts", "Avg. change")
        ]
    )
    body = [
        html.Tr(
            className="performance-row",
            **{"data-type": row.type.value},
            children=[
                html.Td(type_label(row.type.value)),
                html.Td(f"{row.rate:.0%}" if row.rate is not None else "no data"),
                # Before any outcome the interval is only the prior's (3 % to 98 %).
                html.Td(f"{row.low:.0%} to {row.high:.0%}" if row.attempts else "—"),
                html.Td(str(row.attempts)),
                html.Td(f"{row.mean_delta:+.3f}" if row.mean_delta is not None else "—"),
            ],
        )
        for row in rows
    ]
    learnt = (
        [html.Ul([html.Li(text) for text in lessons], className="lessons", id=ids.AGENT_LESSONS)]
        if lessons
        else []
    )
    return html.Div(
        [
            *learnt,
            html.Div(caption, className="card-note"),
            html.Table(className="log-table", children=[html.Thead(header), html.Tbody(body)]),
        ]
    )
