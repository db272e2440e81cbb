"""What an intervention says: the type-specific part of an `agent.interventions` message.

The sampler decides *which* intervention type to try; a `ContentGenerator` decides *what* it
says, from the session's context. `TemplateLibrary` is the built-in generator: hand-written
variants per anomaly type (texts in `services.agent.templates`), filled with the session's
title and numbers. Another generator (say, a language model) can implement the same protocol;
whichever it is, its output passes the payload gate (`services.agent.payload_gate`) before it
reaches the platform.

The payload holds only the type-specific keys; the caller adds the envelope (type,
intervention_id, session_id, event_id, timestamp).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from services.agent.audience_text import strip_unsafe
from services.agent.payload_gate import (
    CHALLENGE_ACTION,
    CHALLENGE_MINUTES,
    NOTIFICATION_TARGET,
    POINTS_BOOST_ACTION,
    POLL_KIND,
    POLL_SECONDS,
    validate_content,
)
from services.agent.templates import (
    ANOMALY_WORDS,
    CHALLENGES,
    CHAT_PROMPTS,
    GENERIC,
    NOTIFICATIONS,
    POLLS,
    ChallengeTemplate,
    ChatTemplate,
    NotificationTemplate,
    PollTemplate,
)
from services.core.vocabulary import InterventionType

TITLE_LIMIT = 120  # a platform title is someone else's text: keep it from swamping ours
PREVIEW_LIMIT = 200
NOTIFICATION_TYPE = "ENGAGEMENT_ALERT"
# The VERY_LOW category's bound (design §5): below it, organizers hear about it whatever the cause.
VERY_LOW_ENGAGEMENT = 0.2
LARGE_AUDIENCE = 50  # the largest audience bucket (agent_vocabulary.AUDIENCE_BUCKETS)
SMALL_AUDIENCE = 10

# Notification priority per anomaly when nothing calls for escalation.
_PRIORITY = {
    "SUDDEN_DROP": "HIGH",
    "MASS_EXIT": "HIGH",
    "GRADUAL_DECLINE": "MEDIUM",
    "LOW_ENGAGEMENT": "MEDIUM",
}


@dataclass(frozen=True, slots=True)
class ContentRequest:
    """Everything a generator may base its text on; `anomaly_type` None is a manual trigger."""

    intervention_type: InterventionType
    anomaly_type: str | None
    session_id: str
    event_id: str | None
    session_title: str | None
    present_users: int
    chat_per_min: float
    engagement: float  # 0..1
    # What a writer that reads the room also gets (the templates need none of it).
    event_title: str | None = None
    explanation: str = ""  # the detector's words on the anomaly
    deviation: float = 0.0  # how far below expected, 0..1
    signals: Mapping[str, float] = field(default_factory=dict)
    track_record: str = ""  # how the chosen type has done in this context, in words
    chat: tuple[str, ...] = ()  # the room's last few messages, oldest first; never stored

    def __post_init__(self) -> None:
        # Fail where the bad number comes from, not later inside a half-rendered text.
        try:
            InterventionType(self.intervention_type)
        except ValueError:
            raise ValueError(f"unknown intervention type {self.intervention_type!r}") from None
        users = self.present_users
        if isinstance(users, bool) or not isinstance(users, int) or users < 0:
            raise ValueError(f"present_users must be a count >= 0, not {self.present_users!r}")
        if not (math.isfinite(self.chat_per_min) and self.chat_per_min >= 0):
            raise ValueError(f"chat_per_min must be finite and >= 0, not {self.chat_per_min!r}")
        if not (math.isfinite(self.engagement) and 0 <= self.engagement <= 1):
            raise ValueError(f"engagement must be within 0..1, not {self.engagement!r}")


@dataclass(frozen=True, slots=True)
class InterventionContent:
    payload: dict[str, Any]  # the type-specific keys of the agent.interventions message
    preview: str  # one plain-text line for a producer's suggestion card
    variant: str  # stable id of the template used, e.g. "poll/SUDDEN_DROP/2"


@runtime_checkable
class ContentGenerator(Protocol):
    def generate(self, request: ContentRequest, rng: random.Random) -> InterventionContent: ...


# --------------------------------------------------------------------------- the template library

_Rendered = dict[str, Any]


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, an ellipsis marking the cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + "…"


def clean_title(title: str | None, limit: int = TITLE_LIMIT) -> str | None:
    """The platform's title as one trimmed line, or None when there is nothing to show."""
    if title is None:
        return None
    # Control characters (a stray newline, a NUL) would break a one-line card or a chat line;
    # a link, a mention or markup in a title would reach the audience inside our own text.
    text = strip_unsafe(title)
    return clip(text, limit) if text else None


def _fields(request: ContentRequest) -> dict[str, str]:
    title = clean_title(request.session_title)
    quoted = f"“{title}”" if title else None
    n = request.present_users
    rate = request.chat_per_min
    anomaly = request.anomaly_type
    if anomaly is None:
        words = ANOMALY_WORDS[GENERIC]
    else:
        words = ANOMALY_WORDS.get(anomaly) or anomaly.replace("_", " ").lower()
    return {
        "session": quoted or "this session",
        "Session": quoted or "This session",
        "in_session": f" in {quoted}" if quoted else "",
        "users": str(n),
        "people": "1 person" if n == 1 else f"{n} people",
        # One decimal matters for a quiet room (0.4 vs 0.0), not for a busy one.
        "chat": f"{rate:.1f}" if rate < 10 else f"{rate:.0f}",
        "engagement": f"{round(request.engagement * 100)}%",
        "anomaly": words,
    }


def _fill(template: str, fields: Mapping[str, str]) -> str:
    # Only our template is parsed; values (the title) are inserted as they are, so "{" or "%" in
    # a title can neither break the text nor reach into other fields.
    return template.format_map(fields)


def _fit(prefix: str, text: str, suffix: str = "") -> str:
    """A preview line of at most PREVIEW_LIMIT characters, shortening only `text`."""
    return prefix + clip(text, PREVIEW_LIMIT - len(prefix) - len(suffix)) + suffix


def _clamp(value: int, bounds: tuple[int, int]) -> int:
    return max(bounds[0], min(bounds[1], value))


def _nice(points: float) -> int:
    """Points rounded to a multiple of 5, at least 5: round numbers read as deliberate."""
    return max(5, 5 * round(points / 5))


def _poll(t: PollTemplate, fields: Mapping[str, str], request: ContentRequest) -> _Rendered:
    question = _fill(t.question, fields)
    options = [_fill(option, fields) for option in t.options]
    # A big room needs longer for the votes to come in.
    bonus = 30 if request.present_users >= LARGE_AUDIENCE else 0
    duration = _clamp(t.seconds + bonus, POLL_SECONDS)
    return {
        "poll": {"question": question, "options": options, "type": POLL_KIND, "duration": duration}
    }


def _chat(t: ChatTemplate, fields: Mapping[str, str], request: ContentRequest) -> _Rendered:
    return {"message": _fill(t.message, fields)}


def escalation(request: ContentRequest) -> tuple[str, bool]:
    """A notification's priority and whether it escalates, from the room's state alone."""
    anomaly = request.anomaly_type
    escalate = anomaly == "MASS_EXIT" or request.engagement < VERY_LOW_ENGAGEMENT
    if escalate:
        return "HIGH", True
    if anomaly is None:
        return "LOW", False  # a producer's own check-in, nothing detected
    return _PRIORITY.get(anomaly, "MEDIUM"), False


def notification_payload(
    request: ContentRequest, title: str, body: str, suggested_action: str, priority: str
) -> dict[str, Any]:
    return {
        "notification_type": NOTIFICATION_TYPE,
        "target": NOTIFICATION_TARGET,
        "escalate": escalation(request)[1],
        "content": {
            "title": title,
            "body": body,
            "priority": priority,
            "suggested_action": suggested_action,
        },
    }


def _notification(
    t: NotificationTemplate, fields: Mapping[str, str], request: ContentRequest
) -> _Rendered:
    return notification_payload(
        request,
        _fill(t.title, fields),
        _fill(t.body, fields),
        _fill(t.suggested_action, fields),
        escalation(request)[0],
    )


def challenge_minutes(minutes: int, request: ContentRequest) -> int:
    """A challenge's length fitted to the room."""
    n = request.present_users
    # A handful of people runs out of steam sooner; a big room needs time to join in.
    if n < SMALL_AUDIENCE:
        minutes -= 1
    elif n >= LARGE_AUDIENCE:
        minutes += 1
    if request.engagement < VERY_LOW_ENGAGEMENT:
        minutes = min(minutes, 3)  # a nearly silent room needs a quick win, not a marathon
    return _clamp(minutes, CHALLENGE_MINUTES)


def challenge_rewards(minutes: int, request: ContentRequest) -> dict[str, int]:
    n = request.present_users
    first = 50 * minutes  # longer challenges ask more of people, so they pay more
    rewards = {"first": first, "second": _nice(first / 2), "third": _nice(first / 4)}
    # No more podium places than there are people to fill them.
    places = 3 if n >= 6 else 2 if n >= 3 else 1
    rewards = dict(list(rewards.items())[:places])
    # When people are leaving, staying is what is rewarded.
    share = 4 if request.anomaly_type == "MASS_EXIT" else 10
    rewards["participation"] = _nice(first / share)
    return rewards


def _challenge(
    t: ChallengeTemplate, fields: Mapping[str, str], request: ContentRequest
) -> _Rendered:
    minutes = challenge_minutes(t.minutes, request)
    rewards = challenge_rewards(minutes, request)
    filled = {
        **fields,
        "duration": "1 minute" if minutes == 1 else f"{minutes} minutes",
        "first": str(rewards["first"]),
    }
    return {
        "content": {
            "action": CHALLENGE_ACTION,
            "template": t.template,
            "name": _fill(t.name, filled),
            "description": _fill(t.description, filled),
            "duration_minutes": minutes,
            "rewards": rewards,
        }
    }


def preview_of(kind: InterventionType, payload: Mapping[str, Any]) -> str:
    """One plain line for a producer's card, from a payload the gate has passed."""
    if kind is InterventionType.POLL:
        poll = payload["poll"]
        suffix = f'" ({len(poll["options"])} options, {poll["duration"]} s)'
        return _fit('Poll: "', poll["question"], suffix)
    if kind is InterventionType.CHAT_PROMPT:
        return _fit('Chat message: "', payload["message"], '"')
    if kind is InterventionType.NOTIFICATION:
        flag = ", escalated" if payload["escalate"] else ""
        content = payload["content"]
        return _fit(f"Alert to organizers ({content['priority']}{flag}): ", content["title"])
    content = payload["content"]
    minutes = content["duration_minutes"]
    if content["action"] == POINTS_BOOST_ACTION:
        suffix = f" (points {content['multiplier']}x for {minutes} min)"
        return _fit("Points boost: ", content["name"], suffix)
    first = content["rewards"]["first"]
    suffix = f" ({content['template']}, {minutes} min, {first} pts to the winner)"
    return _fit("Challenge: ", content["name"], suffix)


_TABLES: dict[InterventionType, tuple[Mapping[str, Sequence[Any]], Callable[..., _Rendered]]] = {
    InterventionType.POLL: (POLLS, _poll),
    InterventionType.CHAT_PROMPT: (CHAT_PROMPTS, _chat),
    InterventionType.NOTIFICATION: (NOTIFICATIONS, _notification),
    InterventionType.GAMIFICATION: (CHALLENGES, _challenge),
}


def _table_key(table: Mapping[str, Sequence[Any]], anomaly_type: str | None) -> str:
    # An anomaly type added to the detector before it gets texts still gets sensible ones.
    return anomaly_type if anomaly_type is not None and anomaly_type in table else GENERIC


class TemplateLibrary:
    """The built-in generator: a variant drawn at random from those written for the anomaly."""

    def variant_ids(
        self, intervention_type: InterventionType, anomaly_type: str | None
    ) -> tuple[str, ...]:
        """The ids `generate` can return for this type and anomaly."""
        kind = InterventionType(intervention_type)
        table, _ = _TABLES[kind]
        key = _table_key(table, anomaly_type)
        return tuple(f"{kind.lower()}/{key}/{i}" for i in range(1, len(table[key]) + 1))

    def generate(self, request: ContentRequest, rng: random.Random) -> InterventionContent:
        kind = InterventionType(request.intervention_type)
        table, render = _TABLES[kind]
        key = _table_key(table, request.anomaly_type)
        variants = table[key]
        # randrange has drawn the same way for a given seed since Python 3.2: reproducible.
        index = rng.randrange(len(variants))
        payload = render(variants[index], _fields(request), request)
        # A bad edit to the texts should fail here, in tests, not at the platform.
        validate_content(kind, payload)
        return InterventionContent(
            payload, preview_of(kind, payload), f"{kind.lower()}/{key}/{index + 1}"
        )
