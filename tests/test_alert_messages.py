"""What an alert says, who wants it, how it is signed and when it is retried: pure rules."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.alerts.items import anomaly_item, outcome_item, suggestion_item
from services.alerts.messages import (
    BACKOFF_SECONDS,
    AlertItem,
    compose,
    retry_after,
    signature,
    wanted,
)
from services.storage.alert_settings import AlertKind, AlertSettings, Webhook
from services.storage.interventions import InterventionRecord

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def row(episode: str = "ep-1", severity: str = "WARNING", at: datetime = T0) -> dict[str, Any]:
    return {
        "time": at,
        "episode_id": episode,
        "session_id": "sess 1/a",
        "event_id": "evt-1",
        "type": "MASS_EXIT",
        "severity": severity,
        "explanation": "12 of 40 people left in a minute.",
        "current_engagement": 0.214,
        "expected_engagement": 0.5,
    }


def record(**changes: Any) -> InterventionRecord:
    values = {name: None for name in InterventionRecord.__slots__} | {
        "intervention_id": "iv-1",
        "time": T0,
        "session_id": "sess-1",
        "event_id": "evt-1",
        "type": "CHAT_PROMPT",
        "status": "pending",
        "preview": 'Chat message: "Questions so far?"',
    }
    return InterventionRecord(**(values | changes))


def test_an_anomaly_says_what_where_and_links_to_the_live_page() -> None:
    item = anomaly_item(row(), AlertKind.ANOMALY_OPENED, "Keynote", "DataConf", "https://ec/")
    assert item == AlertItem(
        key="anomaly:ep-1:opened",
        kind=AlertKind.ANOMALY_OPENED,
        event_id="evt-1",
        session_id="sess 1/a",
        at="2026-12-03T09:00:00+00:00",
        headline="WARNING mass exit began in Keynote (sess 1/a)",
        detail="12 of 40 people left in a minute. Engagement 0.21, expected 0.50.",
        severity="WARNING",
        link="https://ec/live/sess%201%2Fa",
        event_title="DataConf",
    )
    critical = anomaly_item(row(severity="CRITICAL"), AlertKind.ANOMALY_CRITICAL, None, None, None)
    assert critical.key == "anomaly:ep-1:critical" and critical.link is None
    assert critical.headline == "CRITICAL mass exit became CRITICAL in sess 1/a"
    assert AlertItem.from_json(json.loads(json.dumps(item.as_json()))) == item


def test_a_suggestion_and_an_outcome_say_what_happened() -> None:
    waiting = suggestion_item(
        record(expires_at=T0 + timedelta(minutes=2)), "Keynote", "DataConf", "https://ecX/"
    )
    assert waiting == AlertItem(
        key="suggestion:iv-1",
        kind=AlertKind.SUGGESTION_WAITING,
        event_id="evt-1",
        session_id="sess-1",
        at="2026-12-03T09:00:00+00:00",
        headline="A chat prompt waits for approval in Keynote (sess-1)",
        detail='Chat message: "Questions so far?". It expires at 09:02:00 UTC.',
        link="https://ecX/live/sess-1",
        event_title="DataConf",
    )
    assert suggestion_item(record(preview=None), None, None, None).detail == "CHAT_PROMPT."
    measured = record(
        status="measured",
        outcome={"success": True, "delta": 0.08},
        measured_at=T0 + timedelta(minutes=1),
    )
    done = outcome_item(measured, "Keynote", "DataConf", "https://ec")
    assert done == AlertItem(
        key="outcome:iv-1",
        kind=AlertKind.OUTCOME_MEASURED,
        event_id="evt-1",
        session_id="sess-1",
        at="2026-12-03T09:01:00+00:00",
        headline="A chat prompt worked (engagement +0.08) in Keynote (sess-1)",
        detail='Chat message: "Questions so far?"',
        link="https://ec/live/sess-1",
        event_title="DataConf",
    )
    failed = outcome_item(record(outcome={"success": False}, preview=None), None, None, None)
    assert failed.headline == "A chat prompt did not work in sess-1"
    assert failed.at == "2026-12-03T09:00:00+00:00" and failed.detail == "CHAT_PROMPT"


def test_only_chosen_kinds_and_severities_with_someone_to_tell_are_wanted() -> None:
    opened = anomaly_item(row(), AlertKind.ANOMALY_OPENED, None, None, None)
    severe = anomaly_item(row(severity="CRITICAL"), AlertKind.ANOMALY_OPENED, None, None, None)
    everyone = AlertSettings(emails=("a@example.com",), kinds=tuple(AlertKind))
    assert wanted(opened, everyone) and wanted(severe, everyone)
    critical_only = everyone.model_copy(update={"min_severity": "CRITICAL"})
    assert not wanted(opened, critical_only) and wanted(severe, critical_only)
    assert not wanted(opened, AlertSettings(kinds=tuple(AlertKind)))  # nobody to tell
    hook = Webhook(url="https://h.example", secret="x" * 16)
    by_hook = AlertSettings(webhooks=(hook,), kinds=(AlertKind.ANOMALY_CRITICAL,))
    assert not wanted(opened, by_hook)
    waiting = suggestion_item(record(), None, None, None)
    assert wanted(waiting, everyone.model_copy(update={"min_severity": "CRITICAL"}))


def test_a_message_puts_the_most_urgent_first_and_counts_them() -> None:
    later = anomaly_item(
        row("ep-2", "CRITICAL", T0 + timedelta(seconds=30)),
        AlertKind.ANOMALY_CRITICAL,
        None,
        "DataConf",
        None,
    )
    first = anomaly_item(row("ep-1"), AlertKind.ANOMALY_OPENED, None, "DataConf", "https://ec")
    waiting = suggestion_item(record(time=T0 + timedelta(seconds=10)), None, None, None)
    # CRITICAL first, then by time.
    message = compose("evt-1", "DataConf", [waiting, first, later])
    assert [item.key for item in message.items] == [
        "anomaly:ep-2:critical",
        "anomaly:ep-1:opened",
        "suggestion:iv-1",
    ]
    assert message.subject == "DataConf: 3 alerts, 1 critical"
    assert message.text.splitlines()[:5] == [
        "• CRITICAL mass exit became CRITICAL in sess 1/a (09:00:30 UTC)",
        "  12 of 40 people left in a minute. Engagement 0.21, expected 0.50.",
        "• WARNING mass exit began in sess 1/a (09:00:00 UTC)",
        "  12 of 40 people left in a minute. Engagement 0.21, expected 0.50.",
        "  https://ec/live/sess%201%2Fa",
    ]
    assert compose("evt-1", None, [waiting, first]).subject == "evt-1: 2 alerts"
    single = compose("evt-1", None, [waiting])
    assert single.subject == "evt-1: A chat prompt waits for approval in sess-1"
    raw = single.json_body("2026-12-03T09:00:05+00:00")
    assert raw.startswith(b'{"event_id":"evt-1","sent_at":"2026-12-03T09:00:05+00:00","alerts":[')
    body = json.loads(raw)
    assert body == {
        "event_id": "evt-1",
        "sent_at": "2026-12-03T09:00:05+00:00",
        "alerts": [waiting.as_json()],
    }
    assert json.loads(single.slack_body()) == {"text": single.text}
    # Words as UTF-8, not \u escapes: receivers log and show them as they are.
    titled = compose(
        "evt-1",
        "Café Talks",
        [anomaly_item(row(), AlertKind.ANOMALY_OPENED, "Crème", "Café Talks", None)],
    )
    assert "Crème".encode() in titled.json_body("t") and "Crème".encode() in titled.slack_body()
    long = compose("e" * 200, None, [waiting])
    assert len(long.subject) == 150


def test_the_signature_is_hmac_sha256_over_the_timestamp_and_body() -> None:
    body = b'{"a":1}'
    expected = hmac.new(b"secret-key", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("secret-key", "1700000000", body) == f"t=1700000000,v1={expected}"


@pytest.mark.parametrize(
    ("attempts", "wait"), [(0, None), (1, 5.0), (2, 30.0), (3, 120.0), (4, 600.0), (5, None)]
)
def test_retries_back_off_then_give_up(attempts: int, wait: float | None) -> None:
    assert BACKOFF_SECONDS == (5.0, 30.0, 120.0, 600.0)
    assert retry_after(attempts) == wait
