"""Consumer-group reads of the platform's streams (services.ingest.stream_reader)."""

from __future__ import annotations

import json

import redis

from services.core.platform import LIVE_SYNC_STREAM, REACTION_STREAM
from services.core.redis_bus import RedisNames
from services.core.settings import ScoreWeights
from services.ingest.stream_reader import StreamReader
from services.ingest.windows import WindowConfig
from services.live.session_book import Lifetimes, SessionBook


def test_a_read_applies_entries_in_stamp_order_across_streams(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    """Review: a read applied streams one after another, so a reaction from before a leave
    brought the user back."""
    names = RedisNames(redis_prefix)
    reader = StreamReader(redis_client, names, "c1", batch=100, dead_letter_maxlen=100)
    reader.ensure_groups()
    sync, reactions = names.stream(LIVE_SYNC_STREAM), names.stream(REACTION_STREAM)

    def add(stream: str, payload: dict) -> None:
        redis_client.xadd(stream, {"data": json.dumps(payload)})

    for user in ("u1", "u2"):
        add(sync, {"type": "user_join", "sessionId": "s", "eventId": "e", "userId": user})
    add(reactions, {"sessionId": "s", "userId": "u1", "emoji": "👋"})  # before leaving
    add(sync, {"type": "user_leave", "sessionId": "s", "eventId": "e", "userId": "u1"})
    book = SessionBook(WindowConfig(tick_seconds=1), ScoreWeights(), Lifetimes())
    assert reader.read(book.apply, None) == 4
    # The reaction's stream is read after live.sync's; applied in that order, u1 came back.
    assert book.windows["s"].present_count == 1
