"""The live page as a producer runs a show from it, in a real browser: the decision waiting in
the first screen at desktop and phone sizes, the phone without sideways scroll, keys that approve
and dismiss, a loud countdown, values greyed when they stop being live, a page opened before its
session that comes alive, and the chart's labelled bands and intervention marks."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from selenium.webdriver.common.action_chains import ActionChains

from app.runtime import Runtime
from components import ids
from components.agent_panel import NO_PENDING
from services.agent.desk import SessionContext
from services.core.push import InterventionMessage, encode
from services.core.push_objects import Intervention
from services.storage.schema import interventions
from tests.browser.support import (
    anomaly_row,
    ec_live,
    episode,
    open_live,
    publish,
    seed_session,
    stamps_from,
    tick_message,
    wait_for_subscribers,
    wait_until,
)

pytestmark = pytest.mark.browser

SID = "sess-room"
SESSION = SessionContext(SID, "evt-1", engagement=0.3, present_users=120, chat_per_min=4.0)
DESKTOP = (1440, 900)
PHONE = (390, 844)

BOX_JS = """
var el = document.querySelector(arguments[0]);
if (!el) { return null; }
var r = el.getBoundingClientRect();
return {top: r.top, bottom: r.bottom, left: r.left, right: r.right,
        width: window.innerWidth, height: window.innerHeight,
        scrollWidth: document.documentElement.scrollWidth};
"""

# The chart's labelled shapes: band labels and intervention marks.
OVERLAYS_JS = f"""
var outer = document.getElementById({ids.GRAPH!r});
var gd = outer && outer.querySelector('.js-plotly-plot');
if (!gd || !gd.layout) {{ return null; }}
return (gd.layout.shapes || []).filter(function (s) {{
    return typeof s.name === 'string' && s.label && s.label.text;
}}).map(function (s) {{ return {{name: s.name, text: s.label.text}}; }});
"""


def viewport(dash_duo: Any, size: tuple[int, int]) -> None:
    width, height = size
    dash_duo.driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )


def box(dash_duo: Any, selector: str) -> dict[str, float] | None:
    return dash_duo.driver.execute_script(BOX_JS, selector)


def in_first_screen(found: dict[str, float] | None) -> bool:
    return (
        found is not None
        and found["top"] >= 0
        and found["left"] >= 0
        and found["bottom"] <= found["height"]
        and found["right"] <= found["width"]
    )


def seeded(runtime: Runtime, session_id: str = SID) -> list[dict[str, Any]]:
    now = datetime.now(UTC).replace(microsecond=0)
    return seed_session(runtime, session_id, stamps=stamps_from(now - timedelta(seconds=300), 40))


def propose(runtime: Runtime) -> Any:
    return runtime.desk.propose(SESSION, "SUDDEN_DROP", -0.5, "ep-1", "Chat fell to 2/min")


def card_class(dash_duo: Any, selector: str) -> str:
    """Read afresh each time: a re-render may replace the card between two reads."""
    return dash_duo.driver.execute_script(
        "var el = document.querySelector(arguments[0]); return el ? el.className : '';", selector
    )


def status(runtime: Runtime, intervention_id: str) -> str | None:
    record = runtime.stores.interventions.get(intervention_id)
    return record.status if record is not None else None


def press(dash_duo: Any, selector: str, key: str) -> None:
    """Focus the element, as Tab would, and press `key`."""
    dash_duo.driver.execute_script("document.querySelector(arguments[0]).focus();", selector)
    ActionChains(dash_duo.driver).send_keys(key).perform()


def push_intervention(runtime: Runtime, intervention: Intervention) -> None:
    runtime.redis.publish(
        runtime.names.push_channel(SID),
        encode(InterventionMessage(sessionId=SID, intervention=intervention)),
    )


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1440x900", "390x844"])
def test_the_waiting_decision_is_in_the_first_screen(
    served: Any, runtime: Runtime, size: tuple[int, int]
) -> None:
    dash_duo = served
    seeded(runtime)
    viewport(dash_duo, size)
    open_live(dash_duo, SID)
    record = propose(runtime)
    card = f".suggestion-card[data-intervention='{record.intervention_id}']"
    dash_duo.wait_for_element(card)
    wait_until(dash_duo, lambda: in_first_screen(box(dash_duo, card)), f"{card} fully on screen")
    for part in (f"{card} .button-primary", f"{card} .button:not(.button-primary)"):
        assert in_first_screen(box(dash_duo, part)), part
    # The chart is on the first screen too, and nothing is wider than the screen.
    graph = box(dash_duo, f"#{ids.GRAPH}")
    assert graph is not None and graph["top"] < graph["height"] / 2
    assert graph["scrollWidth"] <= size[0]
    assert dash_duo.get_logs() == []


def test_a_phone_scrolls_no_page_sideways(served: Any, runtime: Runtime) -> None:
    dash_duo = served
    seeded(runtime)
    viewport(dash_duo, PHONE)
    for path in ("/", f"/live/{SID}", "/sessions", f"/sessions/{SID}"):
        dash_duo.wait_for_page(url=f"{dash_duo.server_url}{path}")
        dash_duo.wait_for_element(f"#{ids.PAGE} > *")
        if path.startswith("/live/"):
            # Leave once its socket is up: one torn down mid-handshake lingers on the server
            # until its ping times out, past the fixture's wait for open sockets.
            dash_duo.wait_for_text_to_equal(f"#{ids.LIGHT_TEXT}", "live", timeout=15)
        width = dash_duo.driver.execute_script("return document.documentElement.scrollWidth;")
        assert width <= PHONE[0], (path, width)
    assert dash_duo.get_logs() == []


def test_keys_approve_and_dismiss_the_focused_suggestion(served: Any, runtime: Runtime) -> None:
    dash_duo = served
    seeded(runtime)
    open_live(dash_duo, SID)
    first = propose(runtime)
    card = f".suggestion-card[data-intervention='{first.intervention_id}']"
    dash_duo.wait_for_element(card)
    press(dash_duo, card, "a")
    dash_duo.wait_for_contains_text(f"#{ids.AGENT_MESSAGE}", "Approved")
    # Approved, then sent (or failed: no platform listens here); no longer waiting either way.
    wait_until(
        dash_duo, lambda: status(runtime, first.intervention_id) != "pending", "the approval"
    )
    record = runtime.stores.interventions.get(first.intervention_id)
    assert record is not None and record.decided_at is not None
    dash_duo.wait_for_text_to_equal(f"#{ids.AGENT_PENDING}", NO_PENDING)

    second = propose(runtime)
    card = f".suggestion-card[data-intervention='{second.intervention_id}']"
    dash_duo.wait_for_element(card)
    # A key while the suggestion is not focused decides nothing: had this A approved it, the
    # D below would come too late to dismiss it.
    press(dash_duo, "body", "a")
    press(dash_duo, card, "D")
    wait_until(
        dash_duo,
        lambda: status(runtime, second.intervention_id) == "dismissed",
        "the dismissal stored",
    )
    assert dash_duo.get_logs() == []


def test_a_suggestion_about_to_expire_says_so_loudly(served: Any, runtime: Runtime) -> None:
    dash_duo = served
    seeded(runtime)
    open_live(dash_duo, SID)
    record = propose(runtime)
    card = f".suggestion-card[data-intervention='{record.intervention_id}']"
    dash_duo.wait_for_element(card)
    assert "suggestion-expiring" not in card_class(dash_duo, card)
    # Its expiry moved to 15 s from now, as if it had waited: the page's clock takes it from
    # the card, which the next render carries.
    soon = datetime.now(UTC) + timedelta(seconds=15)
    with runtime.engine.begin() as conn:
        conn.execute(
            interventions.update()
            .where(interventions.c.intervention_id == record.intervention_id)
            .values(expires_at=soon)
        )
    updated = runtime.stores.interventions.get(record.intervention_id)
    assert updated is not None
    wait_for_subscribers(runtime.hub, SID)
    push_intervention(runtime, Intervention.from_row(updated))
    wait_until(
        dash_duo, lambda: "suggestion-expiring" in card_class(dash_duo, card), "the card turns loud"
    )
    dash_duo.wait_for_contains_text(f"{card} .suggestion-expiry", "decide now")
    assert dash_duo.get_logs() == []


def test_values_grey_out_when_ticks_stop_and_come_back_live(served: Any, runtime: Runtime) -> None:
    dash_duo = served
    points = seeded(runtime)
    open_live(dash_duo, SID)
    wait_for_subscribers(runtime.hub, SID)
    newest = points[-1]["timestamp"]
    top = box(dash_duo, f"#{ids.LIVE_BODY}")
    # No collector runs here: after two ticks (1 s each) without a score, the page says so.
    dash_duo.wait_for_contains_text(f"#{ids.STALE_BANNER}", "Not live", timeout=10)
    # Over the page, not in it: nothing moves under a producer's pointer (it did, and a click
    # meant for Approve landed elsewhere).
    assert box(dash_duo, f"#{ids.LIVE_BODY}") == top
    text = dash_duo.find_element(f"#{ids.STALE_BANNER}").text
    assert f"the newest score is from {newest[11:19]} UTC" in text
    assert "no new score came for two ticks" in text
    assert "stale" in dash_duo.find_element(f"#{ids.LIVE_BODY}").get_attribute("class")

    publish(runtime, SID, tick_message(SID, datetime.now(UTC).replace(microsecond=0), 0.7))
    wait_until(dash_duo, lambda: ec_live(dash_duo, "stale") == "", "the banner clears")
    dash_duo.wait_for_text_to_equal(f"#{ids.STALE_BANNER}", "")
    assert "stale" not in dash_duo.find_element(f"#{ids.LIVE_BODY}").get_attribute("class")
    assert dash_duo.get_logs() == []


def test_a_page_opened_before_its_session_comes_alive(served: Any, runtime: Runtime) -> None:
    dash_duo = served
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/live/sess-soon")
    dash_duo.wait_for_contains_text(f"#{ids.PAGE}", "Waiting for the first score")
    assert ec_live(dash_duo, "socket") is None
    seeded(runtime, "sess-soon")
    # Within a tick (1 s here) the page turns into the live page, its socket open.
    dash_duo.wait_for_text_to_equal(f"#{ids.LIGHT_TEXT}", "live", timeout=10)
    dash_duo.wait_for_element(f"#{ids.SCORE_VALUE}")
    assert dash_duo.driver.current_url.endswith("/live/sess-soon")
    assert dash_duo.get_logs() == []


def outcome(before: float, after: float, worked: bool = False) -> dict[str, Any]:
    """A measured outcome as the follow-up stores it."""
    return {
        "engagement_before": before,
        "engagement_after": after,
        "delta": round(after - before, 3),
        "success": worked,
    }


def intervention_row(intervention_id: str, at: datetime, status: str, outcome: Any) -> dict:
    return {
        "intervention_id": intervention_id,
        "time": at,
        "session_id": SID,
        "event_id": "evt-1",
        "type": "POLL",
        "status": status,
        "confidence": 0.5,
        "content": {},
        "outcome": outcome,
        "decided_at": at,
        "executed_at": at,
    }


def test_the_chart_labels_its_bands_and_marks_interventions(served: Any, runtime: Runtime) -> None:
    dash_duo = served
    points = seeded(runtime)
    started = datetime.fromisoformat(points[10]["timestamp"])
    ep = episode(SID, "ep-9", started, "CRITICAL", ended=started + timedelta(seconds=30))
    sent = datetime.fromisoformat(points[20]["timestamp"])
    runtime.store.write_batch([], [], [anomaly_row(ep)])
    with runtime.engine.begin() as conn:
        conn.execute(
            interventions.insert(),
            intervention_row("iv-1", sent, "measured", outcome(0.4, 0.481, worked=True)),
        )
    open_live(dash_duo, SID)

    def texts() -> dict[str, str]:
        found = dash_duo.driver.execute_script(OVERLAYS_JS) or []
        return {a["name"]: a["text"] for a in found}

    wait_until(dash_duo, lambda: "band-label:ep-9" in texts(), "the band's label")
    assert texts()["band-label:ep-9"] == "Sudden drop · CRITICAL"
    assert texts()["mark:iv-1"] == "Poll ✓ +0.08"
    # No toolbar over the chart; the labels do not stretch the time axis past the newest point.
    assert not dash_duo.find_elements(f"#{ids.GRAPH} .modebar")
    axis_end = dash_duo.driver.execute_script(
        f"return document.querySelector('#{ids.GRAPH} .js-plotly-plot').layout.xaxis.range[1];"
    )
    first, last = (datetime.fromisoformat(points[i]["timestamp"]) for i in (0, -1))
    beyond = datetime.fromisoformat(axis_end).replace(tzinfo=UTC) - last
    # Plotly's own padding is a few percent; a label's text would add far more.
    assert beyond <= (last - first) * 0.1

    # A second intervention goes out, then is measured: its mark follows.
    later = datetime.fromisoformat(points[30]["timestamp"])
    row = intervention_row("iv-2", later, "executed", None)
    base = Intervention.from_row(
        dataclasses.replace(runtime.stores.interventions.get("iv-1"), **row)
    )
    wait_for_subscribers(runtime.hub, SID)
    push_intervention(runtime, base)
    wait_until(dash_duo, lambda: texts().get("mark:iv-2") == "Poll · measuring", "a new mark")
    measured = dataclasses.replace(base, status="measured", outcome=outcome(0.5, 0.48))
    push_intervention(runtime, measured)
    wait_until(dash_duo, lambda: texts().get("mark:iv-2") == "Poll ✗ \u22120.02", "its outcome")
    assert dash_duo.get_logs() == []


def test_the_event_tile_fits_a_narrow_frame(served: Any, runtime: Runtime) -> None:
    dash_duo = served
    seeded(runtime)
    seeded(runtime, "sess-two")
    viewport(dash_duo, (400, 600))
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/embed/event/evt-1")
    dash_duo.wait_for_element("tr[data-session='sess-two'] a")
    # Each session a card: the table's header hidden, nothing wider than the frame.
    assert not dash_duo.find_element(".embed-table thead").is_displayed()
    width = dash_duo.driver.execute_script("return document.documentElement.scrollWidth;")
    assert width <= 400
    link = dash_duo.find_element("tr[data-session='sess-two'] a")
    assert link.get_attribute("target") == "_blank"
    assert link.get_attribute("href").endswith("/live/sess-two")
    assert dash_duo.get_logs() == []
