"""Saving an event's settings from the live page: the agent's and the anomaly detector's."""

from __future__ import annotations

import logging
from typing import Any

import dash
from dash import ALL, Input, Output, State, ctx, html
from sqlalchemy.exc import SQLAlchemyError

from app import access
from app.runtime import Runtime
from components import ids
from components.event_settings_panel import DETECTOR_INPUT, DETECTOR_LABELS
from services.agent_settings import AgentSettingsError
from services.anomaly_episodes import DetectorSettings
from services.contracts import valid_id
from services.event_settings import EventSettingsError, EventSettingsStore, validate_overrides

log = logging.getLogger(__name__)


def detector_changes(names: list[str], values: list[Any]) -> dict[str, Any]:
    """The detector fields that differ from the defaults: what the event overrides."""
    defaults = DetectorSettings()
    changes = {}
    for name, value in zip(names, values, strict=True):
        if value is None or name not in DETECTOR_LABELS:
            continue  # an emptied field goes back to the default; a forged one is not ours
        if value != getattr(defaults, name):
            changes[name] = value
    return changes


def register_event_settings(app: dash.Dash, runtime: Runtime) -> None:
    detector_store = EventSettingsStore(runtime.engine)

    @app.callback(
        Output(ids.SETTINGS_MESSAGE, "children"),
        Input(ids.SETTINGS_SAVE, "n_clicks"),
        State(ids.SETTINGS_MODE, "value"),
        State(ids.SETTINGS_APPROVE, "value"),
        State(ids.SETTINGS_MIN_CONFIDENCE, "value"),
        State(ids.SETTINGS_TYPES, "value"),
        State(ids.SETTINGS_HOURLY_CAP, "value"),
        State(ids.SETTINGS_TTL, "value"),
        State({"type": DETECTOR_INPUT, "name": ALL}, "value"),
        State(ids.LIVE_CONFIG, "data"),
        prevent_initial_call=True,
    )
    def save(
        clicks: int | None,
        mode: str | None,
        approve: float | None,
        minimum: float | None,
        allowed: list[str] | None,
        cap: int | None,
        ttl: float | None,
        detector_values: list[Any],
        config: dict[str, Any] | None,
    ) -> Any:
        if not clicks or not config:
            return dash.no_update
        who = access.current()
        session_id = str(config.get("sessionId"))
        session = runtime.store.get_session(session_id) if valid_id(session_id) else None
        if session is None or session.event_id is None:
            return html.Div("This session names no event.", className="notice notice-error")
        if who is None or not access.is_producer() or not who.may_see(session.event_id):
            return html.Div(
                "Your sign-in does not name this event: nothing was saved.",
                className="notice notice-error",
            )
        names = [item["id"]["name"] for item in ctx.states_list[6]]
        agent_fields = {
            "mode": mode,
            "approve_threshold": approve,
            "min_confidence": minimum,
            "allowed_types": allowed or [],
            "hourly_cap": cap,
            "suggestion_ttl_seconds": ttl,
        }
        missing = [name for name, value in agent_fields.items() if value is None]
        if missing:
            return html.Div(
                f"Fill in: {', '.join(missing)}. Nothing was saved.",
                className="notice notice-error",
            )
        try:
            # Validate both before storing either, so a bad field saves nothing.
            overrides = validate_overrides(detector_changes(names, detector_values))
            saved = runtime.desk.settings.update(session.event_id, agent_fields)
            detector_store.update(session.event_id, overrides, reset=True)
        except (AgentSettingsError, EventSettingsError) as exc:
            return html.Div(f"Not saved: {exc}", className="notice notice-error")
        except SQLAlchemyError:
            log.warning("saving event settings failed on the database", exc_info=True)
            return html.Div(
                "The database cannot be reached right now; nothing was saved.",
                className="notice notice-error",
            )
        return html.Div(
            f"Saved for event {session.event_id}: agent {saved.mode.value}, "
            f"{len(overrides)} detector threshold(s) differ from the defaults. Running "
            "detectors take them on within about 15 s.",
            className="notice notice-info",
        )
