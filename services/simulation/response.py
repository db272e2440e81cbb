"""How the simulated platform answers an intervention: its checks, and its audience's true response.

The true effect of an intervention is its type's rescue share in the room's true state, from the
simulator's `truth_table.ResponseTable` (the seed table unless a benchmark draws another).

While an intervention acts (EFFECT_SECONDS, fading out over the last FADE_SECONDS) the room's
activity a (chat, reactions, votes; 1 = usual) becomes a + (1 - a)·r·fade: a share r of what the
episode took away comes back. During a mass exit r is instead the pull on those who walked out:
each rejoins at a rate r·fade / MASS_EXIT_REJOIN_SECONDS. With no episode, chat and reactions
are generated at (1 + r·fade) times their usual rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

from services.core.platform import CHALLENGE_TEMPLATES, PLATFORM_MESSAGE_TYPE, valid_id
from services.core.vocabulary import InterventionType
from services.simulation.audience import EpisodeKind

EFFECT_SECONDS = 90.0
# During an episode, an intervention also draws answers: rates x (1 + gain x its strength).
RESPONSE_GAIN = 1.5
FADE_SECONDS = 30.0  # the effect fades linearly to nothing over the effect's last third
MASS_EXIT_REJOIN_SECONDS = 45.0  # at r = 1, a walked-out user's mean time to come back


def effect_fade(elapsed: float) -> float:
    """How strongly an intervention delivered `elapsed` seconds ago still acts (0..1)."""
    if elapsed < 0 or elapsed >= EFFECT_SECONDS:
        return 0.0
    return min(1.0, (EFFECT_SECONDS - elapsed) / FADE_SECONDS)


@dataclass(frozen=True, slots=True)
class Effect:
    """One delivered intervention's true effect on a room."""

    intervention_type: InterventionType
    start: float
    episode_kind: EpisodeKind | None
    present: int
    share: float

    @property
    def end(self) -> float:
        return self.start + EFFECT_SECONDS

    def strength(self, t: float) -> float:
        return self.share * effect_fade(t - self.start)


def restored_share(effects: list[Effect], t: float) -> float:
    """The combined share of the episodes' loss the rescuing effects give back at `t`."""
    kept = 1.0
    for effect in effects:
        if effect.episode_kind not in (None, EpisodeKind.MASS_EXIT):
            kept *= 1.0 - effect.strength(t)
    return 1.0 - kept


def rate_boost(effects: list[Effect], t: float) -> float:
    """Multiplier (>= 1) on chat and reaction rates: the audience answering an intervention
    (replies to a prompt, banter around a challenge), on top of what it restores."""
    boost = 1.0
    for effect in effects:
        gain = 1.0 if effect.episode_kind is None else RESPONSE_GAIN
        boost *= 1.0 + gain * effect.strength(t)
    return boost


def rejoin_hazard(effects: list[Effect], t: float) -> float:
    """Per walked-out user, the rate (per second) at which they come back at `t`."""
    pull = sum(e.strength(t) for e in effects if e.episode_kind is EpisodeKind.MASS_EXIT)
    return pull / MASS_EXIT_REJOIN_SECONDS


# --- What the simulated platform accepts on agent.interventions (design §3). ---

_ARM_OF_TYPE = {message_type: arm for arm, message_type in PLATFORM_MESSAGE_TYPE.items()}
MAX_POLL_OPTIONS = 10
DEFAULT_POLL_SECONDS = 60.0
MAX_POLL_SECONDS = 3600.0


class InvalidIntervention(ValueError):
    """The message cannot be executed; the text is the outcome's `error`."""


class Order(NamedTuple):
    """A validated agent.interventions message."""

    intervention_type: InterventionType
    intervention_id: str
    session_id: str
    event_id: str
    content: dict[str, Any]  # for a poll: {question, options: [text, ...], duration}


def message_ids(message: object) -> dict[str, str | None]:
    """The message's ids that are valid, the others None (for a failure outcome)."""
    fields = ("intervention_id", "session_id", "event_id")
    if not isinstance(message, dict):
        return dict.fromkeys(fields)
    return {name: message[name] if valid_id(message.get(name)) else None for name in fields}


def parse_order(message: object) -> Order:
    """Check a decoded agent.interventions message; raises InvalidIntervention saying why."""
    if not isinstance(message, dict):
        raise InvalidIntervention("the message is not a JSON object")
    ids = message_ids(message)
    for name, value in ids.items():
        if value is None:
            raise InvalidIntervention(f"missing or invalid {name}")
    kind = message.get("type")
    arm = _ARM_OF_TYPE.get(kind) if isinstance(kind, str) else None
    if arm is None:
        raise InvalidIntervention(f"unknown intervention type {kind!r}")
    content = _CONTENT_CHECKS[arm](message)
    return Order(arm, ids["intervention_id"], ids["session_id"], ids["event_id"], content)  # type: ignore[arg-type]


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidIntervention(f"{what} must be a non-empty string")
    return value


def _number(value: object, what: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidIntervention(f"{what} must be a number")
    if not low < value <= high:
        raise InvalidIntervention(f"{what} must be more than {low:g} and at most {high:g}")
    return float(value)


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidIntervention(f"{what} must be an object")
    return value


def _poll(message: dict[str, Any]) -> dict[str, Any]:
    poll = _object(message.get("poll"), "poll")
    question = _text(poll.get("question"), "poll.question")
    options = poll.get("options")
    if not isinstance(options, list) or not 2 <= len(options) <= MAX_POLL_OPTIONS:
        raise InvalidIntervention(f"poll.options must be a list of 2 to {MAX_POLL_OPTIONS}")
    texts = [
        _text(option.get("text") if isinstance(option, dict) else option, "each poll option")
        for option in options
    ]
    if poll.get("type", "MULTIPLE_CHOICE") != "MULTIPLE_CHOICE":
        raise InvalidIntervention("poll.type must be MULTIPLE_CHOICE")
    duration = poll.get("duration", DEFAULT_POLL_SECONDS)
    seconds = _number(duration, "poll.duration (seconds)", 0.0, MAX_POLL_SECONDS)
    return {"question": question, "options": texts, "duration": seconds}


def _broadcast(message: dict[str, Any]) -> dict[str, Any]:
    return {"message": _text(message.get("message"), "message")}


def _notification(message: dict[str, Any]) -> dict[str, Any]:
    content = _object(message.get("content"), "content")
    _text(content.get("title"), "content.title")
    _text(content.get("body"), "content.body")
    return {
        "notification_type": message.get("notification_type"),
        "target": message.get("target"),
        "content": content,
    }


def _gamification(message: dict[str, Any]) -> dict[str, Any]:
    content = _object(message.get("content"), "content")
    if content.get("action") == "POINTS_BOOST":
        _text(content.get("name"), "content.name")
        _number(content.get("duration_minutes"), "content.duration_minutes", 0.0, 240.0)
        _number(content.get("multiplier"), "content.multiplier", 1.0, 10.0)
        return content
    if content.get("action") != "START_CHALLENGE":
        raise InvalidIntervention("content.action must be START_CHALLENGE or POINTS_BOOST")
    if content.get("template") not in CHALLENGE_TEMPLATES:
        raise InvalidIntervention(
            f"content.template must be one of {', '.join(CHALLENGE_TEMPLATES)}"
        )
    _text(content.get("name"), "content.name")
    _number(content.get("duration_minutes"), "content.duration_minutes", 0.0, 240.0)
    return content


_CONTENT_CHECKS = {
    InterventionType.POLL: _poll,
    InterventionType.CHAT_PROMPT: _broadcast,
    InterventionType.NOTIFICATION: _notification,
    InterventionType.GAMIFICATION: _gamification,
}
