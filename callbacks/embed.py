"""Iframe panels: which panel a path shows, whether the signed-in principal may see it, and the
refresh of the panels rendered from the database (intervention log, event tile)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import dash
from dash import Input, Output, State, html
from sqlalchemy.exc import SQLAlchemyError

from app.access import Principal, current
from app.runtime import Runtime
from components import ids
from components.agent_panel import intervention_log
from components.embed_panels import (
    anomaly_list_panel,
    event_tile_body,
    event_tile_panel,
    intervention_log_panel,
    live_chart_panel,
    panel_of_url,
    panel_problem,
    panel_socket_config,
)
from services.access.tokens import EmbedResource, PanelKind, Role
from services.storage.metrics_store import SessionRecord

log = logging.getLogger(__name__)

LOG_ROWS = 50
NOT_A_PANEL = (
    "There is no panel at this address. Panels are /embed/live/<session>, "
    "/embed/anomalies/<session>, /embed/interventions/<session> and /embed/event/<event>."
)
NOT_ALLOWED = "This sign-in does not open this panel."
UNKNOWN_SESSION = "This session is not known."


def _in_scope(who: Principal, panel: EmbedResource, event_id: str | None) -> bool:
    """With the panel's pass (its event was checked when the token was redeemed), or as a
    producer of the panel's event."""
    if who.holds_pass(panel):
        return True
    return who.role is Role.PRODUCER and who.may_see(event_id)


def panel_session(runtime: Runtime, who: Principal, panel: EmbedResource) -> SessionRecord | None:
    """The panel's session if `who` may see this panel of it (None otherwise)."""
    if not panel.kind.of_session or not who.may_embed(panel):
        return None
    record = runtime.store.get_session(panel.target)
    if record is None or not _in_scope(who, panel, record.event_id):
        return None
    return record


def may_see_event_tile(who: Principal, panel: EmbedResource) -> bool:
    return panel.kind is PanelKind.EVENT and _in_scope(who, panel, panel.target)


def render_panel(
    runtime: Runtime, who: Principal, path: str
) -> tuple[html.Div, dict[str, Any] | None]:
    """The panel at `path` and, for panels fed by the live socket, its config."""
    panel = panel_of_url(path)
    if panel is None:
        return panel_problem(NOT_A_PANEL), None
    if panel.kind is PanelKind.EVENT:
        if not may_see_event_tile(who, panel):
            return panel_problem(NOT_ALLOWED), None
        tile = event_tile_panel(panel.target, _glances(runtime, panel.target), runtime.refresh_ms)
        return tile, None
    if not who.may_embed(panel):
        return panel_problem(NOT_ALLOWED), None
    record = panel_session(runtime, who, panel)
    if record is None:
        known = runtime.store.get_session(panel.target) is not None
        return panel_problem(NOT_ALLOWED if known else UNKNOWN_SESSION), None
    settings = runtime.settings
    config = panel_socket_config(panel.kind, record, settings.chart_points, settings.tick_seconds)
    store = runtime.store
    if panel.kind is PanelKind.INTERVENTIONS:
        records = runtime.desk.store.for_session(record.session_id, LOG_ROWS)
        shown = intervention_log(records)
        return intervention_log_panel(record, shown, runtime.refresh_ms), config
    points = store.recent_points(record.session_id, settings.chart_points)
    anomalies = store.session_episodes(record.session_id)
    if panel.kind is PanelKind.ANOMALIES:
        return anomaly_list_panel(record, anomalies), config
    rendered = [point.as_json() for point in points]
    return live_chart_panel(record, rendered, anomalies, settings.tick_seconds), config


def _glances(runtime: Runtime, event_id: str) -> list[Any]:
    sessions = runtime.store.list_sessions(event_id=event_id)
    return runtime.stores.overview.glance(sessions, datetime.now(UTC))


def register_embed(app: dash.Dash, runtime: Runtime) -> None:
    @app.callback(
        Output(ids.EMBED_BODY, "children"),
        Input(ids.EMBED_REFRESH, "n_intervals"),
        Input(ids.EMBED_SIGNAL, "data"),
        State(ids.URL, "pathname"),
        prevent_initial_call=True,
    )
    def refresh_panel(_n: int | None, _signal: int | None, pathname: str | None) -> Any:
        who = current()
        panel = panel_of_url(pathname or "")
        if who is None or panel is None:
            return dash.no_update
        try:
            if panel.kind is PanelKind.EVENT:
                if not may_see_event_tile(who, panel):
                    return dash.no_update
                return event_tile_body(_glances(runtime, panel.target))
            if panel.kind is not PanelKind.INTERVENTIONS:
                return dash.no_update
            record = panel_session(runtime, who, panel)
            if record is None:
                return dash.no_update
            return intervention_log(runtime.desk.store.for_session(record.session_id, LOG_ROWS))
        except SQLAlchemyError:
            # What is on screen stays; the next refresh tries again.
            log.warning("refreshing panel %s failed on the database", panel, exc_info=True)
            return dash.no_update
