"""What follows an executed intervention, against real PostgreSQL and Redis: its measurement and
what the agent learns from it, and the platform's delivery outcomes, with bad ones dead-lettered
and a dead consumer's taken over."""

from __future__ import annotations

import json
from dataclasses import astuple
from datetime import datetime, timedelta

import pytest
import redis
import sqlalchemy as sa

from services.agent.desk import InterventionDesk, SessionContext
from services.agent.followup import InterventionFollowUp
from services.agent.outcomes import OutcomeReader
from services.agent.reward import RewardOutcome
from services.core.vocabulary import AgentContext, InterventionType
from services.storage.schema import agent_performance, engagement_metrics
from tests.desk_fixtures import SESSION, Platform

CHAT, POLL = InterventionType.CHAT_PROMPT, InterventionType.POLL


def _scores(desk: InterventionDesk, around: datetime, before: float, after: float) -> None:
    rows = []
    for offset in range(-60, 91, 5):
        rows.append(
            {
                "time": around + timedelta(seconds=offset),
                "session_id": "sess-1",
                "event_id": "evt-1",
                "engagement_score": before if offset < 0 else after,
                "chat_msgs_per_min": 1.0,
                "poll_participation": 0.0,
                "active_users": 10,
                "reactions_per_min": 1.0,
                "user_leave_rate": 0.0,
                "extra": {},
            }
        )
    with desk.engine.begin() as conn:
        conn.execute(engagement_metrics.insert(), rows)


def test_measurement_fills_the_outcome_learns_and_writes_performance(
    desk: InterventionDesk, platform: Platform, followup: InterventionFollowUp
) -> None:
    record = desk.trigger(SESSION, InterventionType.CHAT_PROMPT, "p", "SUDDEN_DROP")
    assert record.status == "executed"
    _scores(desk, record.executed_at, before=0.30, after=0.42)
    assert followup.measure(record.executed_at + timedelta(seconds=30)) == []  # too early
    measured = followup.measure(record.executed_at + timedelta(seconds=61))
    assert [m.status for m in measured] == ["measured"]
    outcome = measured[0].outcome
    assert outcome["engagement_before"] == pytest.approx(0.30)
    assert outcome["engagement_after"] == pytest.approx(0.42)
    assert outcome["delta"] == pytest.approx(0.12) and outcome["success"] is True
    with desk.engine.connect() as conn:
        perf = conn.execute(sa.select(agent_performance)).one()
    assert perf.success and perf.intervention_type == "CHAT_PROMPT"
    context = AgentContext.from_key(record.context)
    records = desk.posteriors.records(context)
    own = records[(context.key, InterventionType.CHAT_PROMPT)]
    assert own.successes == 1 and records[(context.parent_key, CHAT)].successes == 1
    # The context's first outcome is its baseline: its lift is its change.
    assert (own.before_sum, own.lift_sum) == pytest.approx((0.30, 0.12))
    assert followup.measure(record.executed_at + timedelta(seconds=120)) == []  # only once


def test_the_database_learns_each_lift_over_its_fine_context_s_baseline(
    desk: InterventionDesk,
) -> None:
    here = AgentContext.of("SUDDEN_DROP", 0.3, 120, -0.4)
    nearby = AgentContext.of("SUDDEN_DROP", 0.1, 120, -0.4)  # same parent, its own baseline
    learn = desk.posteriors.learn
    learn(here, CHAT, RewardOutcome(0.2, 0.3, 0.1, 0.5, True))  # baseline 0.2: lift 0.1
    learn(here, POLL, RewardOutcome(0.4, 0.5, 0.1, 0.5, True))  # 0.3: lift 0.2
    learn(nearby, POLL, RewardOutcome(0.9, 0.9, 0.0, 0.0, False))  # 0.9: lift 0
    learn(here, CHAT, RewardOutcome(0.6, 0.4, -0.2, 0.0, False))  # 0.4: lift 0
    records = desk.posteriors.records(here)
    chat = records[(here.key, CHAT)]
    assert astuple(chat) == pytest.approx((1, 1, -0.1, 0.05, 0.8, 0.1, 0.01))
    assert records[(here.parent_key, POLL)].lift_sum == pytest.approx(0.2)
    assert records[(here.grandparent_key, POLL)].before_sum == pytest.approx(1.3)


def test_no_scores_means_unmeasured_and_nothing_learnt(
    desk: InterventionDesk, platform: Platform, followup: InterventionFollowUp
) -> None:
    record = desk.trigger(SESSION, InterventionType.POLL, "p", None)
    measured = followup.measure(record.executed_at + timedelta(seconds=61))
    assert [m.status for m in measured] == ["unmeasured"]
    assert desk.posteriors.all_records() == {}


def test_delivery_outcomes_are_read_validated_and_applied(
    desk: InterventionDesk,
    platform: Platform,
    redis_client: redis.Redis,
    followup: InterventionFollowUp,
) -> None:
    names = desk.sender.names
    reader = OutcomeReader(redis_client, names, "test-consumer", 1000)
    reader.ensure_group()
    ok = desk.trigger(SESSION, InterventionType.POLL, "p", None)
    bad = desk.trigger(
        SessionContext("sess-2", "evt-1", 0.3, 50, 2.0), InterventionType.CHAT_PROMPT, "p", None
    )
    entries = [
        {
            "success": True,
            "intervention_id": ok.intervention_id,
            "session_id": "sess-1",
            "event_id": "evt-1",
            "result": {"pollId": "p-1"},
            "timestamp": "2026-11-26T00:00:00Z",
        },
        {
            "success": False,
            "intervention_id": bad.intervention_id,
            "session_id": "sess-2",
            "event_id": "evt-1",
            "error": "chat is closed",
            "timestamp": "2026-11-26T00:00:00Z",
        },
        {"success": "yes", "intervention_id": ok.intervention_id},
        {"success": True, "intervention_id": "never-made"},
    ]
    for entry in entries:
        redis_client.xadd(names.outcome_stream, {"data": json.dumps(entry)})
    redis_client.xadd(names.outcome_stream, {"data": b"{not json"})

    apply = followup.apply_delivery

    assert reader.read(apply) == 5
    assert (reader.accepted, reader.rejected) == (2, 3)
    assert redis_client.xlen(names.dead_letter) == 3
    assert desk.store.get(ok.intervention_id).outcome["delivery"]["success"] is True
    failed = desk.store.get(bad.intervention_id)
    assert failed.status == "failed" and "chat is closed" in failed.note
    assert reader.read(apply) == 0  # all acknowledged


def test_outcomes_a_dead_consumer_left_pending_are_taken_over(
    desk: InterventionDesk,
    platform: Platform,
    redis_client: redis.Redis,
    followup: InterventionFollowUp,
) -> None:
    names = desk.sender.names
    OutcomeReader(redis_client, names, "dead", 1000).ensure_group()
    sent = desk.trigger(SESSION, InterventionType.POLL, "p", None)
    payload = {"success": True, "intervention_id": sent.intervention_id, "timestamp": "t"}
    redis_client.xadd(names.outcome_stream, {"data": json.dumps(payload)})
    # The dead consumer read it and never acknowledged it.
    redis_client.xreadgroup("engagement-conductor", "dead", {names.outcome_stream: ">"})
    survivor = OutcomeReader(redis_client, names, "survivor", 1000)

    assert survivor.read(followup.apply_delivery, reclaim_idle_ms=0) == 1
    assert desk.store.get(sent.intervention_id).outcome["delivery"]["success"] is True
    assert redis_client.xpending(names.outcome_stream, "engagement-conductor")["pending"] == 0


def test_a_poisoned_outcome_is_dead_lettered_and_does_not_hold_back_the_rest(
    desk: InterventionDesk,
    platform: Platform,
    redis_client: redis.Redis,
    followup: InterventionFollowUp,
) -> None:
    names = desk.sender.names
    reader = OutcomeReader(redis_client, names, "test-consumer", 1000)
    reader.ensure_group()
    first = desk.trigger(SESSION, InterventionType.POLL, "p", None)
    other = desk.trigger(
        SessionContext("sess-2", "evt-1", 0.3, 50, 2.0), InterventionType.CHAT_PROMPT, "p", None
    )
    entries = [
        {"success": False, "intervention_id": first.intervention_id, "error": "boom\u0000!"},
        {"success": True, "intervention_id": other.intervention_id, "result": {"x": "\u0000"}},
        {"success": True, "intervention_id": other.intervention_id, "session_id": "sess-9"},
        {"success": True, "intervention_id": other.intervention_id, "timestamp": "t"},
    ]
    for entry in entries:
        redis_client.xadd(names.outcome_stream, {"data": json.dumps(entry)})
    assert reader.read(followup.apply_delivery) == 4
    assert (reader.accepted, reader.rejected) == (2, 2)
    failed = desk.store.get(first.intervention_id)
    assert failed.status == "failed" and "boom!" in failed.note  # the NUL is dropped
    assert desk.store.get(other.intervention_id).outcome["delivery"]["success"] is True
    reasons = [e[1][b"reason"] for e in redis_client.xrange(names.dead_letter)]
    assert any(b"NUL" in r for r in reasons) and any(b"does not match" in r for r in reasons)
    assert redis_client.xpending(names.outcome_stream, "engagement-conductor")["pending"] == 0
