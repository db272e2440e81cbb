"""The intervention desk when decisions meet: two producers approving one suggestion, two
launches in one session, sessions racing for the hourly cap, and an approval racing the
collector's expiry; on SQLite and PostgreSQL where the backend's locking decides."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import redis
import sqlalchemy as sa

from services.agent.desk import InterventionDesk, InterventionError, SessionContext
from services.agent.followup import InterventionFollowUp
from services.core.vocabulary import InterventionType
from tests.desk_fixtures import SESSION, Platform, desk_over, propose
from tests.waiting import wait_until


@pytest.fixture
def desk_on_each_backend(
    engine: sa.Engine, redis_client: redis.Redis, redis_prefix: str
) -> InterventionDesk:
    """A desk on SQLite (decisions serialised by BEGIN IMMEDIATE), then on PostgreSQL (by an
    advisory lock)."""
    return desk_over(engine, redis_client, redis_prefix)


def test_two_producers_approving_at_once_execute_it_once(
    desk: InterventionDesk, platform: Platform
) -> None:
    record = propose(desk)
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
    record = propose(desk, session)
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
