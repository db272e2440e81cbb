"""From simulated platform events to an anomalies row and an `anomaly:detected` message."""

from __future__ import annotations

import json
from typing import Any

import redis
import sqlalchemy as sa

from components.anomalies import headline
from services.detection.detector import AnomalyStarted, AnomalyType, Severity
from services.detection.episode_log import EpisodeLog, EpisodeOutput
from services.simulation.audience import MASS_EXIT_SECONDS
from services.storage.database import create_db_engine
from services.storage.metrics_store import MetricsStore
from services.storage.migrate import upgrade_schema
from services.storage.schema import anomalies
from tests.clocked import MassExit
from tests.waiting import wait_until


def test_a_mass_exit_becomes_an_episode_row_a_contract_message_and_a_push(
    mass_exit: MassExit, redis_client: redis.Redis
) -> None:
    collector, room = mass_exit.collector, mass_exit.room
    names, engine = collector.names, collector.store.engine
    session_id = mass_exit.session.session_id
    listener = redis_client.pubsub(ignore_subscribe_messages=True)
    listener.subscribe(names.anomaly_channel, names.push_channel(session_id))
    wait_until(
        lambda: redis_client.pubsub_numsub(names.anomaly_channel)[0][1] == 1,
        what="the listener to subscribe",
    )
    detector = collector.book.detector_defaults
    # The walk-out is spread over MASS_EXIT_SECONDS; the rule sees it once it spans its window.
    flagged_by = mass_exit.exit_at + MASS_EXIT_SECONDS + detector.mass_exit_ticks * room.tick
    try:
        room.run_until(flagged_by)
        with engine.connect() as conn:
            row = conn.execute(sa.select(anomalies).where(anomalies.c.type == "MASS_EXIT")).first()
        assert row is not None, "no MASS_EXIT episode row"
        assert row.session_id == session_id and row.event_id == mass_exit.session.event_id
        assert mass_exit.exit_at < row.time.timestamp() <= flagged_by
        assert row.severity in {"WARNING", "CRITICAL"}
        assert row.explanation
        assert row.signals["total_users"] < mass_exit.session.audience
        # The numbers the page's headline shows: who was there, who is left, within how long
        # (as the severity was set: an escalation counts those who left since the start too).
        trigger = row.signals["trigger"]
        assert trigger["rule"] == "exit" and trigger["value"] <= row.signals["total_users"]
        assert trigger["reference"] - trigger["value"] >= 0.2 * trigger["reference"]

        seen: dict[str, Any] = {}

        def contract_and_push() -> bool:
            message = listener.get_message(timeout=0.2)
            if message is not None:
                body = json.loads(message["data"])
                if message["channel"] == names.anomaly_channel.encode():
                    seen["detected"] = body
                elif body.get("kind") == "anomaly":
                    seen.setdefault("push", body)
            return {"detected", "push"} <= set(seen)

        wait_until(contract_and_push, timeout=5, what="anomaly:detected and the browser push")
        detected = seen["detected"]
        assert set(detected) == {
            "sessionId",
            "eventId",
            "timestamp",
            "type",
            "severity",
            "anomalyScore",
            "currentEngagement",
            "expectedEngagement",
            "deviation",
            "signals",
        }
        assert (detected["type"], detected["sessionId"]) == ("MASS_EXIT", session_id)
        # The contract's signals are the platform's; the trigger stays ours.
        assert detected["signals"] == {k: v for k, v in row.signals.items() if k != "trigger"}
        pushed = seen["push"]["episode"]
        assert pushed["episodeId"] == row.episode_id
        first = pushed["trigger"]
        assert first["rule"] == "exit" and first["value"] >= trigger["value"]
        before, after = first["reference"], first["value"]
        # The rule compares the head count with the largest of the ticks before it.
        within = (detector.mass_exit_ticks + 1) * room.tick
        assert headline(pushed).what_fell == f"{before - after} of {before} left in {within:.0f}s"
        recent = collector.store.recent_anomalies(session_id, row.time)
        assert [r.as_json()["episodeId"] for r in recent] == [row.episode_id]
    finally:
        listener.close()


def test_episode_ids_fit_the_column_whatever_the_session_id(pg_url: str) -> None:
    """Review: episode ids embedded the session id and overflowed the column for long ids,
    blocking every later write."""
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
    upgrade_schema(engine)
    MetricsStore(engine).write_batch([], [], out.rows)  # raised "value too long" before
    engine.dispose()
