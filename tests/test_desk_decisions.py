"""The intervention desk's decisions against real PostgreSQL and Redis: suggestions, approval
and dismissal, expiry, SEMI_AUTO, guards' refusals, OFF, no platform listening, shared posteriors
and refused settings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from services.agent.content import TemplateLibrary
from services.agent.desk import InterventionDesk, InterventionError, SessionContext
from services.agent.followup import InterventionFollowUp
from services.agent.posteriors import DatabasePosteriors
from services.agent.reward import RewardOutcome
from services.core.vocabulary import AgentContext, AgentMode, InterventionType
from services.storage.agent_settings import AgentSettingsError
from services.storage.schema import interventions
from tests.desk_fixtures import SESSION, Platform, propose
from tests.waiting import wait_until


def _rows(desk: InterventionDesk) -> list[sa.Row[Any]]:
    with desk.engine.connect() as conn:
        return conn.execute(sa.select(interventions).order_by(interventions.c.time)).all()


def _teach(desk: InterventionDesk, arm: InterventionType, successes: int, failures: int) -> None:
    context = AgentContext.of("SUDDEN_DROP", 0.3, 120, -0.4)
    for n in range(successes + failures):
        delta = 0.1 if n < successes else -0.02
        desk.posteriors.learn(
            context, arm, RewardOutcome(0.3, 0.3 + delta, delta, 0, n < successes)
        )


def test_manual_mode_suggests_with_content_reasoning_and_an_expiry(
    desk: InterventionDesk, platform: Platform
) -> None:
    record = propose(desk)
    assert record.status == "pending"
    assert record.type in {t.value for t in InterventionType}
    assert record.confidence == pytest.approx(0.5)  # Beta(1, 1): nothing learnt yet
    assert "Little is known here yet" in record.reasoning and "Chat fell" in record.reasoning
    assert record.preview and record.content
    assert record.expires_at > record.time + timedelta(seconds=100)
    assert record.episode_id == "ep-1" and record.context.startswith("SUDDEN_DROP|")
    assert platform.drain() == []  # nothing sent before a person approves


def test_approval_sends_the_platform_payload_once_and_twice_is_an_error(
    desk: InterventionDesk, platform: Platform
) -> None:
    record = propose(desk)
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
    record = propose(desk)
    with pytest.raises(InterventionError, match="another event") as raised:
        desk.approve(record.intervention_id, "evt-other", "producer")
    assert raised.value.status == 403
    assert _rows(desk)[0].status == "pending"


def test_dismissal_is_recorded_and_ends_the_suggestion(desk: InterventionDesk) -> None:
    record = propose(desk)
    dismissed = desk.dismiss(record.intervention_id, "evt-1", "producer", "not now")
    assert dismissed.status == "dismissed" and "not now" in dismissed.note
    with pytest.raises(InterventionError, match="already dismissed"):
        desk.approve(record.intervention_id, "evt-1", "producer")


def test_an_expired_suggestion_cannot_be_approved(
    desk: InterventionDesk, followup: InterventionFollowUp
) -> None:
    record = propose(desk)
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
    unsure = propose(desk)
    assert unsure.status == "pending"  # 0.5 < 0.75
    desk.dismiss(unsure.intervention_id, "evt-1", "p")
    _teach(desk, InterventionType.CHAT_PROMPT, successes=9, failures=0)
    sure = propose(desk)
    assert sure.confidence >= 0.75
    assert sure.status == "executed" and sure.approved_by.startswith("agent (SEMI_AUTO")
    assert len(wait_until(platform.drain, what="the message")) == 1


def test_guards_refuse_visibly_with_their_reason(
    desk: InterventionDesk, platform: Platform
) -> None:
    desk.settings.update("evt-1", {"mode": "AUTO", "hourly_cap": 10})
    first = propose(desk)
    assert first.status == "executed"
    second = propose(desk)
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
    refused = propose(desk)
    assert refused.status == "refused" and "below the event's minimum" in refused.note
    desk.settings.set_session_mode("sess-1", AgentMode.OFF)
    assert propose(desk) is None
    assert len(_rows(desk)) == 1


def test_no_listener_means_failed_not_executed(desk: InterventionDesk) -> None:
    record = desk.trigger(SESSION, InterventionType.NOTIFICATION, "p", "MASS_EXIT")
    assert record.status == "failed" and "no platform service is listening" in record.note


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
