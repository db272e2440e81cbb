"""Helpers of the web-tier tests: seed rows, publish push messages, read the chart."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from dash.testing.wait import until
from selenium.webdriver.support.ui import WebDriverWait

from app.runtime import Runtime
from components import ids
from services.metrics_store import ENDED, LIVE
from services.push_hub import PushHub

# Whole seconds in the recent past, so every point lands inside the chart's 5-minute window.
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)

CHART_JS = f"""
var outer = document.getElementById({json.dumps(ids.GRAPH)});
var gd = outer && outer.querySelector('.js-plotly-plot');
if (!gd || !gd.data || !gd.data[0]) {{ return null; }}
var t = gd.data[0];
return {{x: Array.from(t.x || []), y: Array.from(t.y || []), revision: t.meta}};
"""


def signals(i: int = 0) -> dict[str, float | int]:
    return {
        "chat_msgs_per_min": 3.0 + i % 7,
        "poll_participation": 0.25,
        "active_users": 6 + i % 3,
        "total_users": 20,
        "reactions_per_min": 1.5,
        "user_leave_rate": 0.05,
    }


def metric_row(session_id: str, event_id: str | None, at: datetime, score: float) -> dict[str, Any]:
    sig = signals()
    return {
        "time": at,
        "session_id": session_id,
        "event_id": event_id,
        "engagement_score": score,
        "chat_msgs_per_min": sig["chat_msgs_per_min"],
        "poll_participation": sig["poll_participation"],
        "active_users": sig["active_users"],
        "reactions_per_min": sig["reactions_per_min"],
        "user_leave_rate": sig["user_leave_rate"],
        "extra": {"total_users": sig["total_users"], "category": "MODERATE"},
    }


def session_row(
    session_id: str,
    event_id: str | None,
    last_seen: datetime,
    status: str = LIVE,
    score: float | None = 0.5,
) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "event_id": event_id,
        "first_seen": T0,
        "last_seen": last_seen,
        "ended_at": last_seen if status == ENDED else None,
        "status": status,
        "last_score": score,
        "present_users": 20,
    }


def seed_session(
    runtime: Runtime,
    session_id: str,
    event_id: str | None = "evt-1",
    stamps: Sequence[datetime] = (),
    status: str = LIVE,
    score_of: Callable[[int], float] = lambda i: round(0.1 + (i % 9) / 10, 2),
) -> list[dict[str, Any]]:
    """Score rows at `stamps` plus the catalogue row; returns the rows' chart points."""
    rows = [metric_row(session_id, event_id, at, score_of(i)) for i, at in enumerate(stamps)]
    last = stamps[-1] if stamps else T0
    score = rows[-1]["engagement_score"] if rows else None
    runtime.store.write_batch(rows, [session_row(session_id, event_id, last, status, score)])
    return [{"timestamp": r["time"].isoformat(), "score": r["engagement_score"]} for r in rows]


def stamps_from(start: datetime, count: int, step: float = 5.0) -> list[datetime]:
    return [start + timedelta(seconds=step * i) for i in range(count)]


def tick_message(session_id: str, at: datetime, score: float, i: int = 0) -> dict[str, Any]:
    return {
        "kind": "tick",
        "timestamp": at.isoformat(),
        "sessionId": session_id,
        "eventId": "evt-1",
        "score": score,
        "signals": signals(i),
        "computedAt": datetime.now(UTC).timestamp(),
    }


def publish(runtime: Runtime, session_id: str, message: dict[str, Any]) -> None:
    runtime.redis.publish(runtime.names.push_channel(session_id), json.dumps(message))


def wait_for_subscribers(hub: PushHub, session_id: str, count: int = 1) -> None:
    until(
        lambda: len(hub.subscriptions(session_id)) >= count,
        timeout=10,
        msg=f"no socket subscribed to {session_id}",
    )


def wait_for_request_threads() -> None:
    """Until the test server has no request or socket thread left. dash's test server stops by
    raising SystemExit in every thread it started; a handler still finishing its response
    would die mid-way and pytest would report it."""

    def busy() -> list[str]:
        return [
            thread.name
            for thread in threading.enumerate()
            if "process_request_thread" in thread.name or "simple_websocket" in thread.name
        ]

    until(lambda: not busy(), timeout=10, msg="request threads still running")


def chart(dash_duo: Any) -> dict[str, list[Any]] | None:
    """The plotted x and y of the score trace, straight from plotly's graph div."""
    data = dash_duo.driver.execute_script(CHART_JS)
    return None if data is None else {"x": data["x"], "y": data["y"]}


def wait_for_backfill_drawn(dash_duo: Any, revision: int = 1) -> None:
    """Until the chart shows the figure rebuilt from the socket's `revision`-th backfill."""
    WebDriverWait(dash_duo.driver, 15).until(
        lambda _: (dash_duo.driver.execute_script(CHART_JS) or {}).get("revision") == revision,
        f"backfill {revision} never reached the chart",
    )


def ec_live(dash_duo: Any, expression: str) -> Any:
    return dash_duo.driver.execute_script(f"return window.ecLive && window.ecLive.{expression};")


def open_live(dash_duo: Any, session_id: str) -> None:
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/live/{session_id}")
    dash_duo.wait_for_text_to_equal(f"#{ids.LIGHT_TEXT}", "live", timeout=15)
