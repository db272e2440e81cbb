"""The JSON API (`/api/...`, docs/api.md): sessions with filters, a session's series at a bucket,
its anomalies and interventions. Every request carries `Authorization: Bearer <token>` (a JWT
the platform signs with AUTH_SECRET); producers and analysts read the events their token names.
The write routes are in app/api_writes.py, the OpenAPI description in app/openapi.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DataError, SQLAlchemyError
from werkzeug.exceptions import HTTPException

from app.access import with_article
from app.query_params import single_params
from app.runtime import Runtime
from services.access.tokens import AccessGrant, Role, TokenRejected, verify_token
from services.core.platform import valid_id
from services.core.vocabulary import InterventionStatus
from services.storage.analyst_requests import QueryError, SeriesRequest, SessionFilter, parse
from services.storage.session_queries import SessionQueries

log = logging.getLogger(__name__)

api = Blueprint("api", __name__, url_prefix="/api")


@api.after_request
def never_stored(response: Response) -> Response:
    """An answer is one principal's view of their events: no cache (a shared proxy's, or the
    browser's on a shared machine) keeps it."""
    response.headers["Cache-Control"] = "no-store"
    return response


READERS = (Role.PRODUCER, Role.ANALYST)


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _runtime() -> Runtime:
    return current_app.config["EC_RUNTIME"]


def _grant() -> AccessGrant:
    secret = _runtime().settings.auth_secret
    if secret is None:
        raise ApiError(503, "access control is not configured on this server (AUTH_SECRET)")
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "send Authorization: Bearer <token>")
    try:
        grant = verify_token(
            secret.get_secret_value(), token.strip(), _runtime().settings.token_max_ttl_seconds
        )
    except TokenRejected as exc:
        raise ApiError(401, f"token refused: {exc}") from None
    if grant.role not in READERS:
        raise ApiError(403, f"{with_article(grant.role.value)} token cannot use the API")
    return grant


def _json_error(status: int, message: str) -> tuple[Response, int]:
    response = jsonify({"error": message})
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="engagement-conductor"'
    return response, status


def authorised(view: Callable[..., Any]) -> Callable[..., Any]:
    """Check the token first, answer every failure as JSON with its status."""

    @wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(_grant(), *args, **kwargs)
        except ApiError as exc:
            return _json_error(exc.status, str(exc))
        except QueryError as exc:
            return _json_error(400, str(exc))
        except DataError:
            return _json_error(400, "the database cannot take that value")
        except SQLAlchemyError:
            log.warning("API request %s failed on the database", request.path, exc_info=True)
            return _json_error(503, "the database is unavailable; try again shortly")

    return checked


def _queries() -> SessionQueries:
    runtime = _runtime()
    return SessionQueries(
        runtime.engine, runtime.settings.tick_seconds, runtime.database.has_aggregates
    )


def _scoped_session(grant: AccessGrant, session_id: str) -> dict[str, Any]:
    if not valid_id(session_id):
        raise ApiError(400, "not a valid session id")
    found = _queries().session(session_id)
    if found is None:
        raise ApiError(404, "no such session")
    if found["event_id"] not in grant.events:
        raise ApiError(403, "this session belongs to an event your token does not name")
    return found


class NoParameters(BaseModel):
    """The query of a route that takes no parameters: any one is refused as unknown, with the
    message the other routes give."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@api.get("/sessions")
@authorised
def list_sessions(grant: AccessGrant) -> Any:
    raw = single_params(request.args)
    if "events" in raw:
        raise QueryError("events: not a parameter (use 'event')")
    flt = parse(SessionFilter, raw | {"events": grant.events})
    if flt.event is not None and flt.event not in grant.events:
        raise ApiError(403, "your token does not name that event")
    return jsonify(_queries().sessions(flt))


@api.get("/sessions/<path:session_id>/series")
@authorised
def session_series(grant: AccessGrant, session_id: str) -> Any:
    _scoped_session(grant, session_id)
    request_ = parse(SeriesRequest, single_params(request.args))
    points = _queries().series(session_id, request_)
    return jsonify({"session_id": session_id, "bucket": request_.bucket, "points": points})


@api.get("/sessions/<path:session_id>/anomalies")
@authorised
def session_anomalies(grant: AccessGrant, session_id: str) -> Any:
    _scoped_session(grant, session_id)
    parse(NoParameters, single_params(request.args))
    return jsonify({"session_id": session_id, "items": _queries().anomalies(session_id)})


class InterventionsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    status: InterventionStatus | None = None


@api.get("/sessions/<path:session_id>/interventions")
@authorised
def session_interventions(grant: AccessGrant, session_id: str) -> Any:
    _scoped_session(grant, session_id)
    query = parse(InterventionsQuery, single_params(request.args))
    status = query.status.value if query.status is not None else None
    items = _queries().interventions(session_id, status)
    return jsonify({"session_id": session_id, "status": status, "items": items})


@api.get("/sessions/<path:session_id>")
@authorised
def session_detail(grant: AccessGrant, session_id: str) -> Any:
    return jsonify(_scoped_session(grant, session_id))


# `/api` and `/api/` name no route either; without this rule Dash's catch-all would answer them
# with its HTML page.
@api.route("/", defaults={"_anything": ""}, strict_slashes=False)
@api.route("/<path:_anything>")
def unknown(_anything: str) -> Any:
    return _json_error(404, "no such API route (see docs/api.md)")


def _under_api(path: str) -> bool:
    prefix = api.url_prefix or ""
    return path == prefix or path.startswith(prefix + "/")


# App-wide: a method the route does not take (405) fails in routing, before the blueprint is
# known; errors raised in the API's own views reach this handler too.
@api.app_errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Any:
    """Werkzeug's errors under /api/ as JSON, keeping their headers (a 405's `Allow`); every
    other path's unchanged."""
    if not _under_api(request.path):
        return exc
    response, status = _json_error(exc.code or 500, exc.description or exc.name)
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response, status


@api.errorhandler(Exception)
def unexpected(exc: Exception) -> Any:
    log.exception("API request %s failed", request.path)
    return _json_error(500, "the server failed on this request; it has been logged")
