"""Light delivery in a real browser: the live page draws with the vendored plotly.js bundle and
never fetches Dash's full one, over compressed responses and a working WebSocket; the agent's
panels poll slowly unless a suggestion's countdown is running."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import dash
import pytest
from plotly.offline import get_plotlyjs_version

from app.delivery import LIGHT, Delivery
from app.factory import create_app
from app.runtime import Runtime
from components import ids
from components.agent_panel import NO_PENDING
from components.live_page import AGENT_IDLE_REFRESH_MS
from services.agent.desk import SessionContext
from tests.browser.support import chart, open_live, seed_session, stamps_from, wait_until

pytestmark = pytest.mark.browser

SID = "sess-light"
POINTS = 30
FULL_BUNDLE = "/_dash-component-suites/plotly/package_data/plotly.min.js"
VENDORED = f"/assets/vendor/plotly-basic-{get_plotlyjs_version()}.min.js"
HEAVY = Delivery(compress=False, partial_plotly=False)

SCRIPTS_JS = """
return performance.getEntriesByType("resource")
    .filter(function (r) { return r.initiatorType === "script"; })
    .map(function (r) { return new URL(r.name).pathname; });
"""
REFRESH_JS = f"""
var found = window.dash_component_api.getLayout({json.dumps(ids.AGENT_REFRESH)});
return found ? found.props.interval : null;
"""


@pytest.fixture
def live_app(runtime: Runtime, request: pytest.FixtureRequest) -> dash.Dash:
    return create_app(runtime, getattr(request, "param", LIGHT))


def open_seeded(dash_duo: Any, runtime: Runtime) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5 * POINTS)
    seed_session(runtime, SID, stamps=stamps_from(start, POINTS))
    open_live(dash_duo, SID)
    wait_until(dash_duo, lambda: len((chart(dash_duo) or {}).get("x", [])) == POINTS, "the chart")
    drawn = dash_duo.find_elements(".js-plotly-plot .scatterlayer .trace .point")
    assert len(drawn) == POINTS


def scripts(dash_duo: Any) -> list[str]:
    return dash_duo.driver.execute_script(SCRIPTS_JS)


def test_the_live_page_draws_with_the_vendored_plotly_only(served: Any, runtime: Runtime) -> None:
    dash_duo = served
    open_seeded(dash_duo, runtime)
    loaded = scripts(dash_duo)
    assert VENDORED in loaded
    assert FULL_BUNDLE not in loaded
    assert dash_duo.driver.execute_script("return window.Plotly.version") == (
        get_plotlyjs_version()
    )
    assert dash_duo.get_logs() == []


@pytest.mark.parametrize("live_app", [HEAVY], indirect=True)
def test_without_the_vendored_bundle_dash_fetches_its_full_one(
    served: Any, runtime: Runtime
) -> None:
    """The check above can fail: this is what it sees when the bundle is not vendored."""
    dash_duo = served
    open_seeded(dash_duo, runtime)
    loaded = scripts(dash_duo)
    assert FULL_BUNDLE in loaded
    assert VENDORED not in loaded
    assert dash_duo.get_logs() == []


def test_the_agent_polls_fast_only_while_a_suggestion_waits(served: Any, runtime: Runtime) -> None:
    dash_duo = served
    open_seeded(dash_duo, runtime)
    dash_duo.wait_for_text_to_equal(f"#{ids.AGENT_PENDING}", NO_PENDING)
    assert dash_duo.driver.execute_script(REFRESH_JS) == AGENT_IDLE_REFRESH_MS
    session = SessionContext(SID, "evt-1", engagement=0.3, present_users=120, chat_per_min=4.0)
    record = runtime.desk.propose(session, "SUDDEN_DROP", -0.5, "ep-1", "Chat fell to 2/min")
    # Well within the idle interval: the push brought it.
    dash_duo.wait_for_element(f".suggestion-card[data-intervention='{record.intervention_id}']")
    refresh_ms = runtime.refresh_ms
    wait_until(
        dash_duo,
        lambda: dash_duo.driver.execute_script(REFRESH_JS) == refresh_ms,
        "the countdown's pace",
    )
    runtime.desk.dismiss(record.intervention_id, "evt-1", "a test")
    dash_duo.wait_for_text_to_equal(f"#{ids.AGENT_PENDING}", NO_PENDING)
    wait_until(
        dash_duo,
        lambda: dash_duo.driver.execute_script(REFRESH_JS) == AGENT_IDLE_REFRESH_MS,
        "the idle pace again",
    )
    assert dash_duo.get_logs() == []
