"""The known-change yardstick's pieces on synthetic series with known answers (#17, part 1)."""

from __future__ import annotations

import math
import random

import pytest

from bench.yardstick import (
    Change,
    alarms_per_hour,
    calibrate,
    cusum_alarm,
    delays,
    llr,
    mass_exit,
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
