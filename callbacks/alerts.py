"""Alert a producer, on any page, to a CRITICAL anomaly in another session of their events;
each episode is announced once (the browser tab remembers which)."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import dash
from dash import Input, Output, State
from sqlalchemy.exc import SQLAlchemyError

from app import access
from app.runtime import Runtime
from components import ids
from components.alerts import alert_items
from services.access.visibility import visible_sessions

log = logging.getLogger(__name__)

# Older episodes are not news; an alert stays up this long; the memory of alerts this long.
NEWS_MINUTES = 15
SHOW_SECONDS = 60.0
REMEMBER_SECONDS = 3600.0


def register_alerts(app: dash.Dash, runtime: Runtime) -> None:
    queries = runtime.stores.overview

    @app.callback(
        Output(ids.ALERTS, "children"),
        Output(ids.ALERTED, "data"),
        Input(ids.ALERT_POLL, "n_intervals"),
        State(ids.ALERTED, "data"),
        State(ids.LIVE_CONFIG, "data"),
    )
    def poll(_n: int | None, alerted: dict[str, float] | None, config: Any) -> Any:
        who = access.current()
        if who is None or not access.is_producer():
            return dash.no_update, dash.no_update
        viewing = config.get("sessionId") if isinstance(config, dict) else None
        now = time.time()
        try:
            others = [
                record.session_id
                for record in visible_sessions(runtime.store, who)
                if record.session_id != viewing
            ]
            found = queries.critical_alerts(
                others, datetime.now(UTC) - timedelta(minutes=NEWS_MINUTES)
            )
        except SQLAlchemyError:
            log.warning("checking for critical alerts failed on the database", exc_info=True)
            return dash.no_update, dash.no_update
        # The store is the browser's: keep only sane times of episodes still worth alerting.
        current_ids = {episode["episode_id"] for episode in found}
        given = alerted if isinstance(alerted, dict) else {}
        seen = {
            key: float(at)
            for key, at in given.items()
            if key in current_ids
            and isinstance(at, int | float)
            and not isinstance(at, bool)
            and 0 <= now - at < REMEMBER_SECONDS
        }
        for episode in found:
            seen.setdefault(episode["episode_id"], now)
        showing = [e for e in found if now - seen[e["episode_id"]] < SHOW_SECONDS]
        return alert_items(showing), seen
