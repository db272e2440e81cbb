"""URL -> page. Each page is rendered from fresh store queries; components do the layout."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import dash
from dash import Input, Output, html
from dash.exceptions import PreventUpdate
from sqlalchemy.exc import SQLAlchemyError

from app.access import Principal, current
from app.runtime import Runtime
from callbacks.embed import render_panel
from callbacks.sessions import render_sessions
from components import ids
from components.agent_panel import agent_section
from components.embed_panels import EMBED_PREFIX, panel_problem
from components.event_settings_panel import settings_panel
from components.home_page import error_page, home_body, home_page, not_found_page
from components.live_page import (
    LIVE_PATH,
    invalid_session_message,
    live_page,
    notice,
    picker_page,
    socket_config,
    unknown_session_message,
)
from components.sessions_page import SESSIONS_PATH
from services.access.tokens import Role
from services.access.visibility import visible_events, visible_sessions
from services.core.platform import valid_id
from services.detection.episodes import DetectorSettings
from services.detection.event_settings import effective, valid_stored_overrides
from services.storage.metrics_store import SessionRecord
from services.storage.overview import SessionGlance

log = logging.getLogger(__name__)

PRODUCERS_ONLY = (
    "Live pages are for producers. Your sign-in opens the past sessions: go to /sessions."
)
PANELS_ONLY = "An embed sign-in opens only the panels it was given."
NOT_YOUR_EVENT = (
    "This session belongs to an event your sign-in does not name. Ask for a sign-in link "
    "that includes its event."
)
DATABASE_DOWN = (
    "The database cannot be reached right now, so this page cannot be shown. "
    "Reload in a moment; the server keeps retrying."
)


def glances(runtime: Runtime, who: Principal) -> list[SessionGlance]:
    visible = visible_sessions(runtime.store, who)
    return runtime.stores.overview.glance(visible, datetime.now(UTC))


def render_path(
    runtime: Runtime, pathname: str, who: Principal, search: str = ""
) -> tuple[html.Div, dict[str, Any] | None]:
    """The page for `pathname` as `who` may see it and, on a live session's page, the browser
    socket's config."""
    path = unquote(pathname)
    if pathname.startswith(EMBED_PREFIX):
        try:
            return render_panel(runtime, who, pathname)
        except SQLAlchemyError:
            log.exception("rendering panel %s failed on the database", pathname)
            return panel_problem(DATABASE_DOWN), None
    if who.role is Role.EMBED:
        return notice(PANELS_ONLY, "error"), None
    if who.role is not Role.PRODUCER and not path.startswith(SESSIONS_PATH):
        return notice(PRODUCERS_ONLY, "error"), None
    try:
        if path == SESSIONS_PATH or path.startswith(SESSIONS_PATH + "/"):
            return render_sessions(runtime, who, path, search), None
        if path == "/":
            page = home_page(
                visible_events(runtime.store, who), glances(runtime, who), runtime.refresh_ms
            )
            return page, None
        if path in (LIVE_PATH, LIVE_PATH + "/"):
            return _pickers_only(runtime, who, None), None
        if path.startswith(LIVE_PATH + "/"):
            return _live(runtime, who, path[len(LIVE_PATH) + 1 :])
    except SQLAlchemyError:
        log.exception("rendering %s failed on the database", pathname)
        return error_page(DATABASE_DOWN), None
    return not_found_page(pathname), None


def _pickers_only(runtime: Runtime, who: Principal, problem: html.Div | None) -> html.Div:
    return picker_page(
        visible_events(runtime.store, who),
        visible_sessions(runtime.store, who),
        runtime.refresh_ms,
        problem,
    )


def _live(
    runtime: Runtime, who: Principal, session_id: str
) -> tuple[html.Div, dict[str, Any] | None]:
    if not valid_id(session_id):
        problem = notice(invalid_session_message(session_id), "error")
        return _pickers_only(runtime, who, problem), None
    store = runtime.store
    record = store.get_session(session_id)
    if record is None:
        problem = notice(unknown_session_message(session_id), "error")
        return _pickers_only(runtime, who, problem), None
    if not who.may_see(record.event_id):
        return _pickers_only(runtime, who, notice(NOT_YOUR_EVENT, "error")), None
    settings = runtime.settings
    recent = store.recent_points(session_id, settings.chart_points)
    points = [point.as_json() for point in recent]
    page = live_page(
        record,
        visible_events(runtime.store, who),
        visible_sessions(runtime.store, who, record.event_id),
        points,
        settings.tick_seconds,
        runtime.refresh_ms,
        anomalies=store.session_episodes(session_id),
        agent=_agent_panels(runtime, record),
    )
    return page, socket_config(record, settings.chart_points, settings.tick_seconds)


def _agent_panels(runtime: Runtime, record: SessionRecord) -> list[html.Div | html.Details]:
    agent_store = runtime.desk.settings
    event_settings = agent_store.for_event(record.event_id)
    session_mode = agent_store.session_mode(record.session_id)
    overrides = runtime.stores.event_settings.overrides(record.event_id) if record.event_id else {}
    valid = valid_stored_overrides({"event": overrides}).get("event", {})
    detector = dataclasses.asdict(effective(DetectorSettings(), valid))
    return [
        agent_section(
            event_settings.mode,
            session_mode,
            [arm.value for arm in event_settings.allowed_types],
            runtime.refresh_ms,
        ),
        settings_panel(record.event_id, event_settings, detector, set(valid)),
    ]


def register_routing(app: dash.Dash, runtime: Runtime) -> None:
    @app.callback(
        Output(ids.PAGE, "children"),
        Output(ids.LIVE_CONFIG, "data"),
        Output(ids.SHELL, "className"),
        Input(ids.URL, "pathname"),
        Input(ids.URL, "search"),
    )
    def route(
        pathname: str | None, search: str | None
    ) -> tuple[html.Div, dict[str, Any] | None, str]:
        who = current()
        if who is None:
            raise PreventUpdate
        path = pathname or "/"
        page, config = render_path(runtime, path, who, search or "")
        # A producer previewing a panel sees it as the platform's page will.
        return page, config, "shell shell-embed" if path.startswith(EMBED_PREFIX) else "shell"

    @app.callback(
        Output(ids.HOME_BODY, "children"),
        Input(ids.HOME_REFRESH, "n_intervals"),
        prevent_initial_call=True,
    )
    def refresh_home(_n: int | None) -> html.Div:
        who = current()
        if who is None or who.role is not Role.PRODUCER:
            raise PreventUpdate
        try:
            return home_body(visible_events(runtime.store, who), glances(runtime, who))
        except SQLAlchemyError:
            log.warning("home refresh failed on the database", exc_info=True)
            return notice(DATABASE_DOWN, "error")
