"""Alerts out of band on real Redis and PostgreSQL, to a local SMTP server and a local webhook
receiver: one message per episode step, bursts grouped per event and minute, a valid signature,
retries with backoff then a dead letter, no secret in any message or log, private addresses
refused unless allowed, and the collector's feed of episodes, suggestions and outcomes."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
from sqlalchemy.engine import Engine

from services.alerts.dispatcher import AlertDispatcher, dead_letters
from services.alerts.items import anomaly_item, suggestion_item
from services.alerts.messages import (
    BACKOFF_SECONDS,
    SIGNATURE_HEADER,
    AlertItem,
    signature,
    wanted,
)
from services.alerts.outbox import AlertOutbox
from services.alerts.senders import EmailSender, SmtpSettings, WebhookSender
from services.core.redis_bus import RedisNames
from services.core.settings import ScoreWeights, Settings
from services.ingest.contracts import SignalEvent, SignalKind
from services.ingest.windows import WindowConfig
from services.live.alert_feed import AlertFeed
from services.live.session_book import Lifetimes, SessionBook
from services.storage.alert_settings import (
    AlertKind,
    AlertSettings,
    AlertSettingsError,
    AlertSettingsStore,
)
from services.storage.database import create_db_engine
from services.storage.interventions import InterventionRecord
from services.storage.migrate import upgrade_schema
from tests.mail_and_hooks import HookReceiver, SmtpServer

SECRET = "hook-secret-0123456789abcdef"
T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
ALL_KINDS = [kind.value for kind in AlertKind]


class Clock:
    def __init__(self) -> None:
        self.now = T0.timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def engine(make_settings: Callable[..., Settings]) -> Iterator[Engine]:
    built = create_db_engine(make_settings().database_url)
    upgrade_schema(built)
    yield built
    built.dispose()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def hooks() -> Iterator[HookReceiver]:
    receiver = HookReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def names(make_settings: Callable[..., Settings]) -> RedisNames:
    return RedisNames(make_settings().redis_key_prefix)


class Wiring:
    def __init__(
        self, engine: Engine, client: redis.Redis, names: RedisNames, smtp: SmtpServer
    ) -> None:
        self.clock = Clock()
        self.store = AlertSettingsStore(engine)
        self.outbox = AlertOutbox(client, names, self.store, clock=self.clock)
        self.client, self.names = client, names
        self.dispatcher = AlertDispatcher(
            client,
            names,
            self.store,
            EmailSender(SmtpSettings("127.0.0.1", smtp.port, "ec@test.example")),
            WebhookSender(timeout_seconds=2.0, allow_private=True),
            group_seconds=60.0,
            clock=self.clock,
        )

    def later(self, seconds: float) -> int:
        self.clock.now += seconds
        return self.dispatcher.run_once()


@pytest.fixture
def wiring(
    engine: Engine, redis_client: redis.Redis, names: RedisNames, smtp: SmtpServer
) -> Wiring:
    return Wiring(engine, redis_client, names, smtp)


def episode_row(episode: str = "ep-1", severity: str = "WARNING") -> dict[str, Any]:
    return {
        "time": T0,
        "episode_id": episode,
        "session_id": "sess-1",
        "event_id": "evt-1",
        "type": "SUDDEN_DROP",
        "severity": severity,
        "explanation": "Chat fell from 14/min to 2/min.",
        "current_engagement": 0.21,
        "expected_engagement": 0.55,
    }


def opened(episode: str = "ep-1", severity: str = "WARNING") -> AlertItem:
    return anomaly_item(
        episode_row(episode, severity),
        AlertKind.ANOMALY_OPENED,
        "Keynote",
        "DataConf",
        "https://ec.example",
    )


def suggestion(n: int) -> AlertItem:
    record = InterventionRecord(
        **{name: None for name in InterventionRecord.__slots__}
        | {
            "intervention_id": f"iv-{n}",
            "time": T0,
            "session_id": "sess-1",
            "event_id": "evt-1",
            "type": "POLL",
            "status": "pending",
            "preview": f'Poll: "Question {n}?"',
        }
    )
    return suggestion_item(record, "Keynote", "DataConf", None)


def test_one_message_per_episode_step_signed_and_grouped_per_minute(
    wiring: Wiring, smtp: SmtpServer, hooks: HookReceiver
) -> None:
    wiring.store.update(
        "evt-1",
        {
            "emails": ["producer@example.com"],
            "webhooks": [{"url": hooks.url, "secret": SECRET}],
            "kinds": ALL_KINDS,
        },
    )
    assert wiring.outbox.offer(opened())
    assert not wiring.outbox.offer(opened())  # the same step again: never twice
    assert wiring.dispatcher.run_once() == 1
    assert len(smtp.received) == 1 and len(hooks.received) == 1
    recipients, mail = smtp.received[0]
    assert recipients == ["producer@example.com"]
    assert mail["Subject"] == "DataConf: WARNING sudden drop began in Keynote (sess-1)"
    assert "https://ec.example/live/sess-1" in mail.get_payload()
    headers, body = hooks.received[0]
    timestamp = headers[SIGNATURE_HEADER].split(",")[0].removeprefix("t=")
    assert headers[SIGNATURE_HEADER] == signature(SECRET, timestamp, body)
    sent = json.loads(body)
    assert [a["key"] for a in sent["alerts"]] == ["anomaly:ep-1:opened"]

    # Within the minute: the episode's next step and a burst of suggestions wait, then go as
    # one message.
    critical = anomaly_item(
        episode_row(severity="CRITICAL"), AlertKind.ANOMALY_CRITICAL, "Keynote", "DataConf", None
    )
    assert wiring.outbox.offer(critical)
    for n in range(3):
        assert wiring.outbox.offer(suggestion(n))
    assert wiring.later(30) == 0
    assert len(hooks.received) == 1
    assert wiring.later(31) == 1
    assert len(smtp.received) == 2 and len(hooks.received) == 2
    grouped = hooks.bodies()[1]["alerts"]
    assert [a["key"] for a in grouped] == [
        "anomaly:ep-1:critical",  # the most urgent first
        "suggestion:iv-0",
        "suggestion:iv-1",
        "suggestion:iv-2",
    ]
    assert smtp.received[1][1]["Subject"] == "DataConf: 4 alerts, 1 critical"
    assert wiring.later(120) == 0  # nothing left over


def test_a_failing_receiver_is_retried_with_backoff_then_dead_lettered(
    wiring: Wiring, hooks: HookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    hooks.status = 500
    url = hooks.url + "?token=do-not-show"
    wiring.store.update(
        "evt-1",
        {"webhooks": [{"url": url, "secret": SECRET, "slack": True}], "kinds": ALL_KINDS},
    )
    caplog.set_level(logging.DEBUG)
    wiring.outbox.offer(opened())
    wiring.dispatcher.run_once()
    assert len(hooks.received) == 1
    for wait in BACKOFF_SECONDS:
        assert wiring.later(wait - 0.5) == 0  # not before its time
        assert wiring.later(0.5) == 1
    assert len(hooks.received) == 1 + len(BACKOFF_SECONDS)
    assert wiring.later(3600) == 0  # given up
    dead = dead_letters(wiring.client, wiring.names, "evt-1")
    assert len(dead) == 1
    assert dead[0] | {"at": "-"} == {
        "at": "-",
        "channel": "webhook",
        "to": hooks.url,  # without its query string
        "subject": "DataConf: WARNING sudden drop began in Keynote (sess-1)",
        "attempts": 5,
        "reason": "HTTP 500",
    }
    # Slack-compatible bodies, and no secret or token anywhere.
    assert set(json.loads(hooks.received[0][1])) == {"text"}
    for _, body in hooks.received:
        assert SECRET.encode() not in body and b"do-not-show" not in body
    assert SECRET not in caplog.text and "do-not-show" not in caplog.text


def test_a_receiver_that_refuses_for_good_and_a_private_address_are_not_retried(
    wiring: Wiring, hooks: HookReceiver
) -> None:
    hooks.status = 404
    wiring.store.update(
        "evt-1", {"webhooks": [{"url": hooks.url, "secret": SECRET}], "kinds": ALL_KINDS}
    )
    wiring.outbox.offer(opened())
    wiring.dispatcher.run_once()
    assert wiring.later(3600) == 0
    assert len(hooks.received) == 1
    assert dead_letters(wiring.client, wiring.names, "evt-1")[0]["reason"] == "HTTP 404"
    wiring.dispatcher.webhooks = WebhookSender(allow_private=False)
    wiring.outbox.offer(opened("ep-2"))
    wiring.later(60)
    assert len(hooks.received) == 1  # never called
    assert dead_letters(wiring.client, wiring.names, "evt-1")[0]["reason"] == (
        "refused: the URL names a private address (ALERT_WEBHOOKS_PRIVATE)"
    )


def test_an_event_gets_only_the_kinds_and_severities_it_chose(wiring: Wiring) -> None:
    assert not wiring.outbox.offer(opened())  # no recipients: nothing queued
    wiring.store.update(
        "evt-1",
        {"emails": ["a@example.com"], "kinds": ["anomaly_opened"], "min_severity": "CRITICAL"},
    )
    assert not wiring.outbox.offer(opened())  # a WARNING
    assert not wiring.outbox.offer(suggestion(1))  # not a chosen kind
    assert wiring.outbox.offer(opened("ep-9", "CRITICAL"))
    settings = AlertSettings(emails=("a@example.com",), kinds=(AlertKind.SUGGESTION_WAITING,))
    assert wanted(suggestion(2), settings)
    assert not wanted(suggestion(2), AlertSettings(kinds=(AlertKind.SUGGESTION_WAITING,)))


def test_settings_keep_secrets_out_of_sight_and_refuse_bad_values(wiring: Wiring) -> None:
    saved = wiring.store.update(
        "evt-1", {"webhooks": [{"url": "https://hooks.example/a", "secret": SECRET}]}
    )
    assert saved.shown()["webhooks"] == [
        {"url": "https://hooks.example/a", "slack": False, "secret_set": True}
    ]
    assert SECRET not in json.dumps(saved.shown()) and SECRET not in repr(saved)
    # Given again without its secret, a webhook keeps the stored one.
    again = wiring.store.update(
        "evt-1", {"webhooks": [{"url": "https://hooks.example/a", "slack": True}]}
    )
    assert again.secret_for("https://hooks.example/a") == SECRET and again.webhooks[0].slack
    with pytest.raises(AlertSettingsError) as bad_address:
        wiring.store.update("evt-1", {"emails": ["not-an-address"]})
    assert str(bad_address.value) == "emails: 'not-an-address' is not an e-mail address"
    with pytest.raises(AlertSettingsError) as caught:
        wiring.store.update("evt-1", {"webhooks": [{"url": "ftp://x", "secret": "short"}]})
    assert "webhooks.0.url" in str(caught.value) and "webhooks.0.secret" in str(caught.value)
    assert "short" not in str(caught.value)
    with pytest.raises(AlertSettingsError, match=r"webhooks\.0\.secret"):
        wiring.store.update("evt-1", {"webhooks": [{"url": "https://new.example/b"}]})


def test_the_collectors_feed_queues_each_step_once(wiring: Wiring) -> None:
    wiring.store.update("evt-1", {"emails": ["a@example.com"], "kinds": ALL_KINDS})
    book = SessionBook(WindowConfig(tick_seconds=5.0), ScoreWeights(), Lifetimes())
    book.apply(
        SignalEvent(SignalKind.JOIN, "sess-1", "evt-1", "u", None, "Keynote", "DataConf"), 1.0
    )
    feed = AlertFeed(wiring.outbox, book, None)
    warning, critical = episode_row("ep-1"), episode_row("ep-2", "CRITICAL")
    no_event = episode_row("ep-3") | {"event_id": None}
    feed.episodes([warning, critical, no_event], [])
    feed.episodes([], [episode_row("ep-1", "CRITICAL"), critical])  # ep-2's step came already
    feed.suggestion(None)  # the agent was off
    queued = [
        json.loads(raw)["key"]
        for raw in wiring.client.lrange(wiring.names.alert_items("evt-1"), 0, -1)
    ]
    assert queued == [
        "anomaly:ep-1:opened",
        "anomaly:ep-2:opened",
        "anomaly:ep-2:critical",
        "anomaly:ep-1:critical",
    ]
    item = json.loads(wiring.client.lindex(wiring.names.alert_items("evt-1"), 0))
    assert item["headline"] == "WARNING sudden drop began in Keynote (sess-1)"
    assert item["event_title"] == "DataConf"
