"""`/ws/live/<session_id>` over the network, without a browser: refusals and the protocol."""

from __future__ import annotations

import base64
import json
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import simple_websocket
from prometheus_client.parser import text_string_to_metric_families

from app.runtime import Runtime
from services.core.platform import SIGNAL_NAMES
from services.storage.metrics_store import ENDED
from tests.browser.support import (
    T0,
    publish,
    seed_session,
    stamps_from,
    tick_message,
    until,
    wait_for_subscribers,
)
from tests.live_client import connect_live


@pytest.fixture
def connect(server_url: str, runtime: Runtime) -> Iterator[Any]:
    clients: list[simple_websocket.Client] = []

    def open_socket(session_id: str) -> simple_websocket.Client:
        url = server_url.replace("http://", "ws://") + f"/ws/live/{session_id}"
        client = connect_live(url)
        clients.append(client)
        return client

    yield open_socket
    for client in clients:
        if client.connected:
            client.close()


def upgrade_headers() -> dict[str, str]:
    return {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
    }


def receive_json(client: simple_websocket.Client) -> dict[str, Any]:
    raw = client.receive(timeout=10)
    assert raw is not None, "no message within 10 s"
    return json.loads(raw)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/ws/live/%20leading-space", 400),
        ("/ws/live/" + "x" * 256, 400),
        ("/ws/live/bell%07char", 400),
        ("/ws/live/", 400),
        ("/ws/live/never-seen", 404),
    ],
)
def test_bad_sockets_are_refused_before_the_upgrade(
    server_url: str, runtime: Runtime, path: str, status: int
) -> None:
    with requests.Session() as http:
        response = http.get(server_url + path, headers=upgrade_headers(), timeout=10)
    assert response.status_code == status
    assert response.json()["error"]
    assert runtime.hub.socket_count == 0


@pytest.mark.parametrize("scheme", ["https", "ftp", "ws"])
def test_a_handshake_from_the_same_host_under_another_scheme_is_refused(
    server_url: str, runtime: Runtime, scheme: str
) -> None:
    """#16: the Origin check compared host:port only, so https:// and ftp:// pages passed."""
    seed_session(runtime, "sess-o", stamps=stamps_from(T0, 3))
    host = server_url.removeprefix("http://")
    headers = upgrade_headers() | {"Origin": f"{scheme}://{host}"}
    with requests.Session() as http:
        refused = http.get(server_url + "/ws/live/sess-o", headers=headers, timeout=10)
        assert refused.status_code == 403
        assert refused.json()["error"] == "this socket only serves pages of this server"
    # Its own origin is welcome.
    assert handshake(server_url, "/ws/live/sess-o", {"Origin": server_url}).startswith(
        "http/1.1 101"
    )


def test_plain_http_to_a_known_session_is_told_to_upgrade(
    server_url: str, runtime: Runtime
) -> None:
    seed_session(runtime, "sess-http")
    with requests.Session() as http:
        response = http.get(f"{server_url}/ws/live/sess-http", timeout=10)
    assert response.status_code == 426
    assert response.headers["Upgrade"] == "websocket"


def test_socket_backfills_forwards_answers_and_rebackfills(connect: Any, runtime: Runtime) -> None:
    sid = "sess/with slash"
    stamps = stamps_from(T0, 65)
    points = seed_session(runtime, sid, stamps=stamps, status=ENDED)
    client = connect("sess%2Fwith%20slash")

    backfill = receive_json(client)
    assert backfill["kind"] == "backfill"
    assert backfill["sessionId"] == sid
    assert backfill["status"] == ENDED
    assert backfill["feed"] == "up"
    assert [(p["timestamp"], p["score"]) for p in backfill["points"]] == [
        (p["timestamp"], p["score"]) for p in points[-60:]
    ]
    assert set(backfill["points"][0]["signals"]) == {*SIGNAL_NAMES, "poll_active"}

    client.send(json.dumps({"type": "ping"}))
    assert receive_json(client) == {"kind": "pong"}
    for bad, reason in [
        ("not json", "not valid JSON"),
        (json.dumps({"type": "subscribe"}), "unknown message type"),
        (json.dumps([1, 2]), "JSON object"),
        (json.dumps({"type": "ping", "pad": "x" * 5000}), "larger than 4096 bytes"),
        (b"\x00\x01", "binary frames"),
    ]:
        client.send(bad)
        reply = receive_json(client)
        assert reply["kind"] == "error"
        assert reason in reply["error"]
    assert client.connected

    wait_for_subscribers(runtime.hub, sid)
    tick = tick_message(sid, stamps[-1], 0.42)
    publish(runtime, sid, tick)
    assert receive_json(client) == tick

    # After the hub resubscribes it asks every socket to refetch what it may have missed.
    for sub in runtime.hub.subscriptions(sid):
        sub.messages.put('{"kind":"resync"}')
    again = receive_json(client)
    assert again["kind"] == "backfill"
    assert again["points"] == backfill["points"]


def test_an_overflowed_subscription_closes_the_socket(connect: Any, runtime: Runtime) -> None:
    seed_session(runtime, "sess-slow")
    client = connect("sess-slow")
    assert receive_json(client)["kind"] == "backfill"
    wait_for_subscribers(runtime.hub, "sess-slow")
    for sub in runtime.hub.subscriptions("sess-slow"):
        sub.overflowed = True
    with pytest.raises(simple_websocket.ConnectionClosed):
        client.receive(timeout=10)
    assert client.close_reason == 1013


def test_open_sockets_and_push_latency_are_scraped(
    connect: Any, runtime: Runtime, server_url: str
) -> None:
    """#15: /metrics counts this process's open sockets and times each tick from its score
    computed to its frame sent."""

    def scrape() -> dict[str, float]:
        body = requests.get(server_url + "/metrics", timeout=10).text
        return {
            sample.name: sample.value
            for family in text_string_to_metric_families(body)
            for sample in family.samples
            if not sample.labels
        }

    before = scrape()
    seed_session(runtime, "sess-m", stamps=stamps_from(T0, 3))
    client = connect("sess-m")
    assert receive_json(client)["kind"] == "backfill"
    wait_for_subscribers(runtime.hub, "sess-m")
    tick = tick_message("sess-m", T0, 0.5)
    publish(runtime, "sess-m", tick)
    assert receive_json(client) == tick
    during = scrape()
    prefix = "engagement_conductor_"
    assert during[prefix + "open_sockets"] == before[prefix + "open_sockets"] + 1
    count = prefix + "push_latency_seconds_count"
    assert during[count] == before[count] + 1
    latency = (
        during[prefix + "push_latency_seconds_sum"] - before[prefix + "push_latency_seconds_sum"]
    )
    assert 0 <= latency < 10
    client.close()
    until(
        lambda: scrape()[prefix + "open_sockets"] == before[prefix + "open_sockets"],
        timeout=10,
        msg="the closed socket still counted",
    )


def test_compression_offered_by_the_browser_is_declined(server_url: str, runtime: Runtime) -> None:
    """#15: permessage-deflate kept a zlib state per socket for its whole life, most of a
    socket's memory (161 KB each at 1,000 sockets, 50 without: bench/sockets.py)."""
    seed_session(runtime, "sess-z", stamps=stamps_from(T0, 3))
    offer = {"Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits"}
    head = handshake(server_url, "/ws/live/sess-z", offer)
    assert head.startswith("http/1.1 101")
    assert "sec-websocket-extensions" not in head


def handshake(server_url: str, path: str, extra: dict[str, str]) -> str:
    """The head of the server's answer to a browser's handshake (lower-cased); the socket, if
    opened, is closed at once."""
    host, port = server_url.removeprefix("http://").split(":")
    headers = upgrade_headers() | {"Host": f"{host}:{port}"} | extra
    request = f"GET {path} HTTP/1.1\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in headers.items()
    )
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall((request + "\r\n").encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += conn.recv(4096)
        head = answer.split(b"\r\n\r\n")[0].decode().lower()
        if head.startswith("http/1.1 101"):
            conn.sendall(bytes([0x88, 0x80]) + os.urandom(4))  # a masked close
    return head
