"""The event overview and the critical alerts in a real browser."""

from __future__ import annotations

from typing import Any

import pytest

from app.runtime import Runtime
from components import ids
from tests.browser.support import open_episode, recent, wait_until

pytestmark = pytest.mark.browser

ROWS_JS = """
return Array.from(document.querySelectorAll('tr.overview-row'))
    .map(function (row) { return row.dataset.session; });
"""
ALERTS_JS = f"""
return Array.from(document.querySelectorAll('#{ids.ALERTS} .critical-alert'))
    .map(function (a) {{ return a.dataset.episode; }});
"""


def test_overview_badges_and_a_critical_alert_shown_once(served: Any, runtime: Runtime) -> None:
    dash_duo = served
    recent(runtime, "s-calm", 0.8)
    recent(runtime, "s-hot", 0.6)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/")
    wait_until(
        dash_duo,
        lambda: (
            dash_duo.driver.execute_script(ROWS_JS) == ["s-hot", "s-calm"]
            or dash_duo.driver.execute_script(ROWS_JS) == ["s-hot", "s-calm"][::-1]
        ),
        "rows",
    )
    open_episode(runtime, "s-calm", "ep-crit", "CRITICAL")
    # The overview reorders on its next refresh, and the alert strip announces the episode.
    wait_until(
        dash_duo,
        lambda: dash_duo.driver.execute_script(ROWS_JS) == ["s-calm", "s-hot"],
        "the critical session first",
        timeout=20,
    )
    wait_until(
        dash_duo, lambda: dash_duo.driver.execute_script(ALERTS_JS) == ["ep-crit"], "the alert"
    )
    assert "CRITICAL" in dash_duo.find_element(".badge-CRITICAL").text
    link = dash_duo.find_element(f"#{ids.ALERTS} a")
    assert link.get_attribute("href").endswith("/live/s-calm")
    # The tab remembers it was announced, so later polls do not raise it as new.
    alerted = dash_duo.driver.execute_script(
        f"return JSON.parse(window.sessionStorage.getItem({ids.ALERTED!r}));"
    )
    assert "ep-crit" in alerted
    # Following it, the alert goes: the session on screen is not "another session" (the alert
    # stayed up over its own page until the next poll).
    link.click()
    dash_duo.wait_for_text_to_equal(f"#{ids.LIGHT_TEXT}", "live", timeout=15)
    wait_until(dash_duo, lambda: dash_duo.driver.execute_script(ALERTS_JS) == [], "no alert")
    assert dash_duo.get_logs() == []


EVENTS_JS = """
return Array.from(document.querySelectorAll('section.event-block'))
    .map(function (block) { return block.dataset.event; });
"""


def test_the_event_with_a_critical_comes_first_and_its_alert_floats_and_dismisses(
    served: Any, runtime: Runtime
) -> None:
    dash_duo = served
    dash_duo.driver.set_window_size(1440, 900)
    recent(runtime, "a-low", 0.2, event="evt-1")
    recent(runtime, "b-crit", 0.9, event="evt-2")
    recent(runtime, "b-other", 0.7, event="evt-2")
    dash_duo.wait_for_page(f"{dash_duo.server_url}/")
    # Without anomalies the event with the lowest score leads.
    wait_until(
        dash_duo,
        lambda: dash_duo.driver.execute_script(EVENTS_JS) == ["evt-1", "evt-2"],
        "the event with the lowest score first",
    )
    heading_top = dash_duo.find_element("h1").rect["y"]
    open_episode(runtime, "b-crit", "ep-b", "CRITICAL")
    wait_until(
        dash_duo,
        lambda: dash_duo.driver.execute_script(EVENTS_JS) == ["evt-2", "evt-1"],
        "the event with the CRITICAL first",
        timeout=20,
    )
    wait_until(dash_duo, lambda: dash_duo.driver.execute_script(ALERTS_JS) == ["ep-b"], "alert")
    # The alert floats over the corner: the page did not move down.
    assert dash_duo.find_element("h1").rect["y"] == heading_top
    box = dash_duo.find_element(".alerts-box").rect
    assert box["x"] + box["width"] <= 1440 and box["y"] < 100
    # A line on a fixed scale, described in words, replaces the block characters.
    line = dash_duo.find_element("tr[data-session='b-crit'] img.sparkline")
    assert line.get_attribute("alt").startswith("engagement over the last 5 minutes: 0.90")
    dash_duo.find_element(".alert-dismiss").click()
    wait_until(dash_duo, lambda: dash_duo.driver.execute_script(ALERTS_JS) == [], "dismissed")
    # The tab remembers the dismissal (a negated time), so later polls keep it away.
    alerted = dash_duo.driver.execute_script(
        f"return JSON.parse(window.sessionStorage.getItem({ids.ALERTED!r}));"
    )
    assert alerted["ep-b"] < 0
    assert dash_duo.get_logs() == []
