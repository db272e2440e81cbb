"""Analysts' pages: `/sessions` and `/sessions/<id>`, rendered from the URL so a link reproduces
the view. Queries: services/storage/session_queries.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from dash import html

from callbacks.boundary import WebDeps
from components.sessions_page import (
    MAX_OVERLAYS,
    SESSIONS_PATH,
    Series,
    session_detail_page,
    session_figure,
    sessions_page,
)
from services.access.principal import Principal
from services.access.visibility import scoped_filter, visible_events
from services.core.platform import valid_id
from services.storage.analyst_requests import (
    QueryError,
    SeriesRequest,
    fitting_bucket,
    parse,
    session_span,
    url_params,
)
from services.storage.metrics_store import SessionRecord
from services.storage.session_queries import SessionQueries

NOT_YOURS = "This session belongs to an event your sign-in does not name."
# The newest sessions offered to compare with; older ones can still be given in the URL.
COMPARE_CHOICES = 300


def render_sessions(deps: WebDeps, who: Principal, path: str, search: str) -> html.Div:
    """`/sessions` (the filtered table) or `/sessions/<id>` (one session's chart)."""
    params = url_params(search)
    queries = deps.session_queries
    if path.startswith(SESSIONS_PATH + "/"):
        raw_id = path[len(SESSIONS_PATH) + 1 :]
        return _detail(queries, who, raw_id, params, comparable_choices(deps, who, raw_id))
    events = sorted(event.event_id for event in visible_events(deps.stores.metrics, who))
    try:
        result = queries.sessions(scoped_filter(who, params))
    except QueryError as exc:
        return sessions_page(params, events, None, f"These filters cannot be used: {exc}")
    return sessions_page(params, events, result, None)


def comparable_choices(deps: WebDeps, who: Principal, raw_id: str) -> list[tuple[str, str]]:
    """The sessions of `who`'s events to offer for comparison, newest first, labelled with
    their title, id and start."""
    session_id = unquote(raw_id)
    records = deps.stores.metrics.list_sessions(status=None, limit=COMPARE_CHOICES)
    return [
        (record.session_id, _choice_label(record))
        for record in records
        if record.session_id != session_id and who.may_see(record.event_id)
    ]


def _choice_label(record: SessionRecord) -> str:
    name = f"{record.title} ({record.session_id})" if record.title else record.session_id
    return f"{name} · started {record.first_seen:%Y-%m-%d %H:%M} UTC"


def _detail(
    queries: SessionQueries,
    who: Principal,
    raw_id: str,
    params: dict[str, str],
    choices: list[tuple[str, str]],
) -> html.Div:
    session_id = unquote(raw_id)
    session = queries.session(session_id) if valid_id(session_id) else None
    if session is None:
        return html.Div(
            f"No session “{session_id[:80]}” is known.", className="notice notice-error"
        )
    if not who.may_see(session["event_id"]):
        return html.Div(NOT_YOURS, className="notice notice-error")
    bucket = params.get("bucket") or fitting_bucket(session)
    compare = params.get("compare", "")
    align = "start" if params.get("align") == "start" else "clock"
    anomalies = queries.anomalies(session_id)
    interventions = queries.interventions(session_id)
    counts = (len(anomalies), len(interventions))

    def page(figure: dict[str, Any] | None, problem: str | None, shown: str) -> html.Div:
        return session_detail_page(session, shown, figure, problem, counts, compare, align, choices)

    try:
        others = _comparable(queries, who, session_id, compare)
        request = parse(SeriesRequest, {"bucket": bucket} | session_span(session))
        series = [_series(queries, session, request, align)]
        for other in others:
            span = parse(SeriesRequest, {"bucket": bucket} | session_span(other))
            series.append(_series(queries, other, span, align))
    except QueryError as exc:
        return page(None, f"Cannot show that: {exc}", bucket)
    offset = _offset(session, align)
    bands = [
        {
            "x0": offset(ep["startedAt"]),
            "x1": offset(ep.get("endedAt") or session["last_seen"]),
            "severity": ep["severity"],
            "episode_id": ep["episodeId"],
        }
        for ep in anomalies
        if ep.get("startedAt")
    ]
    markers = [
        {"x": offset(iv["executed_at"]), "text": f"{iv['type']}: {iv.get('preview') or ''}"}
        for iv in interventions
        if iv.get("executed_at")
    ]
    x_title = "minutes since the session started" if align == "start" else "time (UTC)"
    figure = session_figure(series[0], series[1:], bands, markers, x_title)
    return page(figure, None, request.bucket)


def _comparable(
    queries: SessionQueries, who: Principal, session_id: str, compare: str
) -> list[dict[str, Any]]:
    """The sessions to overlay: at most four, known, and of the principal's events."""
    wanted = [part.strip() for part in compare.split(",") if part.strip()]
    wanted = [sid for sid in dict.fromkeys(wanted) if sid != session_id]
    if len(wanted) > MAX_OVERLAYS:
        raise QueryError(f"compare: at most {MAX_OVERLAYS} other sessions")
    found = []
    for sid in wanted:
        other = queries.session(sid) if valid_id(sid) else None
        if other is None or not who.may_see(other["event_id"]):
            raise QueryError(f"compare: no session “{sid[:80]}” among your events")
        found.append(other)
    return found


def _offset(session: dict[str, Any], align: str) -> Callable[[str], Any]:
    """Where a timestamp of `session` goes on the x axis."""
    if align != "start":
        return lambda stamp: stamp
    start = datetime.fromisoformat(session["first_seen"])
    return lambda stamp: round((datetime.fromisoformat(stamp) - start).total_seconds() / 60, 3)


def _series(
    queries: SessionQueries, session: dict[str, Any], request: SeriesRequest, align: str
) -> Series:
    points = queries.series(session["session_id"], request)
    offset = _offset(session, align)
    return Series(str(session["session_id"]), [offset(p["time"]) for p in points], points)
