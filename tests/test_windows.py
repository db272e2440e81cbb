"""Per-session windows: rates decay, activity means present users who interacted recently."""

from __future__ import annotations

import pytest

from services.ingest.contracts import SignalEvent, SignalKind
from services.ingest.windows import RateCounter, SessionWindow, WindowConfig

T0 = 1_800_000_000.0
CFG = WindowConfig(tick_seconds=5, rate_window_seconds=60, active_window_seconds=120)


def ev(kind: SignalKind, user: str | None = None, poll: str | None = None) -> SignalEvent:
    return SignalEvent(kind, "s1", "e1", user_id=user, poll_id=poll)


def window_with_audience(n: int) -> SessionWindow:
    w = SessionWindow("s1", "e1", CFG, T0)
    for i in range(n):
        w.apply(ev(SignalKind.JOIN, f"u{i}"), T0)
    return w


def test_rate_counter_forgets_events_older_than_its_window() -> None:
    counter = RateCounter(60)
    for i in range(30):
        counter.add(T0 + i)
    assert counter.count(T0 + 30) == 30
    assert counter.count(T0 + 75) == 15  # seconds 0..14 have left the window
    assert counter.count(T0 + 200) == 0


def test_silent_room_decays_to_zero_without_new_events() -> None:
    w = window_with_audience(10)
    for i in range(12):
        w.apply(ev(SignalKind.CHAT, f"u{i % 10}"), T0 + 60 + i)
        w.apply(ev(SignalKind.REACTION, f"u{i % 10}"), T0 + 60 + i)
    busy = w.snapshot(T0 + 75)
    assert busy.chat_msgs_per_min == pytest.approx(12)
    assert busy.reactions_per_min == pytest.approx(12)
    silent = w.snapshot(T0 + 200)
    assert silent.chat_msgs_per_min == 0
    assert silent.reactions_per_min == 0


def test_active_users_are_present_users_who_interacted_recently() -> None:
    w = window_with_audience(10)
    w.apply(ev(SignalKind.CHAT, "u1"), T0 + 10)
    w.apply(ev(SignalKind.REACTION, "u2"), T0 + 100)
    w.apply(ev(SignalKind.PRESENCE, "u3"), T0 + 100)  # typing is not an interaction
    now = w.snapshot(T0 + 110)
    assert (now.active_users, now.total_users) == (2, 10)
    later = w.snapshot(T0 + 135)  # u1's chat is older than 120 s now
    assert later.active_users == 1
    w.apply(ev(SignalKind.LEAVE, "u2"), T0 + 136)
    assert w.snapshot(T0 + 137).active_users == 0


def test_an_interacting_user_counts_as_present_even_if_the_join_was_missed() -> None:
    w = SessionWindow("s1", "e1", CFG, T0)
    w.apply(ev(SignalKind.CHAT, "late"), T0 + 1)
    signals = w.snapshot(T0 + 5)
    assert (signals.active_users, signals.total_users) == (1, 1)


def test_poll_participation_counts_distinct_present_voters_and_resets_on_close() -> None:
    w = window_with_audience(10)
    for user in ("u1", "u2", "u2", "u2", "u3"):
        w.apply(ev(SignalKind.VOTE, user, poll="p1"), T0 + 10)
    assert w.snapshot(T0 + 15).poll_participation == pytest.approx(0.3)
    w.apply(ev(SignalKind.LEAVE, "u3"), T0 + 16)
    assert w.snapshot(T0 + 20).poll_participation == pytest.approx(2 / 9)
    w.apply(ev(SignalKind.POLL_CLOSED, poll="p1"), T0 + 21)
    closed = w.snapshot(T0 + 25)
    assert (closed.poll_participation, closed.poll_active) == (0.0, False)
    w.apply(ev(SignalKind.VOTE, "u4", poll="p1"), T0 + 26)  # a late vote cannot reopen it
    assert w.snapshot(T0 + 30).poll_active is False


def test_a_poll_nobody_closes_expires_after_its_idle_time() -> None:
    w = window_with_audience(4)
    w.apply(ev(SignalKind.VOTE, "u1", poll="p1"), T0 + 1)
    assert w.snapshot(T0 + 5).poll_active
    assert not w.snapshot(T0 + 1 + CFG.poll_idle_seconds + 1).poll_active


def test_leave_rate_is_the_share_of_the_audience_that_left_in_the_window() -> None:
    w = window_with_audience(10)
    for i in range(4):
        w.apply(ev(SignalKind.LEAVE, f"u{i}"), T0 + 30)
    w.apply(ev(SignalKind.LEAVE, "nobody"), T0 + 30)  # never present: not a leave
    assert w.snapshot(T0 + 35).user_leave_rate == pytest.approx(0.4)
    assert w.snapshot(T0 + 120).user_leave_rate == 0.0


def test_a_young_session_rates_over_its_age_not_a_full_window() -> None:
    w = window_with_audience(5)
    for i in range(6):
        w.apply(ev(SignalKind.CHAT, "u1"), T0 + i)
    # 6 messages in the first 10 s is 36/min, not 6/min.
    assert w.snapshot(T0 + 10).chat_msgs_per_min == pytest.approx(36)


def test_event_id_is_learned_from_a_later_event() -> None:
    w = SessionWindow("s1", None, CFG, T0)
    w.apply(SignalEvent(SignalKind.REACTION, "s1", None, "u1"), T0)
    assert w.event_id is None
    w.apply(SignalEvent(SignalKind.CHAT, "s1", "evt-9", "u1"), T0 + 1)
    assert w.event_id == "evt-9"


def test_per_tick_counts_cover_only_the_events_since_the_previous_tick() -> None:
    w = window_with_audience(5)
    w.snapshot(T0 + 5)
    for i in range(3):
        w.apply(ev(SignalKind.CHAT, f"u{i}"), T0 + 6)
    w.apply(ev(SignalKind.REACTION, "u1"), T0 + 7)
    w.apply(ev(SignalKind.VOTE, "u2", poll="p"), T0 + 7)
    w.apply(ev(SignalKind.LEAVE, "u4"), T0 + 8)
    w.apply(ev(SignalKind.LEAVE, "stranger"), T0 + 8)  # not present: not a leave
    tick = w.snapshot(T0 + 10)
    assert (tick.chat_in_tick, tick.reactions_in_tick, tick.votes_in_tick, tick.leaves_in_tick) == (
        3,
        1,
        1,
        1,
    )
    quiet = w.snapshot(T0 + 15)
    assert (
        quiet.chat_in_tick,
        quiet.reactions_in_tick,
        quiet.votes_in_tick,
        quiet.leaves_in_tick,
    ) == (0, 0, 0, 0)
    assert quiet.chat_msgs_per_min > 0  # the minute-long rate still remembers them
