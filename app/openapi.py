"""`GET /api/openapi.json`: the API's OpenAPI 3.1 description, generated from the models that
validate its queries and bodies and shape its answers (app/api_models.py,
services/storage/analyst_requests.py). `OPERATIONS` lists every route once; a test checks that
it names each route the server has, and validates the tests' answers against the result."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from flask import jsonify
from pydantic import BaseModel, TypeAdapter

from app.api import InterventionsQuery, NoParameters, api
from app.api_models import (
    AgentModeAnswer,
    AgentModeBody,
    AgentSettingsAnswer,
    AgentSettingsBody,
    AlertSettingsAnswer,
    AlertSettingsBody,
    AnomaliesAnswer,
    DetectorSettingsAnswer,
    DetectorSettingsBody,
    DismissBody,
    ErrorAnswer,
    InterventionsAnswer,
    LaunchBody,
    PerformanceAnswer,
    SeriesAnswer,
    SessionItem,
    SessionsPage,
)
from services.core.push_objects import Intervention
from services.storage.analyst_requests import SeriesRequest, SessionFilter

REF = "#/components/schemas/{model}"
# Filled in by the server from the token, never by the caller.
_INTERNAL_PARAMETERS = {"events"}
_ERRORS = {
    "400": "a parameter or a field of the body is wrong; the message names it",
    "401": "no token, or one that is malformed, forged or expired",
    "403": "the token's role or events do not allow this",
    "404": "no such session, event or intervention",
    "409": "the intervention cannot be decided that way now (already decided, expired)",
    "503": "the database is unavailable, or the server has no AUTH_SECRET",
}


@dataclass(frozen=True)
class Operation:
    method: Literal["get", "post", "put"]
    path: str  # Flask's form: /sessions/<path:session_id>
    summary: str
    answer: type[Any]
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    status: int = 200
    producers_only: bool = False

    @property
    def openapi_path(self) -> str:
        return "/api" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", self.path)


OPERATIONS = (
    Operation("get", "/sessions", "Sessions with their figures", SessionsPage, SessionFilter),
    Operation("get", "/sessions/<path:session_id>", "One session", SessionItem),
    Operation(
        "get",
        "/sessions/<path:session_id>/series",
        "A session's score and signals at a bucket",
        SeriesAnswer,
        SeriesRequest,
    ),
    Operation(
        "get",
        "/sessions/<path:session_id>/anomalies",
        "A session's anomaly episodes",
        AnomaliesAnswer,
        NoParameters,
    ),
    Operation(
        "get",
        "/sessions/<path:session_id>/interventions",
        "A session's interventions, newest first",
        InterventionsAnswer,
        InterventionsQuery,
    ),
    Operation(
        "post",
        "/sessions/<path:session_id>/interventions",
        "Launch an intervention now",
        Intervention,
        body=LaunchBody,
        status=201,
        producers_only=True,
    ),
    Operation(
        "put",
        "/sessions/<path:session_id>/agent-mode",
        "Set the session's agent mode, or go back to the event's",
        AgentModeAnswer,
        body=AgentModeBody,
        producers_only=True,
    ),
    Operation(
        "post",
        "/interventions/<path:intervention_id>/approve",
        "Approve a waiting suggestion: it is sent to the platform",
        Intervention,
        producers_only=True,
    ),
    Operation(
        "post",
        "/interventions/<path:intervention_id>/dismiss",
        "Dismiss a waiting suggestion",
        Intervention,
        body=DismissBody,
        producers_only=True,
    ),
    Operation(
        "get",
        "/events/<path:event_id>/agent-settings",
        "The event's agent settings",
        AgentSettingsAnswer,
        NoParameters,
    ),
    Operation(
        "put",
        "/events/<path:event_id>/agent-settings",
        "Change some of the event's agent settings",
        AgentSettingsAnswer,
        body=AgentSettingsBody,
        producers_only=True,
    ),
    Operation(
        "get",
        "/events/<path:event_id>/detector-settings",
        "The event's anomaly-detection thresholds",
        DetectorSettingsAnswer,
        NoParameters,
    ),
    Operation(
        "put",
        "/events/<path:event_id>/detector-settings",
        "Override or reset the event's anomaly-detection thresholds",
        DetectorSettingsAnswer,
        body=DetectorSettingsBody,
        producers_only=True,
    ),
    Operation(
        "get",
        "/events/<path:event_id>/alerts",
        "Who the event's alerts go to, for what, and the deliveries given up on",
        AlertSettingsAnswer,
        NoParameters,
        producers_only=True,
    ),
    Operation(
        "put",
        "/events/<path:event_id>/alerts",
        "Change the event's alert recipients (e-mail, signed webhooks) and kinds",
        AlertSettingsAnswer,
        body=AlertSettingsBody,
        producers_only=True,
    ),
    Operation(
        "get",
        "/events/<path:event_id>/agent-performance",
        "What the agent has measured in the event, per intervention type",
        PerformanceAnswer,
        NoParameters,
    ),
)


def _query_parameters(model: type[BaseModel], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(by_alias=True, ref_template=REF)
    schemas.update(schema.pop("$defs", {}))
    out = []
    for name, prop in schema.get("properties", {}).items():
        if name in _INTERNAL_PARAMETERS:
            continue
        parameter = {"name": name, "in": "query", "required": False, "schema": prop}
        if "array" in {prop.get("type"), *(o.get("type") for o in prop.get("anyOf", []))}:
            parameter |= {"style": "form", "explode": False}  # comma-separated
        out.append(parameter)
    return out


def _operation(op: Operation, names: dict[Any, dict[str, Any]], schemas: dict[str, Any]) -> Any:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"\{(\w+)\}", op.openapi_path)
    ]
    if op.query is not None:
        parameters += _query_parameters(op.query, schemas)
    error = {"content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorAnswer")}}}}
    answer = names[(op.answer, "serialization")]
    out: dict[str, Any] = {
        "summary": op.summary,
        "operationId": f"{op.method}_{re.sub(r'[^a-z]+', '_', op.openapi_path.lower()).strip('_')}",
        "parameters": parameters,
        "responses": {
            str(op.status): {
                "description": "done" if op.method != "get" else "found",
                "content": {"application/json": {"schema": answer}},
            }
        }
        | {status: {"description": text} | error for status, text in _ERRORS.items()},
    }
    if op.producers_only:
        out["description"] = "Producer tokens only, for the events they name."
    if op.body is not None:
        out["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": names[(op.body, "validation")]}},
        }
    return out


@cache
def openapi_document() -> dict[str, Any]:
    models = {(ErrorAnswer, "serialization")}
    for op in OPERATIONS:
        models.add((op.answer, "serialization"))
        if op.body is not None:
            models.add((op.body, "validation"))
    ordered = sorted(models, key=lambda m: (m[0].__name__, m[1]))
    found, top = TypeAdapter.json_schemas(
        [(key, key[1], TypeAdapter(key[0])) for key in ordered], ref_template=REF
    )
    names = {key: schema for (key, _), schema in found.items()}
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.openapi_path, {})[op.method] = _operation(op, names, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Engagement Conductor API",
            "version": "1",
            "description": "Read sessions and steer the intervention agent (docs/api.md).",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
        "security": [{"bearer": []}],
    }


@api.get("/openapi.json")
def openapi() -> Any:
    """The description is public: it says what the API takes, never what it holds."""
    return jsonify(openapi_document())
