"""The live page's callbacks: keep the pickers current, navigate on choice, start the socket,
pace the agent's refresh."""

from __future__ import annotations

import json
import logging
from typing import Any

import dash
from dash import ClientsideFunction, Input, Output, State
from dash.exceptions import PreventUpdate
from sqlalchemy.exc import SQLAlchemyError

from callbacks.boundary import LiveConfig, SignedIn, WebDeps, principal
from callbacks.pages.live import await_session
from components import ids
from components.live_page import (
    AGENT_IDLE_REFRESH_MS,
    event_options,
    live_href,
    session_options,
)
from services.access.guard import Refusal, producer_session
from services.access.principal import Principal
from services.access.visibility import visible_events, visible_sessions

log = logging.getLogger(__name__)


def refresh_pickers(
    deps: WebDeps, who: Principal, event_id: str | None, viewing: LiveConfig | None
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The events' and sessions' options; the session on screen stays among them while `who`
    may see it."""
    if not who.is_producer:
        raise PreventUpdate
    metrics = deps.stores.metrics
    try:
        shown = producer_session(metrics, who, viewing.session_id) if viewing else None
        events = visible_events(metrics, who)
        sessions = visible_sessions(metrics, who, event_id or None)
    except SQLAlchemyError:
        # The options on screen stay as they were; the next refresh tries again.
        log.warning("refreshing the live pickers failed on the database", exc_info=True)
        raise PreventUpdate from None
    current = None if isinstance(shown, Refusal) else shown
    return event_options(events), session_options(sessions, current)


def open_session(session_id: str | None, viewing: LiveConfig | None) -> str:
    """The live page of the session picked, unless it is the one on screen."""
    if not session_id or (viewing is not None and viewing.session_id == session_id):
        raise PreventUpdate
    return live_href(session_id)


def agent_pace_js(waiting_ms: int) -> str:
    """A clientside function: the agent's refresh interval for the pending cards on screen,
    every `waiting_ms` while one is a suggestion (its card carries `data-intervention`) so its
    countdown stays current, else AGENT_IDLE_REFRESH_MS. Clientside, so pacing costs no
    request."""
    return f"""function (pending, interval) {{
        var waiting = (Array.isArray(pending) ? pending : []).some(function (card) {{
            return Boolean(card && card.props && card.props["data-intervention"]);
        }});
        var wanted = waiting ? {json.dumps(waiting_ms)} : {json.dumps(AGENT_IDLE_REFRESH_MS)};
        return wanted === interval ? window.dash_clientside.no_update : wanted;
    }}"""


def register_live(app: dash.Dash, deps: WebDeps, signed_in: SignedIn) -> None:
    @app.callback(
        Output(ids.EVENT_PICK, "options"),
        Output(ids.SESSION_PICK, "options"),
        Input(ids.EVENT_PICK, "value"),
        Input(ids.PICKER_REFRESH, "n_intervals"),
        State(ids.LIVE_CONFIG, "data"),
        prevent_initial_call=True,
    )
    def _refresh_pickers(event_id: str | None, _n: int | None, config: Any) -> Any:
        return refresh_pickers(deps, principal(signed_in), event_id, LiveConfig.parse(config))

    @app.callback(
        Output(ids.URL, "pathname"),
        Input(ids.SESSION_PICK, "value"),
        State(ids.LIVE_CONFIG, "data"),
        prevent_initial_call=True,
    )
    def _open_session(session_id: str | None, config: Any) -> Any:
        return open_session(session_id, LiveConfig.parse(config))

    # Runs on every page change: a config opens (or replaces) the socket, None closes it.
    app.clientside_callback(
        ClientsideFunction(namespace="ecLive", function_name="start"),
        Output(ids.SOCKET_SINK, "data"),
        Input(ids.LIVE_CONFIG, "data"),
    )

    @app.callback(
        Output(ids.PAGE, "children", allow_duplicate=True),
        Output(ids.LIVE_CONFIG, "data", allow_duplicate=True),
        Input(ids.SESSION_WAIT, "n_intervals"),
        State(ids.URL, "pathname"),
        prevent_initial_call=True,
    )
    def _await_session(_n: int | None, pathname: Any) -> Any:
        if not isinstance(pathname, str):
            raise PreventUpdate
        return await_session(deps, principal(signed_in), pathname)

    app.clientside_callback(
        agent_pace_js(deps.refresh_ms),
        Output(ids.AGENT_REFRESH, "interval"),
        Input(ids.AGENT_PENDING, "children"),
        State(ids.AGENT_REFRESH, "interval"),
        prevent_initial_call=True,
    )
