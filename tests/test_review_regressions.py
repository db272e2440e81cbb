"""Regression tests for defects found in review: each once stopped collection or skewed it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
import redis
import sqlalchemy as sa

from app.runtime import Runtime
from services.core.platform import LIVE_SYNC_STREAM, REACTION_STREAM
from services.core.redis_bus import RedisNames
from services.core.settings import ScoreWeights
from services.detection.detector import AnomalyStarted, AnomalyType, DetectorSettings, Severity
from services.detection.episode_log import EpisodeLog, EpisodeOutput
from services.detection.event_settings import valid_stored_overrides
from services.detection.rules import MassExitRule
from services.ingest.stream_reader import StreamReader
from services.ingest.windows import WindowConfig
from services.live.session_book import Lifetimes, SessionBook
from services.storage.metrics_store import ENDED, LIVE
from services.storage.tick_writer import TickWriter
from tests.conftest import RunCollector
from tests.waiting import wait_until


def test_an_empty_room_is_no_mass_exit_even_with_a_zero_minimum_audience() -> None:
    rule = MassExitRule(DetectorSettings(mass_exit_min_audience=0))
    for present in (0, 0, 0, 0):
        rule.push(present)
        assert rule.check(present) is None  # divided by the zero-person room before


def test_stored_overrides_that_no_longer_validate_are_ignored_not_fatal() -> None:
    stored = {
        "good": {"sensitivity": 2},
        "renamed": {"future_setting": 1},
        "zero-audience": {"mass_exit_min_audience": 0},
        "not-an-object": [1, 2],
    }
    assert valid_stored_overrides(stored) == {"good": {"sensitivity": 2.0}}


def test_episode_ids_fit_the_column_whatever_the_session_id(pg_url: str) -> None:
    from services.storage.database import create_db_engine, ensure_schema
    from services.storage.metrics_store import MetricsStore

    session_id = "s" * 255  # the contract allows this much
    started = AnomalyStarted(
        session_id=session_id,
        episode_id="detector-1",
        type=AnomalyType.SUDDEN_DROP,
        severity=Severity.WARNING,
        at=1_800_000_000.0,
        anomaly_score=0.9,
        current_engagement=0.1,
        expected_engagement=0.5,
        deviation=-0.8,
        explanation="chat fell",
        signals={},
    )
    out = EpisodeOutput()
    EpisodeLog().record([started], "evt", {"total_users": 3}, out)
    (row,) = out.rows
    assert len(row["episode_id"]) <= 64
    engine = create_db_engine(pg_url)
    ensure_schema(engine)
    MetricsStore(engine).write_batch([], [], out.rows)  # raised "value too long" before
    engine.dispose()


def test_a_driver_error_from_copy_is_kept_and_retried_not_raised() -> None:
    calls = []

    def locked_out(*_rows: object) -> None:
        calls.append(1)
        raise psycopg.errors.LockNotAvailable("canceling statement due to lock timeout")

    writer = TickWriter(locked_out, max_rows=100)
    writer.submit([{"tick": 1}], [])
    assert writer.flush() is False
    assert writer.pending_rows == 1
    assert "lock timeout" in (writer.stats.last_error or "")


def test_a_read_applies_entries_in_stamp_order_across_streams(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
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


def test_the_leader_ends_sessions_no_collector_ticks_any_more(
    run_collector: RunCollector,
) -> None:
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
    )

    def ended() -> bool:
        record = collector.store.get_session("orphan")
        return record is not None and record.status == ENDED

    wait_until(ended, what="the abandoned session to be marked ended")


def test_an_unexpected_error_in_a_turn_does_not_end_the_collector(
    run_collector: RunCollector, monkeypatch: pytest.MonkeyPatch
) -> None:
    collector = run_collector()
    wait_until(lambda: collector.last_tick is not None, what="a first tick")
    real_tick = collector.book.score_tick
    failures = []

    def fail_once(boundary: float) -> Any:
        if not failures:
            failures.append(boundary)
            raise RuntimeError("a bug")
        return real_tick(boundary)

    monkeypatch.setattr(collector.book, "score_tick", fail_once)
    wait_until(lambda: failures, what="the failing tick")
    wait_until(
        lambda: collector.last_tick is not None and collector.last_tick > failures[0],
        what="ticks after the failure",
    )
    assert collector.running


def test_database_sessions_have_timeouts(pg_url: str) -> None:
    from services.storage.database import create_db_engine

    engine = create_db_engine(pg_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SHOW statement_timeout")).scalar() == "15s"
        assert conn.execute(sa.text("SHOW lock_timeout")).scalar() == "5s"
    engine.dispose()


class _BrokenGenerator:
    """A content generator with a bug (the interface invites other implementations)."""

    def generate(self, request: Any, rng: Any) -> Any:
        raise RuntimeError("template bug")


def test_a_failing_agent_step_costs_only_that_step_never_the_tick(
    make_runtime: Callable[..., Runtime],
) -> None:
    """Review: any error but a database one escaped follow_interventions, so the tick was
    re-run forever and the streams were never read again."""
    from services.agent.desk import SessionContext

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
    collector.follow_interventions(out.episodes.opened)  # must not raise
    # The step after the broken one still ran: the old suggestion expired.
    assert collector.desk.store.get(pending.intervention_id).status == "expired"


def test_the_collectors_outcome_handler_acknowledges_what_it_reads(
    make_runtime: Callable[..., Runtime], redis_client: redis.Redis
) -> None:
    """CI: the collector's handler answered True/False where the reader expects a reason or
    None, so every read's acknowledgements failed (a bool cannot go into a Redis command)."""
    from services.agent.desk import SessionContext
    from services.core.vocabulary import InterventionType

    collector = make_runtime(tick_seconds=1.0).collector
    assert collector is not None
    names = collector.names
    listener = redis_client.pubsub()
    listener.subscribe(names.agent_channel)
    try:
        wait_until(lambda: redis_client.pubsub_numsub(names.agent_channel)[0][1] == 1)
        collector.outcomes.ensure_group()
        sent = collector.desk.trigger(
            SessionContext("s-1", "evt-1", 0.3, 50, 2.0), InterventionType.POLL, "p", None
        )
        assert sent.status == "executed"
        for payload in (
            {"success": True, "intervention_id": sent.intervention_id, "timestamp": "t"},
            {"success": True, "intervention_id": "unknown-one"},
        ):
            redis_client.xadd(names.outcome_stream, {"data": json.dumps(payload)})
        assert collector.outcomes.read(collector._delivered) == 2
        assert redis_client.xpending(names.outcome_stream, "engagement-conductor")["pending"] == 0
        assert collector.desk.store.get(sent.intervention_id).outcome["delivery"]["success"]
        assert redis_client.xlen(names.dead_letter) == 1
    finally:
        listener.close()
