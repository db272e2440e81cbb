"""Consumer-group reads of the platform's streams (services.ingest.stream_reader)."""

from __future__ import annotations

import json
import time

import pytest
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


def test_a_backlog_reports_the_age_of_what_it_reads_and_caught_up_reports_none(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    names = RedisNames(redis_prefix)
    reader = StreamReader(redis_client, names, "c1", batch=2, dead_letter_maxlen=100)
    reader.ensure_groups(start_id="0")
    sync = names.stream(LIVE_SYNC_STREAM)
    now_ms = int(time.time() * 1000)
    # Three entries stamped 90, 89 and 88 s ago: a backlog the batch of 2 cannot empty.
    for n, age in enumerate((90_000, 89_000, 88_000)):
        payload = {"type": "user_join", "sessionId": "s", "eventId": "e", "userId": f"u{n}"}
        redis_client.xadd(sync, {"data": json.dumps(payload)}, id=f"{now_ms - age}-0")
    book = SessionBook(WindowConfig(tick_seconds=1), ScoreWeights(), Lifetimes())
    assert reader.read(book.apply, None) == 2
    assert 89.5 < reader.stats.lag_seconds < 95
    assert reader.read(book.apply, None) == 1  # the rest: caught up
    assert reader.stats.lag_seconds == 0.0


def test_an_entry_stamped_far_ahead_of_our_clock_is_taken_as_of_now_and_counted(
    redis_client: redis.Redis, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Regression: an entry an hour ahead made a session that lived in the future.
    names = RedisNames(redis_prefix)
    reader = StreamReader(redis_client, names, "c1", batch=100, dead_letter_maxlen=100)
    reader.ensure_groups(start_id="0")
    sync = names.stream(LIVE_SYNC_STREAM)
    now_ms = int(time.time() * 1000)
    for user, ahead_ms in (("near", 4_000), ("far", 3_600_000), ("farther", 3_700_000)):
        payload = {"type": "user_join", "sessionId": user, "eventId": "e", "userId": user}
        redis_client.xadd(sync, {"data": json.dumps(payload)}, id=f"{now_ms + ahead_ms}-0")
    seen: dict[str, float] = {}
    before = time.time()
    assert reader.read(lambda event, at: seen.__setitem__(event.session_id, at), None) == 3
    assert seen["near"] == (now_ms + 4_000) / 1000  # within the skew: kept as stamped
    assert before <= seen["far"] <= time.time() and before <= seen["farther"] <= time.time()
    assert reader.stats.clamped_ahead == 2
    assert caplog.text.count("taken as of now") == 1  # one line, not one per entry
