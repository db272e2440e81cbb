"""The collector against real Redis and PostgreSQL: streams in, scored rows and updates out."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
import sqlalchemy as sa

from app.runtime import Runtime
from services.agent.desk import SessionContext
from services.core.platform import (
    CHAT_STREAM,
    CONSUMER_GROUP,
    LIVE_SYNC_STREAM,
    POLL_VOTE_STREAM,
    REACTION_STREAM,
    SIGNAL_NAMES,
)
from services.core.redis_bus import RedisNames
from services.core.settings import Settings
from services.core.vocabulary import InterventionType
from services.storage.metrics_store import ENDED, LIVE
from services.storage.schema import anomalies, engagement_metrics
from tests.conftest import RunCollector, leading_and_ticking
from tests.waiting import wait_until


def xadd(client: redis.Redis, names: RedisNames, stream: str, payload: Any) -> None:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    client.xadd(names.stream(stream), {"data": data})


def metric_rows(engine: sa.Engine, session_id: str) -> list[sa.Row[Any]]:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(engagement_metrics)
            .where(engagement_metrics.c.session_id == session_id)
            .order_by(engagement_metrics.c.time)
        ).all()


def audience(client: redis.Redis, names: RedisNames, session: str, users: int) -> None:
    for i in range(users):
        xadd(
            client,
            names,
            LIVE_SYNC_STREAM,
            {"type": "user_join", "sessionId": session, "eventId": "evt", "userId": f"u{i}"},
        )


def test_events_become_scored_rows_and_engagement_updates(
    run_collector: RunCollector, redis_client: redis.Redis
) -> None:
    collector = run_collector()
    names = collector.names
    engine = collector.store.engine
    updates = redis_client.pubsub(ignore_subscribe_messages=True)
    updates.subscribe(names.engagement_channel)
    wait_until(lambda: leading_and_ticking(collector), what="leadership and a first tick")

    audience(redis_client, names, "s-1", 4)
    for user in ("u0", "u1"):
        xadd(
            redis_client,
            names,
            CHAT_STREAM,
            {"sessionId": "s-1", "eventId": "evt", "message": {"authorId": user, "text": "hi"}},
        )
        xadd(
            redis_client,
            names,
            POLL_VOTE_STREAM,
            {
                "userId": user,
                "pollId": "p1",
                "optionId": "a",
                "sessionId": "s-1",
                "eventId": "s-1",
                "voteTimestamp": "2026-11-26T00:00:00Z",
            },
        )
    xadd(redis_client, names, REACTION_STREAM, {"userId": "u2", "sessionId": "s-1", "emoji": "🎉"})

    def scored_row() -> sa.Row[Any] | None:
        rows = [
            r
            for r in metric_rows(engine, "s-1")
            if r.extra["total_users"] == 4 and r.active_users == 3
        ]
        return rows[-1] if rows else None

    row = wait_until(scored_row, what="a row with the whole audience")
    assert row.event_id == "evt"
    assert row.poll_participation == pytest.approx(0.5)
    assert row.chat_msgs_per_min > 0 and row.reactions_per_min > 0
    on_the_boundary = row.time.timestamp() % collector.tick_seconds == 0
    assert row.time.microsecond == 0 and on_the_boundary
    assert row.extra["category"] in {"VERY_LOW", "LOW", "MODERATE", "HIGH", "VERY_HIGH"}
    assert set(row.extra["breakdown"]) >= {"chat", "poll", "active", "reactions", "leave"}
    # Within its first minute the session is still filling: marked so, for its lowest score.
    assert row.extra["warmup"] is True

    def update_for_row() -> dict[str, Any] | None:
        message = updates.get_message(timeout=0.2)
        if message is None:
            return None
        payload = json.loads(message["data"])
        return payload if payload["timestamp"] == row.time.isoformat() else None

    payload = wait_until(update_for_row, what="the engagement:update of that tick")
    assert set(payload) == {"timestamp", "sessionId", "eventId", "score", "signals"}
    assert payload["sessionId"] == "s-1" and payload["eventId"] == "evt"
    assert payload["score"] == pytest.approx(row.engagement_score, abs=1e-5)
    assert set(payload["signals"]) == set(SIGNAL_NAMES)
    assert payload["signals"]["active_users"] == 3
    updates.close()


def test_bad_payloads_go_to_the_dead_letter_stream_and_the_loop_goes_on(
    run_collector: RunCollector, redis_client: redis.Redis
) -> None:
    collector = run_collector()
    names = collector.names
    wait_until(lambda: leading_and_ticking(collector), what="leadership and a first tick")
    xadd(redis_client, names, CHAT_STREAM, "{not json")
    xadd(redis_client, names, CHAT_STREAM, {"message": {"text": "no session"}})
    xadd(redis_client, names, LIVE_SYNC_STREAM, {"type": "teleport", "sessionId": "s-2"})
    redis_client.xadd(names.stream(REACTION_STREAM), {"nodata": "1"})
    audience(redis_client, names, "s-2", 2)

    entries = wait_until(
        lambda: (
            len(redis_client.xrange(names.dead_letter)) == 4
            and redis_client.xrange(names.dead_letter)
        ),
        what="4 dead letters",
    )
    reasons = sorted(fields[b"reason"].decode() for _, fields in entries)
    assert any("not valid JSON" in r for r in reasons)
    assert any("missing sessionId" in r for r in reasons)
    assert any("unknown live.sync type" in r for r in reasons)
    assert any("no data field" in r for r in reasons)
    assert {fields[b"stream"] for _, fields in entries} >= {CHAT_STREAM.encode()}
    wait_until(lambda: collector.status().live_sessions == 1, what="the good session to be live")
    assert collector.status().rejected == 4
    for stream in names.signal_streams:
        assert redis_client.xpending(stream, CONSUMER_GROUP)["pending"] == 0


def test_the_housekeeper_ends_sessions_no_collector_ticks_any_more_and_their_episodes(
    run_collector: RunCollector,
) -> None:
    """Review: a session whose collector died stayed live in the catalogue for ever. Since an
    owner that stops hands its episodes on instead of ending them, an episode of a session
    nobody took up again must end with the session too."""
    collector = run_collector(housekeeping_every=0.5)
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    collector.store.write_batch(
        [],
        [
            {
                "session_id": "orphan",
                "event_id": "e",
                "first_seen": long_ago,
                "last_seen": long_ago,
                "ended_at": None,
                "status": LIVE,
                "last_score": 0.4,
                "present_users": 9,
            }
        ],
        [
            {
                "time": long_ago,
                "episode_id": "orphan-drop",
                "session_id": "orphan",
                "event_id": "e",
                "type": "SUDDEN_DROP",
                "severity": "WARNING",
                "anomaly_score": 0.9,
                "current_engagement": 0.2,
                "expected_engagement": 0.6,
                "deviation": -0.4,
                "signals": {},
                "explanation": "drop",
                "ended_at": None,
                "recovered": None,
                "recovery_seconds": None,
            }
        ],
    )

    def ended() -> bool:
        record = collector.store.get_session("orphan")
        return record is not None and record.status == ENDED

    wait_until(ended, what="the abandoned session to be marked ended")
    with collector.store.engine.connect() as conn:
        episode = conn.execute(sa.select(anomalies)).one()
    assert episode.ended_at == long_ago and episode.recovered is False


def test_an_unexpected_error_in_a_turn_does_not_end_the_collector(
    run_collector: RunCollector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review: an unforeseen error in one turn of the loop ended the collector thread."""
    collector = run_collector()
    wait_until(lambda: collector.last_tick is not None, what="a first tick")
    real_tick = collector.book.score_tick
    failures = []

    def fail_once(boundary: float, skip: Any = None) -> Any:
        if not failures:
            failures.append(boundary)
            raise RuntimeError("a bug")
        return real_tick(boundary, skip)

    monkeypatch.setattr(collector.book, "score_tick", fail_once)
    wait_until(lambda: failures, what="the failing tick")
    wait_until(
        lambda: collector.last_tick is not None and collector.last_tick > failures[0],
        what="ticks after the failure",
    )
    assert collector.running


class _BrokenGenerator:
    """A content generator with a bug (the interface invites other implementations)."""

    def generate(self, request: Any, rng: Any) -> Any:
        raise RuntimeError("template bug")


def test_a_failing_agent_step_costs_only_that_step_never_the_tick(
    make_runtime: Callable[..., Runtime],
) -> None:
    """Review: any error but a database one escaped follow_interventions, so the tick was
    re-run forever and the streams were never read again."""
    runtime = make_runtime(tick_seconds=1.0)
    collector, engine = runtime.collector, runtime.engine
    assert collector is not None
    pending = collector.desk.propose(
        SessionContext("s-old", "evt-1", 0.3, 50, 2.0), "SUDDEN_DROP", -0.5, None, "drop"
    )
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE interventions SET expires_at = :t"),
            {"t": datetime.now(UTC) - timedelta(seconds=1)},
        )
    collector.desk.generator = _BrokenGenerator()
    collector.is_housekeeper = True  # expiring is the housekeeper's chore
    out = collector.book.score_tick(datetime.now(UTC).timestamp())
    out.episodes.opened.append(
        {
            "session_id": "s-new",
            "event_id": "evt-1",
            "type": "MASS_EXIT",
            "current_engagement": float("nan"),
            "deviation": -0.4,
            "episode_id": "ep",
            "explanation": "left",
            "signals": {"total_users": 40},
        }
    )
    collector.agent.run(out.episodes.opened)  # must not raise
    # The step after the broken one still ran: the old suggestion expired.
    assert collector.desk.store.get(pending.intervention_id).status == "expired"


def test_the_collectors_outcome_handler_acknowledges_what_it_reads(
    make_runtime: Callable[..., Runtime], redis_client: redis.Redis
) -> None:
    """CI: the collector's handler answered True/False where the reader expects a reason or
    None, so every read's acknowledgements failed (a bool cannot go into a Redis command)."""
    collector = make_runtime(tick_seconds=1.0).collector
    assert collector is not None
    names = collector.names
    listener = redis_client.pubsub()
    listener.subscribe(names.agent_channel)
    try:
        wait_until(lambda: redis_client.pubsub_numsub(names.agent_channel)[0][1] == 1)
        collector.agent.outcomes.ensure_group()
        sent = collector.desk.trigger(
            SessionContext("s-1", "evt-1", 0.3, 50, 2.0), InterventionType.POLL, "p", None
        )
        assert sent.status == "executed"
        for payload in (
            {"success": True, "intervention_id": sent.intervention_id, "timestamp": "t"},
            {"success": True, "intervention_id": "unknown-one"},
        ):
            redis_client.xadd(names.outcome_stream, {"data": json.dumps(payload)})
        assert collector.agent.outcomes.read(collector.agent.delivered) == 2
        assert redis_client.xpending(names.outcome_stream, "engagement-conductor")["pending"] == 0
        assert collector.desk.store.get(sent.intervention_id).outcome["delivery"]["success"]
        assert redis_client.xlen(names.dead_letter) == 1
    finally:
        listener.close()


def test_two_collectors_share_the_partitions_score_every_session_once_and_hand_over(
    run_collector: RunCollector, redis_client: redis.Redis
) -> None:
    first = run_collector(lease_seconds=2, partitions=8)
    second = run_collector(lease_seconds=2, partitions=8)
    names = first.names
    engine = first.store.engine
    wait_until(
        lambda: len(first.owned) == 4 and len(second.owned) == 4,
        what="the partitions shared four and four",
    )
    assert set(first.owned).isdisjoint(second.owned)
    wait_until(lambda: first.last_tick and second.last_tick, what="both ticking")
    sessions = [f"s-{i}" for i in range(12)]
    for session in sessions:
        audience(redis_client, names, session, 3)
    wait_until(
        lambda: all(len(metric_rows(engine, s)) >= 3 for s in sessions),
        what="three ticks of every session",
    )
    # Both collectors scored: the sessions landed on both shares.
    assert first.writer.stats.written_rows and second.writer.stats.written_rows

    first.stop()
    # A clean stop hands over at once, inside the 2-s lease.
    wait_until(lambda: len(second.owned) == 8, timeout=2.0, what="the hand-over")
    written_before = {s: len(metric_rows(engine, s)) for s in sessions}
    wait_until(
        lambda: all(len(metric_rows(engine, s)) >= written_before[s] + 2 for s in sessions),
        what="more ticks of every session",
    )
    # The survivor rebuilt the rooms: three present in every session, none counted anew.
    latest = [metric_rows(engine, s)[-1] for s in sessions]
    assert {row.extra["total_users"] for row in latest} == {3}
    total = first.writer.stats.written_rows + second.writer.stats.written_rows
    with engine.connect() as conn:
        in_db = conn.execute(sa.select(sa.func.count()).select_from(engagement_metrics)).scalar()
    # Every row either collector wrote is a distinct (session, tick): nobody wrote one twice.
    assert total == in_db


def test_a_router_takes_entries_a_dead_router_never_acknowledged(
    make_settings: Callable[..., Settings],
    run_collector: RunCollector,
    redis_client: redis.Redis,
) -> None:
    names = RedisNames(make_settings().redis_key_prefix)
    stream = names.stream(LIVE_SYNC_STREAM)
    redis_client.xgroup_create(stream, CONSUMER_GROUP, id="$", mkstream=True)
    audience(redis_client, names, "s-4", 3)
    # A consumer that read these and died before acknowledging them.
    redis_client.xreadgroup(CONSUMER_GROUP, "dead-one", {stream: ">"}, count=10)
    assert redis_client.xpending(stream, CONSUMER_GROUP)["pending"] == 3

    # Live routers' entries are in flight for milliseconds; a second idle is a dead router's.
    collector = run_collector(reclaim_idle_seconds=1)
    wait_until(lambda: collector.status().live_sessions == 1, what="the reclaimed session")
    assert redis_client.xpending(stream, CONSUMER_GROUP)["pending"] == 0
    assert collector.router.stats.reclaimed == 3


def test_a_tick_skipped_while_the_leases_are_unconfirmed_is_counted_as_missed(
    make_runtime: Callable[..., Runtime],
) -> None:
    """#15: after Redis came back, boundaries passed while the leases were not yet confirmed
    got no row and were counted nowhere."""
    collector = make_runtime(tick_seconds=1.0).collector
    assert collector is not None
    collector.take_turn(datetime.now(UTC).timestamp())
    assert collector.owned
    collector.redis_ok = False
    collector._redis_recovered()
    collector._turned_at = datetime.now(UTC).timestamp()  # this turn is not the one to confirm
    collector.step()
    assert collector.missed_ticks == 1
    assert collector.last_tick is None  # nothing was scored
    collector._turned_at = 0.0
    collector._next_tick = 0.0
    collector.step()  # the turn confirms the leases: this boundary is scored
    assert collector.missed_ticks == 1 and collector.last_tick is not None
