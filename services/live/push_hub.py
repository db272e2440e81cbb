"""One Redis pattern subscription per web process, fanned out to that process's open sockets.

A socket that cannot keep up is not fed silently-dropped points: its queue overflows, it is
marked, and the socket closes so the browser reconnects and backfills from the database.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from services.core.push import HubDownMessage, ResyncMessage, encode
from services.core.redis_bus import REDIS_DOWN, RedisNames

log = logging.getLogger(__name__)

# Sent to every subscriber after the hub (re)subscribes: points may have been missed meanwhile.
RESYNC = encode(ResyncMessage())
HUB_DOWN = encode(HubDownMessage())
# Wakes a revoked subscription's socket; never sent to a browser.
REVOKED = "revoked"


@dataclass(eq=False)
class Subscription:
    session_id: str
    # The sign-in's token id: a revocation of it ends the subscription's socket.
    token_id: str | None = None
    messages: queue.Queue[str] = field(default_factory=lambda: queue.Queue(maxsize=1000))
    overflowed: bool = False
    revoked: bool = False


class PushHub:
    def __init__(self, connect: Callable[[], redis.Redis], names: RedisNames) -> None:
        self._connect = connect
        self.names = names
        self._subscribers: dict[str, set[Subscription]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.connected = False
        self.delivered = 0

    def subscribe(self, session_id: str, token_id: str | None = None) -> Subscription:
        sub = Subscription(session_id, token_id)
        with self._lock:
            self._subscribers.setdefault(session_id, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            subs = self._subscribers.get(sub.session_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subscribers[sub.session_id]

    def subscriptions(self, session_id: str) -> list[Subscription]:
        with self._lock:
            return list(self._subscribers.get(session_id, ()))

    @property
    def socket_count(self) -> int:
        with self._lock:
            return sum(len(subs) for subs in self._subscribers.values())

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        backoff = 0.0
        while not self._stop.is_set():
            try:
                self._listen()
                backoff = 0.0
            except (*REDIS_DOWN, redis.ResponseError) as exc:
                # ResponseError: e.g. an ACL refusing PSUBSCRIBE; retrying is all there is to do.
                if self.connected:
                    log.error("push hub lost Redis (%s); reconnecting", exc)
                    self._broadcast(HUB_DOWN)
                elif isinstance(exc, redis.ResponseError):
                    log.error("push hub cannot subscribe (%s); retrying", exc)
                self.connected = False
                backoff = min(10.0, max(0.2, backoff * 2))
                self._stop.wait(backoff)
        self.connected = False

    def _listen(self) -> None:
        client = self._connect()
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.psubscribe(self.names.push_pattern)
            pubsub.subscribe(self.names.revocation_channel)
            # The subscribe reply proves the connection is up before we call ourselves connected.
            pubsub.get_message(timeout=1.0)
            self.connected = True
            log.info("push hub subscribed to %s", self.names.push_pattern)
            self._broadcast(RESYNC)
            while not self._stop.is_set():
                message = pubsub.get_message(timeout=1.0)
                if message is None:
                    continue
                if message["type"] == "pmessage":
                    self._deliver(message["channel"], message["data"])
                elif message["type"] == "message":
                    self._revoke(message["data"].decode("utf-8", "replace"))
        finally:
            try:
                pubsub.close()
                client.close()
            except REDIS_DOWN:
                pass

    def _deliver(self, channel: bytes, data: bytes) -> None:
        session_id = self.names.session_of_push_channel(channel)
        with self._lock:
            subs = list(self._subscribers.get(session_id, ()))
        if not subs:
            return
        text = data.decode("utf-8", "replace")
        for sub in subs:
            self._offer(sub, text)

    def _revoke(self, token_id: str) -> None:
        """A sign-in was signed out: its sockets end (woken at once by the sentinel)."""
        with self._lock:
            subs = [
                sub
                for group in self._subscribers.values()
                for sub in group
                if sub.token_id == token_id
            ]
        for sub in subs:
            sub.revoked = True
            self._offer(sub, REVOKED)

    def _broadcast(self, text: str) -> None:
        with self._lock:
            subs = [sub for group in self._subscribers.values() for sub in group]
        for sub in subs:
            self._offer(sub, text)

    def _offer(self, sub: Subscription, text: str) -> None:
        try:
            sub.messages.put_nowait(text)
            self.delivered += 1
        except queue.Full:
            sub.overflowed = True
