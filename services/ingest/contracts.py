"""The event platform's payloads (design §2): checks that turn stream entries into signals.

Validation turns a raw stream entry into a `SignalEvent` or raises `PayloadRejected` with a reason
that goes to the dead-letter stream; nothing here touches Redis.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, NamedTuple

import orjson

from services.core.platform import (
    CHAT_STREAM,
    LIVE_SYNC_STREAM,
    MAX_ID_LENGTH,
    POLL_CLOSED_STREAM,
    POLL_VOTE_STREAM,
    REACTION_STREAM,
    valid_id,
)

MAX_PAYLOAD_BYTES = 64 * 1024


class SignalKind(StrEnum):
    CHAT = "chat"
    VOTE = "vote"
    POLL_CLOSED = "poll_closed"
    JOIN = "join"
    LEAVE = "leave"
    REACTION = "reaction"
    # Seen in the room (typing, presence pings, message edits) without a countable signal.
    PRESENCE = "presence"
    # A live.sync echo of something counted on its own stream: marks the user active only.
    INTERACTION = "interaction"


class SignalEvent(NamedTuple):
    # A tuple, not a frozen dataclass: built once per ingested entry, and cheaper to build.
    kind: SignalKind
    session_id: str
    event_id: str | None
    user_id: str | None = None
    poll_id: str | None = None
    # Design §2: any payload may name its session's and event's titles; the newest seen wins.
    session_title: str | None = None
    event_title: str | None = None
    # A chat message's words, for the content writer's view of the room (held in memory only).
    text: str | None = None
    # A presence event's attention state (design §2's optional signal; typing is `active`).
    attention: str | None = None


# Design §2: a viewer's tab and idle state, as `presence_update` reports it.
ATTENTION_STATES = ("active", "idle", "hidden", "away")
ATTENTIVE = "active"


MAX_TITLE_LENGTH = 500
# Longer chat messages are cut: the writer needs the gist of a few, not an essay.
MAX_CHAT_TEXT = 280


class PayloadRejected(ValueError):
    """A stream entry that breaks the contract; the message is the dead-letter reason."""


# A quoted value in a rejection: the sender's text (an unknown type's name, say).
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
REASON_KEY_LIMIT = 80


def rejection_key(reason: str) -> str:
    """The kind of a rejection, for counting: its message up to the first colon, without the
    values the sender chose. Counted per message, a sender inventing types would add a counter
    (and about 150 bytes) for each one it tried."""
    kind = _QUOTED.sub("…", reason).partition(":")[0]
    return " ".join(kind.split())[:REASON_KEY_LIMIT]


_LIVE_SYNC_KINDS = {
    "user_join": SignalKind.JOIN,
    "user_leave": SignalKind.LEAVE,
    "presence_update": SignalKind.PRESENCE,
    "typing": SignalKind.PRESENCE,
    "message_updated": SignalKind.PRESENCE,
    "message_deleted": SignalKind.PRESENCE,
    # Chat and reactions are counted from their own streams; the platform echoes them here too,
    # so counting both would double every rate.
    "message_created": SignalKind.INTERACTION,
    "reaction": SignalKind.INTERACTION,
    "emoji": SignalKind.INTERACTION,
}


def _require_id(payload: dict[str, Any], key: str) -> str:
    value = payload.get(key)
    if value is None:
        raise PayloadRejected(f"missing {key}")
    if not valid_id(value):
        raise PayloadRejected(f"{key} must be a printable string of 1-{MAX_ID_LENGTH} characters")
    return value


def _optional_id(payload: dict[str, Any], key: str) -> str | None:
    if payload.get(key) is None:
        return None
    return _require_id(payload, key)


def _chat_author(message: object) -> str | None:
    if not isinstance(message, dict):
        raise PayloadRejected("message must be an object")
    for key in ("authorId", "userId", "senderId"):
        if message.get(key) is not None:
            return _require_id(message, key)
    author = message.get("author")
    if isinstance(author, dict) and author.get("id") is not None:
        return _require_id(author, "id")
    return None


def chat_text(message: object) -> str | None:
    """The message's words as one line, cut to MAX_CHAT_TEXT; None when it has none.

    The contract leaves the message object open: a missing or non-text `text` costs only the
    words, never the counted message."""
    if not isinstance(message, dict):
        return None
    value = message.get("text")
    if not isinstance(value, str):
        return None
    line = " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())
    return line[:MAX_CHAT_TEXT] or None


def _attention(kind_name: str, payload: dict[str, Any], user_id: str | None) -> str | None:
    """The attention a live.sync entry reports: a presence update's `state`, or typing (which
    only someone looking can do); None when it reports none, or has no viewer to say it of."""
    if user_id is None:
        return None
    if kind_name == "typing":
        return ATTENTIVE
    if kind_name != "presence_update" or payload.get("state") is None:
        return None
    state = payload["state"]
    if state not in ATTENTION_STATES:
        raise PayloadRejected(
            f"presence_update state must be one of {', '.join(ATTENTION_STATES)}: "
            f"got {str(state)[:20]!r}"
        )
    return str(state)


def decode_entry(fields: dict[bytes | str, bytes | str]) -> dict[str, Any]:
    """The JSON object in an entry's `data` field."""
    raw = fields.get(b"data", fields.get("data"))
    if raw is None:
        raise PayloadRejected("entry has no data field")
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise PayloadRejected(f"data is larger than {MAX_PAYLOAD_BYTES} bytes")
    try:
        # orjson is strict JSON: NaN and Infinity are refused, as they should be on the wire.
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise PayloadRejected(f"data is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise PayloadRejected("data must be a JSON object")
    return payload


def _optional_title(payload: dict[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= MAX_TITLE_LENGTH
        or not value.isprintable()
        or not value.strip()
    ):
        raise PayloadRejected(
            f"{key} must be a printable string of 1-{MAX_TITLE_LENGTH} characters"
        )
    return value.strip()


def parse_signal(stream: str, payload: dict[str, Any]) -> SignalEvent:
    """Validate one platform payload from `stream` (an unprefixed contract name)."""
    event = _parse_signal(stream, payload)
    session_title = _optional_title(payload, "sessionTitle")
    event_title = _optional_title(payload, "eventTitle")
    if session_title is None and event_title is None:
        return event
    return event._replace(session_title=session_title, event_title=event_title)


def _parse_signal(stream: str, payload: dict[str, Any]) -> SignalEvent:
    if stream == CHAT_STREAM:
        return SignalEvent(
            SignalKind.CHAT,
            _require_id(payload, "sessionId"),
            _optional_id(payload, "eventId"),
            user_id=_chat_author(payload.get("message")),
            text=chat_text(payload.get("message")),
        )
    if stream == POLL_VOTE_STREAM:
        return SignalEvent(
            SignalKind.VOTE,
            _require_id(payload, "sessionId"),
            _optional_id(payload, "eventId"),
            user_id=_require_id(payload, "userId"),
            poll_id=_require_id(payload, "pollId"),
        )
    if stream == POLL_CLOSED_STREAM:
        poll = payload.get("poll")
        if not isinstance(poll, dict):
            raise PayloadRejected("poll must be an object carrying id and sessionId")
        return SignalEvent(
            SignalKind.POLL_CLOSED,
            _require_id(poll, "sessionId"),
            _optional_id(poll, "eventId") or _optional_id(payload, "eventId"),
            poll_id=_require_id(poll, "id"),
        )
    if stream == LIVE_SYNC_STREAM:
        kind_name = payload.get("type")
        if not isinstance(kind_name, str) or kind_name not in _LIVE_SYNC_KINDS:
            raise PayloadRejected(f"unknown live.sync type {str(kind_name)[:40]!r}")
        kind = _LIVE_SYNC_KINDS[kind_name]
        user_id = _optional_id(payload, "userId")
        if user_id is None and kind in (SignalKind.JOIN, SignalKind.LEAVE):
            raise PayloadRejected(f"missing userId for {kind_name}")
        attention = _attention(kind_name, payload, user_id)
        return SignalEvent(
            kind,
            _require_id(payload, "sessionId"),
            _optional_id(payload, "eventId"),
            user_id,
            attention=attention,
        )
    if stream == REACTION_STREAM:
        if "emoji" in payload and not isinstance(payload["emoji"], str):
            raise PayloadRejected("emoji must be a string")
        return SignalEvent(
            SignalKind.REACTION,
            _require_id(payload, "sessionId"),
            _optional_id(payload, "eventId"),
            user_id=_optional_id(payload, "userId"),
        )
    raise PayloadRejected(f"unknown stream {stream!r}")
