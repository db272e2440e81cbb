"""Saving an event's settings from the live page: the agent's and the anomaly detector's."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import dash
from dash import ALL, Input, Output, State, ctx, html
from dash.exceptions import PreventUpdate
from sqlalchemy.exc import SQLAlchemyError

from callbacks.boundary import LiveConfig, SignedIn, WebDeps, principal
from callbacks.pages.live import writing_status
from components import ids
from components.agent_panel import launch_options, mode_note, mode_options
from components.event_settings_panel import DETECTOR_INPUT, detector_label, spend_text
from services.access.guard import Refusal, RefusalTexts, producer_session
from services.access.principal import Principal
from services.detection.event_settings import EventSettingsError, overrides_from_form
from services.storage.agent_settings import AgentSettingsError, validate_agent_settings
from services.storage.alert_settings import AlertSettingsError, validate_alert_settings

log = logging.getLogger(__name__)

NO_EVENT = "This session names no event."
NOT_YOUR_EVENT = "Your sign-in does not name this event: nothing was saved."
SETTINGS_REFUSALS = RefusalTexts(
    not_producer=NOT_YOUR_EVENT,
    invalid_id=NO_EVENT,
    unknown_session=NO_EVENT,
    other_event=NOT_YOUR_EVENT,
)


@dataclass(frozen=True, slots=True)
class SettingsForm:
    """The settings panel as submitted: the agent's fields by name (as typed, validated on
    saving) and the detector's thresholds by name."""

    agent: dict[str, Any]
    detector: dict[str, Any]
    alerts: dict[str, Any]

    @property
    def missing(self) -> list[str]:
        return [name for name, value in self.agent.items() if value in (None, "")]


SaveOutputs = tuple[Any, Any, Any, Any, Any]


def refused(text: str) -> SaveOutputs:
    # The agent box keeps what it shows: nothing it reflects has changed.
    notice = html.Div(text, className="notice notice-error")
    return notice, dash.no_update, dash.no_update, dash.no_update, dash.no_update


def save_event_settings(
    deps: WebDeps, who: Principal, form: SettingsForm, config: LiveConfig
) -> SaveOutputs:
    """Store both settings of the session's event, or neither, and show the saved agent
    settings in the agent box on the same page at once (not at the next reload)."""
    session = producer_session(deps.stores.metrics, who, config.session_id, SETTINGS_REFUSALS)
    if isinstance(session, Refusal):
        return refused(session.message)
    if session.event_id is None:
        return refused(NO_EVENT)
    if form.missing:
        return refused(f"Fill in: {', '.join(form.missing)}. Nothing was saved.")
    agent_store = deps.stores.agent_settings
    try:
        # Validate all before storing any, so a bad field saves nothing.
        overrides = overrides_from_form(form.detector)
        alert_store = deps.stores.alerts
        alerts = alert_store.for_event(session.event_id).stored() | form.alerts
        validate_alert_settings(alerts)
        validate_agent_settings(agent_store.for_event(session.event_id).stored() | form.agent)
        session_mode = agent_store.session_mode(session.session_id)
        saved = agent_store.update(session.event_id, form.agent)
        deps.stores.event_settings.update(session.event_id, overrides, reset=True)
        alert_store.update(session.event_id, form.alerts)
    except (AgentSettingsError, AlertSettingsError) as exc:
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
        html.Div(f"Warning: {text}.", className="notice notice-error") for text in saved.warnings()
    ]
    return (
        notices,
        mode_options(saved.mode),
        mode_note(session_mode or saved.mode, session_mode is not None),
        launch_options([arm.value for arm in saved.allowed_types]),
        spend_text(writing_status(deps, session.event_id, saved), saved.written_content),
    )


def register_event_settings(app: dash.Dash, deps: WebDeps, signed_in: SignedIn) -> None:
    @app.callback(
        Output(ids.SETTINGS_MESSAGE, "children"),
        # The agent box on the same page shows the event's mode and allowed types.
        Output(ids.AGENT_MODE, "options"),
        Output(ids.AGENT_MODE_NOTE, "children", allow_duplicate=True),
        Output(ids.AGENT_LAUNCH_TYPE, "options"),
        Output(ids.SETTINGS_TOKEN_SPEND, "children"),
        Input(ids.SETTINGS_SAVE, "n_clicks"),
        State(ids.SETTINGS_MODE, "value"),
        State(ids.SETTINGS_APPROVE, "value"),
        State(ids.SETTINGS_MIN_CONFIDENCE, "value"),
        State(ids.SETTINGS_TYPES, "value"),
        State(ids.SETTINGS_HOURLY_CAP, "value"),
        State(ids.SETTINGS_TTL, "value"),
        State(ids.SETTINGS_WRITTEN, "value"),
        State(ids.SETTINGS_TOKEN_BUDGET, "value"),
        State(ids.SETTINGS_ALERT_EMAILS, "value"),
        State(ids.SETTINGS_ALERT_KINDS, "value"),
        State(ids.SETTINGS_ALERT_SEVERITY, "value"),
        State({"type": DETECTOR_INPUT, "name": ALL}, "value"),
        State(ids.LIVE_CONFIG, "data"),
        prevent_initial_call=True,
    )
    def _save(
        clicks: Any,
        mode: Any,
        approve: Any,
        minimum: Any,
        allowed: Any,
        cap: Any,
        ttl: Any,
        written: Any,
        budget: Any,
        emails: Any,
        kinds: Any,
        severity: Any,
        detector_values: list[Any],
        config: Any,
    ) -> Any:
        live = LiveConfig.parse(config)
        if not clicks or live is None:
            raise PreventUpdate
        names = [item["id"]["name"] for item in ctx.states_list[11]]
        form = SettingsForm(
            agent={
                "mode": mode,
                "approve_threshold": approve,
                "min_confidence": minimum,
                "allowed_types": allowed or [],
                "hourly_cap": cap,
                "suggestion_ttl_seconds": ttl,
                "written_content": bool(written),
                "token_budget": budget,
            },
            detector=dict(zip(names, detector_values, strict=True)),
            alerts={
                "emails": [part.strip() for part in str(emails or "").split(",") if part.strip()],
                "kinds": kinds or [],
                "min_severity": severity,
            },
        )
        return save_event_settings(deps, principal(signed_in), form, live)
