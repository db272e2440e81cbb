"""Helpers of the web-tier tests: seed rows, publish push messages, read the chart."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from dash.testing.wait import until
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.support.ui import WebDriverWait

from app.runtime import Runtime
from components import ids
from services.core.settings import Settings
from services.live.push_hub import PushHub
from services.storage.metrics_store import ENDED, LIVE
from services.storage.schema import anomalies

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
        # Every fifth point has no poll running, so both card texts get drawn.
        "poll_active": i % 5 != 4,
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


def two_event_runtime(settings: Settings) -> Iterator[Runtime]:
    """A web-only runtime with s-1 in evt-1 and s-2 in evt-2 (3 ticks each), for access tests."""
    rt = Runtime.build(settings, with_collector=False)
    seed_session(rt, "s-1", "evt-1", stamps=stamps_from(T0, 3))
    seed_session(rt, "s-2", "evt-2", stamps=stamps_from(T0, 3))
    yield rt
    rt.engine.dispose()


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


# -- anomalies ------------------------------------------------------------------------------------

BANDS_JS = f"""
var outer = document.getElementById({json.dumps(ids.GRAPH)});
var gd = outer && outer.querySelector('.js-plotly-plot');
if (!gd || !gd.layout) {{ return null; }}
return (gd.layout.shapes || []).filter(function (s) {{
    return typeof s.name === 'string' && s.name.indexOf('anomaly:') === 0;
}}).map(function (s) {{
    return {{name: s.name, x0: s.x0, x1: s.x1, fillcolor: s.fillcolor}};
}});
"""

ANOMALY_LIST_JS = f"""
var list = document.getElementById({json.dumps(ids.ANOMALY_LIST)});
if (!list) {{ return null; }}
return Array.from(list.querySelectorAll('.anomaly')).map(function (item) {{
    var out = {{className: item.className}};
    ['anomaly-type', 'severity', 'anomaly-time', 'anomaly-lasted', 'anomaly-score',
     'anomaly-explanation'].forEach(function (name) {{
        var el = item.querySelector('.' + name);
        out[name] = el ? el.textContent : null;
    }});
    return out;
}});
"""


def episode(
    session_id: str,
    episode_id: str,
    started: datetime,
    severity: str = "WARNING",
    ended: datetime | None = None,
    recovered: bool | None = None,
    recovery_seconds: float | None = None,
    explanation: str = "Chat fell from 12 to 2 messages a minute in 20 s.",
    kind: str = "SUDDEN_DROP",
) -> dict[str, Any]:
    """An EPISODE dict, as pushes and backfills carry it."""
    return {
        "episodeId": episode_id,
        "sessionId": session_id,
        "eventId": "evt-1",
        "type": kind,
        "severity": severity,
        "startedAt": started.isoformat(),
        "endedAt": ended.isoformat() if ended else None,
        "recovered": recovered,
        "recoverySeconds": recovery_seconds,
        "anomalyScore": 0.8,
        "currentEngagement": 0.21,
        "expectedEngagement": 0.58,
        "deviation": -0.638,
        "explanation": explanation,
    }


def anomaly_row(ep: dict[str, Any]) -> dict[str, Any]:
    """The anomalies table row an EPISODE dict was made from."""
    ended = ep["endedAt"]
    return {
        "time": datetime.fromisoformat(ep["startedAt"]),
        "episode_id": ep["episodeId"],
        "session_id": ep["sessionId"],
        "event_id": ep["eventId"],
        "type": ep["type"],
        "severity": ep["severity"],
        "anomaly_score": ep["anomalyScore"],
        "current_engagement": ep["currentEngagement"],
        "expected_engagement": ep["expectedEngagement"],
        "deviation": ep["deviation"],
        "signals": {"chat_msgs_per_min": 2.0},
        "explanation": ep["explanation"],
        "ended_at": datetime.fromisoformat(ended) if ended else None,
        "recovered": ep["recovered"],
        "recovery_seconds": ep["recoverySeconds"],
    }


def anomaly_message(phase: str, ep: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "anomaly", "phase": phase, "episode": ep}


def recent(runtime: Runtime, sid: str, score: float, event: str = "evt-1") -> None:
    """A live session with a minute of ticks at `score`, up to now."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=60)
    seed_session(runtime, sid, event, stamps=stamps_from(start, 12), score_of=lambda _: score)


def open_episode(runtime: Runtime, sid: str, episode_id: str, severity: str) -> None:
    """An episode of the session's, still open, that began 20 s ago."""
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=20)
    ep = episode(sid, episode_id, started) | {"severity": severity, "endedAt": None}
    with runtime.engine.begin() as conn:
        conn.execute(anomalies.insert().values(**anomaly_row(ep)))


def bands(dash_duo: Any) -> list[dict[str, Any]] | None:
    """The chart's anomaly bands, straight from plotly's layout."""
    return dash_duo.driver.execute_script(BANDS_JS)


def anomaly_list(dash_duo: Any) -> list[dict[str, Any]] | None:
    """Each listed episode's class and texts, newest first."""
    return dash_duo.driver.execute_script(ANOMALY_LIST_JS)


def wait_until(dash_duo: Any, check: Callable[[], Any], what: str, timeout: float = 15) -> None:
    WebDriverWait(dash_duo.driver, timeout).until(lambda _: check(), what)


def click(dash_duo: Any, selector: str, nth: int = 0) -> None:
    """Click the `nth` element matching `selector`, finding it again if a re-render (a push, or
    the panel's periodic refresh) replaced it between finding it and clicking it."""

    def clicked(_: Any) -> bool:
        found = dash_duo.find_elements(selector)
        if len(found) <= nth:
            return False
        try:
            found[nth].click()
        except StaleElementReferenceException:
            return False
        return True

    WebDriverWait(dash_duo.driver, 10).until(clicked, f"{selector} could not be clicked")


def started_runtime(settings: Settings, with_collector: bool) -> Iterator[Runtime]:
    """A started runtime whose push hub is connected; stopped when the generator closes."""
    rt = Runtime.build(settings, with_collector=with_collector)
    rt.start()
    try:
        until(lambda: rt.hub.connected, timeout=10, msg="push hub did not connect to Redis")
        yield rt
    finally:
        rt.stop()
