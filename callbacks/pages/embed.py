"""Iframe panels: the panel at a path as the signed-in principal may see it, and the bodies the
refresh re-renders from the database (intervention log, event tile)."""

from __future__ import annotations

from typing import Any

from dash import html

from callbacks.boundary import WebDeps
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
from services.access.guard import (
    Refusal,
    RefusalTexts,
    may_open_event_tile,
    producer_session,
)
from services.access.principal import Principal
from services.access.tokens import EmbedResource, PanelKind
from services.storage.metrics_store import SessionRecord
from services.storage.overview import SessionGlance

LOG_ROWS = 50
NOT_A_PANEL = (
    "There is no panel at this address. Panels are /embed/live/<session>, "
    "/embed/anomalies/<session>, /embed/interventions/<session> and /embed/event/<event>."
)
NOT_ALLOWED = "This sign-in does not open this panel."
UNKNOWN_SESSION = "This session is not known."
PANEL_REFUSALS = RefusalTexts(
    not_producer=NOT_ALLOWED,
    invalid_id=UNKNOWN_SESSION,
    unknown_session=UNKNOWN_SESSION,
    other_event=NOT_ALLOWED,
)


def panel_session(deps: WebDeps, who: Principal, panel: EmbedResource) -> SessionRecord | Refusal:
    """The session a session panel shows, if `who` may see this panel of it."""
    return producer_session(deps.stores.metrics, who, panel.target, PANEL_REFUSALS, panel)


def event_glances(deps: WebDeps, event_id: str) -> list[SessionGlance]:
    sessions = deps.stores.metrics.list_sessions(event_id=event_id)
    return deps.stores.overview.glance(sessions, deps.clock())


def render_panel(
    deps: WebDeps, who: Principal, pathname: str
) -> tuple[html.Div, dict[str, Any] | None]:
    """The panel at `pathname` and, for panels fed by the live socket, its config."""
    panel = panel_of_url(pathname)
    if panel is None:
        return panel_problem(NOT_A_PANEL), None
    if panel.kind is PanelKind.EVENT:
        if not may_open_event_tile(who, panel):
            return panel_problem(NOT_ALLOWED), None
        tile = event_tile_panel(panel.target, event_glances(deps, panel.target), deps.refresh_ms)
        return tile, None
    record = panel_session(deps, who, panel)
    if isinstance(record, Refusal):
        return panel_problem(record.message), None
    config = panel_socket_config(panel.kind, record, deps.chart_points, deps.tick_seconds)
    if panel.kind is PanelKind.INTERVENTIONS:
        shown = intervention_log(deps.stores.interventions.for_session(record.session_id, LOG_ROWS))
        return intervention_log_panel(record, shown, deps.refresh_ms), config
    metrics = deps.stores.metrics
    anomalies = metrics.session_episodes(record.session_id)
    if panel.kind is PanelKind.ANOMALIES:
        return anomaly_list_panel(record, anomalies), config
    recent = metrics.recent_points(record.session_id, deps.chart_points)
    points = [point.as_json() for point in recent]
    return live_chart_panel(record, points, anomalies, deps.tick_seconds), config


def panel_body(deps: WebDeps, who: Principal, panel: EmbedResource) -> Any:
    """The refreshed body of a panel rendered from the database, or None for a panel that is
    fed by the socket or that `who` may not see."""
    if panel.kind is PanelKind.EVENT:
        if not may_open_event_tile(who, panel):
            return None
        return event_tile_body(event_glances(deps, panel.target))
    if panel.kind is not PanelKind.INTERVENTIONS:
        return None
    record = panel_session(deps, who, panel)
    if isinstance(record, Refusal):
        return None
    return intervention_log(deps.stores.interventions.for_session(record.session_id, LOG_ROWS))
