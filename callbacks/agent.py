"""The live page's agent callbacks: render from the database, and relay producers' decisions.

Every intervention change is pushed over the page's socket; assets/live.js bumps AGENT_SIGNAL,
which re-renders from the database (the truth), so the log is live without JS rendering it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import dash
from dash import ALL, Input, Output, State, ctx, html
from dash.exceptions import PreventUpdate
from sqlalchemy.exc import SQLAlchemyError

from callbacks.boundary import LiveConfig, SignedIn, WebDeps, principal
from components import ids
from components.agent_panel import (
    EVENT_MODE,
    intervention_log,
    mode_note,
    pending_cards,
    performance_table,
)
from services.access.guard import Refusal, RefusalTexts, producer_session
from services.access.principal import Principal
from services.agent.desk import InterventionError
from services.agent.lessons import lessons
from services.agent.report import performance_by_type, performance_in_context
from services.agent.situation import current_situation
from services.core.vocabulary import AgentContext, InterventionStatus, InterventionType
from services.storage.agent_settings import AgentSettingsError, parse_mode
from services.storage.interventions import InterventionRecord
from services.storage.metrics_store import SessionRecord

log = logging.getLogger(__name__)

LOG_ROWS = 50
DATABASE_DOWN = "The database cannot be reached right now; nothing was changed. Try again."
NOT_YOURS = "Your sign-in does not name this session's event: nothing was changed."
AGENT_REFUSALS = RefusalTexts.one(NOT_YOURS)

PerformanceScope = Literal["all", "event", "context"]


@dataclass(frozen=True, slots=True)
class DecisionClick:
    """A click on a suggestion's approve or dismiss button."""

    intervention_id: str
    approve: bool

    @classmethod
    def parse(cls, trigger: object, clicks: object) -> DecisionClick | None:
        """None unless a button was really clicked: re-rendered buttons fire with no clicks."""
        if not isinstance(trigger, dict) or not clicks:
            return None
        return cls(str(trigger.get("id")), trigger.get("type") == ids.APPROVE_BUTTON)


def performance_scope(raw: object) -> PerformanceScope:
    if raw == "event":
        return "event"
    return "context" if raw == "context" else "all"


def launch_type(raw: object) -> InterventionType | None:
    try:
        return InterventionType(str(raw))
    except ValueError:
        return None


def signal_count(raw: object) -> int:
    """The agent box's re-render counter (0 when the browser sends anything else)."""
    return raw if isinstance(raw, int) else 0


def _message(text: str, kind: str) -> html.Div:
    return html.Div(text, className=f"notice notice-{kind}")


def _session(deps: WebDeps, who: Principal, config: LiveConfig) -> SessionRecord | Refusal:
    return producer_session(deps.stores.metrics, who, config.session_id, AGENT_REFUSALS)


def render_agent(
    deps: WebDeps, who: Principal, config: LiveConfig, scope: PerformanceScope
) -> tuple[list[html.Div], html.Div | html.Table, html.Div]:
    """The pending suggestions, the intervention log and what the agent has learnt, for a
    session of `who`'s events (nothing changes for any other)."""
    stores = deps.stores
    try:
        session = _session(deps, who, config)
        if isinstance(session, Refusal):
            raise PreventUpdate
        records = stores.interventions.for_session(session.session_id, LOG_ROWS)
        performance = _performance(deps, who, session, records, scope)
    except SQLAlchemyError:
        log.warning("rendering the agent panel failed on the database", exc_info=True)
        raise PreventUpdate from None
    pending = [r for r in records if r.status == InterventionStatus.PENDING]
    return pending_cards(pending, deps.clock()), intervention_log(records), performance


def _performance(
    deps: WebDeps,
    who: Principal,
    session: SessionRecord,
    records: list[InterventionRecord],
    scope: PerformanceScope,
) -> html.Div:
    stores = deps.stores
    if scope == "context":
        keyed = next((r.context for r in records if r.context), None)
        if keyed is None:
            return _message(
                "No decision has been made in this session yet, so it has no context.", "empty"
            )
        context = AgentContext.from_key(keyed)
        return performance_table(
            performance_in_context(stores.posteriors, context),
            f"Context of the latest decision: {context.describe()}.",
        )
    if scope == "event" and session.event_id is not None:
        return performance_table(
            performance_by_type(stores.interventions, [session.event_id]),
            f"Measured in event {session.event_id}.",
        )
    mine = who.events
    caption = (
        "Measured across all events."
        if mine is None
        else f"Measured across your {len(mine)} event(s)."
    )
    # What worked where is learnt across all events, as the sampler learns it.
    learnt = [lesson.words for lesson in lessons(stores.posteriors.all_records())]
    return performance_table(performance_by_type(stores.interventions, mine), caption, learnt)


def _outcome(verb: str, record: InterventionRecord) -> tuple[str, str]:
    text = f"{verb}: {record.preview or record.type}. Status: {record.status}." + (
        f" {record.note}" if record.note else ""
    )
    return text, "info" if record.status == InterventionStatus.EXECUTED else "error"


def decide(
    deps: WebDeps, who: Principal, click: DecisionClick, config: LiveConfig, signal: int
) -> tuple[html.Div, Any]:
    """Approve or dismiss a suggestion of a session of `who`'s events; the bumped signal
    re-renders the agent box."""
    try:
        session = _session(deps, who, config)
        if isinstance(session, Refusal):
            return _message(session.message, "error"), dash.no_update
        if click.approve:
            record = deps.desk.approve(click.intervention_id, session.event_id, who.actor)
            text, kind = _outcome("Approved", record)
        else:
            deps.desk.dismiss(click.intervention_id, session.event_id, who.actor)
            text, kind = "Dismissed; the agent will not send it.", "info"
    except InterventionError as exc:
        text, kind = str(exc).capitalize(), "error"
    except SQLAlchemyError:
        log.warning("deciding on %s failed on the database", click.intervention_id, exc_info=True)
        text, kind = DATABASE_DOWN, "error"
    return _message(text, kind), signal + 1


def launch(
    deps: WebDeps,
    who: Principal,
    arm: InterventionType | None,
    config: LiveConfig,
    signal: int,
) -> tuple[html.Div, Any]:
    """Launch an intervention of type `arm` now, in a session of `who`'s events."""
    if arm is None:
        return _message("Choose an intervention type to launch.", "error"), dash.no_update
    try:
        session = _session(deps, who, config)
        if isinstance(session, Refusal):
            return _message(session.message, "error"), dash.no_update
        found = current_situation(deps.stores.metrics, session, deps.clock())
        record = deps.desk.trigger(
            found.session, arm, who.actor, found.anomaly_type, found.deviation
        )
        text, kind = _outcome("Launched", record)
    except InterventionError as exc:
        text, kind = str(exc).capitalize(), "error"
    except SQLAlchemyError:
        log.warning("launching an intervention failed on the database", exc_info=True)
        text, kind = DATABASE_DOWN, "error"
    return _message(text, kind), signal + 1


def set_mode(
    deps: WebDeps, who: Principal, value: str | None, config: LiveConfig
) -> tuple[Any, html.Div]:
    """This session's agent mode: its own, or the event's (EVENT_MODE)."""
    agent_settings = deps.stores.agent_settings
    try:
        session = _session(deps, who, config)
        if isinstance(session, Refusal):
            return dash.no_update, _message(session.message, "error")
        override = None if value in (None, EVENT_MODE) else parse_mode(value)
        agent_settings.set_session_mode(session.session_id, override)
        event_settings = agent_settings.for_event(session.event_id)
    except AgentSettingsError as exc:
        return dash.no_update, _message(str(exc), "error")
    except SQLAlchemyError:
        log.warning("changing the agent mode failed on the database", exc_info=True)
        return dash.no_update, _message(DATABASE_DOWN, "error")
    mode = override or event_settings.mode
    return mode_note(mode, override is not None), _message(
        f"Agent mode for this session: {mode.value}.", "info"
    )


def register_agent(app: dash.Dash, deps: WebDeps, signed_in: SignedIn) -> None:
    @app.callback(
        Output(ids.AGENT_PENDING, "children"),
        Output(ids.INTERVENTION_LOG, "children"),
        Output(ids.AGENT_PERFORMANCE, "children"),
        Input(ids.AGENT_SIGNAL, "data"),
        Input(ids.AGENT_REFRESH, "n_intervals"),
        Input(ids.AGENT_PERFORMANCE_SCOPE, "value"),
        State(ids.LIVE_CONFIG, "data"),
    )
    def _render(_signal: Any, _n: Any, scope: Any, config: Any) -> Any:
        live = LiveConfig.parse(config)
        if live is None:
            raise PreventUpdate
        return render_agent(deps, principal(signed_in), live, performance_scope(scope))

    @app.callback(
        Output(ids.AGENT_MESSAGE, "children", allow_duplicate=True),
        Output(ids.AGENT_SIGNAL, "data", allow_duplicate=True),
        Input({"type": ids.APPROVE_BUTTON, "id": ALL}, "n_clicks"),
        Input({"type": ids.DISMISS_BUTTON, "id": ALL}, "n_clicks"),
        State(ids.LIVE_CONFIG, "data"),
        State(ids.AGENT_SIGNAL, "data"),
        prevent_initial_call=True,
    )
    def _decide(_approve: Any, _dismiss: Any, config: Any, signal: Any) -> Any:
        click = DecisionClick.parse(ctx.triggered_id, ctx.triggered[0]["value"])
        live = LiveConfig.parse(config)
        if click is None or live is None:
            raise PreventUpdate
        return decide(deps, principal(signed_in), click, live, signal_count(signal))

    @app.callback(
        Output(ids.AGENT_MESSAGE, "children", allow_duplicate=True),
        Output(ids.AGENT_SIGNAL, "data", allow_duplicate=True),
        Input(ids.AGENT_LAUNCH, "n_clicks"),
        State(ids.AGENT_LAUNCH_TYPE, "value"),
        State(ids.LIVE_CONFIG, "data"),
        State(ids.AGENT_SIGNAL, "data"),
        prevent_initial_call=True,
    )
    def _launch(clicks: Any, arm: Any, config: Any, signal: Any) -> Any:
        live = LiveConfig.parse(config)
        if not clicks or live is None:
            raise PreventUpdate
        return launch(deps, principal(signed_in), launch_type(arm), live, signal_count(signal))

    @app.callback(
        Output(ids.AGENT_MODE_NOTE, "children"),
        Output(ids.AGENT_MESSAGE, "children", allow_duplicate=True),
        Input(ids.AGENT_MODE, "value"),
        State(ids.LIVE_CONFIG, "data"),
        prevent_initial_call=True,
    )
    def _set_mode(value: Any, config: Any) -> Any:
        live = LiveConfig.parse(config)
        if live is None:
            raise PreventUpdate
        return set_mode(deps, principal(signed_in), value, live)
