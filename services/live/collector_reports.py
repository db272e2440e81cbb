"""Reports of collectors that stopped reporting: the score rows they held are counted as lost."""

from __future__ import annotations

import json
import logging
import time

import redis

from services.core.redis_bus import RedisNames

log = logging.getLogger(__name__)


def reap_dead_reports(client: redis.Redis, names: RedisNames, dead_after: float) -> None:
    """A collector that stopped reporting (killed, its host gone) took its unwritten score rows
    with it: its last report says how many. Counted once, by whoever removes the report."""
    now = time.time()
    for name, raw in client.hgetall(names.collector_reports).items():
        try:
            report = json.loads(raw)
            updated = float(report.get("updated_at") or 0)
            pending = int(report.get("pending_rows") or 0)
        except (ValueError, TypeError, AttributeError):
            updated, pending = 0.0, 0
        if now - updated < dead_after:
            continue
        if not client.hdel(names.collector_reports, name):
            continue  # another housekeeper counted it
        if pending > 0:
            client.hincrby(names.collector_losses, "rows", pending)
            log.error(
                "collector %s stopped reporting with %d score rows unwritten; counted as dropped",
                name.decode() if isinstance(name, bytes) else name,
                pending,
            )
