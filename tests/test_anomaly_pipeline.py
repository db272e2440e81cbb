"""From simulated platform events to an anomalies row and an `anomaly:detected` message."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import redis
import sqlalchemy as sa

from services.simulation.simulator import Episode, EpisodeKind, SimSession, Simulator
from services.storage.schema import anomalies
from tests.conftest import RunCollector
from tests.waiting import wait_until


def test_a_mass_exit_becomes_an_episode_row_a_contract_message_and_a_push(
    run_collector: RunCollector, redis_client: redis.Redis
) -> None:
    collector = run_collector()
    engine = collector.store.engine
    names = collector.names
    listener = redis_client.pubsub(ignore_subscribe_messages=True)
    listener.subscribe(names.anomaly_channel, names.push_channel("sess-exit"))
    stop = threading.Event()
    threads: list[threading.Thread] = []
    try:
        wait_until(lambda: collector.is_leader, what="leadership")
        start = time.time()
        exit_at = start + 20
        session = SimSession(
            session_id="sess-exit",
            event_id="evt-x",
            title="Exit",
            audience=120,
            join_seconds=5,
            poll_every=None,
            episodes=(Episode(EpisodeKind.MASS_EXIT, exit_at, exit_at + 60),),
        )
        sim = Simulator([session], seed=5, start=start)
        threads.append(
            threading.Thread(
                target=sim.run,
                args=(redis_client, names, stop),
                kwargs={"interval": 0.1},
                daemon=True,
            )
        )
        threads[0].start()

        def stored() -> sa.Row[Any] | None:
            with engine.connect() as conn:
                return conn.execute(
                    sa.select(anomalies).where(anomalies.c.type == "MASS_EXIT")
                ).first()

        row = wait_until(stored, timeout=60, what="a MASS_EXIT episode row")
        assert row.session_id == "sess-exit" and row.event_id == "evt-x"
        assert exit_at - 1 <= row.time.timestamp() <= exit_at + 15  # flagged within 15 s
        assert row.severity in {"WARNING", "CRITICAL"}
        assert row.explanation
        assert row.signals["total_users"] < 120

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

        wait_until(contract_and_push, timeout=20, what="anomaly:detected and the browser push")
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
        assert (detected["type"], detected["sessionId"]) == ("MASS_EXIT", "sess-exit")
        assert seen["push"]["episode"]["episodeId"] == row.episode_id
        recent = collector.store.recent_anomalies("sess-exit", row.time)
        assert [r.as_json()["episodeId"] for r in recent] == [row.episode_id]
    finally:
        stop.set()
        for thread in threads:
            thread.join(20)
        listener.close()
