"""The live-session limits: new sessions beyond them are refused and counted, logged once a
minute; sessions that end free their room; sessions taken over are kept whatever the count."""

from __future__ import annotations

import logging

import pytest

from services.core.settings import ScoreWeights
from services.ingest.contracts import SignalEvent, SignalKind
from services.ingest.windows import WindowConfig
from services.live.session_book import Lifetimes, SessionBook
from services.live.session_quota import SessionQuota


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_limits_refuse_new_sessions_and_free_room_as_sessions_go(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    quota = SessionQuota(max_sessions=3, max_per_event=2, clock=clock)
    assert quota.admit("a", "e1") and quota.admit("b", "e1")
    assert not quota.admit("c", "e1")  # the event is full
    assert quota.admit("c", "e2") and len(quota) == 3
    assert not quota.admit("d", None)  # the collector is full, whatever the event
    assert not quota.admit("d", "e3")
    assert quota.refused_events == 3
    assert caplog.text.count("new sessions refused") == 1  # once a minute, not per entry
    assert "event 'e1' has 2 live sessions (MAX_EVENT_SESSIONS)" in caplog.text
    clock.now += 60
    assert not quota.admit("d", "e3")
    assert caplog.text.count("new sessions refused") == 2
    assert "3 live sessions (MAX_LIVE_SESSIONS); 4 events" in caplog.text
    quota.release("a")
    assert quota.admit("e", "e1")  # a session gone makes room in its event and in all
    quota.release("never-counted")  # releasing an unknown session is no error
    quota.release("e")
    quota.release("b")
    assert quota.admit("f", "e1") and quota.admit("g", "e1") and len(quota) == 3


def test_sessions_taken_over_are_counted_without_asking() -> None:
    quota = SessionQuota(max_sessions=1, max_per_event=1)
    quota.take("a", "e1")
    quota.take("b", "e1")  # over both limits: taken over all the same
    quota.take("b", "e1")  # counted once
    assert len(quota) == 2 and not quota.admit("c", None)
    quota.release("a")
    quota.release("b")
    assert quota.admit("c", "e1")


def test_the_book_applies_nothing_of_a_refused_session_and_ends_free_room(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    book = SessionBook(
        WindowConfig(tick_seconds=5.0),
        ScoreWeights(),
        Lifetimes(idle_seconds=60.0, empty_seconds=30.0),
        quota=SessionQuota(max_sessions=2, max_per_event=10),
    )
    for n in range(5):  # a burst of made-up session ids
        book.apply(SignalEvent(SignalKind.JOIN, f"s{n}", "e", f"u{n}"), 1.0 + n)
    assert sorted(book.windows) == ["s0", "s1"] and book.quota.refused_events == 3
    book.score_tick(1000.0)  # both long silent: they end
    assert book.windows == {} and len(book.quota) == 0
    book.apply(SignalEvent(SignalKind.JOIN, "s9", "e", "u9"), 1001.0)
    assert list(book.windows) == ["s9"]
    spare = book.spare()
    spare.apply(SignalEvent(SignalKind.JOIN, "t1", "e", "v"), 1002.0)
    spare.apply(SignalEvent(SignalKind.JOIN, "t2", "e", "w"), 1003.0)
    book.adopt(spare.export(set(spare.windows)))  # taken over: kept beyond the limit
    assert sorted(book.windows) == ["s9", "t1", "t2"] and len(book.quota) == 3
    book.drop({"t1", "t2"})
    assert len(book.quota) == 1


def test_counts_per_event_stay_exact_and_a_full_collector_says_so_first(
    caplog: pytest.LogCaptureFixture,
) -> None:
    quota = SessionQuota(max_sessions=10, max_per_event=2)
    assert quota.admit("a", "e1") and quota.admit("b", "e1")
    quota.release("a")  # one of two gone: exactly one place free in e1
    assert quota.admit("c", "e1")
    assert not quota.admit("d", "e1")
    both = SessionQuota(max_sessions=2, max_per_event=1)
    assert both.admit("a", "e1") and both.admit("b", "e2")
    assert not both.admit("c", "e1")  # the collector and the event are full: the first is said
    assert caplog.messages[-1] == (
        "new sessions refused: 2 live sessions (MAX_LIVE_SESSIONS); 1 events of refused "
        "sessions so far"
    )
