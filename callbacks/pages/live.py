"""The producer's live page (`/live/<session_id>`) and the pickers page (`/live`)."""

from __future__ import annotations

import dataclasses
from typing import Any

from dash import html

from callbacks.boundary import WebDeps
from components.agent_panel import agent_section
from components.event_settings_panel import settings_panel
from components.live_page import (
    AGENT_IDLE_REFRESH_MS,
    invalid_session_message,
    live_page,
    notice,
    picker_page,
    socket_config,
    unknown_session_message,
)
from services.access.guard import Refusal, RefusalTexts, producer_session
from services.access.principal import Principal
from services.access.visibility import visible_events, visible_sessions
from services.detection.episodes import DetectorSettings
from services.detection.event_settings import effective, valid_stored_overrides
from services.storage.metrics_store import SessionRecord

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
        unknown_session=unknown_session_message(session_id),
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
        agent=agent_panels(deps, record),
    )
    return page, socket_config(record, deps.chart_points, deps.tick_seconds)


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
            event_settings.mode,
            session_mode,
            [arm.value for arm in event_settings.allowed_types],
            AGENT_IDLE_REFRESH_MS,
        ),
        settings_panel(record.event_id, event_settings, detector, set(valid)),
    ]
