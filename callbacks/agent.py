"""The live page's agent callbacks: render from the database, and relay producers' decisions.

Every intervention change is pushed over the page's socket; assets/live.js bumps AGENT_SIGNAL,
which re-renders from the database (the truth), so the log is live without JS rendering it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import dash
from dash import ALL, Input, Output, State, ctx, html
from sqlalchemy.exc import SQLAlchemyError

from app import access
from app.runtime import Runtime
from components import ids
from components.agent_panel import (
    EVENT_MODE,
    intervention_log,
    mode_note,
    pending_cards,
    performance_table,
)
from services.agent.desk import InterventionError, SessionContext
from services.agent.report import performance_by_type, performance_in_context
from services.core.platform import valid_id
from services.core.vocabulary import AgentContext, InterventionStatus, InterventionType
from services.storage.agent_settings import AgentSettingsError, parse_mode
from services.storage.metrics_store import SessionRecord

log = logging.getLogger(__name__)

LOG_ROWS = 50
DATABASE_DOWN = "The database cannot be reached right now; nothing was changed. Try again."


def _actor() -> str:
    """The signed-in producer, as the intervention log records who decided."""
    who = access.current()
    return who.actor if who is not None else "producer"


def _message(text: str, kind: str) -> html.Div:
    return html.Div(text, className=f"notice notice-{kind}")


def session_context(runtime: Runtime, session_id: str) -> tuple[SessionContext, str | None, float]:
    """The session as the agent sees it now, and the type and deviation of its newest open
    anomaly (None and 0 when none is open)."""
    store = runtime.store
    record = store.get_session(session_id)
    if record is None:
        raise InterventionError("this session is not known", status=404)
    points = store.recent_points(session_id, 1)
    signals = points[-1].signals if points else {}
    open_episodes = [
        episode.as_json()
        for episode in store.recent_anomalies(session_id, since=datetime.now(UTC), limit=5)
        if episode.as_json().get("endedAt") is None
    ]
    context = SessionContext(
        session_id=session_id,
        event_id=record.event_id,
        engagement=points[-1].score if points else (record.last_score or 0.0),
        present_users=int(signals.get("total_users", record.present_users or 0)),
        chat_per_min=float(signals.get("chat_msgs_per_min", 0.0)),
    )
    if not open_episodes:
        return context, None, 0.0
    newest = open_episodes[0]
    return context, newest["type"], float(newest.get("deviation") or 0.0)


NOT_YOURS = "Your sign-in does not name this session's event: nothing was changed."


def register_agent(app: dash.Dash, runtime: Runtime) -> None:
    desk = runtime.desk
    store = runtime.store

    def in_scope(session_id: str) -> SessionRecord | None:
        """The session if the signed-in producer may act on it (the page's config comes from
        the browser, so it is never trusted)."""
        who = access.current()
        if who is None or not access.is_producer():
            return None
        found = store.get_session(session_id) if valid_id(session_id) else None
        if found is None or not who.may_see(found.event_id):
            return None
        return found

    @app.callback(
        Output(ids.AGENT_PENDING, "children"),
        Output(ids.INTERVENTION_LOG, "children"),
        Output(ids.AGENT_PERFORMANCE, "children"),
        Input(ids.AGENT_SIGNAL, "data"),
        Input(ids.AGENT_REFRESH, "n_intervals"),
        Input(ids.AGENT_PERFORMANCE_SCOPE, "value"),
        State(ids.LIVE_CONFIG, "data"),
    )
    def render(_signal: int, _n: int | None, scope: str, config: dict[str, Any] | None) -> Any:
        if not config:
            return dash.no_update, dash.no_update, dash.no_update
        session_id = str(config.get("sessionId"))
        try:
            session = in_scope(session_id)
            if session is None:
                return dash.no_update, dash.no_update, dash.no_update
            records = desk.store.for_session(session_id, LOG_ROWS)
            pending = [r for r in records if r.status == InterventionStatus.PENDING]
            event_id = session.event_id
            if scope == "context":
                keyed = next((r.context for r in records if r.context), None)
                if keyed is None:
                    performance: Any = _message(
                        "No decision has been made in this session yet, so it has no context.",
                        "empty",
                    )
                else:
                    context = AgentContext.from_key(keyed)
                    performance = performance_table(
                        performance_in_context(desk.posteriors, context),
                        f"Context of the latest decision: {context.describe()}.",
                    )
            elif scope == "event" and event_id is not None:
                performance = performance_table(
                    performance_by_type(desk.store, [event_id]), f"Measured in event {event_id}."
                )
            else:
                who = access.current()
                mine = who.events if who is not None else frozenset()
                caption = (
                    "Measured across all events."
                    if mine is None
                    else f"Measured across your {len(mine)} event(s)."
                )
                performance = performance_table(performance_by_type(desk.store, mine), caption)
        except SQLAlchemyError:
            log.warning("rendering the agent panel failed on the database", exc_info=True)
            return dash.no_update, dash.no_update, dash.no_update
        now = datetime.now(UTC)
        return pending_cards(pending, now), intervention_log(records), performance

    @app.callback(
        Output(ids.AGENT_MESSAGE, "children", allow_duplicate=True),
        Output(ids.AGENT_SIGNAL, "data", allow_duplicate=True),
        Input({"type": ids.APPROVE_BUTTON, "id": ALL}, "n_clicks"),
        Input({"type": ids.DISMISS_BUTTON, "id": ALL}, "n_clicks"),
        State(ids.LIVE_CONFIG, "data"),
        State(ids.AGENT_SIGNAL, "data"),
        prevent_initial_call=True,
    )
    def decide(_approve: list, _dismiss: list, config: dict | None, signal: int) -> Any:
        trigger = ctx.triggered_id
        # Re-rendered buttons fire with n_clicks None: only a real click counts.
        if not config or not isinstance(trigger, dict) or not ctx.triggered[0]["value"]:
            return dash.no_update, dash.no_update
        intervention_id = str(trigger["id"])
        try:
            session = in_scope(str(config.get("sessionId")))
            if session is None:
                return _message(NOT_YOURS, "error"), dash.no_update
            event_id = session.event_id
            if trigger["type"] == ids.APPROVE_BUTTON:
                record = desk.approve(intervention_id, event_id, _actor())
                text = f"Approved: {record.preview or record.type}. Status: {record.status}." + (
                    f" {record.note}" if record.note else ""
                )
                kind = "info" if record.status == InterventionStatus.EXECUTED else "error"
            else:
                record = desk.dismiss(intervention_id, event_id, _actor())
                text, kind = "Dismissed; the agent will not send it.", "info"
        except InterventionError as exc:
            text, kind = str(exc).capitalize(), "error"
        except SQLAlchemyError:
            log.warning("deciding on %s failed on the database", intervention_id, exc_info=True)
            text, kind = DATABASE_DOWN, "error"
        return _message(text, kind), (signal or 0) + 1

    @app.callback(
        Output(ids.AGENT_MESSAGE, "children", allow_duplicate=True),
        Output(ids.AGENT_SIGNAL, "data", allow_duplicate=True),
        Input(ids.AGENT_LAUNCH, "n_clicks"),
        State(ids.AGENT_LAUNCH_TYPE, "value"),
        State(ids.LIVE_CONFIG, "data"),
        State(ids.AGENT_SIGNAL, "data"),
        prevent_initial_call=True,
    )
    def launch(clicks: int | None, arm: str | None, config: dict | None, signal: int) -> Any:
        if not clicks or not config:
            return dash.no_update, dash.no_update
        try:
            chosen = InterventionType(str(arm))
        except ValueError:
            return _message("Choose an intervention type to launch.", "error"), dash.no_update
        try:
            if in_scope(str(config.get("sessionId"))) is None:
                return _message(NOT_YOURS, "error"), dash.no_update
            session, anomaly, deviation = session_context(runtime, config["sessionId"])
            record = desk.trigger(session, chosen, _actor(), anomaly, deviation)
            text = f"Launched: {record.preview or record.type}. Status: {record.status}." + (
                f" {record.note}" if record.note else ""
            )
            kind = "info" if record.status == InterventionStatus.EXECUTED else "error"
        except InterventionError as exc:
            text, kind = str(exc).capitalize(), "error"
        except SQLAlchemyError:
            log.warning("launching an intervention failed on the database", exc_info=True)
            text, kind = DATABASE_DOWN, "error"
        return _message(text, kind), (signal or 0) + 1

    @app.callback(
        Output(ids.AGENT_MODE_NOTE, "children"),
        Output(ids.AGENT_MESSAGE, "children", allow_duplicate=True),
        Input(ids.AGENT_MODE, "value"),
        State(ids.LIVE_CONFIG, "data"),
        prevent_initial_call=True,
    )
    def set_mode(value: str | None, config: dict | None) -> Any:
        if not config:
            return dash.no_update, dash.no_update
        session_id = str(config.get("sessionId"))
        try:
            session = in_scope(session_id)
            if session is None:
                return dash.no_update, _message(NOT_YOURS, "error")
            override = None if value in (None, EVENT_MODE) else parse_mode(value)
            settings_store = desk.settings
            settings_store.set_session_mode(session_id, override)
            event_id = session.event_id
            event_settings = settings_store.for_event(event_id)
        except AgentSettingsError as exc:
            return dash.no_update, _message(str(exc), "error")
        except SQLAlchemyError:
            log.warning("changing the agent mode failed on the database", exc_info=True)
            return dash.no_update, _message(DATABASE_DOWN, "error")
        mode = override or event_settings.mode
        return mode_note(mode, override is not None), _message(
            f"Agent mode for this session: {mode.value}.", "info"
        )
