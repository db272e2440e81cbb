"""Pages in a real browser: overview, navigation, and the states that explain themselves."""

from __future__ import annotations

from typing import Any

import pytest
from selenium.webdriver.support.ui import WebDriverWait

from app.runtime import Runtime
from components import ids
from components.live_page import ENDED_MESSAGE, NO_LIVE_SESSIONS, format_score
from services.storage.metrics_store import ENDED
from tests.browser.support import T0, ec_live, open_live, seed_session, stamps_from

pytestmark = pytest.mark.browser


def page_text(dash_duo: Any) -> str:
    return dash_duo.find_element(f"#{ids.PAGE}").text


def test_overview_says_the_collector_is_waiting_when_nothing_is_live(served: Any) -> None:
    dash_duo = served
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/")
    dash_duo.wait_for_contains_text(f"#{ids.HOME_BODY}", NO_LIVE_SESSIONS)
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/live")
    dash_duo.wait_for_contains_text(f"#{ids.PAGE}", "waiting for events on the platform streams")
    assert dash_duo.get_logs() == []


def test_unknown_invalid_and_missing_pages_say_so(served: Any) -> None:
    dash_duo = served
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/live/no-such-session")
    dash_duo.wait_for_contains_text(
        f"#{ids.PAGE}", "Waiting for the first score of session “no-such-session”"
    )
    # No socket is opened for a session that does not exist.
    assert ec_live(dash_duo, "socket") is None
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/live/%20padded")
    dash_duo.wait_for_contains_text(f"#{ids.PAGE}", "is not a valid session id")
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/no/such/page")
    dash_duo.wait_for_contains_text(f"#{ids.PAGE}", "Page not found")
    assert "/no/such/page" in page_text(dash_duo)
    assert dash_duo.get_logs() == []


def test_ended_session_shows_its_last_window_and_says_it_ended(
    served: Any, runtime: Runtime
) -> None:
    dash_duo = served
    points = seed_session(runtime, "sess-over", stamps=stamps_from(T0, 8), status=ENDED)
    open_live(dash_duo, "sess-over")
    dash_duo.wait_for_text_to_equal(f"#{ids.LIVE_BANNER}", ENDED_MESSAGE)
    dash_duo.wait_for_text_to_equal(f"#{ids.SCORE_VALUE}", format_score(points[-1]["score"]))
    assert dash_duo.get_logs() == []


def test_overview_lists_live_sessions_and_links_to_their_live_page(
    served: Any, runtime: Runtime
) -> None:
    dash_duo = served
    seed_session(runtime, "sess-a", "evt-1", stamps_from(T0, 3), score_of=lambda _: 0.85)
    seed_session(runtime, "sess-b", "evt-2", stamps_from(T0, 3), score_of=lambda _: 0.31)
    seed_session(runtime, "sess-gone", "evt-2", stamps_from(T0, 3), status=ENDED)
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/")
    dash_duo.wait_for_contains_text(f"#{ids.HOME_BODY}", "sess-b")
    body = dash_duo.find_element(f"#{ids.HOME_BODY}").text
    assert "evt-1" in body and "evt-2" in body
    assert "0.85" in body and "VERY_HIGH" in body and "0.31" in body and "LOW" in body
    assert "sess-gone" not in body

    dash_duo.find_element("a[href='/live/sess-a']").click()
    dash_duo.wait_for_text_to_equal(f"#{ids.LIGHT_TEXT}", "live", timeout=15)
    dash_duo.wait_for_text_to_equal(f"#{ids.SCORE_VALUE}", "0.85")
    dash_duo.wait_for_text_to_equal(f"#{ids.SCORE_CATEGORY}", "VERY_HIGH")
    assert dash_duo.driver.current_url.endswith("/live/sess-a")
    assert dash_duo.get_logs() == []


def test_choosing_a_session_navigates_and_moves_the_socket(served: Any, runtime: Runtime) -> None:
    dash_duo = served
    seed_session(runtime, "sess-one", "evt-1", stamps_from(T0, 3), score_of=lambda _: 0.65)
    seed_session(runtime, "sess-two", "evt-1", stamps_from(T0, 3), score_of=lambda _: 0.15)
    open_live(dash_duo, "sess-one")
    dash_duo.wait_for_text_to_equal(f"#{ids.SCORE_VALUE}", "0.65")
    dash_duo.select_dcc_dropdown(f"#{ids.SESSION_PICK}", "sess-two · 0.15 VERY_LOW · 20 present")
    WebDriverWait(dash_duo.driver, 10).until(
        lambda driver: driver.current_url.endswith("/live/sess-two")
    )
    dash_duo.wait_for_text_to_equal(f"#{ids.SCORE_VALUE}", "0.15")
    dash_duo.wait_for_text_to_equal(f"#{ids.LIGHT_TEXT}", "live", timeout=15)
    WebDriverWait(dash_duo.driver, 10).until(
        lambda driver: (
            driver.execute_script("return window.ecLive.socket && window.ecLive.socket.url;") or ""
        ).endswith("/ws/live/sess-two")
    )
    # The first page's socket was closed, not left running beside the new one.
    WebDriverWait(dash_duo.driver, 10).until(lambda _: runtime.hub.socket_count == 1)
    assert dash_duo.get_logs() == []
