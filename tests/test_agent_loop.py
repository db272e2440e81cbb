"""The whole loop through real Redis and PostgreSQL: simulated audience -> anomaly -> the agent's
intervention on agent.interventions -> the simulated platform's delivery outcome -> a measured
outcome row and a learnt posterior."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import redis
import sqlalchemy as sa

from services.simulation.simulator import Episode, EpisodeKind, SimSession, Simulator
from services.storage.agent_settings import AgentSettingsStore
from services.storage.schema import agent_performance, agent_posteriors, interventions
from tests.conftest import RunCollector
from tests.waiting import wait_until


def test_an_anomaly_is_acted_on_delivered_measured_and_learnt_from(
    run_collector: RunCollector, redis_client: redis.Redis
) -> None:
    collector = run_collector(agent_reward_delay_seconds=10)
    engine = collector.store.engine
    names = collector.names
    # A cap of one: later episodes of the run are refused, so exactly one is measured.
    AgentSettingsStore(engine).update("evt-loop", {"mode": "AUTO", "hourly_cap": 1})
    watcher = redis_client.pubsub(ignore_subscribe_messages=True)
    watcher.subscribe(names.agent_channel)
    stop = threading.Event()
    wait_until(lambda: collector.is_leader, what="leadership")
    start = time.time()
    exit_at = start + 20
    session = SimSession(
        session_id="sess-loop",
        event_id="evt-loop",
        title="Loop",
        audience=150,
        join_seconds=5,
        poll_every=None,
        episodes=(Episode(EpisodeKind.MASS_EXIT, exit_at, exit_at + 60),),
    )
    sim = Simulator([session], seed=11, start=start)
    platform = threading.Thread(
        target=sim.run, args=(redis_client, names, stop), kwargs={"interval": 0.1}, daemon=True
    )
    platform.start()
    try:

        def executed() -> sa.Row[Any] | None:
            with engine.connect() as conn:
                return conn.execute(
                    sa.select(interventions).where(interventions.c.status != "refused")
                ).first()

        row = wait_until(executed, timeout=60, what="the agent's intervention")
        assert row.session_id == "sess-loop" and row.anomaly_type == "MASS_EXIT"
        assert row.approved_by.startswith("agent (AUTO")
        message = wait_until(lambda: watcher.get_message(timeout=0.1), what="the message")
        sent = json.loads(message["data"])
        assert sent["intervention_id"] == row.intervention_id
        assert sent["type"].startswith("agent.intervention.")

        def delivered() -> dict[str, Any] | None:
            with engine.connect() as conn:
                outcome = conn.execute(
                    sa.select(interventions.c.outcome).where(
                        interventions.c.intervention_id == row.intervention_id
                    )
                ).scalar()
            return (outcome or {}).get("delivery")

        delivery = wait_until(delivered, timeout=20, what="the platform's delivery outcome")
        assert delivery["success"] is True

        def measured() -> sa.Row[Any] | None:
            with engine.connect() as conn:
                return conn.execute(sa.select(agent_performance)).first()

        perf = wait_until(measured, timeout=40, what="the measured outcome row")
        assert perf.intervention_id == row.intervention_id
        assert perf.engagement_before is not None and perf.engagement_after is not None
        with engine.connect() as conn:
            final = conn.execute(
                sa.select(interventions).where(
                    interventions.c.intervention_id == row.intervention_id
                )
            ).one()
            learnt = conn.execute(
                sa.select(agent_posteriors).where(agent_posteriors.c.intervention_type == row.type)
            ).all()
        assert final.status == "measured"
        # Each figure is rounded to 4 places on its own: compare within that rounding.
        change = perf.engagement_after - perf.engagement_before
        assert abs(final.outcome["delta"] - change) <= 1.5e-4
        assert {r.context for r in learnt} >= {row.context}
        assert all(r.successes + r.failures == 1 for r in learnt)
        [(_, truth)] = [(d.session_id, d) for d in sim.ground_truth_interventions()]
        assert truth.intervention_id == row.intervention_id
    finally:
        stop.set()
        platform.join(10)
        watcher.close()
