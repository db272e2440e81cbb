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
    assert dash_duo.get_logs() == []
