"""The design §3 payload gate: each way a payload can stray is named, with its path, and what is
at a limit passes; the rules' builders are checked directly."""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Callable
from typing import Any

import pytest

from services.agent import payload_gate as gate
from services.agent.payload_gate import validate_content
from services.core.vocabulary import InterventionType
from tests.content_samples import CHAT, GAME, LIBRARY, NOTE, POLL, request


def valid(kind: InterventionType) -> dict[str, Any]:
    return copy.deepcopy(LIBRARY.generate(request(kind), random.Random(0)).payload)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split(".")

    def change(payload: dict[str, Any]) -> None:
        target = payload
        for key in parents:
            target = target[key]
        target[last] = value

    return change


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split(".")

    def change(payload: dict[str, Any]) -> None:
        target = payload
        for key in parents:
            target = target[key]
        del target[last]

    return change


@pytest.mark.parametrize(
    ("kind", "change", "message"),
    [
        (POLL, _drop("poll.question"), "poll: missing question"),
        (POLL, _drop("poll"), "payload: missing poll"),
        (POLL, _set("poll.options", ["Yes"]), "poll.options must have 2 to 5 items, not 1"),
        (POLL, _set("poll.options", list("abcdef")), "must have 2 to 5 items, not 6"),
        (POLL, _set("poll.options", ["Yes", "yes "]), "poll.options must all differ"),
        (POLL, _set("poll.options", ["Yes", 2]), "poll.options[1] must be non-empty text"),
        (POLL, _set("poll.options", "Yes,No"), "poll.options must be a list, not str"),
        (POLL, _set("poll.options", ["Yes", "x" * 101]), "poll.options[1] is longer than 100"),
        (POLL, _set("poll.duration", "90"), "poll.duration must be a whole number"),
        (POLL, _set("poll.duration", True), "poll.duration must be a whole number"),
        (POLL, _set("poll.duration", 30), "poll.duration must be 60..180, not 30"),
        (POLL, _set("poll.type", "FREE_TEXT"), "poll.type must be one of MULTIPLE_CHOICE"),
        (POLL, _set("poll.question", "  "), "poll.question must be non-empty text"),
        (POLL, _set("poll.question", "?" * 301), "poll.question is longer than 300"),
        (POLL, _set("poll", ["q"]), "poll must be an object, not list"),
        (CHAT, _set("message", 42), "message must be non-empty text, not 42"),
        (CHAT, _set("type", "agent.intervention.broadcast"), "unexpected 'type' (the envelope"),
        (NOTE, _set("escalate", "yes"), "escalate must be true or false"),
        (NOTE, _set("target", "EVERYONE"), "target must be one of ORGANIZERS"),
        (NOTE, _set("content.priority", "URGENT"), "content.priority must be one of HIGH"),
        (NOTE, _drop("content.body"), "content: missing body"),
        (NOTE, _set("content", "alert"), "content must be an object, not str"),
        (GAME, _set("content.template", "TRIVIA"), "content.template must be one of CHAT_BLITZ"),
        (GAME, _set("content.action", "STOP_CHALLENGE"), "content.action must be one of"),
        (GAME, _set("content.duration_minutes", 0), "content.duration_minutes must be 1..10"),
        (GAME, _set("content.duration_minutes", 11), "content.duration_minutes must be 1..10"),
        (GAME, _set("content.rewards", {}), "content.rewards must be a non-empty object"),
        (GAME, _set("content.rewards", {"first": -5}), "content.rewards.first must be whole"),
        (GAME, _set("content.rewards", {"first": 1.5}), "content.rewards.first must be whole"),
        (GAME, _set("content.extra", 1), "content: unexpected 'extra'"),
        (GAME, _set("content.rewards", {5: 10}), "content.rewards: 5 is not a name for a place"),
        (GAME, _set("content.rewards", {" ": 10}), "content.rewards: ' ' is not a name for a"),
    ],
)
def test_validate_content_rejects_malformed_payloads(
    kind: InterventionType, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    payload = valid(kind)
    validate_content(kind, payload)  # the starting point is fine...
    change(payload)
    with pytest.raises(ValueError, match=re.escape(message)) as caught:
        validate_content(kind, payload)  # ...and the one change is what it names
    assert str(caught.value).startswith(f"invalid {kind} content: ")


@pytest.mark.parametrize(
    ("kind", "change"),
    [
        (POLL, _set("poll.options", ["Yes", "No"])),
        (POLL, _set("poll.options", ["A", "B", "C", "D", "x" * 100])),
        (GAME, _set("content.rewards", {"first": 100, "participation": 0})),
    ],
)
def test_validate_content_accepts_what_is_at_its_limits(
    kind: InterventionType, change: Callable[[dict[str, Any]], None]
) -> None:
    payload = valid(kind)
    change(payload)
    validate_content(kind, payload)


def test_validate_content_names_keys_by_their_path_and_hints_only_at_the_envelope() -> None:
    with pytest.raises(ValueError) as caught:
        validate_content(CHAT, {"message": "", "note": 1, "extra": 2})
    assert str(caught.value) == (
        "invalid CHAT_PROMPT content: payload: unexpected 'extra', 'note'; "
        "message must be non-empty text, not ''"
    )
    with pytest.raises(ValueError) as caught:
        validate_content(POLL, {"poll": {"type": "MULTIPLE_CHOICE", "duration": 60}})
    assert str(caught.value) == "invalid POLL content: poll: missing question, options"


# The payload gate's rules are built once, when the module loads; these check the builders.
@pytest.mark.parametrize(
    ("builder", "args", "value", "problem"),
    [
        (gate._whole, [(60, 180)], 60, None),
        (gate._whole, [(60, 180)], 180, None),
        (gate._whole, [(60, 180)], 59, "x must be 60..180, not 59"),
        (gate._whole, [(60, 180)], 181, "x must be 60..180, not 181"),
        (gate._whole, [(60, 180)], 90.0, "x must be a whole number, not 90.0"),
        (gate._whole, [(60, 180)], False, "x must be a whole number, not False"),
        (gate._one_of, ["HIGH", "LOW"], "LOW", None),
        (gate._one_of, ["HIGH", "LOW"], "low", "x must be one of HIGH, LOW, not 'low'"),
        (gate._one_of, ["HIGH", "LOW"], ["HIGH"], "x must be one of HIGH, LOW, not ['HIGH']"),
        (gate._text, [5], "abcde", None),
        (gate._text, [5], "abcdef", "x is longer than 5 characters"),
        (gate._text, [5], " \t", "x must be non-empty text, not ' \\t'"),
    ],
)
def test_each_rule_of_the_gate_accepts_its_bounds_and_names_the_problem(
    builder: Callable[..., Callable[[Any, str, list[str]], None]],
    args: list[Any],
    value: Any,
    problem: str | None,
) -> None:
    rule = builder(*args)
    problems: list[str] = []
    rule(value, "x", problems)
    assert problems == ([] if problem is None else [problem])


def test_validate_content_reports_every_problem_at_once() -> None:
    with pytest.raises(ValueError) as caught:
        validate_content(POLL, {"poll": {"question": "", "options": [], "type": "X"}})
    message = str(caught.value)
    for part in ("missing duration", "poll.question", "poll.options", "poll.type"):
        assert part in message


def test_validate_content_rejects_a_payload_of_the_wrong_type() -> None:
    with pytest.raises(ValueError, match="payload: missing message; payload: unexpected 'poll'"):
        validate_content(CHAT, valid(POLL))
    with pytest.raises(ValueError, match="payload must be an object, not list"):
        validate_content(POLL, [])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown intervention type 'QUIZ'"):
        validate_content("QUIZ", valid(POLL))  # type: ignore[arg-type]
