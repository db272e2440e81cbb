"""The routed form of accepted events: one partition-stream entry per routing batch.

The router has validated every event already; the owner still checks the shape, because a
partition stream is a Redis key anyone with access can write to.
"""

from __future__ import annotations

from typing import Any

import orjson

from services.core.platform import valid_id
from services.ingest.contracts import (
    ATTENTION_STATES,
    MAX_CHAT_TEXT,
    MAX_TITLE_LENGTH,
    PayloadRejected,
    SignalEvent,
    SignalKind,
)

# An entry holds one routing batch's events for one partition (at most `read_batch`).
MAX_ENTRY_BYTES = 16 * 1024 * 1024
_KINDS = {kind.value: kind for kind in SignalKind}

RoutedEvent = tuple[SignalEvent, float]  # the event, and when Redis stamped its source entry


def encode_events(events: list[RoutedEvent]) -> dict[str, bytes]:
    rows = []
    for ev, at in events:
        row = [ev.kind.value, ev.session_id, ev.event_id, ev.user_id, ev.poll_id, round(at * 1000)]
        # Titles are rare (the platform sends them now and then), only chat has words and only
        # presence an attention state (the 9th field is either): only then the row is longer.
        extra = ev.text if ev.text is not None else ev.attention
        if extra is not None:
            row += [ev.session_title, ev.event_title, extra]
        elif ev.session_title is not None or ev.event_title is not None:
            row += [ev.session_title, ev.event_title]
        rows.append(row)
    return {"e": orjson.dumps(rows)}


def decode_events(fields: dict[bytes | str, Any]) -> list[RoutedEvent]:
    raw = fields.get(b"e", fields.get("e"))
    if raw is None:
        raise PayloadRejected("partition entry has no e field")
    if isinstance(raw, str):  # a client decoding responses; the limit is in bytes
        raw = raw.encode()
    if len(raw) > MAX_ENTRY_BYTES:
        raise PayloadRejected(f"partition entry is larger than {MAX_ENTRY_BYTES} bytes")
    try:
        rows = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise PayloadRejected(f"partition entry is not valid JSON: {exc}") from None
    if not isinstance(rows, list):
        raise PayloadRejected("partition entry must be a list of events")
    return [_event(row) for row in rows]


def _event(row: object) -> RoutedEvent:
    if not isinstance(row, list) or len(row) not in (6, 8, 9):
        raise PayloadRejected(
            "a routed event must be [kind, session, event, user, poll, ms(, titles(, text or "
            "attention))]"
        )
    kind_name, session_id, event_id, user_id, poll_id, at_ms = row[:6]
    session_title, event_title = row[6:8] if len(row) >= 8 else (None, None)
    extra = row[8] if len(row) == 9 else None
    text, attention = (extra, None) if kind_name == SignalKind.CHAT.value else (None, extra)
    kind = _KINDS.get(kind_name) if isinstance(kind_name, str) else None
    if kind is None:
        raise PayloadRejected(f"unknown routed kind {str(kind_name)[:40]!r}")
    if not valid_id(session_id):
        raise PayloadRejected("routed session id is not a valid id")
    for optional in (event_id, user_id, poll_id):
        if optional is not None and not valid_id(optional):
            raise PayloadRejected("routed event, user or poll id is not a valid id")
    if not isinstance(at_ms, int) or isinstance(at_ms, bool) or not 0 <= at_ms < 2**53:
        raise PayloadRejected("routed time must be whole milliseconds since the epoch")
    for title in (session_title, event_title):
        if title is not None and not (
            isinstance(title, str) and 0 < len(title) <= MAX_TITLE_LENGTH and title.isprintable()
        ):
            raise PayloadRejected("routed title is not a printable string of 1-500 characters")
    if text is not None and not (
        kind is SignalKind.CHAT
        and isinstance(text, str)
        and 0 < len(text) <= MAX_CHAT_TEXT
        and text.isprintable()
    ):
        raise PayloadRejected("routed chat text is not a printable string of 1-280 characters")
    if attention is not None and not (
        kind is SignalKind.PRESENCE and attention in ATTENTION_STATES and user_id is not None
    ):
        raise PayloadRejected("routed attention is not a viewer's presence state")
    event = SignalEvent(
        kind, session_id, event_id, user_id, poll_id, session_title, event_title, text, attention
    )
    return event, at_ms / 1000
