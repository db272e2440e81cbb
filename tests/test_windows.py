"""Per-session windows: rates decay, activity means present users who interacted recently."""

from __future__ import annotations

import pickle

import pytest

from services.core.platform import SIGNAL_NAMES
from services.ingest.contracts import SignalEvent, SignalKind
from services.ingest.windows import RateCounter, SessionSignals, SessionWindow, WindowConfig

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


def test_a_session_warms_up_for_one_rate_window() -> None:
    w = SessionWindow("s1", None, CFG, T0)
    window = CFG.rate_window_seconds
    assert w.warming_up(T0) and w.warming_up(T0 + window - 0.001)
    assert not w.warming_up(T0 + window) and not w.warming_up(T0 + 10 * window)


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


# ----------------------------------------------------------------------------- edge states


def test_each_second_of_the_window_expires_on_its_own() -> None:
    counter = RateCounter(60)
    counter.add(0.0)
    counter.add(1.0)
    counter.add(1.5)
    assert counter.count(60.5) == 2  # second 0 has left, second 1 has not
    assert counter.count(61.5) == 0


def test_the_window_keeps_its_session_and_the_first_event_id_it_knew() -> None:
    w = SessionWindow("s1", "e1", CFG, T0)
    w.apply(SignalEvent(SignalKind.CHAT, "s1", "e2", "u1"), T0 + 1)
    assert (w.session_id, w.event_id) == ("s1", "e1")


def test_last_event_time_never_goes_back_for_a_backlogged_entry() -> None:
    w = window_with_audience(1)
    w.apply(ev(SignalKind.CHAT, "u0"), T0 + 30)
    w.apply(ev(SignalKind.CHAT, "u0"), T0 + 10)  # reclaimed from a consumer that died
    assert w.last_event_at == T0 + 30


def test_an_empty_room_snapshots_to_zeros() -> None:
    w = SessionWindow("s1", "e1", CFG, T0)
    assert w.snapshot(T0 + 60) == SessionSignals(0.0, 0.0, 0, 0, 0.0, 0.0, False)


def test_the_first_tick_counts_its_events_from_zero() -> None:
    w = SessionWindow("s1", "e1", CFG, T0)
    for user in ("u1", "u2"):
        w.apply(ev(SignalKind.JOIN, user), T0)
        w.apply(ev(SignalKind.CHAT, user), T0 + 1)
    w.apply(ev(SignalKind.LEAVE, "u1"), T0 + 2)
    w.apply(ev(SignalKind.LEAVE, "u2"), T0 + 3)
    tick = w.snapshot(T0 + 5)
    assert (tick.chat_in_tick, tick.reactions_in_tick, tick.votes_in_tick, tick.leaves_in_tick) == (
        2,
        0,
        0,
        2,
    )


def test_a_session_seconds_old_rates_over_at_least_two_ticks() -> None:
    w = window_with_audience(2)
    w.apply(ev(SignalKind.CHAT, "u0"), T0)
    w.apply(ev(SignalKind.REACTION, "u1"), T0)
    w.apply(ev(SignalKind.REACTION, "u1"), T0)
    # One second old: one message over two 5-s ticks is 6/min, not 60/min.
    first = w.snapshot(T0 + 1)
    assert (first.chat_msgs_per_min, first.reactions_per_min) == (6.0, 12.0)
    # Young, but past two ticks: the rate is over the session's age (2 in 20 s is 6/min).
    assert w.snapshot(T0 + 20).reactions_per_min == pytest.approx(6.0)


def test_a_user_is_active_until_exactly_the_end_of_the_active_window() -> None:
    w = window_with_audience(3)
    w.apply(ev(SignalKind.CHAT, "u1"), T0 + 10)
    w.apply(ev(SignalKind.CHAT, "u2"), T0 + 11)
    assert w.snapshot(T0 + 10 + CFG.active_window_seconds).active_users == 2
    assert w.snapshot(T0 + 11 + CFG.active_window_seconds).active_users == 1


def test_a_poll_is_open_until_exactly_its_idle_time_has_passed() -> None:
    w = window_with_audience(2)
    w.apply(ev(SignalKind.VOTE, "u1", poll="p1"), T0 + 1)
    assert w.snapshot(T0 + 1 + CFG.poll_idle_seconds).poll_active


def test_closing_a_poll_that_never_got_a_vote_is_harmless() -> None:
    w = window_with_audience(2)
    w.apply(ev(SignalKind.POLL_CLOSED, poll="quiet"), T0 + 1)
    w.apply(ev(SignalKind.VOTE, "u1", poll="quiet"), T0 + 2)  # too late: it is closed
    assert w.snapshot(T0 + 5).poll_active is False


def test_a_voter_who_leaves_and_rejoins_counts_again() -> None:
    w = window_with_audience(4)
    for user in ("u0", "u1", "u2"):
        w.apply(ev(SignalKind.VOTE, user, poll="p1"), T0 + 1)
    assert w.snapshot(T0 + 5).poll_participation == pytest.approx(0.75)
    w.apply(ev(SignalKind.LEAVE, "u0"), T0 + 6)
    w.apply(ev(SignalKind.LEAVE, "u1"), T0 + 6)
    assert w.snapshot(T0 + 10).poll_participation == pytest.approx(0.5)
    w.apply(ev(SignalKind.JOIN, "u0"), T0 + 11)
    w.apply(ev(SignalKind.JOIN, "u1"), T0 + 11)
    w.apply(ev(SignalKind.JOIN, "newcomer"), T0 + 11)  # did not vote: only the room grows
    assert w.snapshot(T0 + 15).poll_participation == pytest.approx(3 / 5)


def test_participation_never_exceeds_the_whole_room() -> None:
    w = window_with_audience(1)
    w.apply(ev(SignalKind.VOTE, "u0", poll="p1"), T0 + 1)
    w.apply(ev(SignalKind.VOTE, None, poll="p1"), T0 + 1)  # a voter the room never saw
    assert w.snapshot(T0 + 5).poll_participation == 1.0


def test_recently_closed_polls_are_remembered_but_not_forever() -> None:
    w = window_with_audience(2)
    for i in range(65):
        w.apply(ev(SignalKind.POLL_CLOSED, poll=f"p{i}"), T0 + 1)
    # The 64 newest closures still refuse late votes; the oldest was forgotten (bounded memory).
    w.apply(ev(SignalKind.VOTE, "u1", poll="p1"), T0 + 2)
    assert w.snapshot(T0 + 5).poll_active is False
    w.apply(ev(SignalKind.VOTE, "u1", poll="p0"), T0 + 6)
    assert w.snapshot(T0 + 10).poll_active is True


def test_the_published_signals_are_the_contract_fields_rounded() -> None:
    signals = SessionSignals(
        chat_msgs_per_min=12.345678,
        poll_participation=1 / 3,
        active_users=4,
        total_users=9,
        reactions_per_min=0.123456,
        user_leave_rate=2 / 3,
        poll_active=True,
    )
    contract = signals.as_contract()
    assert tuple(contract) == SIGNAL_NAMES
    assert contract == {
        "chat_msgs_per_min": 12.3457,
        "poll_participation": 0.3333,
        "active_users": 4,
        "total_users": 9,
        "reactions_per_min": 0.1235,
        "user_leave_rate": 0.6667,
    }


def test_the_newest_title_seen_wins_and_events_without_one_keep_it() -> None:
    w = SessionWindow("s1", "e1", CFG, T0)
    assert (w.session_title, w.event_title) == (None, None)
    w.apply(SignalEvent(SignalKind.JOIN, "s1", "e1", "u1", None, "Draft title", "Summit"), T0)
    w.apply(SignalEvent(SignalKind.CHAT, "s1", "e1", "u1"), T0 + 1)
    assert (w.session_title, w.event_title) == ("Draft title", "Summit")
    w.apply(SignalEvent(SignalKind.JOIN, "s1", "e1", "u2", None, "Final title", None), T0 + 2)
    assert (w.session_title, w.event_title) == ("Final title", "Summit")


def attend(w: SessionWindow, user: str, state: str, at: float) -> None:
    w.apply(SignalEvent(SignalKind.PRESENCE, "s1", "e1", user_id=user, attention=state), at)


def test_attention_is_counted_per_state_through_changes_leaves_and_rejoins() -> None:
    """#17: per session, the present viewers in each reported state; no one's state outlives
    their presence."""
    w = window_with_audience(4)
    assert w.snapshot(T0 + 5).attention == {}
    assert w.snapshot(T0 + 5).attentive_share is None  # the platform reports none
    attend(w, "u0", "active", T0 + 6)
    attend(w, "u1", "active", T0 + 6)
    attend(w, "u2", "hidden", T0 + 6)
    first = w.snapshot(T0 + 10)
    assert first.attention == {"active": 2, "hidden": 1}
    assert first.attention_reported == 3 and first.attentive_share == pytest.approx(2 / 3)
    attend(w, "u0", "idle", T0 + 11)  # a change moves the viewer, never counts them twice
    attend(w, "u1", "active", T0 + 11)  # the 30-s refresh of the same state changes nothing
    w.apply(ev(SignalKind.LEAVE, "u2"), T0 + 12)
    second = w.snapshot(T0 + 15)
    assert second.attention == {"active": 1, "idle": 1}
    assert second.attentive_share == pytest.approx(0.5)
    w.apply(ev(SignalKind.JOIN, "u2"), T0 + 16)  # back, with no state reported yet
    attend(w, "new", "away", T0 + 16)  # a state from someone whose join was missed
    third = w.snapshot(T0 + 20)
    assert third.attention == {"active": 1, "idle": 1, "away": 1}
    assert third.total_users == 5
    for user in ("u0", "u1", "new"):
        w.apply(ev(SignalKind.LEAVE, user), T0 + 21)
    assert w.snapshot(T0 + 25).attention == {}
    assert w.snapshot(T0 + 25).attentive_share is None


def test_attention_is_kept_across_a_checkpoint() -> None:
    """A handover (the window pickled into a checkpoint and restored) keeps the counts."""

    w = window_with_audience(3)
    attend(w, "u0", "hidden", T0 + 1)
    attend(w, "u1", "active", T0 + 1)
    restored = pickle.loads(pickle.dumps(w))
    attend(restored, "u0", "active", T0 + 2)
    assert restored.snapshot(T0 + 5).attention == {"active": 2}
