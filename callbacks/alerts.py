"""Alert a producer, on any page, to a CRITICAL anomaly in another session of their events;
each episode is announced once and can be dismissed (the browser tab remembers which)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import dash
from dash import ALL, Input, Output, State, html
from dash.exceptions import PreventUpdate
from sqlalchemy.exc import SQLAlchemyError

from callbacks.boundary import LiveConfig, SignedIn, WebDeps, principal
from components import ids
from components.alerts import alert_items
from components.live_page import LIVE_PATH
from components.sessions_filters import SESSIONS_PATH
from services.access.principal import Principal
from services.access.visibility import visible_sessions

log = logging.getLogger(__name__)

# Older episodes are not news; an alert stays up this long; the memory of alerts this long.
NEWS_MINUTES = 15
SHOW_SECONDS = 60.0
REMEMBER_SECONDS = 3600.0


def alerted_memory(raw: object) -> dict[str, float]:
    """The tab's memory of announced episodes (episode id -> when, in epoch seconds; negative
    once dismissed). The store is the browser's: anything but a time is dropped."""
    if not isinstance(raw, dict):
        return {}
    return {
        str(key): float(at)
        for key, at in raw.items()
        if isinstance(at, int | float) and not isinstance(at, bool)
    }


def on_app_page(pathname: str | None) -> bool:
    """Alerts belong on the producer's pages, not on a page that does not exist or a panel."""
    path = pathname or "/"
    return path == "/" or any(
        path == prefix or path.startswith(prefix + "/") for prefix in (LIVE_PATH, SESSIONS_PATH)
    )


def dismiss(alerted: dict[str, float], episode_id: str, now: float) -> dict[str, float]:
    """Remember an alert as dismissed: its time negated, so the memory still ages it out."""
    first = abs(alerted.get(episode_id, now))
    return alerted | {episode_id: -first}


def poll_alerts(
    deps: WebDeps,
    who: Principal,
    viewing: LiveConfig | None,
    alerted: dict[str, float],
    pathname: str | None = "/",
) -> tuple[list[html.Details], dict[str, float]]:
    """The alerts to show now, and the memory to keep: episodes still worth alerting, each
    remembered from when it was first shown, dismissed ones never shown again."""
    if not who.is_producer:
        raise PreventUpdate
    if not on_app_page(pathname):
        return [], alerted
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
        if key in current_ids and 0 <= stamp - abs(at) < REMEMBER_SECONDS
    }
    for episode in found:
        seen.setdefault(episode["episode_id"], stamp)
    # A dismissed alert's negated time puts it far past SHOW_SECONDS.
    showing = [e for e in found if stamp - seen[e["episode_id"]] < SHOW_SECONDS]
    return alert_items(showing), seen


def register_alerts(app: dash.Dash, deps: WebDeps, signed_in: SignedIn) -> None:
    @app.callback(
        Output(ids.ALERTS, "children"),
        Output(ids.ALERTED, "data"),
        Input(ids.ALERT_POLL, "n_intervals"),
        Input({"type": ids.ALERT_DISMISS, "episode": ALL}, "n_clicks"),
        # A page change re-checks at once: the session now on screen is no longer "other".
        Input(ids.LIVE_CONFIG, "data"),
        State(ids.ALERTED, "data"),
        State(ids.URL, "pathname"),
    )
    def _poll(_n: int | None, clicks: Any, config: Any, alerted: Any, pathname: Any) -> Any:
        memory = alerted_memory(alerted)
        trigger = dash.ctx.triggered_id
        if isinstance(trigger, Mapping) and trigger.get("type") == ids.ALERT_DISMISS:
            if not any(clicks or []):  # the buttons were just drawn, not clicked
                raise PreventUpdate
            memory = dismiss(memory, str(trigger.get("episode")), deps.clock().timestamp())
        return poll_alerts(
            deps,
            principal(signed_in),
            LiveConfig.parse(config),
            memory,
            pathname if isinstance(pathname, str) else "/",
        )
