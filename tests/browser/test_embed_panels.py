"""Iframe panels in a real browser, framed by pages of other origins: the allowed origin's page
shows the panel, live, signed in by a one-time token; another origin's page is blocked by the
browser itself (frame-ancestors)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from dash.testing.application_runners import ThreadedRunner
from dash.testing.wait import until
from selenium.webdriver.common.by import By

from app.factory import create_app
from app.runtime import Runtime
from components import ids
from services.access.tokens import EmbedResource, Role, mint_token
from services.agent.desk import SessionContext
from services.core.settings import Settings
from tests.browser.support import (
    CHART_JS,
    anomaly_message,
    episode,
    publish,
    seed_session,
    stamps_from,
    started_runtime,
    tick_message,
    wait_for_request_threads,
    wait_for_subscribers,
    wait_until,
)
from tests.redis_server import free_port

pytestmark = pytest.mark.browser

SECRET = "p" * 40
SIGNAL_JS = f"return window.dash_component_api.getLayout({ids.EMBED_SIGNAL!r}).props.data;"


class HostPages:
    """A web server of another origin whose one page frames each of `frames`."""

    def __init__(self) -> None:
        self.frames: list[str] = []
        pages = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                frames = "".join(
                    f'<iframe id="panel-{n}" src="{src}" width="640" height="300"></iframe>'
                    for n, src in enumerate(pages.frames)
                )
                body = f"<!doctype html><title>platform</title><h1>Platform page</h1>{frames}"
                body = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def platform() -> Iterator[HostPages]:
    pages = HostPages()
    yield pages
    pages.close()


@pytest.fixture
def stranger() -> Iterator[HostPages]:
    pages = HostPages()
    yield pages
    pages.close()


@pytest.fixture
def runtime(make_settings: Callable[..., Settings], platform: HostPages) -> Iterator[Runtime]:
    settings = make_settings(
        tick_seconds=1, auth_secret=SECRET, embed_allowed_origins=platform.origin
    )
    yield from started_runtime(settings, with_collector=False)


@pytest.fixture
def panel_server(runtime: Runtime, dash_thread_server: ThreadedRunner) -> Iterator[str]:
    """The app's URL. Its pages all need a sign-in, so dash_duo (which opens `/` at start)
    cannot serve it; tests take `dash_br` after this fixture, so the browser, and with it any
    idle keep-alive connection of a frame, is gone before the server is checked for threads."""
    dash_thread_server.start(create_app(runtime), port=free_port())
    yield dash_thread_server.url.rstrip("/")
    until(lambda: runtime.hub.socket_count == 0, timeout=10, msg="sockets stayed open")
    wait_for_request_threads()


def panel_url(server_url: str, resource: str) -> str:
    token = mint_token(SECRET, Role.EMBED, ["evt-1"], 60, EmbedResource.parse(resource))
    return f"{server_url}/embed/{resource}?token={token}"


def test_an_allowed_origin_frames_a_live_panel_and_another_is_blocked(
    panel_server: str, dash_br: Any, runtime: Runtime, platform: HostPages, stranger: HostPages
) -> None:
    dash_duo, server_url = dash_br, panel_server
    driver = dash_duo.driver
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    seed_session(runtime, "s-1", "evt-1", stamps=stamps_from(start, 6))

    platform.frames = [panel_url(server_url, "live/s-1")]
    driver.get(platform.origin + "/")
    driver.switch_to.frame(driver.find_element(By.ID, "panel-0"))
    # "live" needs the panel's Dash requests and its socket to carry the partitioned cookie.
    dash_duo.wait_for_text_to_equal(f"#{ids.LIGHT_TEXT}", "live", timeout=20)
    assert "token=" not in driver.execute_script("return location.href")
    assert driver.find_elements(By.CSS_SELECTOR, ".nav") == []
    wait_until(
        dash_duo,
        lambda: len((driver.execute_script(CHART_JS) or {}).get("x", [])) == 6,
        "the backfill never reached the framed chart",
    )
    wait_for_subscribers(runtime.hub, "s-1")
    pushed = start + timedelta(seconds=30)
    publish(runtime, "s-1", tick_message("s-1", pushed, 0.87))
    wait_until(
        dash_duo,
        lambda: (driver.execute_script(CHART_JS) or {}).get("x", [None])[-1] == pushed.isoformat(),
        "a pushed point never reached the framed chart",
    )
    dash_duo.wait_for_text_to_equal(f"#{ids.SCORE_VALUE}", "0.87")
    driver.switch_to.default_content()
    assert dash_duo.get_logs() == []

    stranger.frames = [panel_url(server_url, "live/s-1")]
    driver.get(stranger.origin + "/")
    dash_duo.wait_for_text_to_equal("h1", "Platform page")

    def refusal() -> list[str]:
        return [
            entry["message"]
            for entry in driver.get_log("browser")
            if "frame-ancestors" in entry["message"]
        ]

    refused: list[str] = []
    wait_until(dash_duo, lambda: refused.extend(refusal()) or refused, "no framing refusal")
    assert platform.origin in refused[0]
    driver.switch_to.frame(driver.find_element(By.ID, "panel-0"))
    assert driver.find_elements(By.CSS_SELECTOR, ".embed-panel") == []


def test_panels_side_by_side_each_sign_in_and_follow_their_session(
    panel_server: str, dash_br: Any, runtime: Runtime, platform: HostPages
) -> None:
    """Three frames redeem their tokens at the same moment: each keeps its own cookie."""
    driver = dash_br.driver
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    seed_session(runtime, "s-1", "evt-1", stamps=stamps_from(start, 6))
    seed_session(runtime, "s-2", "evt-1", stamps=stamps_from(start, 6))
    panels = ["anomalies/s-1", "interventions/s-1", "event/evt-1"]
    platform.frames = [panel_url(panel_server, panel) for panel in panels]
    driver.get(platform.origin + "/")

    def inside(n: int) -> None:
        driver.switch_to.default_content()
        driver.switch_to.frame(driver.find_element(By.ID, f"panel-{n}"))

    inside(2)
    wait_until(
        dash_br,
        lambda: (
            {
                row.get_attribute("data-session")
                for row in driver.find_elements(By.CSS_SELECTOR, "tr.overview-row")
            }
            == {"s-1", "s-2"}
        ),
        "the event tile never listed the event's sessions",
    )
    inside(0)
    dash_br.wait_for_text_to_equal(f"#{ids.LIGHT_TEXT}", "live", timeout=20)
    inside(1)
    dash_br.wait_for_text_to_equal(f"#{ids.LIGHT_TEXT}", "live", timeout=20)
    dash_br.wait_for_contains_text(f"#{ids.EMBED_BODY}", "No interventions")
    until(lambda: len(runtime.hub.subscriptions("s-1")) >= 2, timeout=10)

    ep = episode("s-1", "ep-embed", datetime.now(UTC).replace(microsecond=0), kind="MASS_EXIT")
    publish(runtime, "s-1", anomaly_message("started", ep))
    context = SessionContext("s-1", "evt-1", engagement=0.3, present_users=80, chat_per_min=2.0)
    proposed = runtime.desk.propose(context, "MASS_EXIT", -0.4, "ep-embed", "Many left at once")
    assert proposed is not None
    # The log is re-read when the push arrives, long before its interval refresh.
    inside(1)
    dash_br.wait_for_element(f"tr[data-intervention='{proposed.intervention_id}']", timeout=4)
    # Regression: stores have no element, so live.js never set the signal and only the
    # interval refresh brought new interventions.
    assert driver.execute_script(SIGNAL_JS) > 0
    inside(0)
    dash_br.wait_for_contains_text(f"#{ids.ANOMALY_LIST}", "Mass exit")
    driver.switch_to.default_content()
    assert dash_br.get_logs() == []
