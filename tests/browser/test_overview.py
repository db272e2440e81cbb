"""The event overview and the critical alerts in a real browser, plus the overview's pure parts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.runtime import Runtime
from components import ids
from services.storage.overview import sparkline
from services.storage.schema import anomalies
from tests.browser.support import anomaly_row, episode, seed_session, stamps_from, wait_until

ROWS_JS = """
return Array.from(document.querySelectorAll('tr.overview-row'))
    .map(function (row) { return row.dataset.session; });
"""
ALERTS_JS = f"""
return Array.from(document.querySelectorAll('#{ids.ALERTS} .critical-alert'))
    .map(function (a) {{ return a.dataset.episode; }});
"""


def test_sparkline_draws_scores_as_blocks() -> None:
    assert sparkline([]) == ""
    assert sparkline([0.0, 1.0]) == "▁█"
    assert len(sparkline([0.5] * 60)) == 20
    assert sparkline([0.0, float("nan"), float("inf"), 1.0]) == "▁█"  # review: NaN crashed it


def recent(runtime: Runtime, sid: str, score: float, event: str = "evt-1") -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=60)
    seed_session(runtime, sid, event, stamps=stamps_from(start, 12), score_of=lambda _: score)


def open_episode(runtime: Runtime, sid: str, episode_id: str, severity: str) -> None:
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=20)
    ep = episode(sid, episode_id, started) | {"severity": severity, "endedAt": None}
    with runtime.engine.begin() as conn:
        conn.execute(anomalies.insert().values(**anomaly_row(ep)))


def test_sessions_are_ordered_by_attention(runtime: Runtime) -> None:
    recent(runtime, "calm", 0.8)
    recent(runtime, "low", 0.2)
    recent(runtime, "warned", 0.7)
    recent(runtime, "critical", 0.9)
    open_episode(runtime, "warned", "ep-w", "WARNING")
    open_episode(runtime, "critical", "ep-c", "CRITICAL")
    records = runtime.store.list_sessions()
    glances = runtime.stores.overview.glance(records, datetime.now(UTC))
    assert [g.record.session_id for g in glances] == ["critical", "warned", "low", "calm"]
    assert len(glances[0].trend) == 12 and glances[0].mode == "MANUAL"


@pytest.mark.browser
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
