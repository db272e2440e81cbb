"""The whole loop through real Redis and PostgreSQL: simulated audience -> anomaly -> the agent's
intervention on agent.interventions -> the simulated platform's delivery outcome -> a measured
outcome row and a learnt posterior."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import redis
import sqlalchemy as sa

from app.runtime import Runtime
from services.simulation.audience import MASS_EXIT_SECONDS
from services.storage.agent_settings import AgentSettingsStore
from services.storage.schema import agent_performance, agent_posteriors, interventions
from tests.clocked import MassExit
from tests.waiting import wait_until


def test_an_anomaly_is_acted_on_delivered_measured_and_learnt_from(
    mass_exit: MassExit, redis_client: redis.Redis
) -> None:
    collector, room = mass_exit.collector, mass_exit.room
    engine, names = collector.store.engine, collector.names
    session = mass_exit.session
    # A cap of one: later episodes of the run are refused, so exactly one is measured.
    AgentSettingsStore(engine).update(session.event_id, {"mode": "AUTO", "hourly_cap": 1})
    watcher = redis_client.pubsub(ignore_subscribe_messages=True)
    watcher.subscribe(names.agent_channel)
    wait_until(
        lambda: redis_client.pubsub_numsub(names.agent_channel)[0][1] == 2,
        what="the watcher to subscribe beside the simulated platform",
    )
    detector = collector.book.detector_defaults
    flagged_by = mass_exit.exit_at + MASS_EXIT_SECONDS + detector.mass_exit_ticks * room.tick
    try:
        # AUTO executes in the agent's turn after the tick that opened the episode.
        room.run_until(flagged_by)
        with engine.connect() as conn:
            row = conn.execute(
                sa.select(interventions).where(interventions.c.status != "refused")
            ).first()
        assert row is not None, "the agent sent no intervention"
        assert row.session_id == session.session_id and row.anomaly_type == "MASS_EXIT"
        assert row.approved_by.startswith("agent (AUTO")
        assert mass_exit.exit_at < row.executed_at.timestamp() <= flagged_by
        message = wait_until(lambda: watcher.get_message(timeout=0.1), what="the message")
        sent = json.loads(message["data"])
        assert sent["intervention_id"] == row.intervention_id
        assert sent["type"].startswith("agent.intervention.")

        # The platform answers at its next publish; the agent reads it in its next turn.
        room.run_until(room.now + room.tick)

        def delivery() -> dict[str, Any] | None:
            with engine.connect() as conn:
                outcome = conn.execute(
                    sa.select(interventions.c.outcome).where(
                        interventions.c.intervention_id == row.intervention_id
                    )
                ).scalar()
            return (outcome or {}).get("delivery")

        assert (delivery() or {}).get("success") is True

        # Measured in the agent's first turn once the settings' reward delay has passed.
        delay = collector.settings.agent_reward_delay_seconds
        room.run_until(row.executed_at.timestamp() + delay + room.tick)
        with engine.connect() as conn:
            perf = conn.execute(sa.select(agent_performance)).one()
            final = conn.execute(
                sa.select(interventions).where(
                    interventions.c.intervention_id == row.intervention_id
                )
            ).one()
            learnt = conn.execute(
                sa.select(agent_posteriors).where(agent_posteriors.c.intervention_type == row.type)
            ).all()
        assert perf.intervention_id == row.intervention_id
        assert perf.engagement_before is not None and perf.engagement_after is not None
        assert final.status == "measured"
        assert final.measured_at.timestamp() == row.executed_at.timestamp() + delay
        # Each figure is rounded to 4 places on its own: compare within that rounding.
        change = perf.engagement_after - perf.engagement_before
        assert abs(final.outcome["delta"] - change) <= 1.5e-4
        assert {r.context for r in learnt} >= {row.context}
        assert all(r.successes + r.failures == 1 for r in learnt)
        [(_, truth)] = [(d.session_id, d) for d in room.simulator.ground_truth_interventions()]
        assert truth.intervention_id == row.intervention_id
    finally:
        watcher.close()


def test_the_deployment_s_reward_delay_is_measured_in_its_last_two_thirds(
    make_runtime: Callable[..., Runtime],
) -> None:
    collector = make_runtime(agent_reward_delay_seconds=60).collector
    assert collector is not None
    rule = collector.agent.followup.rule
    assert (rule.before_seconds, rule.delay_seconds, rule.after_seconds) == (30, 60, 40)
