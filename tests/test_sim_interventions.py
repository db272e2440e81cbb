"""The simulated platform executes the agent's interventions, and its audiences truly respond."""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import fakeredis
import pytest
import redis

from services.core.platform import (
    CHAT_STREAM,
    LIVE_SYNC_STREAM,
    PLATFORM_MESSAGE_TYPE,
    POLL_CLOSED_STREAM,
    POLL_VOTE_STREAM,
)
from services.core.redis_bus import RedisNames
from services.core.vocabulary import INTERVENTION_TYPES, InterventionType
from services.simulation.response import EFFECT_SECONDS, best_arm, effect_fade, rescue_share
from services.simulation.simulator import Episode, EpisodeKind, SimEvent, SimSession, Simulator
from tests.conftest import REDIS_URL
from tests.redis_server import PrivateRedis
from tests.test_simulator import count, when
from tests.waiting import wait_until

T0 = 1_700_000_000.0
P, C, N, G = INTERVENTION_TYPES  # POLL, CHAT_PROMPT, NOTIFICATION, GAMIFICATION
IDS = {"intervention_id", "session_id", "event_id"}


def order(
    arm: InterventionType, session_id: str, tag: str = "1", /, **extra: Any
) -> dict[str, Any]:
    """An agent.interventions message as the desk sends it (design §3)."""
    message: dict[str, Any] = {
        "type": PLATFORM_MESSAGE_TYPE[arm],
        "intervention_id": f"iv-{session_id}-{tag}",
        "session_id": session_id,
        "event_id": "evt",
        "timestamp": "2023-11-14T22:13:20Z",
    }
    if arm is P:
        poll = {"question": "What next?", "options": ["Demo", "Q&A"], "type": "MULTIPLE_CHOICE"}
        message["poll"] = poll | {"duration": 60}
    elif arm is C:
        message["message"] = "What would you build with this? Tell us in the chat!"
    elif arm is N:
        content = {"title": "Audio fixed", "body": "Come back!", "priority": "high"}
        message |= {"notification_type": "ORGANIZER_ALERT", "target": "ORGANIZERS"}
        message |= {"escalate": False, "content": content | {"suggested_action": "Rejoin"}}
    else:
        challenge = {"action": "START_CHALLENGE", "template": "CHAT_BLITZ", "name": "Chat blitz"}
        rules = {"description": "Most messages in 3 minutes", "duration_minutes": 3, "rewards": {}}
        message["content"] = challenge | rules
    return message | extra


def rooms(n: int, audience: int, *episodes: Episode, **options: Any) -> list[SimSession]:
    """Identical busy rooms (120 chat messages a minute when full), no scheduled polls."""
    options = {"chat_per_min": 120.0, "poll_every": None} | options
    return [
        SimSession(f"room-{k}", "evt", f"Room {k}", audience=audience, episodes=episodes, **options)
        for k in range(n)
    ]


def run(
    sessions: list[SimSession],
    until: float,
    deliveries: dict[float, list[dict[str, Any]]] | None = None,
    *,
    seed: int = 1,
    step: float = 1.0,
) -> tuple[list[SimEvent], Simulator, list[dict[str, Any]]]:
    """Simulate to `until`, stepping exactly to each delivery time and delivering there."""
    sim = Simulator(sessions, seed=seed, start=T0)
    events: list[SimEvent] = []
    outcomes: list[dict[str, Any]] = []
    stops = sorted({*(deliveries or {}), until})
    t = T0
    for stop in stops:
        while t < stop:
            t = min(t + step, stop)
            events.extend(sim.step(t))
        outcomes += [sim.deliver(message, stop) for message in (deliveries or {}).get(stop, [])]
    return events, sim, outcomes


def to_all(sessions: list[SimSession], arm: InterventionType | None) -> list[dict[str, Any]]:
    return [] if arm is None else [order(arm, s.session_id) for s in sessions]


def test_the_truth_has_a_clear_best_arm_in_every_context() -> None:
    assert "".join(arm.value[0] for arm in (P, C, N, G)) == "PCNG"
    for kind in (None, *EpisodeKind):
        for present in (0, 5, 9, 10, 30, 49, 50, 300, 10_000):
            shares = sorted((rescue_share(arm, kind, present), arm) for arm in InterventionType)
            assert all(0.0 <= share <= 1.0 for share, _ in shares)
            (second, _), (best, arm) = shares[-2:]
            assert best - second >= 0.15 - 1e-9, (kind, present)
            assert best_arm(kind, present) is arm
    assert best_arm(EpisodeKind.SUDDEN_DROP, 30) is C
    assert best_arm(EpisodeKind.SUDDEN_DROP, 50) is G
    assert best_arm(EpisodeKind.GRADUAL_DECLINE, 300) is G
    assert best_arm(EpisodeKind.LOW_ENGAGEMENT, 49) is C
    assert best_arm(EpisodeKind.LOW_ENGAGEMENT, 50) is P
    assert {best_arm(EpisodeKind.MASS_EXIT, n) for n in (3, 30, 300)} == {N}
    assert rescue_share(C, EpisodeKind.LOW_ENGAGEMENT, 20) > rescue_share(
        P, EpisodeKind.LOW_ENGAGEMENT, 20
    )
    assert [effect_fade(s) for s in (-1, 0, 59, 75, EFFECT_SECONDS)] == [0, 1, 1, 0.5, 0]


def test_a_chat_prompt_during_a_sudden_drop_lifts_chat_for_a_while() -> None:
    drop = Episode(EpisodeKind.SUDDEN_DROP, T0 + 300, T0 + 600)
    sessions = rooms(4, 300, drop)
    at = T0 + 330
    without, _, _ = run(sessions, T0 + 500)
    helped, sim, outcomes = run(sessions, T0 + 500, {at: to_all(sessions, C)})
    assert all(outcome["success"] for outcome in outcomes)
    # Same seed, same room: identical until the delivery.
    assert [e for e in helped if when(*e) < at] == [e for e in without if when(*e) < at]
    before = count(without, CHAT_STREAM, at, at + 60)
    after = count(helped, CHAT_STREAM, at, at + 60)
    assert before >= 20
    assert after >= 3 * before
    # The effect fades out within EFFECT_SECONDS; the drop goes on.
    late = count(helped, CHAT_STREAM, at + 100, at + 160)
    assert late <= 1.6 * count(without, CHAT_STREAM, at + 100, at + 160) + 20
    truth = sim.ground_truth_interventions()
    assert [(d.session_id, d.time, d.intervention_type) for d in truth] == [
        (s.session_id, at, C) for s in sessions
    ]
    expected = rescue_share(C, EpisodeKind.SUDDEN_DROP, 300)
    assert all(d.episode_kind is EpisodeKind.SUDDEN_DROP for d in truth)
    assert all(d.rescue_share == expected and 280 <= d.present <= 300 for d in truth)


@pytest.mark.parametrize(
    ("kind", "audience", "n", "delay"),
    [
        (EpisodeKind.SUDDEN_DROP, 300, 4, 30),  # gamification is best in a big room
        (EpisodeKind.SUDDEN_DROP, 30, 8, 30),  # a chat prompt in a small one
        (EpisodeKind.LOW_ENGAGEMENT, 300, 4, 30),
        (EpisodeKind.GRADUAL_DECLINE, 300, 4, 200),
    ],
)
def test_the_best_arm_lifts_chat_more_than_the_worst(
    kind: EpisodeKind, audience: int, n: int, delay: float
) -> None:
    sessions = rooms(n, audience, Episode(kind, T0 + 300, T0 + 900))
    at = T0 + 300 + delay
    best = best_arm(kind, audience)
    worst = min(InterventionType, key=lambda arm: rescue_share(arm, kind, audience))

    def chat(arm: InterventionType | None) -> int:
        events, _, outcomes = run(sessions, at + 60, {at: to_all(sessions, arm)})
        assert all(outcome["success"] for outcome in outcomes)
        return count(events, CHAT_STREAM, at, at + 60)

    baseline = chat(None)
    best_rise, worst_rise = chat(best) - baseline, chat(worst) - baseline
    assert baseline >= 30
    assert best_rise >= 0.5 * baseline
    assert best_rise >= 2 * max(worst_rise, 1)


def test_a_notification_wins_back_those_who_walked_out() -> None:
    exit_ = Episode(EpisodeKind.MASS_EXIT, T0 + 300, T0 + 420)
    sessions = rooms(2, 500, exit_)
    at = T0 + 320  # the walk-out is over

    def returns(arm: InterventionType | None) -> tuple[int, int]:
        events, _, _ = run(sessions, at + 60, {at: to_all(sessions, arm)})
        walked: set[str] = set()
        back = 0
        for stream, payload in events:
            if stream != LIVE_SYNC_STREAM or payload["type"] not in ("user_join", "user_leave"):
                continue
            t, user = when(stream, payload), payload["userId"]
            if payload["type"] == "user_leave" and exit_.start <= t < exit_.start + 10:
                walked.add(user)
            elif payload["type"] == "user_join" and user in walked and t >= at:
                back += 1
        return back, len(walked)

    alone, walked = returns(None)
    assert walked >= 0.6 * 500
    assert alone <= 0.05 * walked
    notified, _ = returns(N)
    polled, _ = returns(P)
    assert best_arm(EpisodeKind.MASS_EXIT, 490) is N
    assert notified >= 0.3 * walked
    assert notified >= 2.5 * polled
    assert polled > alone


def test_with_no_episode_an_intervention_gives_a_general_boost() -> None:
    sessions = rooms(12, 300)
    at = T0 + 200
    without, _, _ = run(sessions, at + 60)
    boosted, sim, _ = run(sessions, at + 60, {at: to_all(sessions, G)})
    usual = count(without, CHAT_STREAM, at, at + 60)
    assert count(boosted, CHAT_STREAM, at, at + 60) >= 1.1 * usual
    assert {d.episode_kind for d in sim.ground_truth_interventions()} == {None}


def test_a_delivered_poll_runs_with_the_payloads_question() -> None:
    sessions = rooms(1, 400)
    sid = sessions[0].session_id
    poll = {"question": "Which demo next?", "options": ["Streams", {"text": "Dashboards"}]}
    first = order(P, sid, "a", poll=poll | {"type": "MULTIPLE_CHOICE", "duration": 45})
    second = order(P, sid, "b")
    events, _, (opened, refused) = run(sessions, T0 + 200, {T0 + 100: [first], T0 + 120: [second]})
    assert opened["success"] and opened["intervention_id"] == f"iv-{sid}-a"
    result = opened["result"]
    assert result["poll_opened"] is True
    assert [option["text"] for option in result["options"]] == ["Streams", "Dashboards"]
    # One poll at a time: the second is delivered (its nudge acts) but opens nothing.
    assert refused["success"] and refused["result"]["poll_opened"] is False
    assert refused["result"]["running_poll_id"] == result["poll_id"]
    votes = [p for s, p in events if s == POLL_VOTE_STREAM]
    assert {v["pollId"] for v in votes} == {result["poll_id"]}
    assert {v["optionId"] for v in votes} <= {option["id"] for option in result["options"]}
    assert all(T0 + 100 <= when(POLL_VOTE_STREAM, v) < T0 + 145 for v in votes)
    assert len({v["userId"] for v in votes}) == len(votes) >= 0.2 * 400
    (closed,) = [p["poll"] for s, p in events if s == POLL_CLOSED_STREAM]
    assert closed["id"] == result["poll_id"] and closed["question"] == "Which demo next?"
    assert [o["text"] for o in closed["options"]] == ["Streams", "Dashboards"]
    assert closed["totalVotes"] == len(votes)


def test_scheduled_polls_wait_for_a_delivered_one() -> None:
    sessions = rooms(1, 300, poll_every=100.0, poll_duration=40.0)
    sid = sessions[0].session_id
    long_poll = {"question": "Long one?", "options": ["Yes", "No"], "duration": 150}
    events, _, (outcome,) = run(sessions, T0 + 700, {T0 + 5: [order(P, sid, poll=long_poll)]})
    assert outcome["result"]["poll_opened"] is True
    closed: list[str] = []
    running: str | None = None
    for stream, payload in events:
        if stream == POLL_VOTE_STREAM:
            assert running in (None, payload["pollId"]), "two polls at once"
            running = payload["pollId"]
        elif stream == POLL_CLOSED_STREAM:
            closed.append(payload["poll"]["question"])
            running = None
    assert closed[0] == "Long one?"
    assert len(closed) >= 4


BAD_MESSAGES: list[tuple[Any, str]] = [
    ("not a dict", "not a JSON object"),
    (order(C, "room-0", intervention_id=None), "intervention_id"),
    (order(C, "room-0", intervention_id=" padded "), "intervention_id"),
    (order(C, "room-0", intervention_id="x" * 256), "intervention_id"),
    (order(C, "room-0", event_id=""), "event_id"),
    (order(C, "room-0", session_id=7), "session_id"),
    (order(C, "no-such-room"), "unknown session"),
    (order(C, "room-0", type="agent.intervention.teleport"), "unknown intervention type"),
    (order(C, "room-0", message="   "), "message"),
    (order(P, "room-0", poll={"question": "Only one?", "options": ["a"]}), "poll.options"),
    (order(P, "room-0", poll={"options": ["a", "b"]}), "poll.question"),
    (order(P, "room-0", poll={"question": "Q", "options": ["a", ""]}), "poll option"),
    (order(P, "room-0", poll={"question": "Q", "options": ["a", "b"], "duration": -5}), "duration"),
    (order(P, "room-0", poll="What?"), "poll must be an object"),
    (order(N, "room-0", content={"title": "Hi"}), "content.body"),
    (order(G, "room-0", content={"action": "START_CHALLENGE", "template": "X"}), "template"),
    (order(G, "room-0", content={"action": "STOP"}), "START_CHALLENGE"),
]


@pytest.mark.parametrize(("message", "reason"), BAD_MESSAGES)
def test_bad_messages_fail_with_a_reason(message: Any, reason: str) -> None:
    _, sim, (outcome,) = run(rooms(1, 20), T0 + 30, {T0 + 30: [message]})
    assert outcome["success"] is False
    assert reason in outcome["error"]
    assert "result" not in outcome
    assert set(outcome) == IDS | {"success", "error", "timestamp"}
    if isinstance(message, dict) and message["intervention_id"] == "iv-room-0-1":
        assert outcome["intervention_id"] == "iv-room-0-1"
    assert datetime.fromisoformat(outcome["timestamp"]) == datetime.fromtimestamp(T0 + 30, UTC)
    assert sim.ground_truth_interventions() == []


def test_an_unstarted_simulator_refuses_and_a_good_outcome_has_the_contract_shape() -> None:
    sim = Simulator(rooms(1, 20), seed=1)
    refused = sim.deliver(order(C, "room-0"), T0)
    assert refused["success"] is False and "not started" in refused["error"]
    sim.step(T0)
    outcome = sim.deliver(order(N, "room-0"), T0 + 10)
    assert json.loads(json.dumps(outcome)) == outcome
    assert set(outcome) == IDS | {"success", "result", "timestamp"}
    assert outcome["success"] is True
    assert (outcome["session_id"], outcome["event_id"]) == ("room-0", "evt")
    assert outcome["timestamp"].endswith("Z")
    assert "rescue" not in json.dumps(outcome), "the truth never leaks to the product"


def test_deliveries_are_deterministic_however_the_simulator_is_stepped() -> None:
    sessions = rooms(3, 200, Episode(EpisodeKind.SUDDEN_DROP, T0 + 150, T0 + 400), poll_every=90.0)
    plan = {
        T0 + 100.0: [order(P, "room-0")],
        T0 + 170.5: [order(C, "room-1"), order(G, "room-2")],
        T0 + 260.0: [order(N, "room-0", "2"), order(P, "room-1", "2")],
    }
    fine, fine_sim, fine_outcomes = run(sessions, T0 + 450, plan, step=0.25)
    coarse, coarse_sim, coarse_outcomes = run(sessions, T0 + 450, plan, step=7.3)
    assert fine == coarse
    assert fine_outcomes == coarse_outcomes
    assert fine_sim.ground_truth_interventions() == coarse_sim.ground_truth_interventions()
    later = {t + 5: messages for t, messages in plan.items()}
    moved, _, _ = run(sessions, T0 + 450, later, step=0.25)
    assert moved != fine


# --- Against a real Redis: the run loop hears agent.interventions and answers on the stream. ---


@contextlib.contextmanager
def simulator_running(
    client: redis.Redis, names: RedisNames
) -> Iterator[tuple[Simulator, threading.Thread]]:
    sim = Simulator(rooms(2, 40), seed=3, start=time.time())
    stop = threading.Event()
    thread = threading.Thread(target=sim.run, args=(client, names, stop, 0.05), daemon=True)
    thread.start()
    try:
        yield sim, thread
    finally:
        stop.set()
        thread.join(15)
        client.close()
    assert not thread.is_alive()


def outcomes(client: redis.Redis, names: RedisNames) -> dict[str, dict[str, Any]]:
    entries = client.xrange(names.outcome_stream)
    found = [json.loads(fields[b"data"]) for _, fields in entries]
    return {outcome["intervention_id"]: outcome for outcome in found}


def send(client: redis.Redis, names: RedisNames, message: dict[str, Any] | str) -> None:
    channel = names.agent_channel
    wait_until(
        lambda: dict(client.pubsub_numsub(channel)).get(channel.encode()),
        timeout=30,
        what="the simulator to subscribe",
    )
    client.publish(channel, message if isinstance(message, str) else json.dumps(message))


def test_run_answers_interventions_on_the_outcome_stream(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    names = RedisNames(redis_prefix)
    own = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    with simulator_running(own, names) as (sim, thread):
        quick = {"question": "Quick one?", "options": ["Yes", "No"], "duration": 1}
        send(redis_client, names, order(P, "room-1", "ok", poll=quick))
        send(redis_client, names, '{"intervention_id": "iv-broken", "session_id": ')
        send(redis_client, names, "no id at all")
        send(redis_client, names, order(C, "room-9", "lost"))
        wait_until(lambda: len(outcomes(redis_client, names)) >= 3, what="three outcomes")
        assert thread.is_alive()
        found = outcomes(redis_client, names)
        assert set(found) == {"iv-room-1-ok", "iv-broken", "iv-room-9-lost"}
        ok = found["iv-room-1-ok"]
        assert ok["success"] is True and ok["result"]["poll_opened"] is True
        assert (ok["session_id"], ok["event_id"]) == ("room-1", "evt")
        assert found["iv-broken"]["success"] is False and "JSON" in found["iv-broken"]["error"]
        assert found["iv-room-9-lost"]["success"] is False
        assert "unknown session" in found["iv-room-9-lost"]["error"]

        def closed_questions() -> list[str]:
            entries = redis_client.xrange(names.stream(POLL_CLOSED_STREAM))
            return [json.loads(fields[b"data"])["poll"]["question"] for _, fields in entries]

        wait_until(lambda: "Quick one?" in closed_questions(), what="the delivered poll to close")
        (truth,) = sim.ground_truth_interventions()
        assert (truth.session_id, truth.intervention_type) == ("room-1", P)


def answered(
    client: redis.Redis, names: RedisNames, message: dict[str, Any], thread: threading.Thread
) -> dict[str, Any]:
    """Publish `message` until its outcome is on the stream (again every 2 s: pub/sub keeps
    nothing, and a message sent while the simulator is between subscriptions is lost)."""
    key, sent = message["intervention_id"], [-math.inf]

    def outcome() -> dict[str, Any] | None:
        assert thread.is_alive(), "the simulator's thread died"
        found = outcomes(client, names).get(key)
        if found is None and time.monotonic() - sent[0] > 2.0:
            send(client, names, message)
            sent[0] = time.monotonic()
        return found

    return wait_until(outcome, timeout=30, what=f"the outcome of {key}")


def test_run_resubscribes_after_redis_restarts(private_redis: PrivateRedis) -> None:
    names = RedisNames(f"sim-{uuid.uuid4().hex[:6]}:")
    client = redis.Redis.from_url(private_redis.url, socket_timeout=5)
    own = redis.Redis.from_url(private_redis.url, socket_timeout=5)
    with simulator_running(own, names) as (_, thread):
        assert answered(client, names, order(G, "room-0", "before"), thread)["success"] is True
        private_redis.kill()
        private_redis.start()  # an empty server: the subscription must be renewed
        assert answered(client, names, order(N, "room-1", "after"), thread)["success"] is True
    client.close()


def test_the_embedded_platform_answers_too() -> None:
    """The demo's in-process Redis (fakeredis) carries interventions and outcomes the same way."""
    server = fakeredis.FakeServer()
    desk = fakeredis.FakeRedis(server=server)
    names = RedisNames("demo:")
    with simulator_running(fakeredis.FakeRedis(server=server), names) as (_, thread):
        outcome = answered(desk, names, order(C, "room-0"), thread)
    assert outcome["success"] is True and outcome["result"]["message_id"]
