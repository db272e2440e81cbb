"""Queueing alerts: once per item, grouped per event and minute, in Redis so that any process's
dispatcher can send them and a restart loses nothing queued.

The first item of a quiet event may go at once; items that come while the event's last message
is under a minute old wait for the minute to end and go together."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

import redis

from services.alerts.messages import AlertItem, wanted
from services.core.redis_bus import REDIS_DOWN, RedisNames
from services.storage.alert_settings import AlertSettingsStore

log = logging.getLogger(__name__)

SEEN_SECONDS = 7 * 24 * 3600  # longer than any episode, suggestion or measurement lasts


class AlertOutbox:
    def __init__(
        self,
        client: redis.Redis,
        names: RedisNames,
        settings: AlertSettingsStore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.names = names
        self.settings = settings
        self._clock = clock

    def offer(self, item: AlertItem) -> bool:
        """Queue `item` if its event wants it and it was not queued before; whether it was."""
        if not wanted(item, self.settings.for_event(item.event_id)):
            return False
        names = self.names
        try:
            if not self.client.set(names.alert_seen(item.key), 1, nx=True, ex=SEEN_SECONDS):
                return False
            self.client.rpush(names.alert_items(item.event_id), json.dumps(item.as_json()))
            left_ms = self.client.pttl(names.alert_window(item.event_id))
            due = self._clock() + max(0, int(left_ms)) / 1000
            # NX: an event already due keeps its (earlier) time.
            self.client.zadd(names.alert_due, {item.event_id: due}, nx=True)
        except REDIS_DOWN as exc:
            log.warning("alert %s not queued, Redis unavailable (%s)", item.key, exc)
            return False
        return True
