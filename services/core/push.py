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
from typing import Any, Literal, get_args, get_origin, get_type_hints

import orjson

from services.core.push_objects import (
    BackfillPoint,
    ChartMark,
    Episode,
    Intervention,
    IsoTime,
    TickSignals,
    Trigger,
)


class PushKind(StrEnum):
    """A message's `kind`: what it is and which part of the page it feeds."""

    TICK = "tick"  # collector: a live session's newly scored point
    ANOMALY = "anomaly"  # collector: an episode started, escalated or ended
    INTERVENTION = "intervention"  # sender: an intervention was suggested or changed status
    MARK = "mark"  # socket: the chart's mark of an intervention that went out, or changed
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


class PushProtocolError(ValueError):
    """Input that is not a message of this protocol; the error says what is wrong and where."""


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
class MarkMessage:
    kind: Literal[PushKind.MARK] = _kind(PushKind.MARK)
    sessionId: str
    mark: ChartMark


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
    marks: tuple[ChartMark, ...] = ()  # oldest first; empty for a socket without the chart


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
    | MarkMessage
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


def tick_computed_at(text: str | bytes) -> float | None:
    """For a tick, when its score was computed (epoch seconds); None for any other message."""
    try:
        data = _load(text)
    except PushProtocolError:
        return None
    at = data.get("computedAt")
    if data.get("kind") != PushKind.TICK.value or isinstance(at, bool):
        return None
    return float(at) if isinstance(at, int | float) else None


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
    for cls in (
        TickSignals,
        BackfillPoint,
        Trigger,
        Episode,
        Intervention,
        ChartMark,
        *get_args(PushMessage),
    )
}
# Fields a sender older than them leaves out: each record's fields with a default.
_OPTIONAL: dict[type, frozenset[str]] = {
    cls: frozenset(f.name for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING)
    for cls in _FIELD_HINTS
}
