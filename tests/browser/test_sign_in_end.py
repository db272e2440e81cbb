"""A live socket ends with its sign-in (#16): signed out on any worker, or expired, it is
closed with 4401 and the reason, and the live page stops reconnecting and says so. (Before, a
ttl-8 s token's socket still received ticks at 32 s.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import simple_websocket
from selenium.webdriver.support.ui import WebDriverWait

from app.access import COOKIE_NAME
from app.live_socket import SIGN_IN_ENDED
from app.runtime import Runtime
from components import ids
from services.access.tokens import Role, mint_token
from services.core.settings import Settings
from tests.browser.support import T0, ec_live, seed_session, stamps_from, started_runtime
from tests.live_client import connect_live
from tests.waiting import wait_until

SECRET = "w" * 40


@pytest.fixture
def runtime(make_settings: Callable[..., Settings]) -> Iterator[Runtime]:
    yield from started_runtime(make_settings(auth_secret=SECRET), with_collector=False)


def signed_in(server_url: str, ttl: int) -> requests.Session:
    http = requests.Session()
    token = mint_token(SECRET, Role.PRODUCER, ["evt-1"], ttl)
    assert http.get(f"{server_url}/?token={token}", timeout=10).status_code == 200
    return http


def cookie_of(http: requests.Session) -> str:
    # The sign-in's redirect sets the cookie again: the last one is the browser's.
    return [c.value for c in http.cookies if c.name == COOKIE_NAME][-1]


def socket_of(server_url: str, cookie: str) -> simple_websocket.Client:
    client = connect_live(
        server_url.replace("http://", "ws://") + "/ws/live/s-1",
        headers={"Cookie": f"{COOKIE_NAME}={cookie}"},
    )
    assert client.receive(timeout=10) is not None  # the backfill
    return client


def closed_with(client: simple_websocket.Client) -> tuple[int, str]:
    def ended() -> tuple[int, str] | None:
        try:
            client.receive(timeout=0.5)
        except simple_websocket.ConnectionClosed as closed:
            return closed.reason, closed.message
        return None

    return wait_until(ended, timeout=15, what="the socket to be closed")


def test_signing_out_closes_the_sign_ins_sockets_at_once(server_url: str, runtime: Runtime) -> None:
    seed_session(runtime, "s-1", stamps=stamps_from(T0, 3))
    http = signed_in(server_url, 3600)
    cookie = cookie_of(http)
    client = socket_of(server_url, cookie)
    bystander = socket_of(server_url, cookie_of(signed_in(server_url, 3600)))
    assert http.post(f"{server_url}/sign-out", timeout=10).status_code == 200
    assert closed_with(client) == (SIGN_IN_ENDED, "signed out: open a new sign-in link")
    assert bystander.connected  # another sign-in's socket stays
    bystander.close()
    with pytest.raises(simple_websocket.ConnectionError):
        socket_of(server_url, cookie)  # a copy of the cookie is refused at the handshake now


def test_a_socket_closes_when_its_sign_in_expires(server_url: str, runtime: Runtime) -> None:
    seed_session(runtime, "s-1", stamps=stamps_from(T0, 3))
    client = socket_of(server_url, cookie_of(signed_in(server_url, 3)))
    code, reason = closed_with(client)
    assert (code, reason) == (SIGN_IN_ENDED, "your sign-in expired: open a new sign-in link")


def test_the_live_page_stops_and_says_so_when_its_sign_in_is_signed_out(
    server_url: str, dash_br: Any, runtime: Runtime
) -> None:
    """Taken after `server_url`, the browser is gone before the server is checked."""
    dash_duo = dash_br
    seed_session(runtime, "s-1", stamps=stamps_from(T0, 3))
    token = mint_token(SECRET, Role.PRODUCER, ["evt-1"], 3600)
    dash_duo.driver.get(f"{server_url}/live/s-1?token={token}")
    WebDriverWait(dash_duo.driver, 15).until(
        lambda _: ec_live(dash_duo, "lightHistory")[-1:] == ["live"], "the page did not go live"
    )
    # Signed out elsewhere (another tab, another worker): the socket closes with 4401.
    dash_duo.driver.execute_script(
        "fetch('/sign-out', {method: 'POST', credentials: 'same-origin'});"
    )
    dash_duo.wait_for_contains_text(
        f"#{ids.LIVE_BANNER}", "The live feed stopped: signed out", timeout=15
    )
    dash_duo.wait_for_text_to_equal(f"#{ids.LIGHT_TEXT}", "offline", timeout=5)
    # It does not knock again: one socket, closed, and no retry scheduled.
    assert ec_live(dash_duo, "lightHistory")[-1] == "offline"
    assert ec_live(dash_duo, "socket") is None
