"""The browser push protocol: every message on its way to a live page, as typed records, with
one encoder (record -> JSON text) and one decoder (JSON text -> record).

The collector publishes ticks, anomaly changes and endings, the intervention sender publishes
intervention changes, each web process's hub fans them out with its own resync and hub_down, and
the live socket adds the backfill and its replies to the page's pings. docs/push-protocol.md
describes the same messages for assets/live*.js.

A record's field names are the wire's own (camelCase where the page reads camelCase; snake_case
inside signals and the intervention object, as the contracts and the API have them). A record
*is* its JSON object, so orjson writes it natively: cheaper than json.dumps of a dict on the
collector's hot path (a tick message per live session every tick), and Python, JavaScript and
the docs spell every field alike. The records have no __slots__ on purpose: orjson writes an
instance's __dict__ about five times as fast as it reads slots.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, get_args, get_origin, get_type_hints

import orjson


class PushKind(StrEnum):
    """A message's `kind`: what it is and which part of the page it feeds."""

    TICK = "tick"  # collector: a live session's newly scored point
    ANOMALY = "anomaly"  # collector: an episode started, escalated or ended
    INTERVENTION = "intervention"  # sender: an intervention was suggested or changed status
    ENDED = "ended"  # collector: the session ended
    BACKFILL = "backfill"  # socket: the full state a page starts from, on every (re)connect
    RESYNC = "resync"  # hub to socket only: pushes may have been missed, send a fresh backfill
    HUB_DOWN = "hub_down"  # hub: this process lost its Redis feed; no ticks until it is back
    PONG = "pong"  # socket: the answer to the page's ping
    ERROR = "error"  # socket: the page sent a frame the socket does not accept


# The one frame a page sends, `{"type": "ping"}` (a keep-alive, answered with PongMessage).
CLIENT_PING = "ping"


class AnomalyPhase(StrEnum):
    STARTED = "started"
    ESCALATED = "escalated"  # severity may have risen; the explanation changed
    ENDED = "ended"


class FeedState(StrEnum):
    """Whether ticks will follow a backfill: "down" while the web process has no Redis feed."""

    UP = "up"
    DOWN = "down"


# A time on the wire: ISO 8601 text, as datetime.isoformat() writes it and Date.parse reads it.
IsoTime = Annotated[str, "an ISO 8601 time"]


class PushProtocolError(ValueError):
    """Input that is not a message of this protocol; the error says what is wrong and where."""


# -- the objects messages carry -----------------------------------------------------------------


@dataclass(frozen=True)
class TickSignals:
    """The signals of `engagement:update` (design §3), plus whether a poll is running."""

    chat_msgs_per_min: float
    poll_participation: float
    active_users: int
    total_users: int
    reactions_per_min: float
    user_leave_rate: float
    poll_active: bool | None  # None on points stored before it was recorded


@dataclass(frozen=True)
class BackfillPoint:
    """One stored point of the chart's window."""

    timestamp: IsoTime  # the tick boundary
    score: float
    signals: TickSignals


class TriggerRule(StrEnum):
    """Which of the detector's alarms set an episode's severity: what its headline measures."""

    ACTIVITY = "activity"  # chat + reactions fell below the room's usual level
    EXIT = "exit"  # people left the room
    SCORE = "score"  # the engagement score held under its absolute floor


@dataclass(frozen=True)
class Trigger:
    """The numbers of the alarm that opened an episode, or escalated it: what the page's
    headline says, so it always agrees with the severity beside it."""

    rule: str  # a TriggerRule; the page words a rule it does not know as it words old episodes
    # activity: usual chat + reactions a minute; exit: people present before; score: the floor
    reference: float
    # activity: chat + reactions a minute now; exit: people present after; score: the score
    value: float
    seconds: float | None  # exit: within how long; score: how long it has held; activity: None

    def as_json(self) -> dict[str, Any]:
        # Plain data, rule included: the collector's checkpoints pickle the open rows that keep
        # it, and load only builtins and the state's own classes back.
        return {**vars(self), "rule": str(self.rule)}


# An anomalies row keeps its episode's trigger in its `signals` JSON under this key, which
# spares the table a column (the contract's `anomaly:detected` leaves it out).
TRIGGER_KEY = "trigger"


@dataclass(frozen=True)
class Episode:
    """The EPISODE object: one anomaly episode's whole state, in pushes, backfills and the API."""

    episodeId: str
    sessionId: str
    eventId: str | None
    type: str  # an AnomalyType; the page labels types it does not know from their name
    severity: str  # the highest reached: WARNING or CRITICAL
    startedAt: IsoTime
    endedAt: IsoTime | None  # None while open
    recovered: bool | None  # None while open
    recoverySeconds: float | None
    anomalyScore: float
    currentEngagement: float
    expectedEngagement: float
    deviation: float
    explanation: str
    # None on episodes stored before it was recorded; optional on the wire for the same reason.
    trigger: Trigger | None = None

    def __post_init__(self) -> None:
        # An EPISODE dict (as_json, the API's) builds the record back, its trigger an object.
        if isinstance(self.trigger, dict):
            object.__setattr__(self, "trigger", Trigger(**self.trigger))

    @classmethod
    def from_row(cls, row: Any) -> Episode:
        """From an anomalies row: the collector's mapping or a SQLAlchemy Row."""
        get = row.get if isinstance(row, dict) else lambda key: getattr(row, key)
        ended = get("ended_at")
        trigger = (get("signals") or {}).get(TRIGGER_KEY)
        return cls(
            episodeId=get("episode_id"),
            sessionId=get("session_id"),
            eventId=get("event_id"),
            type=get("type"),
            severity=get("severity"),
            startedAt=get("time").isoformat(),
            endedAt=ended.isoformat() if ended is not None else None,
            recovered=get("recovered"),
            recoverySeconds=get("recovery_seconds"),
            anomalyScore=get("anomaly_score"),
            currentEngagement=get("current_engagement"),
            expectedEngagement=get("expected_engagement"),
            deviation=get("deviation"),
            explanation=get("explanation"),
            trigger=Trigger(**trigger) if trigger else None,
        )

    def as_json(self) -> dict[str, Any]:
        data = dict(vars(self))
        if self.trigger is not None:
            data["trigger"] = self.trigger.as_json()
        return data


def episode_json(row: Any) -> dict[str, Any]:
    """The EPISODE object of an anomalies row, as a dict (for the API and the first render)."""
    return Episode.from_row(row).as_json()


@dataclass(frozen=True)
class Intervention:
    """The intervention object: one intervention's whole row."""

    intervention_id: str
    time: IsoTime  # when it was suggested or launched
    session_id: str
    event_id: str | None
    type: str  # an InterventionType
    status: str  # an InterventionStatus
    confidence: float | None
    content: dict[str, Any]
    outcome: dict[str, Any] | None
    episode_id: str | None
    anomaly_type: str | None
    context: str | None
    mode: str | None
    reasoning: str | None
    preview: str | None
    approved_by: str | None
    note: str | None
    expires_at: IsoTime | None
    decided_at: IsoTime | None
    executed_at: IsoTime | None
    measured_at: IsoTime | None

    @classmethod
    def from_row(cls, row: Any) -> Intervention:
        """From an interventions row or anything with its attributes (an InterventionRecord)."""
        values = {f.name: getattr(row, f.name) for f in dataclasses.fields(cls)}
        return cls(
            **{k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}
        )

    def as_json(self) -> dict[str, Any]:
        return dict(vars(self))


# -- the messages -------------------------------------------------------------------------------


def _kind(kind: PushKind) -> Any:
    """A message's `kind` field: set by its class, never passed, so no record carries another's
    kind; set on each instance (a plain default stays on the class), where orjson reads it."""
    return field(default_factory=lambda: kind, init=False)


@dataclass(frozen=True)
class TickMessage:
    kind: Literal[PushKind.TICK] = _kind(PushKind.TICK)
    timestamp: IsoTime  # the tick boundary
    sessionId: str
    eventId: str | None
    score: float
    signals: TickSignals
    computedAt: float  # when it was published (epoch seconds): the page measures its latency


@dataclass(frozen=True)
class AnomalyMessage:
    kind: Literal[PushKind.ANOMALY] = _kind(PushKind.ANOMALY)
    phase: AnomalyPhase
    episode: Episode  # the episode's whole state after this change


@dataclass(frozen=True)
class InterventionMessage:
    kind: Literal[PushKind.INTERVENTION] = _kind(PushKind.INTERVENTION)
    sessionId: str
    intervention: Intervention


@dataclass(frozen=True)
class EndedMessage:
    kind: Literal[PushKind.ENDED] = _kind(PushKind.ENDED)
    sessionId: str
    timestamp: IsoTime  # the tick at which it ended


@dataclass(frozen=True)
class BackfillMessage:
    kind: Literal[PushKind.BACKFILL] = _kind(PushKind.BACKFILL)
    sessionId: str
    status: str | None  # the catalogue's "live" or "ended"; None if the session is gone
    feed: FeedState
    points: tuple[BackfillPoint, ...]  # oldest first; empty for a socket without the chart
    anomalies: tuple[Episode, ...]  # newest first; empty for a socket without anomalies


@dataclass(frozen=True)
class ResyncMessage:
    kind: Literal[PushKind.RESYNC] = _kind(PushKind.RESYNC)


@dataclass(frozen=True)
class HubDownMessage:
    kind: Literal[PushKind.HUB_DOWN] = _kind(PushKind.HUB_DOWN)


@dataclass(frozen=True)
class PongMessage:
    kind: Literal[PushKind.PONG] = _kind(PushKind.PONG)


@dataclass(frozen=True)
class ErrorMessage:
    kind: Literal[PushKind.ERROR] = _kind(PushKind.ERROR)
    error: str  # what was wrong with the page's frame, in words


PushMessage = (
    TickMessage
    | AnomalyMessage
    | InterventionMessage
    | EndedMessage
    | BackfillMessage
    | ResyncMessage
    | HubDownMessage
    | PongMessage
    | ErrorMessage
)


MESSAGE_OF_KIND: dict[PushKind, type[PushMessage]] = {
    message.__dataclass_fields__["kind"].default_factory(): message
    for message in get_args(PushMessage)
}


# -- encoding -----------------------------------------------------------------------------------


def encode(message: PushMessage) -> str:
    """The message as JSON text."""
    try:
        return orjson.dumps(message).decode()
    except orjson.JSONEncodeError:
        # orjson refuses a few things json writes: text with a lone surrogate (a producer's
        # edit of an intervention can carry one), subclasses of float (numpy's) and integers
        # beyond 64 bits. Rare enough to take the slow way rather than lose the message.
        return json.dumps(message, default=vars)


# -- decoding -----------------------------------------------------------------------------------


def decode(text: str | bytes) -> PushMessage:
    """The message `text` holds; PushProtocolError if it is not exactly one of the protocol's
    (unknown kind, a field missing, unexpected or of the wrong type)."""
    data = _load(text)
    kind = _kind_of(data)
    body = {name: value for name, value in data.items() if name != "kind"}
    return _record(MESSAGE_OF_KIND[kind], body, kind.value)


def peek_kind(text: str | bytes) -> PushKind:
    """The kind of the message `text` holds, without checking the rest of it."""
    return _kind_of(_load(text))


def _load(text: str | bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise PushProtocolError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PushProtocolError(f"a message is a JSON object, not {_shown(data)}")
    return data


def _kind_of(data: dict[str, Any]) -> PushKind:
    if "kind" not in data:
        raise PushProtocolError('the message has no "kind"')
    kind = data["kind"]
    if not isinstance(kind, str) or kind not in _KINDS:
        raise PushProtocolError(f"unknown kind {_shown(kind)}; known: {', '.join(_KINDS)}")
    return PushKind(kind)


def _record(cls: type, value: Any, where: str) -> Any:
    if not isinstance(value, dict):
        raise PushProtocolError(f"{where} must be a JSON object, not {_shown(value)}")
    hints = _FIELD_HINTS[cls]
    missing = [name for name in hints if name not in value and name not in _OPTIONAL[cls]]
    if missing:
        raise PushProtocolError(f"{where} lacks {', '.join(missing)}")
    extra = sorted(name for name in value if name not in hints)
    if extra:
        raise PushProtocolError(f"{where} has unexpected {', '.join(extra)}")
    return cls(
        **{
            name: _value(hint, value[name], f"{where}.{name}")
            for name, hint in hints.items()
            if name in value
        }
    )


def _value(hint: Any, value: Any, where: str) -> Any:
    """`value` checked against a field's type hint, as the record holds it."""
    if hint is Any:
        return value
    if type(None) in get_args(hint):  # X | None: the protocol's only unions
        if value is None:
            return None
        (hint,) = [arg for arg in get_args(hint) if arg is not type(None)]
    if get_origin(hint) is tuple:
        _expect(isinstance(value, list), value, where, "an array")
        item = get_args(hint)[0]
        return tuple(_value(item, element, f"{where}[{i}]") for i, element in enumerate(value))
    if get_origin(hint) is dict:
        _expect(isinstance(value, dict), value, where, "an object")
        return value
    if dataclasses.is_dataclass(hint):
        return _record(hint, value, where)
    if hint == IsoTime:
        try:
            datetime.fromisoformat(value)
        except (TypeError, ValueError):
            _expect(False, value, where, get_args(hint)[1])
        return value
    if issubclass(hint, StrEnum):
        allowed = [member.value for member in hint]
        wanted = " or ".join(f'"{name}"' for name in allowed)
        _expect(isinstance(value, str) and value in allowed, value, where, wanted)
        return hint(value)
    # bool is an int to Python, never to JSON: true is no count and 1 is no flag.
    scalar = value if not isinstance(value, bool) else None
    wanted, ok = {
        str: ("text", isinstance(value, str)),
        bool: ("true or false", isinstance(value, bool)),
        int: ("a whole number", isinstance(scalar, int)),
        float: ("a number", isinstance(scalar, int | float)),
    }[hint]
    _expect(ok, value, where, wanted)
    return value


def _expect(ok: bool, value: Any, where: str, wanted: str) -> None:
    if not ok:
        raise PushProtocolError(f"{where} must be {wanted}, not {_shown(value)}")


def _shown(value: Any) -> str:
    """A JSON value as an error message names it."""
    if isinstance(value, str):
        return orjson.dumps(value[:40] + ("..." if len(value) > 40 else "")).decode()
    if value is None or isinstance(value, bool | int | float):
        return orjson.dumps(value).decode()
    return "an array" if isinstance(value, list) else "an object"


_KINDS = [kind.value for kind in PushKind]
# Each record's fields as the wire has them (`kind` is not one: no record takes it).
_FIELD_HINTS: dict[type, dict[str, Any]] = {
    cls: {
        name: hint
        for name, hint in get_type_hints(cls, include_extras=True).items()
        if name != "kind"
    }
    for cls in (TickSignals, BackfillPoint, Trigger, Episode, Intervention, *get_args(PushMessage))
}
# Fields a sender older than them leaves out: each record's fields with a default.
_OPTIONAL: dict[type, frozenset[str]] = {
    cls: frozenset(f.name for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING)
    for cls in _FIELD_HINTS
}
