"""The live push protocol (services/core/push.py): every kind survives encode -> decode, the
decoder refuses what is not exactly a message, docs/push-protocol.md and assets/live*.js agree
with the records, and the collector, the intervention sender, the hub and the socket send only
messages the decoder accepts."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from app.live_socket import PONG, allowed_kinds, backfill_message, error_message, outgoing
from app.runtime import Runtime
from services.access.tokens import PanelKind
from services.agent.sender import InterventionSender
from services.core.push import (
    MESSAGE_OF_KIND,
    AnomalyMessage,
    AnomalyPhase,
    BackfillMessage,
    EndedMessage,
    ErrorMessage,
    FeedState,
    HubDownMessage,
    InterventionMessage,
    MarkMessage,
    PongMessage,
    PushKind,
    PushMessage,
    PushProtocolError,
    ResyncMessage,
    TickMessage,
    decode,
    encode,
    peek_kind,
)
from services.core.push_objects import (
    BackfillPoint,
    ChartMark,
    Episode,
    Intervention,
    TickSignals,
    Trigger,
    TriggerRule,
)
from services.core.redis_bus import RedisNames
from services.core.settings import Settings
from services.core.vocabulary import AnomalyType, Severity
from services.detection.detector import AnomalyEnded, AnomalyStarted
from services.ingest.contracts import SignalEvent, SignalKind
from services.live.push_hub import HUB_DOWN, RESYNC
from services.storage.database import create_db_engine
from services.storage.interventions import InterventionRecord, InterventionStore
from services.storage.schema import interventions
from tests.browser.support import T0, anomaly_row, episode, seed_session, started_runtime
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent
AT = "2026-05-09T17:00:05+00:00"
SIGNALS = TickSignals(
    chat_msgs_per_min=4.5,
    poll_participation=0.25,
    active_users=6,
    total_users=20,
    reactions_per_min=1.0,
    user_leave_rate=0.05,
    poll_active=None,
)
EPISODE = Episode(
    episodeId="0a1b-sudden_drop-1",
    sessionId="s-1",
    eventId=None,
    type="SUDDEN_DROP",
    severity="CRITICAL",
    startedAt=AT,
    endedAt="2026-05-09T17:01:05.250000+00:00",
    recovered=True,
    recoverySeconds=60.25,
    anomalyScore=0.8,
    currentEngagement=0.21,
    expectedEngagement=0.58,
    deviation=-0.638,
    explanation="Chat fell from 12 to 2 messages a minute in 20 s.",
    trigger=Trigger(TriggerRule.ACTIVITY, 29.4, 2.4, None),
)
INTERVENTION = Intervention(
    intervention_id="iv-1",
    time=AT,
    session_id="s-1",
    event_id="evt-1",
    type="POLL",
    status="executed",
    confidence=0.62,
    content={"poll": {"question": "Which next?", "options": ["A", "B"], "duration": 60}},
    outcome=None,
    episode_id=EPISODE.episodeId,
    anomaly_type="SUDDEN_DROP",
    context="SUDDEN_DROP|low|small|mid",
    mode="MANUAL",
    reasoning="Polls worked here.",
    preview="Which next?",
    approved_by="producer",
    note=None,
    expires_at=None,
    decided_at=AT,
    executed_at=AT,
    measured_at=None,
)
SAMPLES: dict[PushKind, PushMessage] = {
    PushKind.TICK: TickMessage(
        timestamp=AT, sessionId="s-1", eventId="evt-1", score=0.5, signals=SIGNALS, computedAt=1.5
    ),
    PushKind.ANOMALY: AnomalyMessage(phase=AnomalyPhase.ENDED, episode=EPISODE),
    PushKind.INTERVENTION: InterventionMessage(sessionId="s-1", intervention=INTERVENTION),
    PushKind.MARK: MarkMessage(
        sessionId="s-1",
        mark=ChartMark("iv-1", AT, "POLL", "measured", delta=-0.04, success=False),
    ),
    PushKind.ENDED: EndedMessage(sessionId="s-1", timestamp=AT),
    PushKind.BACKFILL: BackfillMessage(
        sessionId="s-1",
        status="live",
        feed=FeedState.DOWN,
        points=(BackfillPoint(AT, 0.5, SIGNALS), BackfillPoint(AT, 0, SIGNALS)),
        anomalies=(EPISODE,),
        marks=(ChartMark("iv-0", AT, "CHAT_PROMPT", "executed", delta=None, success=None),),
    ),
    PushKind.RESYNC: ResyncMessage(),
    PushKind.HUB_DOWN: HubDownMessage(),
    PushKind.PONG: PongMessage(),
    PushKind.ERROR: ErrorMessage(error="message is not valid JSON"),
}


def test_there_is_one_record_and_one_sample_per_kind() -> None:
    assert set(MESSAGE_OF_KIND) == set(SAMPLES) == set(PushKind)
    for kind, sample in SAMPLES.items():
        assert sample.kind is kind and isinstance(sample, MESSAGE_OF_KIND[kind])


@pytest.mark.parametrize("kind", list(PushKind))
def test_every_kind_survives_encode_then_decode(kind: PushKind) -> None:
    message = SAMPLES[kind]
    text = encode(message)
    assert decode(text) == message
    assert decode(text.encode()) == message
    assert encode(decode(text)) == text
    assert peek_kind(text) is kind
    assert json.loads(text)["kind"] == kind.value  # what the page switches on


def test_a_tick_carries_the_values_the_collector_used_to_write() -> None:
    """Byte-for-byte the JSON is more compact now; parsed, it is what the page always read."""
    update = {
        "timestamp": AT,
        "sessionId": "s-1",
        "eventId": "evt-1",
        "score": 0.5,
        "signals": {k: v for k, v in dataclasses.asdict(SIGNALS).items() if k != "poll_active"},
    }
    signals = dict(update["signals"], poll_active=None)  # the collector's old code, verbatim
    before = json.dumps(dict(update, kind="tick", computedAt=1.5, signals=signals))
    assert json.loads(encode(SAMPLES[PushKind.TICK])) == json.loads(before)


def test_text_orjson_refuses_still_goes_out() -> None:
    # A lone surrogate (say, in a producer's edit of an intervention): json writes it escaped.
    text = encode(ErrorMessage(error="half a pair: \ud83d"))
    assert json.loads(text) == {"kind": "error", "error": "half a pair: \ud83d"}


def changed(kind: PushKind, change: Callable[[dict[str, Any]], object]) -> str:
    data = json.loads(encode(SAMPLES[kind]))
    change(data)
    return json.dumps(data)


TICK, ANOMALY, BACKFILL = PushKind.TICK, PushKind.ANOMALY, PushKind.BACKFILL


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not json", "not JSON"),
        ('{"kind": "tick", "score": NaN}', "not JSON"),
        ("[]", "a message is a JSON object, not an array"),
        ('{"type": "ping"}', 'the message has no "kind"'),
        ('{"kind": "tock"}', 'unknown kind "tock"; known: tick, anomaly,'),
        ('{"kind": ["tick"]}', "unknown kind an array"),
        ('{"kind": "error"}', "error lacks error"),
        ('{"kind": "pong", "at": 1}', "pong has unexpected at"),
        (changed(TICK, lambda m: m.update(score="0.5")), 'tick.score must be a number, not "0.5"'),
        (changed(TICK, lambda m: m.update(score=True)), "tick.score must be a number, not true"),
        (changed(TICK, lambda m: m.update(eventId=7)), "tick.eventId must be text, not 7"),
        (
            changed(TICK, lambda m: m.update(timestamp="yesterday")),
            'tick.timestamp must be an ISO 8601 time, not "yesterday"',
        ),
        (
            changed(TICK, lambda m: m["signals"].update(active_users=6.5)),
            "tick.signals.active_users must be a whole number, not 6.5",
        ),
        (
            changed(TICK, lambda m: m["signals"].update(poll_active=1)),
            "tick.signals.poll_active must be true or false, not 1",
        ),
        (
            changed(TICK, lambda m: m["signals"].pop("poll_active")),
            "tick.signals lacks poll_active",
        ),
        (changed(TICK, lambda m: m.update(signals=[])), "tick.signals must be a JSON object"),
        (
            changed(ANOMALY, lambda m: m.update(phase="over")),
            'anomaly.phase must be "started" or "escalated" or "ended", not "over"',
        ),
        (
            changed(ANOMALY, lambda m: m["episode"].update(episodeId=None)),
            "anomaly.episode.episodeId must be text, not null",
        ),
        (
            changed(ANOMALY, lambda m: m["episode"].pop("explanation")),
            "anomaly.episode lacks explanation",
        ),
        (
            changed(ANOMALY, lambda m: m["episode"]["trigger"].update(value="2")),
            'anomaly.episode.trigger.value must be a number, not "2"',
        ),
        (
            changed(ANOMALY, lambda m: m["episode"]["trigger"].pop("rule")),
            "anomaly.episode.trigger lacks rule",
        ),
        (
            changed(ANOMALY, lambda m: m["episode"].update(trigger="activity")),
            "anomaly.episode.trigger must be a JSON object",
        ),
        (
            changed(BACKFILL, lambda m: m.update(points={})),
            "backfill.points must be an array, not an object",
        ),
        (
            changed(BACKFILL, lambda m: m["points"][1].update(score=None)),
            "backfill.points[1].score must be a number, not null",
        ),
        (
            changed(BACKFILL, lambda m: m.update(feed="sideways")),
            'backfill.feed must be "up" or "down", not "sideways"',
        ),
        (
            changed(PushKind.INTERVENTION, lambda m: m["intervention"].update(content=[])),
            "intervention.intervention.content must be an object, not an array",
        ),
    ],
)
def test_the_decoder_refuses_what_is_not_a_message_and_says_why(text: str, reason: str) -> None:
    with pytest.raises(PushProtocolError) as refused:
        decode(text)
    assert reason in str(refused.value)


def test_an_episode_from_a_sender_older_than_its_trigger_is_read_without_one() -> None:
    old = changed(ANOMALY, lambda m: m["episode"].pop("trigger"))
    message = decode(old)
    assert isinstance(message, AnomalyMessage)
    assert message.episode == dataclasses.replace(EPISODE, trigger=None)


def test_an_episode_dict_builds_the_same_record_back() -> None:
    listed = EPISODE.as_json()
    assert listed["trigger"] == {
        "rule": "activity",
        "reference": 29.4,
        "value": 2.4,
        "seconds": None,
    }
    assert json.loads(json.dumps(listed)) == json.loads(encode(SAMPLES[ANOMALY]))["episode"]
    assert Episode(**listed) == EPISODE
    # Plain data: the open rows that keep it are pickled into checkpoints, read back strictly.
    assert type(listed["trigger"]["rule"]) is str
    assert Episode(**dataclasses.replace(EPISODE, trigger=None).as_json()).trigger is None


def test_an_anomalies_row_keeps_the_trigger_in_its_signals() -> None:
    row = {
        "episode_id": EPISODE.episodeId,
        "session_id": "s-1",
        "event_id": None,
        "type": "SUDDEN_DROP",
        "severity": "CRITICAL",
        "time": datetime.fromisoformat(AT),
        "ended_at": datetime.fromisoformat(EPISODE.endedAt or ""),
        "recovered": True,
        "recovery_seconds": 60.25,
        "anomaly_score": 0.8,
        "current_engagement": 0.21,
        "expected_engagement": 0.58,
        "deviation": -0.638,
        "explanation": EPISODE.explanation,
        "signals": {"total_users": 20, "trigger": EPISODE.trigger.as_json()},
    }
    assert Episode.from_row(row) == EPISODE
    assert Episode.from_row({**row, "signals": {"total_users": 20}}).trigger is None


def documented_fields() -> dict[str, list[str]]:
    """Each `### ` section of docs/push-protocol.md: the fields its table lists."""
    sections = re.split(r"^### ", (ROOT / "docs" / "push-protocol.md").read_text(), flags=re.M)
    return {
        title.strip(): re.findall(r"^\| `(\w+)` \|", body, flags=re.M)
        for title, _, body in (section.partition("\n") for section in sections[1:])
    }


def field_names(record: type) -> list[str]:
    return [f.name for f in dataclasses.fields(record)]


def test_the_docs_list_every_kind_and_every_field() -> None:
    documented = documented_fields()
    for kind, message in MESSAGE_OF_KIND.items():
        assert documented.pop(f"`{kind.value}`") == field_names(message), kind
    objects = {
        "The signals object": TickSignals,
        "The point object": BackfillPoint,
        "The EPISODE object": Episode,
        "The trigger object": Trigger,
        "The intervention object": Intervention,
        "The chart mark object": ChartMark,
    }
    for title, record in objects.items():
        assert documented.pop(title) == field_names(record), title
    assert documented == {}


def js_reads(variable: str) -> set[str]:
    """Every field the live page's scripts read off `variable`."""
    scripts = " ".join(path.read_text() for path in (ROOT / "assets").glob("live*.js"))
    return set(re.findall(rf"\b{variable}\.(\w+)", scripts))


def test_the_live_scripts_read_only_what_the_protocol_sends() -> None:
    handled = set(re.findall(r'msg\.kind === "(\w+)"', (ROOT / "assets" / "live.js").read_text()))
    # A page never sees resync (its socket answers it) and ignores pong and error.
    assert handled == set(PushKind) - {PushKind.RESYNC, PushKind.PONG, PushKind.ERROR}
    messages = {name for message in MESSAGE_OF_KIND.values() for name in field_names(message)}
    points = set(field_names(TickMessage)) | set(field_names(BackfillPoint))
    for variable, fields in [
        ("msg", messages),
        ("ep", set(field_names(Episode))),
        ("episode", set(field_names(Episode))),
        ("old", set(field_names(Episode))),
        ("trigger", set(field_names(Trigger))),
        ("sig", set(field_names(TickSignals))),
        ("p", points),
        ("point", points),
        ("mark", set(field_names(ChartMark))),
    ]:
        read = js_reads(variable)
        assert read and read <= fields, (variable, read - fields)


# -- who sends them -----------------------------------------------------------------------------


def push_messages(listener: redis.client.PubSub, count: int) -> list[PushMessage]:
    received: list[PushMessage] = []

    def all_in() -> bool:
        message = listener.get_message(timeout=0.2)
        if message is not None and message["type"] == "pmessage":
            received.append(decode(message["data"]))
        return len(received) >= count

    wait_until(all_in, what=f"{count} push messages")
    return received


@pytest.fixture
def push_listener(
    redis_client: redis.Redis, make_settings: Callable[..., Settings]
) -> Iterator[tuple[Settings, redis.client.PubSub]]:
    settings = make_settings()
    listener = redis_client.pubsub()
    listener.psubscribe(RedisNames(settings.redis_key_prefix).push_pattern)
    wait_until(lambda: listener.get_message(timeout=0.2), what="the subscription")
    yield settings, listener
    listener.close()


def test_the_collector_publishes_ticks_episodes_and_endings_the_decoder_accepts(
    push_listener: tuple[Settings, redis.client.PubSub], make_runtime: Callable[..., Runtime]
) -> None:
    settings, listener = push_listener
    collector = make_runtime(redis_key_prefix=settings.redis_key_prefix).collector
    assert collector is not None
    now = time.time()
    for user in ("u0", "u1", "u2"):
        collector.book.apply(SignalEvent(SignalKind.JOIN, "s-1", "evt-1", user), now - 10)
    collector.book.apply(SignalEvent(SignalKind.CHAT, "s-1", None, "u0"), now - 5)
    out = collector.book.score_tick(now)
    trigger = Trigger(TriggerRule.ACTIVITY, 120.0, 12.0, None)
    fall = AnomalyStarted(
        "s-1",
        "d-1",
        AnomalyType.SUDDEN_DROP,
        Severity.WARNING,
        now,
        0.9,
        0.2,
        0.6,
        -0.67,
        "",
        {},
        trigger,
    )
    recovery = AnomalyEnded(
        "s-1", "d-1", AnomalyType.SUDDEN_DROP, Severity.WARNING, now, now + 5, True, 5.0
    )
    collector.book.episodes.record([fall, recovery], "evt-1", {}, out.episodes)
    out.ended.append("s-2")
    collector.publisher.publish(out)
    tick, started, ended_episode, ended = push_messages(listener, 4)

    assert isinstance(tick, TickMessage) and (tick.sessionId, tick.eventId) == ("s-1", "evt-1")
    poll_active = out.poll_active["s-1"]
    assert tick.signals == TickSignals(**out.updates[0]["signals"], poll_active=poll_active)
    assert tick.timestamp == out.updates[0]["timestamp"] and tick.score == out.updates[0]["score"]
    assert isinstance(started, AnomalyMessage) and started.phase is AnomalyPhase.STARTED
    assert started.episode.trigger == trigger
    assert isinstance(ended_episode, AnomalyMessage) and ended_episode.phase is AnomalyPhase.ENDED
    assert ended_episode.episode == Episode.from_row(out.episodes.rows[-1])
    assert (ended_episode.episode.recovered, ended_episode.episode.recoverySeconds) == (True, 5.0)
    assert ended == EndedMessage(sessionId="s-2", timestamp=out.tick_time.isoformat())


def test_the_sender_pushes_the_intervention_object_the_api_returns(
    push_listener: tuple[Settings, redis.client.PubSub], redis_client: redis.Redis
) -> None:
    settings, listener = push_listener
    at = datetime(2026, 5, 9, 17, 0, 5, 250_000, tzinfo=UTC)
    times = {"time": at, "decided_at": at, "executed_at": at}
    record = InterventionRecord(**(vars(INTERVENTION) | times))
    engine = create_db_engine(settings.database_url)
    try:
        sender = InterventionSender(
            InterventionStore(engine), redis_client, RedisNames(settings.redis_key_prefix)
        )
        sender.push(record)
        (pushed,) = push_messages(listener, 1)
    finally:
        engine.dispose()

    assert isinstance(pushed, InterventionMessage) and pushed.sessionId == "s-1"
    assert pushed.intervention == Intervention.from_row(record)
    assert pushed.intervention.as_json() == record.as_json()
    assert record.as_json()["executed_at"] == at.isoformat()


@pytest.fixture
def runtime(make_settings: Callable[..., Settings]) -> Iterator[Runtime]:
    """A web-only runtime (its hub connected) on the test's own database and Redis prefix."""
    yield from started_runtime(make_settings(tick_seconds=1), with_collector=False)


def test_the_hub_and_the_socket_speak_the_protocol(runtime: Runtime) -> None:
    assert decode(RESYNC) == ResyncMessage() and decode(HUB_DOWN) == HubDownMessage()
    assert decode(PONG) == PongMessage()
    assert decode(error_message("too big")) == ErrorMessage(error="too big")
    tick = encode(SAMPLES[PushKind.TICK])
    anomalies_panel = allowed_kinds(frozenset({PanelKind.ANOMALIES}))
    assert outgoing(tick, anomalies_panel) == [] and outgoing(tick, None) == [tick]
    assert outgoing("not json", anomalies_panel) == [] and outgoing("not json", None) == []

    seed_session(runtime, "s1", stamps=[T0 + timedelta(seconds=5 * i) for i in range(3)])
    listed = episode("s1", "ep-1", T0, ended=T0 + timedelta(seconds=10), recovered=False)
    runtime.store.write_batch([], [], [anomaly_row(listed)])

    full = decode(backfill_message(runtime, "s1"))
    assert isinstance(full, BackfillMessage) and full.feed is FeedState.UP
    assert [p.timestamp for p in full.points] == [
        (T0 + timedelta(seconds=5 * i)).isoformat() for i in range(3)
    ]
    assert full.points[0].signals.poll_active is None  # seeded rows predate poll_active
    assert full.anomalies == (Episode(**listed),)
    only_anomalies = decode(backfill_message(runtime, "s1", anomalies_panel))
    assert isinstance(only_anomalies, BackfillMessage)
    assert only_anomalies.points == () and only_anomalies.anomalies == full.anomalies


# -- the chart's marks of interventions -----------------------------------------------------------


def intervention(status: str, **changes: Any) -> Intervention:
    return dataclasses.replace(INTERVENTION, status=status, **changes)


@pytest.mark.parametrize("status", ["pending", "dismissed", "expired", "refused"])
def test_a_suggestion_that_never_went_out_has_no_mark(status: str) -> None:
    assert ChartMark.of(intervention(status)) is None


def test_a_mark_says_when_it_went_out_and_how_it_went() -> None:
    later = "2026-05-09T17:00:20+00:00"
    measured = intervention(
        "measured", executed_at=later, outcome={"delta": 0.081, "success": True, "note": "x"}
    )
    assert ChartMark.of(measured) == ChartMark("iv-1", later, "POLL", "measured", 0.081, True)
    # Not yet sent: placed when it was approved; before any decision, when suggested.
    approved = intervention("approved", executed_at=None, decided_at="2026-05-09T17:00:09+00:00")
    assert ChartMark.of(approved) == ChartMark(
        "iv-1", "2026-05-09T17:00:09+00:00", "POLL", "approved", None, None
    )
    bare = intervention("failed", executed_at=None, decided_at=None, outcome={"delta": "big"})
    assert ChartMark.of(bare) == ChartMark("iv-1", AT, "POLL", "failed", None, None)


def test_an_intervention_push_brings_the_chart_its_mark_and_a_live_panel_only_the_mark() -> None:
    pushed = encode(SAMPLES[PushKind.INTERVENTION])
    mark = encode(
        MarkMessage(sessionId="s-1", mark=ChartMark("iv-1", AT, "POLL", "executed", None, None))
    )
    assert outgoing(pushed, None) == [pushed, mark]
    assert outgoing(pushed, allowed_kinds(frozenset({PanelKind.LIVE}))) == [mark]
    assert outgoing(pushed, allowed_kinds(frozenset({PanelKind.INTERVENTIONS}))) == [pushed]
    waiting = encode(InterventionMessage(sessionId="s-1", intervention=intervention("pending")))
    assert outgoing(waiting, None) == [waiting]
    assert outgoing(waiting, allowed_kinds(frozenset({PanelKind.LIVE}))) == []


def test_the_backfill_marks_what_went_out_within_the_chart(runtime: Runtime) -> None:
    seed_session(runtime, "s1", stamps=[T0 + timedelta(seconds=5 * i) for i in range(6)])
    rows = [
        # Before the chart's first point, a dismissed one, and two that went out in it.
        ("iv-old", T0 - timedelta(minutes=5), "measured"),
        ("iv-no", T0 + timedelta(seconds=3), "dismissed"),
        ("iv-b", T0 + timedelta(seconds=20), "executed"),
        ("iv-a", T0 + timedelta(seconds=10), "measured"),
    ]
    with runtime.engine.begin() as conn:
        for intervention_id, at, status in rows:
            row = vars(INTERVENTION) | {
                "intervention_id": intervention_id,
                "session_id": "s1",
                "time": at,
                "status": status,
                "outcome": {"delta": 0.05, "success": True} if status == "measured" else None,
                "expires_at": None,
                "decided_at": at,
                "executed_at": at,
                "measured_at": None,
            }
            conn.execute(interventions.insert(), row)

    full = decode(backfill_message(runtime, "s1"))
    assert isinstance(full, BackfillMessage)
    assert [(m.interventionId, m.status, m.delta) for m in full.marks] == [
        ("iv-a", "measured", 0.05),
        ("iv-b", "executed", None),
    ]
    panel = decode(backfill_message(runtime, "s1", allowed_kinds(frozenset({PanelKind.LIVE}))))
    assert isinstance(panel, BackfillMessage) and panel.marks == full.marks
    log_only = allowed_kinds(frozenset({PanelKind.INTERVENTIONS}))
    only_log = decode(backfill_message(runtime, "s1", log_only))
    assert isinstance(only_log, BackfillMessage) and only_log.marks == ()
