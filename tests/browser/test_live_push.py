"""The live chart in a real browser: pushed points, backfill, reconnects."""

from __future__ import annotations

from typing import Any

import pytest
from selenium.webdriver.support.ui import WebDriverWait

from app.runtime import Runtime
from components import ids
from components.live_page import format_score, format_signals
from tests.browser.support import (
    T0,
    chart,
    ec_live,
    open_live,
    publish,
    seed_session,
    stamps_from,
    tick_message,
    wait_for_backfill_drawn,
    wait_for_subscribers,
)

pytestmark = pytest.mark.browser


def wait_drawn(dash_duo: Any, last_timestamp: str, timeout: float = 15) -> None:
    WebDriverWait(dash_duo.driver, timeout).until(
        lambda _: ec_live(dash_duo, "lastDrawn") == last_timestamp,
        f"the chart never drew {last_timestamp}",
    )


def test_burst_of_pushed_points_is_drawn_in_order_with_none_lost(
    served: Any, runtime: Runtime
) -> None:
    dash_duo = served
    sid = "sess-burst"
    seed_session(runtime, sid)
    open_live(dash_duo, sid)
    dash_duo.wait_for_contains_text(f"#{ids.LIVE_BANNER}", "Waiting for this session's first")
    # The burst must meet a drawn chart, so it is split over several re-renders.
    wait_for_backfill_drawn(dash_duo)

    stamps = stamps_from(T0, 75)
    messages = [
        tick_message(sid, at, round(0.2 + (i % 8) / 10, 2), i) for i, at in enumerate(stamps)
    ]
    for message in messages:
        publish(runtime, sid, message)
    wait_drawn(dash_duo, stamps[-1].isoformat())

    data = chart(dash_duo)
    assert data is not None
    assert data["x"] == [at.isoformat() for at in stamps[-60:]]
    assert data["y"] == [m["score"] for m in messages[-60:]]
    assert ec_live(dash_duo, "drawn") == 75
    # Buffered while a batch was being drawn, so far fewer batches than points.
    assert 1 <= ec_live(dash_duo, "batches") < 75
    latencies = ec_live(dash_duo, "latencies")
    assert len(latencies) == 75
    assert all(0 <= value < 30 for value in latencies)

    # A point at or before the last drawn one is a duplicate and is dropped.
    publish(runtime, sid, messages[-1])
    publish(runtime, sid, messages[10])
    WebDriverWait(dash_duo.driver, 10).until(lambda _: ec_live(dash_duo, "duplicates") == 2)
    assert chart(dash_duo)["x"] == data["x"]

    newest = messages[-1]
    dash_duo.wait_for_text_to_equal(f"#{ids.SCORE_VALUE}", format_score(newest["score"]))
    expected = format_signals(newest["signals"])
    for key, component_id in ids.SIGNAL_IDS.items():
        dash_duo.wait_for_text_to_equal(f"#{component_id}", expected[key])
    assert dash_duo.find_element(f"#{ids.LIVE_BANNER}").text == ""
    assert dash_duo.get_logs() == []


def test_window_is_backfilled_from_the_database_on_reload(served: Any, runtime: Runtime) -> None:
    dash_duo = served
    sid = "sess-backfill"
    stamps = stamps_from(T0, 70)
    points = seed_session(runtime, sid, stamps=stamps)
    open_live(dash_duo, sid)
    wait_drawn(dash_duo, points[-1]["timestamp"])
    assert chart(dash_duo) == {
        "x": [p["timestamp"] for p in points[-60:]],
        "y": [p["score"] for p in points[-60:]],
    }
    dash_duo.wait_for_text_to_equal(f"#{ids.SCORE_VALUE}", format_score(points[-1]["score"]))

    # Scores written while nobody watched: the reloaded page's socket backfill shows them.
    more = stamps_from(stamps[-1], 6)[1:]
    all_points = seed_session(runtime, sid, stamps=[*stamps, *more])
    dash_duo.driver.refresh()
    dash_duo.wait_for_text_to_equal(f"#{ids.LIGHT_TEXT}", "live", timeout=15)
    wait_drawn(dash_duo, all_points[-1]["timestamp"])
    assert ec_live(dash_duo, "backfills") == 1
    assert chart(dash_duo) == {
        "x": [p["timestamp"] for p in all_points[-60:]],
        "y": [p["score"] for p in all_points[-60:]],
    }
    assert dash_duo.get_logs() == []


def light_history(dash_duo: Any) -> list[str]:
    return ec_live(dash_duo, "lightHistory")


def test_light_shows_reconnecting_then_live_and_the_reconnect_backfills(
    served: Any, runtime: Runtime
) -> None:
    dash_duo = served
    sid = "sess-drop"
    stamps = stamps_from(T0, 12)
    seed_session(runtime, sid, stamps=stamps[:5])
    open_live(dash_duo, sid)
    assert light_history(dash_duo) == ["connecting", "live"]

    # Two live points, then the collector writes more rows that are never pushed here.
    for i, at in enumerate(stamps[5:7]):
        publish(runtime, sid, tick_message(sid, at, 0.5, i))
    wait_drawn(dash_duo, stamps[6].isoformat())
    db_points = seed_session(runtime, sid, stamps=stamps, score_of=lambda i: 0.05 * i)

    # The server drops the socket (its hub queue overflowed): the browser reconnects and the
    # fresh backfill brings the points it missed.
    wait_for_subscribers(runtime.hub, sid)
    for sub in runtime.hub.subscriptions(sid):
        sub.overflowed = True
    WebDriverWait(dash_duo.driver, 15).until(
        lambda _: light_history(dash_duo) == ["connecting", "live", "reconnecting", "live"],
        "the light did not go live -> reconnecting -> live",
    )
    dash_duo.wait_for_text_to_equal(f"#{ids.LIGHT_TEXT}", "live")
    wait_drawn(dash_duo, db_points[-1]["timestamp"])
    assert chart(dash_duo) == {
        "x": [p["timestamp"] for p in db_points],
        "y": [p["score"] for p in db_points],
    }
    assert ec_live(dash_duo, "backfills") == 2

    # The browser's side of the socket drops: same recovery.
    dash_duo.driver.execute_script("window.ecLive.socket.close();")
    WebDriverWait(dash_duo.driver, 15).until(
        lambda _: (
            light_history(dash_duo)[-2:] == ["reconnecting", "live"]
            and len(light_history(dash_duo)) == 6
        ),
        "the light did not recover after a client-side drop",
    )
    assert ec_live(dash_duo, "backfills") == 3

    # And the new socket carries live points again.
    later = stamps_from(stamps[-1], 2)[1]
    publish(runtime, sid, tick_message(sid, later, 0.9))
    wait_drawn(dash_duo, later.isoformat())
    assert dash_duo.get_logs() == []
