"""The activity rules' measure and memory on hand-made tick counts: poisson_z, the baseline they
learn, the history they keep and the window they judge over.

The detector's tests show the rules working on noisy rooms; these pin what each rule decides and
says at the edges of its thresholds, so a changed comparison or factor does not go unnoticed.
"""

from __future__ import annotations

import math

import pytest

from services.detection.rules import poisson_z
from tests.activity_room import SETTINGS, Room, busy

# ----------------------------------------------------------------------------------- poisson_z


def test_poisson_z_is_the_signed_likelihood_ratio_of_a_count() -> None:
    assert poisson_z(0, 10) == -math.sqrt(20)
    assert poisson_z(1, 10) == -math.sqrt(2 * (math.log(0.1) + 9))
    assert poisson_z(20, 10) == math.sqrt(2 * (20 * math.log(2) - 10))
    assert poisson_z(10, 10) == 0.0
    assert poisson_z(0, 0.5) == -1.0  # a small expectation still counts
    assert poisson_z(3, 0) == 0.0 and poisson_z(3, -1) == 0.0  # nothing expected: no evidence


def test_poisson_z_is_judged_against_the_rooms_mood_as_well_as_counting_noise() -> None:
    assert poisson_z(0, 10, spread=0.1) == -math.sqrt(20 / 2)


# -------------------------------------------------------------------------------- the baseline


def test_the_baseline_is_the_first_count_then_a_running_mean_then_a_five_minute_mean() -> None:
    rules = Room().learnt(10).rules
    assert rules.base == 10
    rules = Room().learnt(10, 20).rules
    assert rules.base == 15
    assert busy(10, ticks=100).learnt(13).rules.base == pytest.approx(10 + 3 / 60)


def test_applause_is_clipped_before_it_is_learnt() -> None:
    # Counted as at most twice the baseline and 3 more.
    assert busy(10, ticks=100).learnt(100).rules.base == pytest.approx(10 + (2 * 10 + 3 - 10) / 60)


def test_a_visibly_low_room_is_learnt_four_times_slower_once_warm() -> None:
    # Warm-up (6 ticks): a plain mean, even of a sudden dip.
    assert Room().learnt(10, 0).rules.base == 5
    # From the 7th tick, a level under 80 % of the baseline moves it a quarter as fast.
    room = Room().learnt(20, 20, 0, 0, 0, 0)
    assert room.rules.base == pytest.approx(40 / 6)
    assert room.learnt(0).rules.base == pytest.approx(40 / 6 * (1 - 0.25 / 7))


def test_a_level_of_exactly_four_fifths_of_the_baseline_is_not_low() -> None:
    room = busy(10, ticks=20)
    room.judge(8, 8, 8, 8, 8)
    assert room.learnt(8).rules.base == pytest.approx(10 - 2 / 21)  # at full speed, 1/21


def test_a_normal_level_is_learnt_at_full_speed() -> None:
    assert busy(10, ticks=20).learnt(12).rules.base == pytest.approx(10 + 2 / 21)


def test_the_baseline_is_trusted_after_the_warm_up_and_frozen_ticks_do_not_count() -> None:
    room = Room().learnt(*[10] * 5)
    assert not room.rules.warm
    room.judge(10, 10)
    assert (room.rules.n, room.rules.warm) == (5, False)
    room.learnt(10)
    assert (room.rules.n, room.rules.warm, room.rules.latest) == (6, True, 10)


def test_a_baseline_not_yet_warm_judges_no_cliff_however_many_ticks_were_seen() -> None:
    room = Room().learnt(10, 10, 10)
    room.judge(*[10] * 20)
    assert room.cliff(0) is None


def test_rebase_forgets_the_baseline_and_the_history() -> None:
    rules = busy(10).rules
    rules.rebase()
    assert (rules.base, rules.n, rules.warm, rules.latest, rules.level()) == (0, 0, False, 0, 0)
    assert (rules.window(), rules.ratio_now(), rules.recovered()) == (0, 1.0, False)


def test_the_history_keeps_the_longest_window_and_the_minute_before_it() -> None:
    rules = Room().learnt(*range(1, 41)).rules
    kept = 2 * SETTINGS.max_window_ticks + 1
    assert rules.level(1000) == sum(range(41 - kept, 41)) / kept


@pytest.mark.parametrize(
    ("per_tick", "window"),
    [(10.0, 1), (2.0, 4), (0.8, 10), (0.7, 12), (0.5, 0), (0.0, 0)],
)
def test_a_room_is_tested_over_the_ticks_it_takes_to_expect_eight_events(
    per_tick: float, window: int
) -> None:
    assert busy(per_tick).rules.window() == window


def test_level_is_the_mean_of_the_newest_ticks() -> None:
    assert Room().rules.level() == 0.0
    rules = Room().learnt(*[10] * 10, 4, 4, 4, 4, 4, 1).rules
    assert rules.level() == 21 / 6  # the slow rules' window: here the 6-tick warm-up
    assert rules.level(2) == 2.5
    assert rules.level(100) == 121 / 16


def test_ratio_now_and_recovery_over_the_short_window() -> None:
    assert busy(0.0).rules.ratio_now() == 1.0  # no baseline: nothing to compare with
    assert not busy(0.0).rules.recovered()
    room = Room().learnt(10, 10, 10)
    room.judge(2)
    assert room.rules.ratio_now() == 32 / 40  # 4 ticks are enough to judge by
    assert room.rules.recovered()
    room = busy(10)
    room.judge(7, 7, 7, 7)
    assert room.rules.ratio_now() == pytest.approx(0.7)
    assert room.rules.recovered()  # exactly the recovery ratio is recovered
    room.judge(6.9)
    assert not room.rules.recovered()
    tiny = busy(0.8)
    assert tiny.rules.recovered()  # a room of under one event a tick can recover too


def test_a_room_with_fewer_ticks_than_the_short_window_has_not_recovered() -> None:
    room = Room().learnt(10, 10)
    room.judge(10)
    assert (room.rules.recovered(), room.rules.ratio_now()) == (False, 1.0)
