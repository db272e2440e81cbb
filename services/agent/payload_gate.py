"""The design §3 payload gate: what an intervention's type-specific keys must look like.

Every generator's output passes `validate_content` before it reaches the platform, because the
platform executes whatever it hears on the agent.interventions channel (design §3). The desk
runs it on whichever generator it was given, so the gate depends on no generator; the template
library (`services.agent.content`) runs it too, so that a bad edit to the texts fails in tests.

The payload holds only the type-specific keys; the caller adds the envelope (type,
intervention_id, session_id, event_id, timestamp).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.agent.audience_text import unsafe_reason
from services.core.platform import CHALLENGE_TEMPLATES
from services.core.vocabulary import InterventionType

# What the gate allows; the template library keeps to these when it fills in its numbers.
POLL_OPTIONS = (2, 5)
POLL_SECONDS = (60, 180)
CHALLENGE_MINUTES = (1, 10)
PRIORITIES = ("HIGH", "MEDIUM", "LOW")
NOTIFICATION_TARGET = "ORGANIZERS"
POLL_KIND = "MULTIPLE_CHOICE"
CHALLENGE_ACTION = "START_CHALLENGE"
# The platform's other gamification action: points count double (or triple) for a while.
POINTS_BOOST_ACTION = "POINTS_BOOST"
BOOST_MULTIPLIER = (2, 3)

_ENVELOPE = frozenset({"type", "intervention_id", "session_id", "event_id", "timestamp"})

# A rule checks one value and appends what is wrong with it, naming where.
_Rule = Callable[[Any, str, list[str]], None]


def _text(limit: int) -> _Rule:
    # The caps are roomy for our texts with a full-length title inside, and tight enough to stop
    # a runaway generator from flooding a chat or a poll card. Every text reaches people as it
    # is, so none may carry a link, a mention or markup (services.agent.audience_text).
    def rule(value: Any, where: str, problems: list[str]) -> None:
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{where} must be non-empty text, not {value!r}")
        elif len(value) > limit:
            problems.append(f"{where} is longer than {limit} characters")
        elif (reason := unsafe_reason(value)) is not None:
            problems.append(f"{where} {reason}")

    return rule


def _whole(bounds: tuple[int, int]) -> _Rule:
    def rule(value: Any, where: str, problems: list[str]) -> None:
        # bool is an int to Python but not to the platform's JSON schema.
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{where} must be a whole number, not {value!r}")
        elif not bounds[0] <= value <= bounds[1]:
            problems.append(f"{where} must be {bounds[0]}..{bounds[1]}, not {value}")

    return rule


def _one_of(*allowed: str) -> _Rule:
    def rule(value: Any, where: str, problems: list[str]) -> None:
        if not isinstance(value, str) or value not in allowed:
            problems.append(f"{where} must be one of {', '.join(allowed)}, not {value!r}")

    return rule


def _flag(value: Any, where: str, problems: list[str]) -> None:
    if not isinstance(value, bool):
        problems.append(f"{where} must be true or false, not {value!r}")


def _options(value: Any, where: str, problems: list[str]) -> None:
    if not isinstance(value, list):
        problems.append(f"{where} must be a list, not {type(value).__name__}")
        return
    low, high = POLL_OPTIONS
    if not low <= len(value) <= high:
        problems.append(f"{where} must have {low} to {high} items, not {len(value)}")
    option = _text(100)
    for i, item in enumerate(value):
        option(item, f"{where}[{i}]", problems)
    texts = [item.strip().casefold() for item in value if isinstance(item, str)]
    if len(set(texts)) != len(texts):
        problems.append(f"{where} must all differ")


def _rewards(value: Any, where: str, problems: list[str]) -> None:
    if not isinstance(value, dict) or not value:
        problems.append(f"{where} must be a non-empty object, not {value!r}")
        return
    for place, points in value.items():
        if not isinstance(place, str) or not place.strip():
            problems.append(f"{where}: {place!r} is not a name for a place")
        elif isinstance(points, bool) or not isinstance(points, int) or points < 0:
            problems.append(f"{where}.{place} must be whole points >= 0, not {points!r}")


# Design §3, key by key: a nested dict is an object with exactly these keys.
_SHAPES: dict[InterventionType, dict[str, Any]] = {
    InterventionType.POLL: {
        "poll": {
            "question": _text(300),
            "options": _options,
            "type": _one_of(POLL_KIND),
            "duration": _whole(POLL_SECONDS),
        }
    },
    InterventionType.CHAT_PROMPT: {"message": _text(500)},
    InterventionType.NOTIFICATION: {
        "notification_type": _text(64),
        "target": _one_of(NOTIFICATION_TARGET),
        "escalate": _flag,
        "content": {
            "title": _text(200),
            "body": _text(1000),
            "priority": _one_of(*PRIORITIES),
            "suggested_action": _text(300),
        },
    },
    InterventionType.GAMIFICATION: {
        "content": {
            "action": _one_of(CHALLENGE_ACTION),
            "template": _one_of(*CHALLENGE_TEMPLATES),
            "name": _text(80),
            "description": _text(500),
            "duration_minutes": _whole(CHALLENGE_MINUTES),
            "rewards": _rewards,
        }
    },
}
_POINTS_BOOST = {
    "content": {
        "action": _one_of(POINTS_BOOST_ACTION),
        "name": _text(80),
        "description": _text(500),
        "duration_minutes": _whole(CHALLENGE_MINUTES),
        "multiplier": _whole(BOOST_MULTIPLIER),
    }
}


def _shape(kind: InterventionType, payload: Any) -> dict[str, Any]:
    content = payload.get("content") if isinstance(payload, dict) else None
    if (
        kind is InterventionType.GAMIFICATION
        and isinstance(content, dict)
        and content.get("action") == POINTS_BOOST_ACTION
    ):
        return _POINTS_BOOST
    return _SHAPES[kind]


def _check(value: Any, shape: dict[str, Any] | _Rule, where: str, problems: list[str]) -> None:
    if not isinstance(shape, dict):
        shape(value, where, problems)
        return
    if not isinstance(value, dict):
        problems.append(f"{where} must be an object, not {type(value).__name__}")
        return
    missing = [key for key in shape if key not in value]
    if missing:
        problems.append(f"{where}: missing {', '.join(missing)}")
    extra = sorted(repr(key) for key in value if key not in shape)
    if extra:
        # The likeliest mistake: handing over the whole message instead of its payload.
        hint = " (the envelope is added by the caller)" if _ENVELOPE & set(value) else ""
        problems.append(f"{where}: unexpected {', '.join(extra)}{hint}")
    for key, rule in shape.items():
        if key in value:
            _check(value[key], rule, key if where == "payload" else f"{where}.{key}", problems)


def validate_content(intervention_type: InterventionType, payload: dict[str, Any]) -> None:
    """Raise ValueError naming every way `payload` strays from the design §3 shape of its type."""
    try:
        kind = InterventionType(intervention_type)
    except ValueError:
        raise ValueError(f"unknown intervention type {intervention_type!r}") from None
    problems: list[str] = []
    _check(payload, _shape(kind, payload), "payload", problems)
    if problems:
        raise ValueError(f"invalid {kind} content: {'; '.join(problems)}")
