"""The attention yardstick's pieces against the simulator's viewers (#17, part 2)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.attention_yardstick import (
    LASTS,
    AttentionYardstick,
    looking_chance,
    tick_chances,
    transition_logs,
)
from bench.yardstick import TICK_SECONDS


def steady(stay: float, turn: float) -> float:
    return turn / (1.0 - stay + turn)


def test_the_chance_of_looking_follows_the_rooms_activity() -> None:
    assert looking_chance(None) == pytest.approx(0.85)
    assert looking_chance(-1.0) == pytest.approx(0.85)  # before the onset
    assert looking_chance(10.0) == pytest.approx(0.85 * (0.3 + 0.7 * 0.1))  # at the floor
    assert looking_chance(0.0) > looking_chance(1.5) > looking_chance(3.0)


def test_a_ticks_chances_keep_a_quiet_room_at_its_share_and_move_a_dropped_one() -> None:
    stay, turn = tick_chances(0.0, None)
    assert steady(stay, turn) == pytest.approx(0.85, rel=1e-4)  # a 0.1-s grid
    # Redraws come every 6 s on average: about 43 % of viewers keep their state a whole tick.
    assert stay - turn == pytest.approx(np.exp(-5 / 6))
    late = tick_chances(60.0, 0.0)
    assert steady(*late) == pytest.approx(0.85 * 0.37, rel=1e-4)
    # The tick that holds the onset moves less the later the onset falls in it.
    early, last = tick_chances(0.0, 0.0), tick_chances(0.0, 4.0)
    assert late[1] < early[1] < last[1] < turn


def test_transitions_are_probabilities_over_who_can_be_looking() -> None:
    table = np.exp(transition_logs(10, 0.9, 0.5))
    assert table.sum(axis=1) == pytest.approx(np.ones(11))
    assert table[0, 0] == pytest.approx(0.5**10)  # nobody looking: each turns back or not
    assert table[10, 10] == pytest.approx(0.9**10)


def test_the_watch_flags_a_room_that_looks_away_and_not_one_that_looks_on() -> None:
    watch = AttentionYardstick(10)
    rng = np.random.default_rng(1)
    quiet = watch.quiet_counts(rng, 5000)
    assert 8.0 < quiet.mean() < 9.0
    assert watch.alarms(quiet, 30.0) == []
    collapsed = np.array([9, 9, 8, 9, 1, 0, 0])
    assert watch.alarms(collapsed, 6.5)[0] == 4  # the tick that went from 9 to 1


def test_delays_run_from_the_onset_to_the_end_of_the_alarm_tick() -> None:
    watch = AttentionYardstick(10)
    found = watch.delays(6.5, np.random.default_rng(2), 60)
    assert all(0 < d <= (LASTS + 1) * TICK_SECONDS for d in found)
    assert 5.0 < float(np.median(found)) < 30.0
    # A drop it misses counts as the whole minute it was watched.
    missed = watch.delays(1e6, np.random.default_rng(3), 3)
    assert all(LASTS * TICK_SECONDS - TICK_SECONDS < d <= LASTS * TICK_SECONDS for d in missed)
