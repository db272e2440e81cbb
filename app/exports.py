"""CSV and JSON exports of what the analysts' pages show: a page of the sessions table (same
filters, same scope) and one session's series at a bucket. Signed-in browsers only (the cookie,
app/access.py); the JSON API serves the same data to services."""

from __future__ import annotations

import csv
import io
import re
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, current_app, jsonify, request

from app import access
from app.query_params import single_params
from app.runtime import Runtime
from components.sessions_page import COLUMNS
from services.access.visibility import scoped_filter
from services.core.platform import valid_id
from services.storage.analyst_requests import (
    FILTER_KEYS,
    QueryError,
    SeriesRequest,
    fitting_bucket,
    parse,
    session_span,
)
from services.storage.session_queries import SessionQueries

exports = Blueprint("exports", __name__, url_prefix="/export")


@exports.after_request
def never_stored(response: Response) -> Response:
    """A download is one principal's view of their events: no cache keeps it."""
    response.headers["Cache-Control"] = "no-store"
    return response


SERIES_FIELDS = (
    "time",
    "score",
    "chat_msgs_per_min",
    "poll_participation",
    "active_users",
    "reactions_per_min",
    "user_leave_rate",
    "ticks",
)

# The table's columns, with the session's title (which the table shows inside its first
# column) as a field of its own after the event.
EXPORT_FIELDS: tuple[str, ...] = (
    *(field for _, field, _ in COLUMNS[:2]),
    "title",
    *(field for _, field, _ in COLUMNS[2:]),
)


def _queries() -> SessionQueries:
    runtime: Runtime = current_app.config["EC_RUNTIME"]
    return SessionQueries(
        runtime.engine, runtime.settings.tick_seconds, runtime.database.has_aggregates
    )


def _csv(rows: list[dict[str, Any]], fields: tuple[str, ...], name: str) -> Response:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        # A leading = + - @ would make a spreadsheet run the cell as a formula.
        writer.writerow(
            {k: ("'" + v if isinstance(v, str) and v[:1] in "=+-@" else v) for k, v in row.items()}
        )
    # Session ids may hold quotes, slashes or any script: an ASCII name, and in RFC 5987 the
    # exact one, every reserved character encoded (a "/" would name a directory to a browser).
    plain = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    exact = quote(name, safe="")
    disposition = f"attachment; filename=\"{plain}.csv\"; filename*=UTF-8''{exact}.csv"
    return Response(
        out.getvalue(), mimetype="text/csv", headers={"Content-Disposition": disposition}
    )


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify({"error": message}), status


@exports.get("/sessions.<fmt>")
def sessions_table(fmt: str) -> Any:
    who = access.current()
    if who is None:
        return _error(401, "sign in first")
    if fmt not in ("csv", "json"):
        return _error(404, "exports are .csv or .json")
    try:
        params = single_params(request.args)
        unknown = sorted(set(params) - set(FILTER_KEYS))
        if unknown:
            raise QueryError(f"{unknown[0]}: not a parameter of this export")
        flt = scoped_filter(who, params)
        result = _queries().sessions(flt)
    except QueryError as exc:
        return _error(400, str(exc))
    if fmt == "json":
        return jsonify(result)
    return _csv(result["items"], EXPORT_FIELDS, "sessions")


@exports.get("/sessions/<path:session_id>/series.<fmt>")
def session_series(session_id: str, fmt: str) -> Any:
    who = access.current()
    if who is None:
        return _error(401, "sign in first")
    if fmt not in ("csv", "json"):
        return _error(404, "exports are .csv or .json")
    if not valid_id(session_id):
        return _error(400, "not a valid session id")
    queries = _queries()
    session = queries.session(session_id)
    if session is None:
        return _error(404, "no such session")
    if not who.may_see(session["event_id"]):
        return _error(403, "your sign-in does not name this session's event")
    try:
        params = single_params(request.args)
        unknown = sorted(set(params) - {"bucket"})
        if unknown:
            raise QueryError(f"{unknown[0]}: not a parameter of this export")
        series = parse(
            SeriesRequest,
            {"bucket": params.get("bucket") or fitting_bucket(session)} | session_span(session),
        )
        points = queries.series(session_id, series)
    except QueryError as exc:
        return _error(400, str(exc))
    if fmt == "json":
        return jsonify({"session_id": session_id, "bucket": series.bucket, "points": points})
    return _csv(points, SERIES_FIELDS, f"{session_id[:60]}-{series.bucket}")
