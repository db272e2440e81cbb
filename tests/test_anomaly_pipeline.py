"""From simulated platform events to an anomalies row and an `anomaly:detected` message."""

from __future__ import annotations

import json
from typing import Any

import redis
import sqlalchemy as sa

from services.simulation.audience import MASS_EXIT_SECONDS
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
        assert seen["push"]["episode"]["episodeId"] == row.episode_id
        recent = collector.store.recent_anomalies(session_id, row.time)
        assert [r.as_json()["episodeId"] for r in recent] == [row.episode_id]
    finally:
        listener.close()
