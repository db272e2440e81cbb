"""Alert a producer, on any page, to a CRITICAL anomaly in another session of their events;
each episode is announced once (the browser tab remembers which)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import dash
from dash import Input, Output, State, html
from dash.exceptions import PreventUpdate
from sqlalchemy.exc import SQLAlchemyError

from callbacks.boundary import LiveConfig, SignedIn, WebDeps, principal
from components import ids
from components.alerts import alert_items
from services.access.principal import Principal
from services.access.visibility import visible_sessions

log = logging.getLogger(__name__)

# Older episodes are not news; an alert stays up this long; the memory of alerts this long.
NEWS_MINUTES = 15
SHOW_SECONDS = 60.0
REMEMBER_SECONDS = 3600.0


def alerted_memory(raw: object) -> dict[str, float]:
    """The tab's memory of announced episodes (episode id -> when, in epoch seconds). The store
    is the browser's: anything but a time is dropped."""
    if not isinstance(raw, dict):
        return {}
    return {
        str(key): float(at)
        for key, at in raw.items()
        if isinstance(at, int | float) and not isinstance(at, bool)
    }


def poll_alerts(
    deps: WebDeps, who: Principal, viewing: LiveConfig | None, alerted: dict[str, float]
) -> tuple[list[html.Div], dict[str, float]]:
    """The alerts to show now, and the memory to keep: episodes still worth alerting, each
    remembered from when it was first shown."""
    if not who.is_producer:
        raise PreventUpdate
    now = deps.clock()
    viewed = viewing.session_id if viewing is not None else None
    try:
        others = [
            record.session_id
            for record in visible_sessions(deps.stores.metrics, who)
            if record.session_id != viewed
        ]
        found = deps.stores.overview.critical_alerts(others, now - timedelta(minutes=NEWS_MINUTES))
    except SQLAlchemyError:
        log.warning("checking for critical alerts failed on the database", exc_info=True)
        raise PreventUpdate from None
    stamp = now.timestamp()
    current_ids = {episode["episode_id"] for episode in found}
    seen = {
        key: at
        for key, at in alerted.items()
        if key in current_ids and 0 <= stamp - at < REMEMBER_SECONDS
    }
    for episode in found:
        seen.setdefault(episode["episode_id"], stamp)
    showing = [e for e in found if stamp - seen[e["episode_id"]] < SHOW_SECONDS]
    return alert_items(showing), seen


def register_alerts(app: dash.Dash, deps: WebDeps, signed_in: SignedIn) -> None:
    @app.callback(
        Output(ids.ALERTS, "children"),
        Output(ids.ALERTED, "data"),
        Input(ids.ALERT_POLL, "n_intervals"),
        State(ids.ALERTED, "data"),
        State(ids.LIVE_CONFIG, "data"),
    )
    def _poll(_n: int | None, alerted: Any, config: Any) -> Any:
        return poll_alerts(
            deps, principal(signed_in), LiveConfig.parse(config), alerted_memory(alerted)
        )
