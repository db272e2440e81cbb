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
from components.agent_panel import launch_options, mode_note, mode_options
from components.event_settings_panel import DETECTOR_INPUT, detector_label
from services.core.platform import valid_id
from services.detection.event_settings import (
    EventSettingsError,
    overrides_from_form,
)
from services.storage.agent_settings import AgentSettingsError

log = logging.getLogger(__name__)


def register_event_settings(app: dash.Dash, runtime: Runtime) -> None:
    detector_store = runtime.stores.event_settings
    agent_store = runtime.desk.settings

    def refused(text: str) -> tuple[Any, ...]:
        # The agent box keeps what it shows: nothing it reflects has changed.
        return (
            html.Div(text, className="notice notice-error"),
            dash.no_update,
            dash.no_update,
            dash.no_update,
        )

    @app.callback(
        Output(ids.SETTINGS_MESSAGE, "children"),
        # The agent box on the same page shows the event's mode and allowed types: a save
        # must show there at once, not at the next reload.
        Output(ids.AGENT_MODE, "options"),
        Output(ids.AGENT_MODE_NOTE, "children", allow_duplicate=True),
        Output(ids.AGENT_LAUNCH_TYPE, "options"),
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
        approve: str | float | None,
        minimum: str | float | None,
        allowed: list[str] | None,
        cap: str | int | None,
        ttl: str | float | None,
        detector_values: list[Any],
        config: dict[str, Any] | None,
    ) -> Any:
        if not clicks or not config:
            return (dash.no_update,) * 4
        who = access.current()
        session_id = str(config.get("sessionId"))
        session = runtime.store.get_session(session_id) if valid_id(session_id) else None
        if session is None or session.event_id is None:
            return refused("This session names no event.")
        if who is None or not access.is_producer() or not who.may_see(session.event_id):
            return refused("Your sign-in does not name this event: nothing was saved.")
        names = [item["id"]["name"] for item in ctx.states_list[6]]
        agent_fields = {
            "mode": mode,
            "approve_threshold": approve,
            "min_confidence": minimum,
            "allowed_types": allowed or [],
            "hourly_cap": cap,
            "suggestion_ttl_seconds": ttl,
        }
        missing = [name for name, value in agent_fields.items() if value in (None, "")]
        if missing:
            return refused(f"Fill in: {', '.join(missing)}. Nothing was saved.")
        try:
            # Validate both before storing either, so a bad field saves nothing.
            overrides = overrides_from_form(dict(zip(names, detector_values, strict=True)))
            session_mode = agent_store.session_mode(session_id)
            saved = agent_store.update(session.event_id, agent_fields)
            detector_store.update(session.event_id, overrides, reset=True)
        except AgentSettingsError as exc:
            return refused(f"Not saved: {exc}")
        except EventSettingsError as exc:
            problems = "; ".join(problem.describe(detector_label) for problem in exc.problems)
            return refused(f"Not saved: {problems}.")
        except SQLAlchemyError:
            log.warning("saving event settings failed on the database", exc_info=True)
            return refused("The database cannot be reached right now; nothing was saved.")
        notices = [
            html.Div(
                f"Saved for event {session.event_id}: agent {saved.mode.value}, "
                f"{len(overrides)} detector threshold(s) differ from the defaults. Running "
                "detectors take them on within about 15 s.",
                className="notice notice-info",
            )
        ]
        notices += [
            html.Div(f"Warning: {text}.", className="notice notice-error")
            for text in saved.warnings()
        ]
        return (
            notices,
            mode_options(saved.mode),
            mode_note(session_mode or saved.mode, session_mode is not None),
            launch_options([arm.value for arm in saved.allowed_types]),
        )
