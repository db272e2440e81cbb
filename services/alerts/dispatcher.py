"""Sending queued alerts: on a thread of its own in every process with a collector, never on the
tick's path. Each claim is atomic in Redis (ZREM of a due member), so several dispatchers share
the work and none sends a message twice. A failed delivery is retried with backoff, then
dead-lettered in a list the event's settings show."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis

from services.alerts.messages import AlertItem, Message, compose, retry_after
from services.alerts.senders import DeliveryFailed, EmailSender, WebhookSender
from services.core.redis_bus import REDIS_DOWN, RedisNames
from services.storage.alert_settings import AlertSettingsStore

log = logging.getLogger(__name__)

DEAD_KEPT = 50  # dead letters kept per event, newest first
_CLAIM_BATCH = 20


class AlertDispatcher:
    def __init__(
        self,
        client: redis.Redis,
        names: RedisNames,
        settings: AlertSettingsStore,
        email: EmailSender,
        webhooks: WebhookSender,
        group_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.names = names
        self.settings = settings
        self.email = email
        self.webhooks = webhooks
        self.group_seconds = group_seconds
        self._clock = clock
        self._stopping = threading.Event()

    # -- the loop ---------------------------------------------------------------------------------

    def run(self) -> None:
        self._stopping.clear()
        while not self._stopping.is_set():
            try:
                busy = self.run_once()
            except REDIS_DOWN as exc:
                log.warning("alert dispatcher waiting for Redis (%s)", exc)
                busy = 0
            except Exception:
                log.exception("alert dispatcher turn failed")
                busy = 0
            if not busy:
                self._stopping.wait(1.0)

    def stop(self) -> None:
        self._stopping.set()

    def run_once(self) -> int:
        """Send what is due now: grouped messages, then retries. How many were handled."""
        return self._flush_due_events() + self._retry_due_deliveries()

    # -- grouping ---------------------------------------------------------------------------------

    def _flush_due_events(self) -> int:
        names, now = self.names, self._clock()
        due = self.client.zrangebyscore(names.alert_due, "-inf", now, start=0, num=_CLAIM_BATCH)
        handled = 0
        for raw in due:
            event_id = raw.decode() if isinstance(raw, bytes) else raw
            if not self.client.zrem(names.alert_due, event_id):
                continue  # another dispatcher claimed it
            pipe = self.client.pipeline(transaction=True)
            pipe.lrange(names.alert_items(event_id), 0, -1)
            pipe.delete(names.alert_items(event_id))
            pipe.set(names.alert_window(event_id), 1, px=int(self.group_seconds * 1000))
            items_raw, _, _ = pipe.execute()
            items = [AlertItem.from_json(json.loads(entry)) for entry in items_raw]
            if items:
                self._send_message(event_id, items)
                handled += 1
        return handled

    def _send_message(self, event_id: str, items: list[AlertItem]) -> None:
        title = next((item.event_title for item in items if item.event_title), None)
        message = compose(event_id, title, items)
        settings = self.settings.for_event(event_id)
        targets = [("email", address, False) for address in settings.emails]
        targets += [("webhook", hook.url, hook.slack) for hook in settings.webhooks]
        for channel, to, slack in targets:
            delivery = {
                "id": uuid.uuid4().hex,
                "event_id": event_id,
                "channel": channel,
                "to": to,
                "slack": slack,
                "attempts": 0,
                "subject": message.subject,
                "text": message.text,
                "items": [item.as_json() for item in message.items],
            }
            self._attempt(delivery)

    # -- delivering -------------------------------------------------------------------------------

    def _retry_due_deliveries(self) -> int:
        names, now = self.names, self._clock()
        due = self.client.zrangebyscore(
            names.alert_deliveries, "-inf", now, start=0, num=_CLAIM_BATCH
        )
        handled = 0
        for member in due:
            if not self.client.zrem(names.alert_deliveries, member):
                continue
            self._attempt(json.loads(member))
            handled += 1
        return handled

    def _attempt(self, delivery: dict[str, Any]) -> None:
        try:
            self._deliver(delivery)
        except DeliveryFailed as exc:
            delivery["attempts"] += 1
            wait = retry_after(delivery["attempts"]) if exc.retry else None
            target = _target(delivery)
            if wait is None:
                self._dead_letter(delivery, str(exc))
                log.warning(
                    "alert to %s given up after %d attempt(s): %s",
                    target,
                    delivery["attempts"],
                    exc,
                )
            else:
                self.client.zadd(
                    self.names.alert_deliveries, {json.dumps(delivery): self._clock() + wait}
                )
                log.info("alert to %s failed (%s); retrying in %.0f s", target, exc, wait)

    def _deliver(self, delivery: dict[str, Any]) -> None:
        if delivery["channel"] == "email":
            self.email.send(delivery["to"], delivery["subject"], delivery["text"])
            return
        # The secret is read now, from the event's current settings: never queued or logged.
        secret = self.settings.for_event(delivery["event_id"]).secret_for(delivery["to"])
        if secret is None:
            raise DeliveryFailed("the webhook was removed from the event's settings", False)
        message = Message(
            delivery["event_id"],
            delivery["subject"],
            delivery["text"],
            tuple(AlertItem.from_json(item) for item in delivery["items"]),
        )
        timestamp = str(int(self._clock()))
        body = message.slack_body() if delivery["slack"] else message.json_body(_iso(self._clock()))
        self.webhooks.send(delivery["to"], body, secret, timestamp)

    def _dead_letter(self, delivery: dict[str, Any], reason: str) -> None:
        entry = {
            "at": _iso(self._clock()),
            "channel": delivery["channel"],
            "to": _target(delivery),
            "subject": delivery["subject"],
            "attempts": delivery["attempts"],
            "reason": reason,
        }
        key = self.names.alert_dead(delivery["event_id"])
        pipe = self.client.pipeline(transaction=True)
        pipe.lpush(key, json.dumps(entry))
        pipe.ltrim(key, 0, DEAD_KEPT - 1)
        pipe.execute()


def dead_letters(client: redis.Redis, names: RedisNames, event_id: str) -> list[dict[str, Any]]:
    """The event's deliveries given up on, newest first."""
    return [json.loads(raw) for raw in client.lrange(names.alert_dead(event_id), 0, -1)]


def _target(delivery: dict[str, Any]) -> str:
    """Where a delivery goes, as logs and dead letters show it: a webhook without its query
    string (it may carry a token)."""
    to = str(delivery["to"])
    return to.split("?", 1)[0] if delivery["channel"] == "webhook" else to


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()
