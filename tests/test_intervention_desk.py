"""The intervention desk against real PostgreSQL and Redis: suggestions, decisions, guards,
execution to the platform's channel, delivery outcomes and measured rewards."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis
import sqlalchemy as sa

from services.agent.content import TemplateLibrary
from services.agent.desk import InterventionDesk, InterventionError, SessionContext
from services.agent.followup import InterventionFollowUp
from services.agent.outcomes import OutcomeReader
from services.agent.posteriors import DatabasePosteriors
from services.agent.reward import RewardRule
from services.agent.sender import InterventionSender
from services.core.redis_bus import RedisNames
from services.core.settings import Settings
from services.core.vocabulary import AgentContext, AgentMode, InterventionType
from services.live.stores import Stores
from services.storage.agent_settings import AgentSettingsError
from services.storage.database import create_db_engine, ensure_schema
from services.storage.schema import agent_performance, engagement_metrics, interventions
from tests.waiting import wait_until

SESSION = SessionContext("sess-1", "evt-1", engagement=0.3, present_users=120, chat_per_min=4.0)


class Platform:
    """A subscriber on agent.interventions standing in for the event platform."""

    def __init__(self, client: redis.Redis, names: RedisNames) -> None:
        self.pubsub = client.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(names.agent_channel)
        wait_until(lambda: client.pubsub_numsub(names.agent_channel)[0][1] == 1, what="subscribe")
        self.received: list[dict[str, Any]] = []

    def drain(self) -> list[dict[str, Any]]:
        while (message := self.pubsub.get_message(timeout=0.05)) is not None:
            self.received.append(json.loads(message["data"]))
        return self.received


def desk_over(engine: sa.Engine, client: redis.Redis, prefix: str) -> InterventionDesk:
    ensure_schema(engine)
    stores = Stores.over(engine)
    sender = InterventionSender(stores.interventions, client, RedisNames(prefix))
    return InterventionDesk(
        sender, stores.agent_settings, stores.posteriors, TemplateLibrary(), rng=random.Random(7)
    )


@pytest.fixture
def desk(
    make_settings: Callable[..., Settings], redis_client: redis.Redis
) -> Iterator[InterventionDesk]:
    settings = make_settings()
    engine = create_db_engine(settings.database_url)
    yield desk_over(engine, redis_client, settings.redis_key_prefix)
    engine.dispose()


@pytest.fixture
def desk_on_each_backend(
    engine: sa.Engine, redis_client: redis.Redis, redis_prefix: str
) -> InterventionDesk:
    """A desk on SQLite (decisions serialised by BEGIN IMMEDIATE), then on PostgreSQL (by an
    advisory lock)."""
    return desk_over(engine, redis_client, redis_prefix)


@pytest.fixture
def followup(desk: InterventionDesk) -> InterventionFollowUp:
    return InterventionFollowUp(desk.sender, desk.posteriors, RewardRule(delay_seconds=60))


@pytest.fixture
def platform(desk: InterventionDesk, redis_client: redis.Redis) -> Iterator[Platform]:
    listener = Platform(redis_client, desk.sender.names)
    yield listener
    listener.pubsub.close()


def _propose(desk: InterventionDesk, session: SessionContext = SESSION) -> Any:
    return desk.propose(session, "SUDDEN_DROP", -0.4, "ep-1", "Chat fell from 14/min to 2/min")


def _rows(desk: InterventionDesk) -> list[sa.Row[Any]]:
    with desk.engine.connect() as conn:
        return conn.execute(sa.select(interventions).order_by(interventions.c.time)).all()


def _teach(desk: InterventionDesk, arm: InterventionType, successes: int, failures: int) -> None:
    context = AgentContext.of("SUDDEN_DROP", 0.3, 120, -0.4)
    for n in range(successes + failures):
        desk.posteriors.learn(context, arm, n < successes, 0.1 if n < successes else -0.02)


def test_manual_mode_suggests_with_content_reasoning_and_an_expiry(
    desk: InterventionDesk, platform: Platform
) -> None:
    record = _propose(desk)
    assert record.status == "pending"
    assert record.type in {t.value for t in InterventionType}
    assert record.confidence == pytest.approx(0.5)  # Beta(1, 1): nothing learnt yet
    assert "Exploring" in record.reasoning and "Chat fell" in record.reasoning
    assert record.preview and record.content
    assert record.expires_at > record.time + timedelta(seconds=100)
    assert record.episode_id == "ep-1" and record.context.startswith("SUDDEN_DROP|")
    assert platform.drain() == []  # nothing sent before a person approves


def test_approval_sends_the_platform_payload_once_and_twice_is_an_error(
    desk: InterventionDesk, platform: Platform
) -> None:
    record = _propose(desk)
    done = desk.approve(record.intervention_id, "evt-1", "producer")
    assert done.status == "executed" and done.approved_by == "producer"
    sent = wait_until(platform.drain, what="the agent.interventions message")
    assert len(sent) == 1
    message = sent[0]
    assert message["intervention_id"] == record.intervention_id
    assert message["session_id"] == "sess-1" and message["event_id"] == "evt-1"
    assert message["type"].startswith("agent.intervention.")
    assert "variant" not in message
    with pytest.raises(InterventionError, match="already executed"):
        desk.approve(record.intervention_id, "evt-1", "producer")
    with pytest.raises(InterventionError, match="no such suggestion"):
        desk.approve("no-such-id", "evt-1", "producer")


def test_a_suggestion_of_another_event_is_refused(desk: InterventionDesk) -> None:
    record = _propose(desk)
    with pytest.raises(InterventionError, match="another event") as raised:
        desk.approve(record.intervention_id, "evt-other", "producer")
    assert raised.value.status == 403
    assert _rows(desk)[0].status == "pending"


def test_two_producers_approving_at_once_execute_it_once(
    desk: InterventionDesk, platform: Platform
) -> None:
    record = _propose(desk)
    results: list[str] = []
    barrier = threading.Barrier(2)

    def approve() -> None:
        barrier.wait()
        try:
            results.append(desk.approve(record.intervention_id, "evt-1", "p").status)
        except InterventionError as exc:
            results.append(f"error: {exc}")

    threads = [threading.Thread(target=approve) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert results.count("executed") == 1
    loser = next(r for r in results if r != "executed")
    assert loser.startswith("error: ") and ("already" in loser or "same moment" in loser)
    wait_until(platform.drain, what="one message")
    assert len(platform.drain()) == 1


def test_dismissal_is_recorded_and_ends_the_suggestion(desk: InterventionDesk) -> None:
    record = _propose(desk)
    dismissed = desk.dismiss(record.intervention_id, "evt-1", "producer", "not now")
    assert dismissed.status == "dismissed" and "not now" in dismissed.note
    with pytest.raises(InterventionError, match="already dismissed"):
        desk.approve(record.intervention_id, "evt-1", "producer")


def test_an_expired_suggestion_cannot_be_approved(
    desk: InterventionDesk, followup: InterventionFollowUp
) -> None:
    record = _propose(desk)
    later = record.expires_at + timedelta(seconds=1)
    expired = followup.expire(later)
    assert [r.intervention_id for r in expired] == [record.intervention_id]
    assert expired[0].status == "expired"
    with pytest.raises(InterventionError, match="already expired"):
        desk.approve(record.intervention_id, "evt-1", "producer")


def test_semi_auto_acts_alone_only_when_confident(
    desk: InterventionDesk, platform: Platform
) -> None:
    desk.settings.update("evt-1", {"mode": "SEMI_AUTO", "allowed_types": ["CHAT_PROMPT"]})
    unsure = _propose(desk)
    assert unsure.status == "pending"  # 0.5 < 0.75
    desk.dismiss(unsure.intervention_id, "evt-1", "p")
    _teach(desk, InterventionType.CHAT_PROMPT, successes=9, failures=0)
    sure = _propose(desk)
    assert sure.confidence >= 0.75
    assert sure.status == "executed" and sure.approved_by.startswith("agent (SEMI_AUTO")
    assert len(wait_until(platform.drain, what="the message")) == 1


def test_guards_refuse_visibly_with_their_reason(
    desk: InterventionDesk, platform: Platform
) -> None:
    desk.settings.update("evt-1", {"mode": "AUTO", "hourly_cap": 10})
    first = _propose(desk)
    assert first.status == "executed"
    second = _propose(desk)
    assert second.status == "refused" and "one intervention per 30 s" in second.note
    desk.settings.update("evt-1", {"mode": "AUTO", "hourly_cap": 1})
    with pytest.raises(InterventionError, match="hourly cap of 1"):
        desk.trigger(
            SessionContext("sess-2", "evt-1", 0.3, 50, 2.0), InterventionType.POLL, "p", None
        )
    statuses = [row.status for row in _rows(desk)]
    assert statuses == ["executed", "refused", "refused"]


def test_low_confidence_and_off_mode(desk: InterventionDesk) -> None:
    desk.settings.update("evt-1", {"allowed_types": ["POLL"]})
    _teach(desk, InterventionType.POLL, successes=0, failures=8)
    refused = _propose(desk)
    assert refused.status == "refused" and "below the event's minimum" in refused.note
    desk.settings.set_session_mode("sess-1", AgentMode.OFF)
    assert _propose(desk) is None
    assert len(_rows(desk)) == 1


def test_no_listener_means_failed_not_executed(desk: InterventionDesk) -> None:
    record = desk.trigger(SESSION, InterventionType.NOTIFICATION, "p", "MASS_EXIT")
    assert record.status == "failed" and "no platform service is listening" in record.note


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
    assert records[(context.key, InterventionType.CHAT_PROMPT)].successes == 1
    assert records[(context.parent_key, InterventionType.CHAT_PROMPT)].successes == 1
    assert followup.measure(record.executed_at + timedelta(seconds=120)) == []  # only once


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


def test_posteriors_are_shared_through_the_database(desk: InterventionDesk) -> None:
    _teach(desk, InterventionType.GAMIFICATION, successes=3, failures=1)
    other = InterventionDesk(
        desk.sender, desk.settings, DatabasePosteriors(desk.engine), TemplateLibrary()
    )
    context = AgentContext.of("SUDDEN_DROP", 0.3, 120, -0.4)
    record = other.posteriors.records(context)[(context.key, InterventionType.GAMIFICATION)]
    assert (record.successes, record.failures) == (3, 1)


def test_bad_settings_are_refused_with_reasons(desk: InterventionDesk) -> None:
    with pytest.raises(AgentSettingsError, match="hourly_cap"):
        desk.settings.update("evt-1", {"hourly_cap": 1000})
    with pytest.raises(AgentSettingsError, match="min_confidence must not be above"):
        desk.settings.update("evt-1", {"min_confidence": 0.9, "approve_threshold": 0.8})
    with pytest.raises(AgentSettingsError, match="allowed_types"):
        desk.settings.update("evt-1", {"allowed_types": ["SMOKE_SIGNALS"]})
    assert desk.settings.for_event("evt-1").mode is AgentMode.MANUAL  # defaults still hold


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


def test_an_approval_being_sent_counts_against_the_rate_limit(
    desk: InterventionDesk, platform: Platform
) -> None:
    """Two launches at once in one session: the second must see the first, sent or not."""
    desk.settings.update("evt-1", {"hourly_cap": 10})
    results: list[str] = []
    barrier = threading.Barrier(2)

    def launch(arm: InterventionType) -> None:
        barrier.wait()
        try:
            results.append(desk.trigger(SESSION, arm, "p", None).status)
        except InterventionError as exc:
            results.append(str(exc))

    threads = [
        threading.Thread(target=launch, args=(arm,))
        for arm in (InterventionType.POLL, InterventionType.CHAT_PROMPT)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert len(results) == 2
    assert sum("one intervention per 30 s" in r for r in results) == 1


def test_the_hourly_cap_holds_across_sessions_deciding_at_once(
    desk_on_each_backend: InterventionDesk, redis_client: redis.Redis
) -> None:
    desk = desk_on_each_backend
    platform = Platform(redis_client, desk.sender.names)
    desk.settings.update("evt-1", {"hourly_cap": 1})
    results: list[str] = []
    barrier = threading.Barrier(3)

    def launch(n: int) -> None:
        barrier.wait()
        session = SessionContext(f"sess-{n}", "evt-1", 0.3, 50, 2.0)
        try:
            results.append(desk.trigger(session, InterventionType.POLL, "p", None).status)
        except InterventionError as exc:
            results.append(str(exc))

    threads = [threading.Thread(target=launch, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sum("hourly cap of 1" in r for r in results) == 2
    platform.pubsub.close()


def _approve_racing_expiry(
    desk: InterventionDesk, followup: InterventionFollowUp, session: SessionContext
) -> tuple[str, str]:
    """The producer's approval and the collector's expiry of one suggestion, released at once:
    the suggestion's final status and what the approval answered."""
    # Shorter than the follow-up's 60 s for an approval stuck in sending, so the expiry below
    # does not also take the approval being sent for a stuck one.
    assert session.event_id is not None
    desk.settings.update(session.event_id, {"suggestion_ttl_seconds": 30})
    record = _propose(desk, session)
    assert record.status == "pending" and record.expires_at is not None
    answers: list[str] = []
    barrier = threading.Barrier(2)

    def approve() -> None:
        barrier.wait()
        try:
            answers.append(desk.approve(record.intervention_id, session.event_id, "p").status)
        except InterventionError as exc:
            answers.append(str(exc))

    def expire() -> None:
        barrier.wait()
        # The collector's clock is past the suggestion's expiry; the producer's is not.
        followup.expire(record.expires_at + timedelta(milliseconds=1))

    threads = [threading.Thread(target=approve), threading.Thread(target=expire)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    final = desk.store.get(record.intervention_id)
    assert final is not None
    return final.status, answers[0]


def test_approval_racing_the_collectors_expiry_executes_at_most_once(
    desk_on_each_backend: InterventionDesk, redis_client: redis.Redis
) -> None:
    """The web tier approves while the collector's follow-up expires the same suggestion: each
    round exactly one of them moves it, and the platform hears of it at most once."""
    desk = desk_on_each_backend
    followup = InterventionFollowUp(desk.sender, desk.posteriors)
    platform = Platform(redis_client, desk.sender.names)
    finals = []
    for n in range(12):
        # Another event each round, so the hourly cap never decides the outcome.
        session = SessionContext(f"sess-{n}", f"evt-{n}", 0.3, 120, 4.0)
        final, answer = _approve_racing_expiry(desk, followup, session)
        assert final in ("executed", "expired")
        assert (answer == "executed") == (final == "executed")
        finals.append(final)
    executed = finals.count("executed")
    wait_until(lambda: len(platform.drain()) >= executed, what="the executed ones' messages")
    sent = platform.drain()
    assert len(sent) == executed
    assert len({message["intervention_id"] for message in sent}) == executed
    platform.pubsub.close()
