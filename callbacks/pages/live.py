"""The producer's live page (`/live/<session_id>`) and the pickers page (`/live`)."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any
from urllib.parse import unquote

from dash import html
from dash.exceptions import PreventUpdate
from sqlalchemy.exc import SQLAlchemyError

from callbacks.boundary import WebDeps
from components.agent_panel import agent_section, decision_panel
from components.event_settings_panel import WritingStatus, settings_panel
from components.live_page import (
    AGENT_IDLE_REFRESH_MS,
    LIVE_PATH,
    invalid_session_message,
    live_page,
    notice,
    picker_page,
    socket_config,
    waiting_page,
)
from services.access.guard import Denial, Refusal, RefusalTexts, producer_session
from services.access.principal import Principal
from services.access.visibility import visible_events, visible_sessions
from services.detection.episodes import DetectorSettings
from services.detection.event_settings import effective, valid_stored_overrides
from services.storage.agent_settings import AgentSettings
from services.storage.metrics_store import SessionRecord

log = logging.getLogger(__name__)

PRODUCERS_ONLY = (
    "Live pages are for producers. Your sign-in opens the past sessions: go to /sessions."
)
NOT_YOUR_EVENT = (
    "This session belongs to an event your sign-in does not name. Ask for a sign-in link "
    "that includes its event."
)


def live_refusals(session_id: str) -> RefusalTexts:
    return RefusalTexts(
        not_producer=PRODUCERS_ONLY,
        invalid_id=invalid_session_message(session_id),
        # Not shown: an unknown session gets the page that waits for it.
        unknown_session="",
        other_event=NOT_YOUR_EVENT,
    )


def pickers_only(deps: WebDeps, who: Principal, problem: html.Div | None) -> html.Div:
    metrics = deps.stores.metrics
    return picker_page(
        visible_events(metrics, who), visible_sessions(metrics, who), deps.refresh_ms, problem
    )


def live_view(
    deps: WebDeps, who: Principal, session_id: str
) -> tuple[html.Div, dict[str, Any] | None]:
    """The session's live page and its socket's config or, refused, the pickers saying why."""
    metrics = deps.stores.metrics
    record = producer_session(metrics, who, session_id, live_refusals(session_id))
    if isinstance(record, Refusal) and record.denial is Denial.UNKNOWN_SESSION:
        page = waiting_page(
            session_id,
            visible_events(metrics, who),
            visible_sessions(metrics, who),
            deps.tick_seconds,
            deps.refresh_ms,
        )
        return page, None
    if isinstance(record, Refusal):
        return pickers_only(deps, who, notice(record.message, "error")), None
    recent = metrics.recent_points(session_id, deps.chart_points)
    page = live_page(
        record,
        visible_events(metrics, who),
        visible_sessions(metrics, who, record.event_id),
        [point.as_json() for point in recent],
        deps.tick_seconds,
        deps.refresh_ms,
        anomalies=metrics.session_episodes(session_id),
        decision=decision_panel(AGENT_IDLE_REFRESH_MS),
        agent=agent_panels(deps, record),
    )
    return page, socket_config(record, deps.chart_points, deps.tick_seconds)


def await_session(deps: WebDeps, who: Principal, pathname: str) -> tuple[html.Div, Any]:
    """The waiting page's check on each tick: the live page once its session is known (or the
    refusal that applies then), PreventUpdate while it is still unknown."""
    path = unquote(pathname)
    if not path.startswith(LIVE_PATH + "/"):
        raise PreventUpdate
    session_id = path[len(LIVE_PATH) + 1 :]
    try:
        if deps.stores.metrics.get_session(session_id) is None:
            raise PreventUpdate
        return live_view(deps, who, session_id)
    except SQLAlchemyError:
        log.warning("checking for session %r failed on the database", session_id, exc_info=True)
        raise PreventUpdate from None


def writing_status(deps: WebDeps, event_id: str | None, settings: AgentSettings) -> WritingStatus:
    writing = deps.desk.writing
    spent = 0
    if event_id is not None:
        with deps.stores.engine.connect() as conn:
            spent = deps.stores.interventions.tokens_spent(conn, event_id)
    budget = settings.token_budget if settings.token_budget is not None else writing.token_budget
    return WritingStatus(writing.writer is not None, spent, budget)


def agent_panels(deps: WebDeps, record: SessionRecord) -> list[html.Div | html.Details]:
    """The agent box and the event's settings, as stored now."""
    agent_store = deps.stores.agent_settings
    event_settings = agent_store.for_event(record.event_id)
    session_mode = agent_store.session_mode(record.session_id)
    overrides = deps.stores.event_settings.overrides(record.event_id) if record.event_id else {}
    valid = valid_stored_overrides({"event": overrides}).get("event", {})
    detector = dataclasses.asdict(effective(DetectorSettings(), valid))
    return [
        agent_section(
            event_settings.mode, session_mode, [arm.value for arm in event_settings.allowed_types]
        ),
        settings_panel(
            record.event_id,
            event_settings,
            detector,
            set(valid),
            writing_status(deps, record.event_id, event_settings),
            deps.stores.alerts.for_event(record.event_id),
            deps.dead_letters(record.event_id) if record.event_id else [],
        ),
    ]
