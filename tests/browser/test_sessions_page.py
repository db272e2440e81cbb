"""Analysts' past sessions in a real browser: filters live in the URL (a link reproduces the
view), headers sort, pages page, and the drill-down draws the session."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from app.runtime import Runtime
from components import ids
from components.sessions_page import SIGNAL_AXIS_TITLE
from services.storage.schema import anomalies, sessions
from services.storage.session_stats import SessionStatsRollup
from tests.browser.support import (
    T0,
    anomaly_row,
    episode,
    seed_session,
    stamps_from,
    wait_until,
)

pytestmark = pytest.mark.browser

ROWS_JS = f"""
return Array.from(document.querySelectorAll('#{ids.SESSIONS_TABLE} tr.session-row'))
    .map(function (row) {{ return row.cells[0].innerText; }});
"""


def rows(dash_duo: Any) -> list[str]:
    return dash_duo.driver.execute_script(ROWS_JS) or []


def header_text(dash_duo: Any) -> str:
    return dash_duo.driver.execute_script(
        f"var a = document.querySelector('#{ids.SESSIONS_TABLE} th a');return a ? a.innerText : '';"
    )


def click_first_header(dash_duo: Any) -> None:
    # Queried at the moment of the click: the table is re-rendered after every navigation.
    dash_duo.driver.execute_script(f"document.querySelector('#{ids.SESSIONS_TABLE} th a').click();")


def seed(runtime: Runtime) -> None:
    """Three ended sessions an hour apart, each two minutes long."""
    for n, sid in enumerate(("talk-alpha", "talk-beta", "panel-gamma")):
        start = T0 + timedelta(hours=n)
        seed_session(runtime, sid, "evt-1", stamps=stamps_from(start, 24), status="ended")
        with runtime.engine.begin() as conn:
            conn.execute(
                sa.update(sessions).where(sessions.c.session_id == sid).values(first_seen=start)
            )


def test_filters_round_trip_through_the_url_and_headers_sort(served: Any, runtime: Runtime) -> None:
    dash_duo = served
    seed(runtime)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/sessions")
    wait_until(dash_duo, lambda: len(rows(dash_duo)) == 3, "all three sessions listed")
    dash_duo.find_element(f"#{ids.SESSIONS_QUERY}").send_keys("talk")
    dash_duo.find_element(f"#{ids.SESSIONS_APPLY}").click()
    wait_until(dash_duo, lambda: sorted(rows(dash_duo)) == ["talk-alpha", "talk-beta"], "filter")
    assert "q=talk" in dash_duo.driver.current_url
    # The URL alone reproduces the view.
    dash_duo.wait_for_page(dash_duo.driver.current_url)
    wait_until(dash_duo, lambda: sorted(rows(dash_duo)) == ["talk-alpha", "talk-beta"], "reload")
    assert dash_duo.find_element(f"#{ids.SESSIONS_QUERY}").get_attribute("value") == "talk"
    # Sorting by session, then flipping the order.
    click_first_header(dash_duo)
    wait_until(dash_duo, lambda: rows(dash_duo) == ["talk-beta", "talk-alpha"], "sorted desc")
    wait_until(dash_duo, lambda: "▼" in header_text(dash_duo), "the sort arrow drawn")
    click_first_header(dash_duo)
    wait_until(dash_duo, lambda: rows(dash_duo) == ["talk-alpha", "talk-beta"], "sorted asc")
    assert "q=talk" in dash_duo.driver.current_url and "order=asc" in dash_duo.driver.current_url
    # A bad filter in a hand-edited link is explained, not a crash.
    dash_duo.wait_for_page(f"{dash_duo.server_url}/sessions?from=yesterday")
    dash_duo.wait_for_contains_text(".sessions-page", "These filters cannot be used")
    assert dash_duo.get_logs() == []


def test_the_drill_down_draws_the_session_at_the_chosen_bucket(
    served: Any, runtime: Runtime
) -> None:
    dash_duo = served
    seed(runtime)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/sessions/talk-alpha?bucket=raw")
    dash_duo.wait_for_element(f"#{ids.SESSION_GRAPH} .js-plotly-plot")

    def points() -> int:
        return dash_duo.driver.execute_script(
            f"var gd = document.querySelector('#{ids.SESSION_GRAPH} .js-plotly-plot');"
            "return gd && gd.data ? gd.data[0].x.length : -1;"
        )

    wait_until(dash_duo, lambda: points() == 24, "24 raw points")
    dash_duo.find_element(".bucket-pick a").click()  # the first other bucket: 1 min
    minutes = {at.replace(second=0) for at in stamps_from(T0, 24)}
    wait_until(dash_duo, lambda: points() == len(minutes), "one point per minute")

    # The signal axis shows no scale until a signal is picked in the legend, then its own.
    def signal_axis() -> Any:
        return dash_duo.driver.execute_script(
            f"var gd = document.querySelector('#{ids.SESSION_GRAPH} .js-plotly-plot');"
            "return [gd.layout.yaxis2.showticklabels, gd.layout.yaxis2.title.text];"
        )

    assert signal_axis() == [False, ""]
    chat = next(
        item
        for item in dash_duo.find_elements(f"#{ids.SESSION_GRAPH} .legend .traces")
        if item.text == "chat / min"
    )
    chat.click()
    wait_until(dash_duo, lambda: signal_axis() == [True, SIGNAL_AXIS_TITLE], "the scale shown")
    assert dash_duo.get_logs() == []


def test_sessions_overlay_by_time_since_start(served: Any, runtime: Runtime) -> None:
    dash_duo = served
    seed(runtime)
    seed_session(runtime, "other-event", "evt-2", stamps=stamps_from(T0, 24), status="ended")
    dash_duo.wait_for_page(f"{dash_duo.server_url}/sessions/talk-alpha?bucket=raw")
    dash_duo.wait_for_element(f"#{ids.SESSION_COMPARE}")
    # Picked from a list of the other sessions, newest first, labelled with their start.
    dash_duo.find_element(f"#{ids.SESSION_COMPARE}").click()
    dash_duo.wait_for_element(".dash-dropdown-option")
    offered = [o.text for o in dash_duo.find_elements(".dash-dropdown-option")]
    assert any(o.startswith("talk-beta · started") for o in offered), offered
    assert not any(o.startswith("talk-alpha") for o in offered), offered
    for wanted in ("talk-beta", "panel-gamma"):
        option = next(
            o for o in dash_duo.find_elements(".dash-dropdown-option") if o.text.startswith(wanted)
        )
        option.click()
    ActionChains(dash_duo.driver).send_keys(Keys.ESCAPE).perform()
    dash_duo.find_element(f"#{ids.SESSION_ALIGN} input[value='start']").click()
    dash_duo.find_element(f"#{ids.SESSION_COMPARE_APPLY}").click()

    def score_lines() -> list[Any]:
        return dash_duo.driver.execute_script(
            f"var gd = document.querySelector('#{ids.SESSION_GRAPH} .js-plotly-plot');"
            "if (!gd || !gd.data) { return []; }"
            "return gd.data.filter(function (t) { return !t.yaxis && t.mode === 'lines'; })"
            ".map(function (t) { return [t.name, t.x[0], t.x[t.x.length - 1]]; });"
        )

    # Three sessions, hours apart on the clock, all starting at minute 0 when aligned.
    wait_until(dash_duo, lambda: len(score_lines()) == 3, "three score lines")
    assert [line[0] for line in score_lines()] == ["talk-alpha", "talk-beta", "panel-gamma"]
    assert all(
        line[1] == 0 and line[2] == pytest.approx(115 / 60, abs=0.01) for line in score_lines()
    )
    assert (
        "align=start" in dash_duo.driver.current_url and "bucket=raw" in dash_duo.driver.current_url
    )
    assert dash_duo.get_logs() == []


def test_score_and_anomaly_filters_round_trip_and_sort(served: Any, runtime: Runtime) -> None:
    dash_duo = served
    for n, (sid, score) in enumerate((("quiet", 0.2), ("steady", 0.5), ("lively", 0.8))):
        start = T0 + timedelta(minutes=n)
        seed_session(
            runtime, sid, "evt-1", stamps=stamps_from(start, 24), score_of=lambda _, s=score: s
        )
    low = episode("quiet", "ep-low", T0) | {"type": "LOW_ENGAGEMENT"}
    with runtime.engine.begin() as conn:
        conn.execute(anomalies.insert().values(**anomaly_row(low)))
    SessionStatsRollup(runtime.engine).catch_up(T0 + timedelta(hours=1))

    dash_duo.wait_for_page(f"{dash_duo.server_url}/sessions")
    wait_until(dash_duo, lambda: len(rows(dash_duo)) == 3, "all three sessions listed")
    dash_duo.find_element(f"#{ids.SESSIONS_AVG_MIN}").send_keys("0.4")
    dash_duo.find_element(f"#{ids.SESSIONS_APPLY}").click()
    wait_until(dash_duo, lambda: sorted(rows(dash_duo)) == ["lively", "steady"], "avg filter")
    assert "avg_min=0.4" in dash_duo.driver.current_url
    # Sorting by average keeps the filter.
    dash_duo.driver.execute_script(
        f"Array.from(document.querySelectorAll('#{ids.SESSIONS_TABLE} th a'))"
        ".find(function (a) { return a.innerText.startsWith('Avg score'); }).click();"
    )
    wait_until(dash_duo, lambda: rows(dash_duo) == ["lively", "steady"], "sorted by average")
    assert "sort=avg_score" in dash_duo.driver.current_url

    dash_duo.wait_for_page(f"{dash_duo.server_url}/sessions")
    wait_until(dash_duo, lambda: len(rows(dash_duo)) == 3, "all listed again")
    dash_duo.select_dcc_dropdown(f"#{ids.SESSIONS_ANOMALY}", "Low engagement")
    dash_duo.find_element(f"#{ids.SESSIONS_APPLY}").click()
    wait_until(dash_duo, lambda: rows(dash_duo) == ["quiet"], "anomaly filter")
    assert "anomaly=LOW_ENGAGEMENT" in dash_duo.driver.current_url
    # The link alone reproduces it, the choice shown in its control.
    dash_duo.wait_for_page(dash_duo.driver.current_url)
    wait_until(dash_duo, lambda: rows(dash_duo) == ["quiet"], "reloaded")
    dash_duo.wait_for_contains_text(f"#{ids.SESSIONS_ANOMALY}", "Low engagement")
    dash_duo.wait_for_page(f"{dash_duo.server_url}/sessions?below=0.37&below_minutes=1")
    dash_duo.wait_for_contains_text(".sessions-page", "multiples of 0.05")
    assert dash_duo.get_logs() == []
