"""The known-change yardstick's pieces on synthetic series with known answers (#17, part 1)."""

from __future__ import annotations

import math
import random

import pytest

from bench.yardstick import (
    Change,
    Ramp,
    alarms_per_hour,
    calibrate,
    cusum_alarm,
    delays,
    gradual_decline,
    llr,
    mass_exit,
    ramp_alarm,
    ramp_alarms_per_hour,
    ramp_calibrate,
    ramp_delays,
    sudden_drop,
)


def test_the_likelihood_ratio_of_a_count() -> None:
    assert llr(0, 4.0, 1.0) == pytest.approx(3.0)  # nothing seen: evidence of the lower rate
    assert llr(4, 4.0, 1.0) == pytest.approx(4 * math.log(0.25) + 3.0)


def test_cusum_flags_a_known_change_at_the_tick_its_evidence_passes_the_threshold() -> None:
    # Four a tick, then none: each empty tick adds 3 (before 4, after 1); threshold 7 is passed
    # on the third empty tick, whatever came before (CUSUM never goes below 0).
    counts = [4, 5, 3, 4, 0, 0, 0, 0]
    assert cusum_alarm(counts, 4.0, 1.0, 7.0) == 6
    assert cusum_alarm(counts, 4.0, 1.0, 9.0) == 6  # exactly 9 after three: reached
    assert cusum_alarm(counts, 4.0, 1.0, 9.01) == 7
    assert cusum_alarm([4] * 50, 4.0, 1.0, 7.0) is None


def test_a_looser_false_alarm_rate_gives_a_lower_threshold_and_a_shorter_delay() -> None:
    change = Change(before=4.0, after=0.4, lasts=18)
    strict = calibrate(change, 0.05, random.Random(1), hours=100)
    loose = calibrate(change, 2.0, random.Random(1), hours=100)
    assert loose < strict
    assert alarms_per_hour(change, strict, random.Random(2), 200) <= 0.2
    slow = sorted(delays(change, strict, random.Random(3), 200))
    fast = sorted(delays(change, loose, random.Random(3), 200))
    assert fast[100] <= slow[100]


def test_a_change_as_large_as_a_mass_exit_is_seen_in_its_first_tick() -> None:
    change = Change(before=0.1, after=40.0, lasts=2)
    threshold = calibrate(change, 0.2, random.Random(4), hours=100)
    assert sorted(delays(change, threshold, random.Random(5), 100))[50] == 5.0


def test_the_rooms_rates_come_from_the_simulators_means() -> None:
    small, big = sudden_drop(10), sudden_drop(10000)
    assert small.after == pytest.approx(small.before * 0.1) and big.before > 10 * small.before
    exit_ = mass_exit(200)
    assert exit_.before == pytest.approx(200 * 1.2 / 3600 * 5)
    assert exit_.after == pytest.approx(exit_.before + 200 * 0.32 * 5 / 10)
    assert exit_.lasts == 2


def test_the_slide_detector_sums_the_evidence_of_the_best_onset() -> None:
    # Before 4 a tick; from the onset 2, then 1. Empty ticks from the onset add 2 then 3.
    ramp = Ramp(4.0, (2.0, 1.0, 1.0))
    counts = [8, 8, 0, 0, 0]  # twice the usual: no onset before tick 2 pays
    assert ramp_alarm(counts, ramp, 5.0) == 3  # onset at tick 2: 2 + 3 = 5
    assert ramp_alarm(counts, ramp, 5.01) == 4  # the same onset: 2 + 3 + 3 = 8
    assert ramp_alarm(counts, ramp, 8.01) is None  # no onset older than the slide counts
    # A count that fits no change costs the onsets before it: they lose to a later onset.
    assert ramp_alarm([0, 9, 0, 0], ramp, 5.0) == 3


def test_a_step_profile_is_flagged_as_cusum_flags_it() -> None:
    rng = random.Random(6)
    for _ in range(50):
        counts = [rng.choice((0, 1, 3, 4, 5)) for _ in range(30)]
        assert ramp_alarm(counts, Ramp(4.0, (1.0,) * 40), 7.0) == cusum_alarm(counts, 4.0, 1.0, 7.0)


def test_the_slide_detector_is_calibrated_and_slower_on_a_gentler_slide() -> None:
    steep, gentle = Ramp(6.0, (1.0,) * 30), Ramp(6.0, tuple(6.0 - 0.2 * j for j in range(30)))
    rng = random.Random(7)
    for ramp in (steep, gentle):
        threshold = ramp_calibrate(ramp, 0.5, rng, hours=40)
        assert ramp_alarms_per_hour(ramp, threshold, random.Random(8), 100) <= 1.0
    fast = sorted(ramp_delays(steep, ramp_calibrate(steep, 0.5, rng, 40), rng, 100))[50]
    slow = sorted(ramp_delays(gentle, ramp_calibrate(gentle, 0.5, rng, 40), rng, 100))[50]
    assert fast < slow <= 30 * 5


def test_the_gradual_decline_follows_the_simulators_slide() -> None:
    slide = gradual_decline(200)
    assert slide.before == pytest.approx(sudden_drop(200).before)
    assert slide.lasts == 50  # 250 s, the episode's mean length
    assert slide.profile[0] == pytest.approx(slide.before * (1 - 0.8 * 2.5 / 180))
    assert slide.profile[-1] == pytest.approx(slide.before * 0.2)
    assert list(slide.profile) == sorted(slide.profile, reverse=True)
