"""The room's last chat messages: bounded per session and in sessions, fed by the book, forgotten
when a session ends or moves to another collector."""

from __future__ import annotations

import pytest

from services.core.settings import ScoreWeights
from services.ingest.chat_ring import ChatRing
from services.ingest.contracts import SignalEvent, SignalKind
from services.ingest.windows import WindowConfig
from services.live.session_book import Lifetimes, SessionBook


def test_a_ring_keeps_the_newest_messages_of_the_newest_sessions() -> None:
    ring = ChatRing(messages=3, sessions=2)
    for n in range(5):
        ring.add("a", f"m{n}")
    assert ring.recent("a") == ("m2", "m3", "m4")
    ring.add("b", "hi")
    ring.add("a", "m5")  # heard from again: now the newest
    ring.add("c", "hello")  # one session too many: the one heard from longest ago goes
    assert ring.recent("b") == () and len(ring) == 2
    assert ring.recent("a") == ("m3", "m4", "m5") and ring.recent("c") == ("hello",)
    ring.forget("a")
    assert ring.recent("a") == ()


def test_the_book_feeds_the_ring_and_forgets_ended_and_handed_over_sessions() -> None:
    book = SessionBook(WindowConfig(tick_seconds=5.0), ScoreWeights(), Lifetimes(60.0, 30.0))
    book.apply(SignalEvent(SignalKind.CHAT, "s1", "e", "u1", text="first words"), 1.0)
    book.apply(SignalEvent(SignalKind.CHAT, "s1", "e", "u2"), 2.0)  # no words: nothing kept
    book.apply(SignalEvent(SignalKind.CHAT, "s2", "e", "u3", text="other room"), 3.0)
    spare = book.spare()
    spare.apply(SignalEvent(SignalKind.CHAT, "s3", "e", "u4", text="replayed"), 4.0)
    assert book.chat is spare.chat and book.chat.recent("s3") == ("replayed",)
    assert book.chat.recent("s1") == ("first words",)
    book.drop({"s2"})
    assert book.chat.recent("s2") == ()
    book.score_tick(1000.0)  # long silent: s1 ends
    assert book.chat.recent("s1") == ()


def test_a_ring_keeps_at_least_one_message_of_one_session() -> None:
    reason = "a chat ring keeps at least one message of one session"
    for messages, sessions in ((0, 5), (5, 0)):
        with pytest.raises(ValueError, match=f"^{reason}$"):
            ChatRing(messages=messages, sessions=sessions)
    smallest = ChatRing(messages=1, sessions=1)
    smallest.add("a", "one")
    smallest.add("a", "two")
    smallest.add("b", "three")
    assert smallest.recent("a") == () and smallest.recent("b") == ("three",)
    smallest.forget("never-heard-of")  # forgetting a session it does not hold is no error
    assert smallest.recent("b") == ("three",)
