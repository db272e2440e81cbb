"""Analysts' pages: render `/sessions` and `/sessions/<id>` from the URL, and turn the filter
form into a URL (so a link reproduces the view). Queries: services/session_queries.py."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlencode

import dash
from dash import Input, Output, State, html

from app.access import Principal
from app.runtime import Runtime
from app.session_filters import scoped_filter, session_span, url_params
from components import ids
from components.sessions_page import (
    SESSIONS_PATH,
    session_detail_page,
    session_figure,
    sessions_page,
)
from services.contracts import valid_id
from services.session_queries import QueryError, SeriesRequest, SessionQueries, parse

NOT_YOURS = "This session belongs to an event your sign-in does not name."


def render_sessions(runtime: Runtime, who: Principal, path: str, search: str) -> html.Div:
    params = url_params(search)
    queries = SessionQueries(runtime.engine)
    if path.startswith(SESSIONS_PATH + "/"):
        return _detail(queries, who, path[len(SESSIONS_PATH) + 1 :], params)
    events = sorted(
        event for event, _ in runtime.store.list_events() if who.may_see(event) and event
    )
    try:
        result = queries.sessions(scoped_filter(who, params))
    except QueryError as exc:
        return sessions_page(params, events, None, f"These filters cannot be used: {exc}")
    return sessions_page(params, events, result, None)


def _detail(
    queries: SessionQueries, who: Principal, raw_id: str, params: dict[str, str]
) -> html.Div:
    session_id = unquote(raw_id)
    session = queries.session(session_id) if valid_id(session_id) else None
    if session is None:
        return html.Div(
            f"No session “{session_id[:80]}” is known.", className="notice notice-error"
        )
    if not who.may_see(session["event_id"]):
        return html.Div(NOT_YOURS, className="notice notice-error")
    bucket = params.get("bucket", "1m")
    anomalies = queries.anomalies(session_id)
    interventions = queries.interventions(session_id)
    counts = (len(anomalies), len(interventions))
    try:
        request = parse(
            SeriesRequest,
            {"bucket": bucket} | session_span(session),
        )
        points = queries.series(session_id, request)
    except QueryError as exc:
        return session_detail_page(session, bucket, None, f"Cannot show that: {exc}", counts)
    figure = session_figure(points, anomalies, interventions)
    return session_detail_page(session, request.bucket, figure, None, counts)


def register_sessions(app: dash.Dash, runtime: Runtime) -> None:
    @app.callback(
        Output(ids.URL, "search"),
        Input(ids.SESSIONS_APPLY, "n_clicks"),
        State(ids.SESSIONS_EVENT, "value"),
        State(ids.SESSIONS_FROM, "value"),
        State(ids.SESSIONS_TO, "value"),
        State(ids.SESSIONS_QUERY, "value"),
        State(ids.SESSIONS_STATUS, "value"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )
    def apply_filters(
        clicks: int | None,
        event: str | None,
        start: str | None,
        end: str | None,
        text: str | None,
        status: str | None,
        search: str | None,
    ) -> Any:
        if not clicks:
            return dash.no_update
        kept = {k: v for k, v in url_params(search or "").items() if k in ("sort", "order")}
        chosen = {"event": event, "from": start, "to": end, "q": text, "status": status}
        params = kept | {k: v.strip() for k, v in chosen.items() if v and v.strip()}
        return f"?{urlencode(params)}" if params else ""
