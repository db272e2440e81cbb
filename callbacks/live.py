"""The live page's callbacks: keep the pickers current, navigate on choice, start the socket."""

from __future__ import annotations

import logging
from typing import Any

import dash
from dash import ClientsideFunction, Input, Output, State
from sqlalchemy.exc import SQLAlchemyError

from app import access
from app.runtime import Runtime
from components import ids
from components.live_page import event_options, live_href, session_options
from services.access.visibility import visible_events, visible_sessions

log = logging.getLogger(__name__)


def register_live(app: dash.Dash, runtime: Runtime) -> None:
    store = runtime.store

    @app.callback(
        Output(ids.EVENT_PICK, "options"),
        Output(ids.SESSION_PICK, "options"),
        Input(ids.EVENT_PICK, "value"),
        Input(ids.PICKER_REFRESH, "n_intervals"),
        State(ids.LIVE_CONFIG, "data"),
        prevent_initial_call=True,
    )
    def refresh_pickers(
        event_id: str | None, _n: int | None, config: dict[str, Any] | None
    ) -> tuple[Any, Any]:
        who = access.current()
        if who is None or not access.is_producer():
            return dash.no_update, dash.no_update
        try:
            shown = store.get_session(config["sessionId"]) if config else None
            if shown is not None and not who.may_see(shown.event_id):
                shown = None
            events = visible_events(store, who)
            sessions = visible_sessions(store, who, event_id or None)
        except SQLAlchemyError:
            # The options on screen stay as they were; the next refresh tries again.
            log.warning("refreshing the live pickers failed on the database", exc_info=True)
            return dash.no_update, dash.no_update
        return event_options(events), session_options(sessions, shown)

    @app.callback(
        Output(ids.URL, "pathname"),
        Input(ids.SESSION_PICK, "value"),
        State(ids.LIVE_CONFIG, "data"),
        prevent_initial_call=True,
    )
    def open_session(session_id: str | None, config: dict[str, Any] | None) -> Any:
        if not session_id or (config is not None and config["sessionId"] == session_id):
            return dash.no_update
        return live_href(session_id)

    # Runs on every page change: a config opens (or replaces) the socket, None closes it.
    app.clientside_callback(
        ClientsideFunction(namespace="ecLive", function_name="start"),
        Output(ids.SOCKET_SINK, "data"),
        Input(ids.LIVE_CONFIG, "data"),
    )
