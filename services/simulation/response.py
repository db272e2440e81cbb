"""How the simulated platform answers an intervention: its checks, and its audience's true response.

THE SIMULATOR'S HIDDEN TRUTH. `rescue_share` says how much a delivered intervention really helps
in each context. Only the simulator reads it; the product (collector, agent, web tier) never
imports this module and must learn the best arm from measured engagement alone. Benchmarks use it
as the oracle: `best_arm` is what a perfect agent would pick, `rescue_share` what it would gain.

The response is context-dependent so that the best arm differs across contexts, with a clear gap
(the best arm is at least 0.15 above the second best in every context):

    episode \\ present    <10             10-49           >=50
    SUDDEN_DROP          CHAT_PROMPT     CHAT_PROMPT     GAMIFICATION   (a nudge in chat works
                                                                        until the room is big)
    GRADUAL_DECLINE      GAMIFICATION    GAMIFICATION    GAMIFICATION   (a challenge revives it)
    LOW_ENGAGEMENT       CHAT_PROMPT     CHAT_PROMPT     POLL           (small rooms talk, big
                                                                        rooms vote)
    MASS_EXIT            NOTIFICATION    NOTIFICATION    NOTIFICATION   (organisers fix the cause;
                                                                        those who left rejoin)
    no episode           GAMIFICATION    GAMIFICATION    GAMIFICATION   (a small general boost)

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

_P, _C, _N, _G = (
    InterventionType.POLL,
    InterventionType.CHAT_PROMPT,
    InterventionType.NOTIFICATION,
    InterventionType.GAMIFICATION,
)

# (episode kind, size bucket) -> rescue share per arm, in the order POLL, CHAT, NOTIF, GAMIF.
# Size buckets: 0 = fewer than 10 present, 1 = 10-49, 2 = 50 or more.
_TABLE: dict[tuple[EpisodeKind | None, int], tuple[float, float, float, float]] = {
    (EpisodeKind.SUDDEN_DROP, 0): (0.30, 0.60, 0.10, 0.25),
    (EpisodeKind.SUDDEN_DROP, 1): (0.30, 0.60, 0.10, 0.40),
    (EpisodeKind.SUDDEN_DROP, 2): (0.30, 0.45, 0.10, 0.65),
    (EpisodeKind.GRADUAL_DECLINE, 0): (0.30, 0.35, 0.10, 0.50),
    (EpisodeKind.GRADUAL_DECLINE, 1): (0.40, 0.30, 0.15, 0.60),
    (EpisodeKind.GRADUAL_DECLINE, 2): (0.40, 0.30, 0.15, 0.60),
    (EpisodeKind.LOW_ENGAGEMENT, 0): (0.35, 0.55, 0.10, 0.20),
    (EpisodeKind.LOW_ENGAGEMENT, 1): (0.40, 0.55, 0.10, 0.25),
    (EpisodeKind.LOW_ENGAGEMENT, 2): (0.60, 0.40, 0.10, 0.35),
    (EpisodeKind.MASS_EXIT, 0): (0.10, 0.30, 0.50, 0.10),
    (EpisodeKind.MASS_EXIT, 1): (0.10, 0.20, 0.60, 0.15),
    (EpisodeKind.MASS_EXIT, 2): (0.10, 0.20, 0.60, 0.15),
    (None, 0): (0.05, 0.05, 0.00, 0.20),
    (None, 1): (0.10, 0.10, 0.00, 0.25),
    (None, 2): (0.10, 0.10, 0.00, 0.25),
}
_ARMS = (_P, _C, _N, _G)


def size_bucket(present: int) -> int:
    return 0 if present < 10 else 1 if present < 50 else 2


def rescue_share(
    intervention_type: InterventionType, episode_kind: EpisodeKind | None, present: int
) -> float:
    """The true share (0..1) of an episode's loss that `intervention_type` restores while it acts.

    With no episode it is the size of a general boost. Simulator-only: see the module docstring.
    """
    row = _TABLE[(episode_kind, size_bucket(present))]
    return row[_ARMS.index(InterventionType(intervention_type))]


def best_arm(episode_kind: EpisodeKind | None, present: int) -> InterventionType:
    """The arm with the largest true rescue share in this context (the benchmarks' oracle)."""
    row = _TABLE[(episode_kind, size_bucket(present))]
    return _ARMS[max(range(len(_ARMS)), key=row.__getitem__)]


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


_CONTENT_CHECKS = {_P: _poll, _C: _broadcast, _N: _notification, _G: _gamification}
