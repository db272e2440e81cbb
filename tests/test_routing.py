"""Routing platform entries to partition streams, and the owners' reads of them (real Redis)."""

from __future__ import annotations

import json
import time

import orjson
import pytest
import redis

from services.core.partitions import partition_of
from services.core.platform import CHAT_STREAM, LIVE_SYNC_STREAM
from services.core.redis_bus import RedisNames
from services.ingest.contracts import PayloadRejected, SignalEvent, SignalKind
from services.ingest.partition_entries import MAX_ENTRY_BYTES, decode_events, encode_events
from services.ingest.partition_reader import OWNER_GROUP, PartitionReader
from services.ingest.router import Router

PARTITIONS = 8


def _router(client: redis.Redis, names: RedisNames, retain: float = 300.0) -> Router:
    router = Router(client, names, "r1", 100, 100, partitions=PARTITIONS, retain_seconds=retain)
    router.ensure_groups()
    return router


def _join(client: redis.Redis, names: RedisNames, session: str, user: str) -> None:
    payload = {"type": "user_join", "sessionId": session, "eventId": "e", "userId": user}
    client.xadd(names.stream(LIVE_SYNC_STREAM), {"data": json.dumps(payload)})


def test_the_codec_round_trips_every_field() -> None:
    events = [
        (SignalEvent(SignalKind.VOTE, "s", "e", "u", "p"), 1_700_000_000.123),
        (SignalEvent(SignalKind.CHAT, "s", None, None, None), 1_700_000_001.0),
        (SignalEvent(SignalKind.JOIN, "s", "e", "u", None, "Keynote", "x" * 500), 1.0),
        (SignalEvent(SignalKind.JOIN, "s", "e", "u", None, None, "Summit"), 2.0),
        (SignalEvent(SignalKind.JOIN, "s", "e", "u", None, "Q", None), 3.0),
        (SignalEvent(SignalKind.CHAT, "s", "e", "u", None, None, None, "hello"), 4.0),
        (SignalEvent(SignalKind.CHAT, "s", "e", "u", None, "T", "E", "y" * 280), 5.0),
        (SignalEvent(SignalKind.CHAT, "s", "e", "u", None, None, None, "k"), 6.0),
        (SignalEvent(SignalKind.PRESENCE, "s", "e", "u", attention="hidden"), 7.0),
        (SignalEvent(SignalKind.PRESENCE, "s", "e", "u", None, "T", None, attention="away"), 8.0),
        (SignalEvent(SignalKind.PRESENCE, "s", "e", "u"), 9.0),
    ]
    assert decode_events(encode_events(events)) == events
    # Titles, words and attention cost nothing where absent: the row stays six fields long.
    rows = orjson.loads(encode_events(events)["e"])
    assert [len(row) for row in rows] == [6, 6, 8, 8, 8, 9, 9, 9, 9, 9, 6]


def test_the_codec_reads_entries_whether_redis_returns_bytes_or_text_keys() -> None:
    raw = orjson.dumps([["chat", "s", None, None, None, 1_500]])
    expected = [(SignalEvent(SignalKind.CHAT, "s", None, None, None), 1.5)]
    assert decode_events({b"e": raw}) == expected
    assert decode_events({"e": raw}) == expected


def test_the_codec_accepts_times_from_the_epoch_to_just_under_2_to_the_53_milliseconds() -> None:
    def at(ms: int) -> list:
        return decode_events({b"e": orjson.dumps([["leave", "s", None, "u", None, ms]])})

    leave = SignalEvent(SignalKind.LEAVE, "s", None, "u", None)
    assert at(0) == [(leave, 0.0)]
    assert at(2**53 - 1) == [(leave, (2**53 - 1) / 1000)]
    with pytest.raises(PayloadRejected) as caught:
        at(2**53)
    assert str(caught.value) == "routed time must be whole milliseconds since the epoch"


def test_an_entry_of_exactly_the_size_limit_is_read_and_one_byte_more_is_refused() -> None:
    # An empty list padded with JSON whitespace: valid, and as long as we like.
    raw = b"[" + b" " * (MAX_ENTRY_BYTES - 2) + b"]"
    assert len(raw) == MAX_ENTRY_BYTES
    assert decode_events({b"e": raw}) == []
    with pytest.raises(PayloadRejected) as caught:
        decode_events({b"e": raw + b" "})
    assert str(caught.value) == "partition entry is larger than 16777216 bytes"


def test_the_size_limit_counts_bytes_when_redis_returns_text() -> None:
    # Characters of two bytes each: under the limit in characters, over it in bytes.
    text = '["' + "é" * (MAX_ENTRY_BYTES // 2) + '"]'
    assert len(text) < MAX_ENTRY_BYTES < len(text.encode())
    with pytest.raises(PayloadRejected, match="larger than 16777216 bytes"):
        decode_events({"e": text})


def test_an_entry_that_is_not_json_is_refused_with_the_parsers_reason() -> None:
    with pytest.raises(PayloadRejected) as caught:
        decode_events({b"e": b"not json"})
    assert str(caught.value).startswith("partition entry is not valid JSON: ")
    assert len(str(caught.value)) > len("partition entry is not valid JSON: ")


SHAPE = (
    "a routed event must be [kind, session, event, user, poll, ms(, titles(, text or attention))]"
)
BAD_ATTENTION = "routed attention is not a viewer's presence state"
BAD_TITLE = "routed title is not a printable string of 1-500 characters"
BAD_TEXT = "routed chat text is not a printable string of 1-280 characters"
BAD_ID = "routed event, user or poll id is not a valid id"
BAD_TIME = "routed time must be whole milliseconds since the epoch"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({}, "partition entry has no e field"),
        ({b"other": b"[]"}, "partition entry has no e field"),
        ({b"e": b"{}"}, "partition entry must be a list of events"),
        ({b"e": b"[[1,2]]"}, SHAPE),
        ({b"e": b'["chat"]'}, SHAPE),
        ({b"e": orjson.dumps([["chat", "s", None, None, None, 1, 2]])}, SHAPE),
        ({b"e": orjson.dumps([["chat", "s", None, None, None, 1, "t", "e", 3, 4]])}, SHAPE),
        ({b"e": orjson.dumps([["chat", "s", None, None, None, 1, None, None, 3]])}, BAD_TEXT),
        ({b"e": orjson.dumps([["chat", "s", None, None, None, 1, None, None, ""]])}, BAD_TEXT),
        ({b"e": orjson.dumps([["chat", "s", None, None, None, 1, None, None, "a\nb"]])}, BAD_TEXT),
        (
            {b"e": orjson.dumps([["chat", "s", None, None, None, 1, None, None, "x" * 281]])},
            BAD_TEXT,
        ),
        # Only a chat message has words and only presence an attention state: on a join the
        # 9th field would be someone's text smuggled in.
        (
            {b"e": orjson.dumps([["join", "s", None, "u", None, 1, None, None, "hi"]])},
            BAD_ATTENTION,
        ),
        (
            {b"e": orjson.dumps([["presence", "s", None, "u", None, 1, None, None, "sleepy"]])},
            BAD_ATTENTION,
        ),
        (
            {b"e": orjson.dumps([["presence", "s", None, None, None, 1, None, None, "idle"]])},
            BAD_ATTENTION,
        ),
        ({b"e": orjson.dumps([["chat", "s", None, None, None, 1, "", None]])}, BAD_TITLE),
        ({b"e": orjson.dumps([["chat", "s", None, None, None, 1, None, 7]])}, BAD_TITLE),
        ({b"e": orjson.dumps([["chat", "s", None, None, None, 1, "a\nb", None]])}, BAD_TITLE),
        ({b"e": orjson.dumps([["chat", "s", None, None, None, 1, "x" * 501, None]])}, BAD_TITLE),
        (
            {b"e": orjson.dumps([["dance", "s", None, None, None, 1]])},
            "unknown routed kind 'dance'",
        ),
        ({b"e": orjson.dumps([[5, "s", None, None, None, 1]])}, "unknown routed kind '5'"),
        (
            {b"e": orjson.dumps([[["chat"], "s", None, None, None, 1]])},
            "unknown routed kind \"['chat']\"",
        ),
        (
            {b"e": orjson.dumps([["a" * 50, "s", None, None, None, 1]])},
            f"unknown routed kind {'a' * 40!r}",
        ),
        (
            {b"e": orjson.dumps([["chat", " s", None, None, None, 1]])},
            "routed session id is not a valid id",
        ),
        ({b"e": orjson.dumps([["chat", "s", 5, None, None, 1]])}, BAD_ID),
        ({b"e": orjson.dumps([["chat", "s", None, "", None, 1]])}, BAD_ID),
        ({b"e": orjson.dumps([["vote", "s", None, "u", "p\n", 1]])}, BAD_ID),
        ({b"e": orjson.dumps([["chat", "s", None, None, None, 1.5]])}, BAD_TIME),
        ({b"e": orjson.dumps([["chat", "s", None, None, None, True]])}, BAD_TIME),
        ({b"e": orjson.dumps([["chat", "s", None, None, None, -1]])}, BAD_TIME),
        ({b"e": orjson.dumps([["chat", "s", None, None, None, "1"]])}, BAD_TIME),
    ],
)
def test_the_codec_refuses_malformed_entries_with_a_reason(fields: dict, reason: str) -> None:
    with pytest.raises(PayloadRejected) as caught:
        decode_events(fields)
    assert str(caught.value) == reason


def test_accepted_events_land_on_their_sessions_partition_and_are_acknowledged(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    names = RedisNames(redis_prefix)
    router = _router(redis_client, names)
    sessions = [f"s{i}" for i in range(20)]
    for session in sessions:
        _join(redis_client, names, session, "u1")
    assert router.route(None) == 20
    seen: dict[int, list[str]] = {}
    for partition in range(PARTITIONS):
        for _, fields in redis_client.xrange(names.partition_stream(partition)):
            seen.setdefault(partition, []).extend(e.session_id for e, _ in decode_events(fields))
    assert sorted(s for found in seen.values() for s in found) == sorted(sessions)
    for partition, found in seen.items():
        assert {partition_of(s, PARTITIONS) for s in found} == {partition}
    stream = names.stream(LIVE_SYNC_STREAM)
    assert redis_client.xpending(stream, "engagement-conductor")["pending"] == 0


def test_rejected_platform_entries_are_dead_lettered_not_routed(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    names = RedisNames(redis_prefix)
    router = _router(redis_client, names)
    redis_client.xadd(names.stream(CHAT_STREAM), {"data": "{broken"})
    _join(redis_client, names, "s", "u1")
    assert router.route(None) == 2
    assert router.stats.rejected == 1 and router.stats.accepted == 1
    assert redis_client.xlen(names.dead_letter) == 1
    routed = sum(redis_client.xlen(names.partition_stream(p)) for p in range(PARTITIONS))
    assert routed == 1


def test_rejections_are_counted_by_kind_not_by_what_the_sender_wrote(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    """Review (#15): each unknown live.sync type a sender invented got a counter of its own,
    about 150 bytes each, never freed."""
    names = RedisNames(redis_prefix)
    router = _router(redis_client, names)
    for n in range(50):
        payload = {"type": f"made_up_{n}", "sessionId": "s", "userId": "u"}
        redis_client.xadd(names.stream(LIVE_SYNC_STREAM), {"data": json.dumps(payload)})
    redis_client.xadd(names.stream(CHAT_STREAM), {"data": "{broken"})
    assert router.route(None) == 51
    assert router.stats.rejected_by_reason == {
        "unknown live.sync type …": 50,
        "data is not valid JSON": 1,
    }


def test_partition_streams_keep_only_the_retained_minutes(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    names = RedisNames(redis_prefix)
    router = _router(redis_client, names, retain=0.2)
    partition = partition_of("s", PARTITIONS)
    stream = names.partition_stream(partition)
    # Old entries, as a long-running deployment has them.
    for _ in range(300):
        redis_client.xadd(stream, {"e": b"[]"}, id=f"{int((time.time() - 60) * 1000)}-*")
    _join(redis_client, names, "s", "u1")
    router.route(None)
    # MINID trims whole nodes of the stream (approximate): the old ones are gone, ours kept.
    assert redis_client.xlen(stream) < 300
    newest = redis_client.xrevrange(stream, count=1)[0][1]
    assert decode_events(newest)[0][0].session_id == "s"


def test_an_owner_reads_its_partitions_and_dead_letters_a_malformed_entry(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    names = RedisNames(redis_prefix)
    router = _router(redis_client, names)
    reader = PartitionReader(redis_client, names, "owner-1", 100, 100)
    partition = partition_of("s", PARTITIONS)
    reader.settle(partition, "0-0")
    stream = names.partition_stream(partition)
    redis_client.xadd(stream, {"e": b'[["chat"]]'})  # written by someone who is not a router
    _join(redis_client, names, "s", "u1")
    router.route(None)
    applied: list[tuple[int, str, list]] = []
    assert reader.read([partition], lambda p, i, ev: applied.append((p, i, ev))) == 2
    assert [(p, [e.session_id for e, _ in ev]) for p, _, ev in applied] == [(partition, ["s"])]
    assert reader.stats.rejected == 1
    letters = redis_client.xrange(names.dead_letter)
    assert letters[-1][1][b"stream"] == stream.encode()
    assert redis_client.xpending(stream, OWNER_GROUP)["pending"] == 0
    assert reader.read([partition], lambda *_: None) == 0


def test_settling_a_taken_partition_skips_what_the_replay_applied_and_clears_pending(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    names = RedisNames(redis_prefix)
    router = _router(redis_client, names)
    partition = partition_of("s", PARTITIONS)
    dead = PartitionReader(redis_client, names, "dead-owner", 100, 100)
    dead.settle(partition, "0-0")
    for user in ("u1", "u2", "u3"):
        _join(redis_client, names, "s", user)
        router.route(None)
    # The dead owner read two entries and never acknowledged them.
    stream = names.partition_stream(partition)
    redis_client.xreadgroup(OWNER_GROUP, "dead-owner", {stream: ">"}, count=2)
    heir = PartitionReader(redis_client, names, "heir", 100, 100)
    replayed = list(heir.replay(partition, "0-0"))
    assert len(replayed) == 3
    assert heir.settle(partition, replayed[1][0]) == 2
    assert redis_client.xpending(stream, OWNER_GROUP)["pending"] == 0
    # Only what came after the replay's second entry is new to the heir.
    got: list[str] = []
    heir.read([partition], lambda p, i, ev: got.append(i))
    assert got == [replayed[2][0]]
