"""The test client's own regression: frames that arrive with the handshake answer are not held
back (simple_websocket alone waits for the next bytes, which for an idle feed is the 25-s ping)."""

from __future__ import annotations

import base64
import hashlib
import socket
import struct
import threading
from collections.abc import Iterator

import pytest
import simple_websocket

from tests.live_client import connect_live

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _answer(request: bytes) -> bytes:
    key = next(
        line.split(b":", 1)[1].strip()
        for line in request.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key:")
    )
    accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
    return (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )


def _frame(opcode: int, payload: bytes) -> bytes:
    return bytes([0x80 | opcode, len(payload)]) + payload


@pytest.fixture
def one_shot_server(request: pytest.FixtureRequest) -> Iterator[str]:
    """Answers one handshake with the 101 and `request.param` in a single write, then stays
    silent (and, after a close frame, ends the stream)."""
    trailer: bytes = request.param
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            received = b""
            while b"\r\n\r\n" not in received:
                received += conn.recv(4096)
            conn.sendall(_answer(received) + trailer)
            if trailer[0] & 0x0F == 0x8:
                conn.shutdown(socket.SHUT_RDWR)
            done.wait(15)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"ws://127.0.0.1:{listener.getsockname()[1]}/"
    done.set()
    thread.join(5)
    listener.close()


@pytest.mark.parametrize("one_shot_server", [_frame(0x1, b"backfill")], indirect=True)
def test_a_frame_that_came_with_the_handshake_is_received_at_once(one_shot_server: str) -> None:
    client = connect_live(one_shot_server)
    try:
        assert client.receive(timeout=2) == "backfill"
    finally:
        client.close()


@pytest.mark.parametrize(
    "one_shot_server", [_frame(0x8, struct.pack("!H", 4429) + b"too many")], indirect=True
)
def test_a_close_that_came_with_the_handshake_reports_its_code(one_shot_server: str) -> None:
    client = connect_live(one_shot_server)
    with pytest.raises(simple_websocket.ConnectionClosed) as closed:
        client.receive(timeout=2)
    assert (closed.value.reason, closed.value.message) == (4429, "too many")
