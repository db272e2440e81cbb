"""The JSON API's write routes (docs/api.md): steer the agent as a producer does on the live page.

Producer tokens only, and only for the events they name; the same desk, guards and concurrency
rules as the page, so two approvals at once execute once. Every change is logged with the token's
name, as the intervention log shows it, and reaches open pages (the desk pushes interventions;
the agent box re-reads modes and settings each refresh).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from flask import jsonify, request
from pydantic import BaseModel, ValidationError

from app.api import (
    ApiError,
    NoParameters,
    _runtime,
    _scoped_session,
    api,
    authorised,
)
from app.api_models import (
    AgentModeBody,
    AgentSettingsBody,
    AlertSettingsBody,
    DetectorSettingsBody,
    DismissBody,
    LaunchBody,
)
from app.query_params import single_params
from services.access.tokens import AccessGrant, Role
from services.agent.desk import InterventionError
from services.agent.report import performance_by_type
from services.agent.situation import current_situation
from services.alerts.dispatcher import dead_letters
from services.core.platform import valid_id
from services.detection.detector import DetectorSettings
from services.detection.event_settings import TUNABLE, EventSettingsError, effective
from services.storage.agent_settings import AgentSettingsError
from services.storage.alert_settings import AlertSettingsError
from services.storage.analyst_requests import parse
from services.storage.interventions import InterventionRecord

log = logging.getLogger(__name__)


def _producer(grant: AccessGrant) -> str:
    """The actor a change is logged under; 403 for any token but a producer's."""
    if grant.role is not Role.PRODUCER:
        raise ApiError(403, f"only a producer token may change anything; this is {grant.role}")
    return grant.name or f"producer {grant.token_id[:8]} (API)"


def _body(model: type[BaseModel]) -> Any:
    """The JSON body as `model`; 400 naming each bad field. An empty body is an empty object."""
    raw = request.get_json(silent=True) if request.data else {}
    if not isinstance(raw, dict):
        raise ApiError(400, "the body must be a JSON object")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "body"
            problems.append(f"{where}: {str(error['msg']).removeprefix('Value error, ')}")
        raise ApiError(400, "; ".join(problems)) from None


def _event(grant: AccessGrant, event_id: str) -> str:
    if not valid_id(event_id):
        raise ApiError(400, "not a valid event id")
    if event_id not in grant.events:
        raise ApiError(403, "your token does not name that event")
    return event_id


def _decidable(grant: AccessGrant, intervention_id: str) -> InterventionRecord:
    if not valid_id(intervention_id):
        raise ApiError(400, "not a valid intervention id")
    record = _runtime().desk.store.get(intervention_id)
    if record is None:
        raise ApiError(404, "no such intervention")
    if record.event_id not in grant.events:
        raise ApiError(403, "this intervention belongs to an event your token does not name")
    return record


def _desk_call(action: Any, *args: Any, **kwargs: Any) -> InterventionRecord:
    try:
        return action(*args, **kwargs)
    except InterventionError as exc:
        raise ApiError(exc.status, str(exc)) from None


@api.post("/interventions/<path:intervention_id>/approve")
@authorised
def approve(grant: AccessGrant, intervention_id: str) -> Any:
    actor = _producer(grant)
    record = _decidable(grant, intervention_id)
    _body(NoParameters)
    done = _desk_call(_runtime().desk.approve, intervention_id, record.event_id, actor)
    log.info("intervention %s approved over the API by %s", intervention_id, actor)
    return jsonify(done.as_json())


@api.post("/interventions/<path:intervention_id>/dismiss")
@authorised
def dismiss(grant: AccessGrant, intervention_id: str) -> Any:
    actor = _producer(grant)
    record = _decidable(grant, intervention_id)
    body: DismissBody = _body(DismissBody)
    done = _desk_call(_runtime().desk.dismiss, intervention_id, record.event_id, actor, body.reason)
    log.info("intervention %s dismissed over the API by %s", intervention_id, actor)
    return jsonify(done.as_json())


@api.post("/sessions/<path:session_id>/interventions")
@authorised
def launch(grant: AccessGrant, session_id: str) -> Any:
    actor = _producer(grant)
    _scoped_session(grant, session_id)
    body: LaunchBody = _body(LaunchBody)
    runtime = _runtime()
    record = runtime.store.get_session(session_id)
    assert record is not None  # _scoped_session found it
    found = current_situation(runtime.store, record, runtime.desk.sender.clock())
    done = _desk_call(
        runtime.desk.trigger,
        found.session,
        body.type,
        actor,
        found.anomaly_type,
        found.deviation,
        content=body.content,
    )
    log.info("%s launched over the API in %s by %s", body.type, session_id, actor)
    return jsonify(done.as_json()), 201


@api.put("/sessions/<path:session_id>/agent-mode")
@authorised
def set_agent_mode(grant: AccessGrant, session_id: str) -> Any:
    actor = _producer(grant)
    session = _scoped_session(grant, session_id)
    body: AgentModeBody = _body(AgentModeBody)
    store = _runtime().desk.settings
    store.set_session_mode(session_id, body.mode)
    _, mode, overridden = store.effective(session_id, session["event_id"])
    log.info("agent mode of %s set to %s over the API by %s", session_id, body.mode, actor)
    return jsonify({"session_id": session_id, "mode": mode.value, "overridden": overridden})


def _agent_settings_answer(event_id: str) -> dict[str, Any]:
    settings = _runtime().desk.settings.for_event(event_id)
    return {"event_id": event_id, "settings": settings.stored(), "warnings": settings.warnings()}


@api.get("/events/<path:event_id>/agent-settings")
@authorised
def agent_settings(grant: AccessGrant, event_id: str) -> Any:
    _event(grant, event_id)
    parse(NoParameters, single_params(request.args))
    return jsonify(_agent_settings_answer(event_id))


@api.put("/events/<path:event_id>/agent-settings")
@authorised
def change_agent_settings(grant: AccessGrant, event_id: str) -> Any:
    actor = _producer(grant)
    _event(grant, event_id)
    body: AgentSettingsBody = _body(AgentSettingsBody)
    try:
        _runtime().desk.settings.update(event_id, body.changes())
    except AgentSettingsError as exc:
        raise ApiError(400, str(exc)) from None
    log.info("agent settings of %s changed over the API by %s: %s", event_id, actor, body.changes())
    return jsonify(_agent_settings_answer(event_id))


def _detector_answer(event_id: str, overrides: dict[str, float | int]) -> dict[str, Any]:
    base = DetectorSettings(tick_seconds=_runtime().settings.tick_seconds)
    values = dataclasses.asdict(effective(base, overrides))
    return {
        "event_id": event_id,
        "overrides": overrides,
        "settings": {name: values[name] for name in TUNABLE},
    }


@api.get("/events/<path:event_id>/detector-settings")
@authorised
def detector_settings(grant: AccessGrant, event_id: str) -> Any:
    _event(grant, event_id)
    parse(NoParameters, single_params(request.args))
    return jsonify(_detector_answer(event_id, _runtime().stores.event_settings.overrides(event_id)))


@api.put("/events/<path:event_id>/detector-settings")
@authorised
def change_detector_settings(grant: AccessGrant, event_id: str) -> Any:
    actor = _producer(grant)
    _event(grant, event_id)
    body: DetectorSettingsBody = _body(DetectorSettingsBody)
    try:
        overrides = _runtime().stores.event_settings.update(
            event_id, dict(body.set), reset=body.reset
        )
    except EventSettingsError as exc:
        raise ApiError(400, str(exc)) from None
    log.info(
        "detector settings of %s changed over the API by %s: %s%s",
        event_id,
        actor,
        "reset, " if body.reset else "",
        dict(body.set),
    )
    return jsonify(_detector_answer(event_id, overrides))


@api.get("/events/<path:event_id>/agent-performance")
@authorised
def agent_performance(grant: AccessGrant, event_id: str) -> Any:
    _event(grant, event_id)
    parse(NoParameters, single_params(request.args))
    rows = performance_by_type(_runtime().stores.interventions, [event_id])
    return jsonify({"event_id": event_id, "items": [dataclasses.asdict(row) for row in rows]})


def _alerts_answer(event_id: str) -> dict[str, Any]:
    runtime = _runtime()
    shown = runtime.stores.alerts.for_event(event_id).shown()
    dead = dead_letters(runtime.redis, runtime.names, event_id)
    return {"event_id": event_id, **shown, "dead_letters": dead}


@api.get("/events/<path:event_id>/alerts")
@authorised
def alert_settings(grant: AccessGrant, event_id: str) -> Any:
    _producer(grant)  # recipients' addresses are the organisers' own: not for analysts
    _event(grant, event_id)
    parse(NoParameters, single_params(request.args))
    return jsonify(_alerts_answer(event_id))


@api.put("/events/<path:event_id>/alerts")
@authorised
def change_alert_settings(grant: AccessGrant, event_id: str) -> Any:
    actor = _producer(grant)
    _event(grant, event_id)
    body: AlertSettingsBody = _body(AlertSettingsBody)
    try:
        saved = _runtime().stores.alerts.update(event_id, body.changes())
    except AlertSettingsError as exc:
        raise ApiError(400, str(exc)) from None
    # What changed, without a secret: the addresses and URLs are the settings' point.
    log.info(
        "alert settings of %s changed over the API by %s: %d e-mail(s), %d webhook(s), %s",
        event_id,
        actor,
        len(saved.emails),
        len(saved.webhooks),
        ", ".join(saved.kinds) or "no kinds",
    )
    return jsonify(_alerts_answer(event_id))
