"""The known-change yardstick's pieces on series with known answers (#17, part 1)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.yardstick import (
    TICK_SECONDS,
    Change,
    ChangeWatch,
    alarms_per_hour,
    calibrate,
    delays,
    first_alarm,
    gradual_decline,
    mass_exit,
    sudden_drop,
)
from services.simulation.audience import default_chat_per_min, default_reactions_per_min


def steps(*after: float) -> np.ndarray:
    """Profiles of a change that shows the same way whatever its onset second."""
    return np.tile(np.array(after), (5, 1))


def cusum(counts: list[int], before: float, after: float, threshold: float) -> int | None:
    statistic = 0.0
    for i, count in enumerate(counts):
        statistic = max(0.0, statistic + count * np.log(after / before) - (after - before))
        if statistic >= threshold:
            return i
    return None


def test_the_watch_sums_the_evidence_of_the_best_onset() -> None:
    # Before 4 a tick; from the onset 2, then 1. Empty ticks from the onset add 2 then 3.
    profiles = steps(2.0, 1.0, 1.0)
    counts = np.array([8, 8, 0, 0, 0])  # twice the usual: no onset before tick 2 pays
    assert first_alarm(ChangeWatch(4.0, profiles, 5.0), counts) == 3  # onset at 2: 2 + 3
    assert first_alarm(ChangeWatch(4.0, profiles, 5.01), counts) == 4  # 2 + 3 + 3 = 8
    assert first_alarm(ChangeWatch(4.0, profiles, 8.01), counts) is None  # no older onset counts
    # A count that fits no change costs the onsets before it: they lose to a later onset.
    assert first_alarm(ChangeWatch(4.0, profiles, 5.0), np.array([0, 9, 0, 0])) == 3


def test_the_watch_weighs_each_onset_second_by_its_own_profile() -> None:
    # Only an onset in a tick's last second shows at once: the others expect no change at first.
    profiles = np.array([[4.0, 1.0]] * 4 + [[1.0, 1.0]])
    assert first_alarm(ChangeWatch(4.0, profiles, 2.9), np.array([0, 0])) == 0
    assert first_alarm(ChangeWatch(4.0, profiles[:4], 2.9), np.array([0, 0])) == 1


def test_a_step_at_a_ticks_start_is_flagged_as_cusum_flags_it() -> None:
    rng = np.random.default_rng(6)
    for _ in range(50):
        counts = rng.choice([0, 1, 3, 4, 5], 30)
        watch = ChangeWatch(4.0, steps(*[1.0] * 40), 7.0)
        assert first_alarm(watch, counts) == cusum(counts.tolist(), 4.0, 1.0, 7.0)


def test_tick_means_follow_the_simulators_rates_and_shape() -> None:
    drop = sudden_drop(200)
    per_tick = (default_chat_per_min(200) + default_reactions_per_min(200)) / 60 * TICK_SECONDS
    assert drop.before == pytest.approx(per_tick)
    quiet = drop.means(40, None)
    assert quiet == pytest.approx(np.full(40, per_tick))
    # A drop to 10 % over 3 s at a tick's start: that tick holds the ramp, typed chat written
    # before the onset still arrives in the next, and from the third tick on it is 10 %.
    means = drop.means(10, 2 * TICK_SECONDS)
    assert means[:2] == pytest.approx([per_tick, per_tick])
    assert per_tick * 0.1 < means[3] < means[2] < per_tick * 0.9
    assert means[4:] == pytest.approx(np.full(6, per_tick * 0.1))
    # The later the onset in its tick, the more of that tick is as before.
    profiles = drop.profiles()
    assert list(profiles[:, 0]) == sorted(profiles[:, 0])
    assert profiles[0, -1] == pytest.approx(per_tick * 0.1)


def test_typing_moves_chat_later_and_keeps_all_of_it() -> None:
    typed = Change(((1.0, False, 1.0),), lambda since, _: np.where(since < 5.0, 0.0, 1.0), 4)
    means = typed.means(8, 2 * TICK_SECONDS)
    # Nothing is written in tick 2; what was written before arrives 1.5-5 s later.
    assert 0 < means[2] < TICK_SECONDS
    assert means[:2] == pytest.approx([TICK_SECONDS] * 2)
    assert means.sum() == pytest.approx(7 * TICK_SECONDS)  # moved, not lost, inside the series


def test_the_mood_spreads_a_big_rooms_counts_beyond_counting_noise() -> None:
    drop = sudden_drop(10000)
    rng = np.random.default_rng(3)
    moody = drop.counts(rng, 20_000)
    plain = drop.counts(rng, 20_000, mood=False)
    assert plain.var() == pytest.approx(drop.before, rel=0.1)  # Poisson
    # A 15 % swing in the rate adds about (0.15 * mean)^2 to the variance.
    assert moody.var() > plain.var() + 0.5 * (0.15 * drop.before) ** 2


def test_a_mass_exit_takes_its_share_within_ten_seconds() -> None:
    exit_ = mass_exit(200)
    assert exit_.before == pytest.approx(200 * 1.2 / 3600 * TICK_SECONDS)
    onset = 3 * TICK_SECONDS
    means = exit_.means(8, onset, size=0.5)
    assert means.sum() - 8 * exit_.before == pytest.approx(100)
    assert means[3] + means[4] + means[5] - 3 * exit_.before == pytest.approx(100)
    assert means[6:] == pytest.approx([exit_.before] * 2)


def test_a_looser_false_alarm_rate_gives_a_lower_threshold_and_a_shorter_delay() -> None:
    change = sudden_drop(50)
    strict = calibrate(change, 0.1, np.random.default_rng(1), hours=30)
    loose = calibrate(change, 3.0, np.random.default_rng(1), hours=30)
    assert loose < strict
    assert alarms_per_hour(change, strict, np.random.default_rng(2), 60) <= 0.34
    slow = np.median(delays(change, strict, np.random.default_rng(3), 100))
    fast = np.median(delays(change, loose, np.random.default_rng(3), 100))
    assert fast < slow


def test_delays_run_from_an_onset_inside_a_tick_to_the_end_of_the_alarm_tick() -> None:
    # A walk-out of a third of a big room or more shows in the tick it starts in, unless it
    # starts in the tick's last moments: delays are under two ticks, the median near half of one.
    found = delays(mass_exit(10000), 20.0, np.random.default_rng(4), 200)
    assert min(found) > 0 and max(found) <= 2 * TICK_SECONDS
    assert 1.0 < np.median(found) < 4.0
    # A slide too gentle for the threshold is missed: its delay is counted as its length.
    slide = gradual_decline(10)
    missed = delays(slide, 1e6, np.random.default_rng(5), 5, mood=False)
    longest = slide.lasts * TICK_SECONDS
    assert all(longest - TICK_SECONDS < d <= longest for d in missed)
