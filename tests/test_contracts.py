"""Validation of the platform's payloads (design §2): good ones parse, bad ones say why."""

from __future__ import annotations

import json

import pytest

from services.core.platform import (
    CHAT_STREAM,
    LIVE_SYNC_STREAM,
    MAX_ID_LENGTH,
    POLL_CLOSED_STREAM,
    POLL_VOTE_STREAM,
    REACTION_STREAM,
)
from services.ingest.contracts import (
    MAX_PAYLOAD_BYTES,
    PayloadRejected,
    SignalEvent,
    SignalKind,
    decode_entry,
    parse_signal,
    rejection_key,
)

ID_RULE = f"must be a printable string of 1-{MAX_ID_LENGTH} characters"


def test_each_stream_parses_the_platform_payload() -> None:
    chat = parse_signal(
        CHAT_STREAM,
        {"sessionId": "s", "eventId": "e", "message": {"id": "m1", "authorId": "u1", "text": "hi"}},
    )
    assert chat == SignalEvent(SignalKind.CHAT, "s", "e", user_id="u1", text="hi")
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
    assert vote == SignalEvent(SignalKind.VOTE, "s", "s", user_id="u", poll_id="p")
    closed = parse_signal(
        POLL_CLOSED_STREAM,
        {
            "poll": {"id": "p", "sessionId": "s", "question": "?", "options": []},
            "userVotedForOptionId": None,
        },
    )
    assert closed == SignalEvent(SignalKind.POLL_CLOSED, "s", None, poll_id="p")
    reaction = parse_signal(
        REACTION_STREAM, {"userId": "u", "sessionId": "s", "emoji": "👍", "timestamp": 1}
    )
    assert reaction == SignalEvent(SignalKind.REACTION, "s", None, user_id="u")
    anonymous = parse_signal(REACTION_STREAM, {"sessionId": "s", "eventId": "e"})
    assert anonymous == SignalEvent(SignalKind.REACTION, "s", "e")


@pytest.mark.parametrize(
    ("message", "author"),
    [
        ({"authorId": "a"}, "a"),
        ({"userId": "b"}, "b"),
        ({"senderId": "c"}, "c"),
        ({"author": {"id": "d", "name": "Dee"}}, "d"),
        # The first key the platform filled in wins.
        ({"authorId": "a", "userId": "b", "senderId": "c", "author": {"id": "d"}}, "a"),
        ({"authorId": None, "userId": "b", "senderId": "c"}, "b"),
        ({"senderId": "c", "author": {"id": "d"}}, "c"),
        # No author at all (a system message): counted, but nobody becomes active.
        ({"author": {"name": "Dee"}}, None),
        ({"author": "d"}, None),
        ({"text": "hi"}, None),
    ],
)
def test_a_chat_message_names_its_author_under_any_of_the_platforms_keys(
    message: dict, author: str | None
) -> None:
    event = parse_signal(CHAT_STREAM, {"sessionId": "s", "message": message})
    assert event._replace(text=None) == SignalEvent(SignalKind.CHAT, "s", None, user_id=author)


@pytest.mark.parametrize(
    ("message", "text"),
    [
        ({"text": "how does the planner pick an index?"}, "how does the planner pick an index?"),
        ({"text": "  two\nlines\t and\u00a0gaps  "}, "two lines and gaps"),
        # Invisible characters that are not whitespace still part words, never join them.
        ({"text": "zero\u200bwidth\x00nul"}, "zero width nul"),
        ({"text": "x" * 281}, "x" * 280),
        ({"text": "   "}, None),
        ({"text": ""}, None),
        ({"text": 42}, None),
        ({"text": ["hi"]}, None),
        ({"body": "not the contract's key"}, None),
        ({}, None),
    ],
)
def test_a_chat_message_keeps_its_words_as_one_line_of_at_most_280_characters(
    message: dict, text: str | None
) -> None:
    # Words that are missing or not text cost only the words: the message is still counted.
    event = parse_signal(CHAT_STREAM, {"sessionId": "s", "message": {"authorId": "u"} | message})
    assert event.kind is SignalKind.CHAT
    assert event.user_id == "u"
    assert event.text == text


@pytest.mark.parametrize(
    ("payload", "event_id"),
    [
        ({"poll": {"id": "p", "sessionId": "s", "eventId": "inner"}, "eventId": "outer"}, "inner"),
        ({"poll": {"id": "p", "sessionId": "s"}, "eventId": "outer"}, "outer"),
    ],
)
def test_a_closed_poll_takes_its_own_event_id_before_the_envelopes(
    payload: dict, event_id: str
) -> None:
    closed = parse_signal(POLL_CLOSED_STREAM, payload)
    assert closed == SignalEvent(SignalKind.POLL_CLOSED, "s", event_id, poll_id="p")


@pytest.mark.parametrize(
    ("sync_type", "kind"),
    [
        ("user_join", SignalKind.JOIN),
        ("user_leave", SignalKind.LEAVE),
        ("typing", SignalKind.PRESENCE),
        ("presence_update", SignalKind.PRESENCE),
        ("reaction", SignalKind.INTERACTION),
        ("message_created", SignalKind.INTERACTION),
        ("message_updated", SignalKind.PRESENCE),
        ("emoji", SignalKind.INTERACTION),
        ("message_deleted", SignalKind.PRESENCE),
    ],
)
def test_live_sync_types(sync_type: str, kind: SignalKind) -> None:
    event = parse_signal(
        LIVE_SYNC_STREAM, {"type": sync_type, "sessionId": "s", "eventId": "e", "userId": "u"}
    )
    # Only someone looking types: typing is attention too.
    attention = "active" if sync_type == "typing" else None
    assert event == SignalEvent(kind, "s", "e", user_id="u", attention=attention)


@pytest.mark.parametrize("state", ["active", "idle", "hidden", "away"])
def test_a_presence_update_carries_its_viewers_attention(state: str) -> None:
    payload = {"type": "presence_update", "sessionId": "s", "userId": "u", "state": state}
    event = parse_signal(LIVE_SYNC_STREAM, payload)
    assert event == SignalEvent(SignalKind.PRESENCE, "s", None, user_id="u", attention=state)
    # Without a viewer there is nobody to count the state of.
    del payload["userId"]
    assert parse_signal(LIVE_SYNC_STREAM, payload).attention is None


@pytest.mark.parametrize("state", ["sleepy", "", 3, ["active"], "ACTIVE"])
def test_a_presence_update_with_an_unknown_state_is_refused(state: object) -> None:
    payload = {"type": "presence_update", "sessionId": "s", "userId": "u", "state": state}
    with pytest.raises(PayloadRejected, match="state must be one of active, idle, hidden, away"):
        parse_signal(LIVE_SYNC_STREAM, payload)


def test_live_sync_presence_needs_no_user_or_event() -> None:
    event = parse_signal(LIVE_SYNC_STREAM, {"type": "typing", "sessionId": "s"})
    assert event == SignalEvent(SignalKind.PRESENCE, "s", None)


def test_ids_may_be_as_long_as_the_contract_allows() -> None:
    longest = "x" * MAX_ID_LENGTH
    event = parse_signal(REACTION_STREAM, {"sessionId": longest, "userId": longest})
    assert (event.session_id, event.user_id) == (longest, longest)


# The reason is what an operator reads in the dead-letter stream, so it is compared whole.
@pytest.mark.parametrize(
    ("stream", "payload", "reason"),
    [
        (CHAT_STREAM, {"eventId": "e", "message": {}}, "missing sessionId"),
        (CHAT_STREAM, {"sessionId": "", "message": {}}, f"sessionId {ID_RULE}"),
        (CHAT_STREAM, {"sessionId": "x" * 256, "message": {}}, f"sessionId {ID_RULE}"),
        (CHAT_STREAM, {"sessionId": 42, "message": {}}, f"sessionId {ID_RULE}"),
        (CHAT_STREAM, {"sessionId": " s", "message": {}}, f"sessionId {ID_RULE}"),
        (CHAT_STREAM, {"sessionId": "s", "message": "hi"}, "message must be an object"),
        (CHAT_STREAM, {"sessionId": "s", "message": {"userId": 7}}, f"userId {ID_RULE}"),
        (CHAT_STREAM, {"sessionId": "s", "message": {"author": {"id": ""}}}, f"id {ID_RULE}"),
        (POLL_VOTE_STREAM, {"sessionId": "s", "userId": "u"}, "missing pollId"),
        (POLL_VOTE_STREAM, {"sessionId": "s", "pollId": "p"}, "missing userId"),
        (
            POLL_CLOSED_STREAM,
            {"pollId": "p", "sessionId": "s"},
            "poll must be an object carrying id and sessionId",
        ),
        (POLL_CLOSED_STREAM, {"poll": {"sessionId": "s"}}, "missing id"),
        (POLL_CLOSED_STREAM, {"poll": {"id": "p"}, "sessionId": "s"}, "missing sessionId"),
        (LIVE_SYNC_STREAM, {"type": "dance", "sessionId": "s"}, "unknown live.sync type 'dance'"),
        (LIVE_SYNC_STREAM, {"sessionId": "s"}, "unknown live.sync type 'None'"),
        (
            LIVE_SYNC_STREAM,
            {"type": "a" * 50, "sessionId": "s"},
            f"unknown live.sync type {'a' * 40!r}",
        ),
        (LIVE_SYNC_STREAM, {"type": "user_join", "sessionId": "s"}, "missing userId for user_join"),
        (
            LIVE_SYNC_STREAM,
            {"type": "user_leave", "sessionId": "s"},
            "missing userId for user_leave",
        ),
        (LIVE_SYNC_STREAM, {"type": "typing", "userId": "u"}, "missing sessionId"),
        (REACTION_STREAM, {"sessionId": "s\n", "userId": "u"}, f"sessionId {ID_RULE}"),
        (REACTION_STREAM, {"sessionId": "s", "emoji": 5}, "emoji must be a string"),
        (REACTION_STREAM, {"sessionId": "s", "userId": ""}, f"userId {ID_RULE}"),
        ("platform.events.quiz.v1", {"sessionId": "s"}, "unknown stream 'platform.events.quiz.v1'"),
    ],
)
def test_bad_payloads_are_rejected_with_a_reason(stream: str, payload: dict, reason: str) -> None:
    with pytest.raises(PayloadRejected) as caught:
        parse_signal(stream, payload)
    assert str(caught.value) == reason


def test_entries_decode_whether_redis_returns_bytes_or_text() -> None:
    assert decode_entry({b"data": b'{"sessionId": "s"}'}) == {"sessionId": "s"}
    assert decode_entry({"data": '{"sessionId": "s"}'}) == {"sessionId": "s"}


def test_a_payload_of_exactly_the_size_limit_is_accepted() -> None:
    padding = "x" * (MAX_PAYLOAD_BYTES - len(b'{"p": ""}'))
    raw = json.dumps({"p": padding}).encode()
    assert len(raw) == MAX_PAYLOAD_BYTES
    assert decode_entry({b"data": raw}) == {"p": padding}


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({b"other": b"x"}, "entry has no data field"),
        ({"other": "x"}, "entry has no data field"),
        ({b"data": b"[1, 2]"}, "data must be a JSON object"),
        (
            {b"data": b'{"p": "' + b"x" * MAX_PAYLOAD_BYTES + b'"}'},
            "data is larger than 65536 bytes",
        ),
    ],
)
def test_undecodable_entries_are_rejected(fields: dict, reason: str) -> None:
    with pytest.raises(PayloadRejected) as caught:
        decode_entry(fields)
    assert str(caught.value) == reason


@pytest.mark.parametrize("raw", [b"{not json", b'{"a": NaN}', b"\xff\xfe"])
def test_what_is_not_strict_json_is_rejected_with_the_parsers_reason(raw: bytes) -> None:
    with pytest.raises(PayloadRejected) as caught:
        decode_entry({b"data": raw})
    assert str(caught.value).startswith("data is not valid JSON: ")


def test_titles_ride_on_any_payload_and_are_optional() -> None:
    payload = {
        "type": "user_join",
        "sessionId": "s",
        "eventId": "e",
        "userId": "u",
        "sessionTitle": "  Opening Keynote ",
        "eventTitle": "LiveCon",
    }
    event = parse_signal(LIVE_SYNC_STREAM, payload)
    assert (event.session_title, event.event_title) == ("Opening Keynote", "LiveCon")
    reaction = parse_signal(REACTION_STREAM, {"sessionId": "s", "eventTitle": "x" * 500})
    assert (reaction.session_title, reaction.event_title) == (None, "x" * 500)
    plain = parse_signal(CHAT_STREAM, {"sessionId": "s", "message": {}})
    assert (plain.session_title, plain.event_title) == (None, None)
    alone = parse_signal(REACTION_STREAM, {"sessionId": "s", "sessionTitle": "Q"})
    assert (alone.session_title, alone.event_title) == ("Q", None)  # one character is a title


@pytest.mark.parametrize("title", ["", "   ", "x" * 501, "two\nlines", 7, ["a"]])
def test_a_title_that_is_not_one_is_rejected_with_its_key(title: object) -> None:
    for key in ("sessionTitle", "eventTitle"):
        with pytest.raises(PayloadRejected, match=f"^{key} must be a printable string of 1-500"):
            parse_signal(REACTION_STREAM, {"sessionId": "s", key: title})


def test_a_rejection_is_counted_by_its_kind() -> None:
    # The sender's values go; what kind of problem it was stays.
    assert rejection_key("unknown live.sync type 'made_up'") == "unknown live.sync type …"
    assert rejection_key('unknown stream "x:y"') == "unknown stream …"
    assert rejection_key("data is not valid JSON: unexpected character") == (
        "data is not valid JSON"
    )
    assert rejection_key("missing userId for user_join") == "missing userId for user_join"
    assert rejection_key("a   'x'  \t b") == "a … b"
    assert rejection_key("w" * 100) == "w" * 80
    # Every message this module raises keeps a key of its own kind, whatever the sender sent.
    keys = set()
    for kind in ("one", "two", "x" * 39):
        with pytest.raises(PayloadRejected) as caught:
            parse_signal(LIVE_SYNC_STREAM, {"type": kind, "sessionId": "s", "userId": "u"})
        keys.add(rejection_key(str(caught.value)))
    assert keys == {"unknown live.sync type …"}
