"""What a tick tells the world: `engagement:update` for every scored session, the anomaly
channel, and the web push (ticks, anomaly changes, endings)."""

from __future__ import annotations

import json
import time

import redis

from services.core.push import EndedMessage, TickMessage, encode
from services.core.push_objects import TickSignals
from services.core.redis_bus import RedisNames
from services.live.session_book import TickOutput

_PUBLISH_CHUNK = 1000


class TickPublisher:
    def __init__(self, client: redis.Redis, names: RedisNames) -> None:
        self.client = client
        self.names = names

    def _publisher(self) -> redis.Redis:
        """Where to publish: a cluster client refuses PUBLISH in a pipeline, but any one node
        passes a message on to the whole cluster's subscribers."""
        if isinstance(self.client, redis.RedisCluster):
            return self.client.get_redis_connection(self.client.get_default_node())
        return self.client

    def publish(self, out: TickOutput) -> None:
        names = self.names
        pipe = self._publisher().pipeline(transaction=False)
        computed_at = time.time()
        for i, update in enumerate(out.updates, start=1):
            pipe.publish(names.engagement_channel, json.dumps(update))
            session_id = update["sessionId"]
            tick = TickMessage(
                timestamp=update["timestamp"],
                sessionId=session_id,
                eventId=update["eventId"],
                score=update["score"],
                signals=TickSignals(**update["signals"], poll_active=out.poll_active[session_id]),
                computedAt=computed_at,
            )
            pipe.publish(names.push_channel(session_id), encode(tick))
            if i % _PUBLISH_CHUNK == 0:
                pipe.execute()
        for message in out.episodes.detected:
            pipe.publish(names.anomaly_channel, json.dumps(message))
        for session_id, change in out.episodes.pushes:
            pipe.publish(names.push_channel(session_id), encode(change))
        ended_at = out.tick_time.isoformat()
        for session_id in out.ended:
            ended = EndedMessage(sessionId=session_id, timestamp=ended_at)
            pipe.publish(names.push_channel(session_id), encode(ended))
        pipe.execute()
