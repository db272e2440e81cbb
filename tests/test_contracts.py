"""Validation of the platform's payloads (design §2): good ones parse, bad ones say why."""

from __future__ import annotations

import json

import pytest

from services.core.platform import (
    CHAT_STREAM,
    LIVE_SYNC_STREAM,
    POLL_CLOSED_STREAM,
    POLL_VOTE_STREAM,
    REACTION_STREAM,
)
from services.ingest.contracts import PayloadRejected, SignalKind, decode_entry, parse_signal


def test_each_stream_parses_the_platform_payload() -> None:
    chat = parse_signal(
        CHAT_STREAM,
        {"sessionId": "s", "eventId": "e", "message": {"id": "m1", "authorId": "u1", "text": "hi"}},
    )
    assert (chat.kind, chat.user_id, chat.event_id) == (SignalKind.CHAT, "u1", "e")
    vote = parse_signal(
        POLL_VOTE_STREAM,
        {
            "userId": "u",
            "pollId": "p",
            "optionId": "o",
            "sessionId": "s",
            "eventId": "s",
            "voteTimestamp": "2026-01-01T00:00:00Z",
        },
    )
    assert (vote.kind, vote.poll_id) == (SignalKind.VOTE, "p")
    closed = parse_signal(
        POLL_CLOSED_STREAM,
        {
            "poll": {"id": "p", "sessionId": "s", "question": "?", "options": []},
            "userVotedForOptionId": None,
        },
    )
    assert (closed.kind, closed.poll_id, closed.session_id) == (SignalKind.POLL_CLOSED, "p", "s")
    reaction = parse_signal(
        REACTION_STREAM, {"userId": "u", "sessionId": "s", "emoji": "👍", "timestamp": 1}
    )
    assert (reaction.kind, reaction.event_id) == (SignalKind.REACTION, None)


@pytest.mark.parametrize(
    ("sync_type", "kind"),
    [
        ("user_join", SignalKind.JOIN),
        ("user_leave", SignalKind.LEAVE),
        ("typing", SignalKind.PRESENCE),
        ("presence_update", SignalKind.PRESENCE),
        ("reaction", SignalKind.INTERACTION),
        ("message_created", SignalKind.INTERACTION),
        ("emoji", SignalKind.INTERACTION),
        ("message_deleted", SignalKind.PRESENCE),
    ],
)
def test_live_sync_types(sync_type: str, kind: SignalKind) -> None:
    event = parse_signal(
        LIVE_SYNC_STREAM, {"type": sync_type, "sessionId": "s", "eventId": "e", "userId": "u"}
    )
    assert event.kind is kind


@pytest.mark.parametrize(
    ("stream", "payload", "reason"),
    [
        (CHAT_STREAM, {"eventId": "e", "message": {}}, "missing sessionId"),
        (CHAT_STREAM, {"sessionId": "", "message": {}}, "sessionId must be"),
        (CHAT_STREAM, {"sessionId": "x" * 256, "message": {}}, "sessionId must be"),
        (CHAT_STREAM, {"sessionId": 42, "message": {}}, "sessionId must be"),
        (CHAT_STREAM, {"sessionId": "s", "message": "hi"}, "message must be an object"),
        (POLL_VOTE_STREAM, {"sessionId": "s", "userId": "u"}, "missing pollId"),
        (POLL_CLOSED_STREAM, {"pollId": "p", "sessionId": "s"}, "poll must be an object"),
        (POLL_CLOSED_STREAM, {"poll": {"sessionId": "s"}}, "missing id"),
        (LIVE_SYNC_STREAM, {"type": "dance", "sessionId": "s"}, "unknown live.sync type"),
        (LIVE_SYNC_STREAM, {"type": "user_join", "sessionId": "s"}, "missing userId"),
        (REACTION_STREAM, {"sessionId": "s\n", "userId": "u"}, "sessionId must be"),
        (REACTION_STREAM, {"sessionId": "s", "emoji": 5}, "emoji must be a string"),
    ],
)
def test_bad_payloads_are_rejected_with_a_reason(stream: str, payload: dict, reason: str) -> None:
    with pytest.raises(PayloadRejected, match=reason):
        parse_signal(stream, payload)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({b"other": b"x"}, "no data field"),
        ({b"data": b"{not json"}, "not valid JSON"),
        ({b"data": b"[1, 2]"}, "must be a JSON object"),
        ({b"data": b'{"a": NaN}'}, "not valid JSON"),
        ({b"data": b"\xff\xfe"}, "not valid JSON"),
        ({b"data": json.dumps({"p": "x" * 70_000}).encode()}, "larger than"),
    ],
)
def test_undecodable_entries_are_rejected(fields: dict, reason: str) -> None:
    with pytest.raises(PayloadRejected, match=reason):
        decode_entry(fields)
