"""A WebSocket client for tests that never sits on a frame it has already read.

simple_websocket 1.1's client reads the handshake answer with one `recv`; a frame the server
sent right behind its 101 (our backfill, or a refusal's close) can come in that same read. The
client leaves such a frame in wsproto's buffer and its reader thread then blocks on the socket
until more bytes arrive: up to the server's 25-s ping. CI met it as a backfill "not received
within 10 s". This client hands those frames over as soon as the handshake is done.
"""

from __future__ import annotations

from typing import Any

import simple_websocket


class LiveClient(simple_websocket.Client):
    def handshake(self) -> None:
        super().handshake()
        if not self._handle_events():
            # The server closed right behind its 101: the reader thread still has to start (the
            # base class refuses a client that is not connected), then finds the stream ended
            # and `receive` raises ConnectionClosed with the server's code and reason.
            self.connected = True


def connect_live(url: str, **options: Any) -> LiveClient:
    client = LiveClient.connect(url, **options)
    assert isinstance(client, LiveClient)
    return client
