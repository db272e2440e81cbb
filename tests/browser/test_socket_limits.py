"""Live-socket limits over the network: a sign-in past its limit gets a socket closed with
4429 and the reason, a closed socket frees its place, and pages and /health/ready are served
all the while. (Regression: one cookie opened 2,000 sockets and the server stopped answering.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import requests
import simple_websocket

from app.runtime import Runtime
from services.core.settings import Settings
from services.live.socket_quota import SOCKET_REFUSED
from tests.browser.support import T0, seed_session, stamps_from, started_runtime
from tests.live_client import connect_live
from tests.waiting import wait_until


@pytest.fixture
def runtime(make_settings: Callable[..., Settings]) -> Iterator[Runtime]:
    settings = make_settings(tick_seconds=1, sockets_per_sign_in=2)
    yield from started_runtime(settings, with_collector=False)


def test_a_sign_in_past_its_limit_is_refused_and_pages_stay_up(
    server_url: str, runtime: Runtime
) -> None:
    seed_session(runtime, "s-1", stamps=stamps_from(T0, 3))
    url = server_url.replace("http://", "ws://") + "/ws/live/s-1"
    first, second = connect_live(url), connect_live(url)
    try:
        for client in (first, second):
            assert client.receive(timeout=10) is not None  # the backfill
        with pytest.raises(simple_websocket.ConnectionClosed) as closed:
            third = connect_live(url)
            third.receive(timeout=10)
        assert closed.value.reason == SOCKET_REFUSED
        assert closed.value.message == "this sign-in has 2 live sockets open already"
        with requests.Session() as http:
            assert http.get(server_url + "/", timeout=10).status_code == 200
            assert http.get(server_url + "/health/ready", timeout=10).status_code == 200
            mine = http.get(server_url + "/health", timeout=10).json()["this_process"]
        assert mine["open_sockets"] == 2 and mine["refused_sockets"] == 1
        first.close()
        with requests.Session() as http:
            wait_until(
                lambda: (
                    http.get(server_url + "/health", timeout=10).json()["this_process"][
                        "open_sockets"
                    ]
                    == 1
                ),
                what="the closed socket's place freed",
            )
        fourth = connect_live(url)
        assert fourth.receive(timeout=10) is not None  # the freed place is taken
        fourth.close()
    finally:
        for client in (first, second):
            if client.connected:
                client.close()
