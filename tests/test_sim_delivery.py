"""The simulated platform executes the agent's interventions: a delivered poll runs, a bad
message fails with its reason, an outcome has the contract's shape, and deliveries do not depend
on how the simulator is stepped."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from services.core.platform import POLL_CLOSED_STREAM, POLL_VOTE_STREAM
from services.simulation.simulator import Episode, EpisodeKind, Simulator
from tests.sim_orders import T0, C, G, N, P, order, rooms, run
from tests.test_simulator import when

IDS = {"intervention_id", "session_id", "event_id"}


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
