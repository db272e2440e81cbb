"""The novelty core (services/detection/novelty.py) on crafted series: fast, pure logic."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import pytest

from services.detection.novelty import NoveltyScorer, NoveltySettings

TICK = 5.0
LEARN = NoveltySettings().learn
FIRST = 48
# Judging from the 48th sample on a provisional grid (the default waits for the final grid).
PROVISIONAL = NoveltySettings(first_judged=FIRST)


def _noise(n: int, seed: int = 1, level: float = 0.6, sd: float = 0.02) -> list[float]:
    rng = random.Random(seed)
    return [level + rng.gauss(0.0, sd) for _ in range(n)]


def _feed(det: NoveltyScorer, values: Sequence[float | None], t0: int = 0) -> list[float]:
    return [det.update((t0 + i) * TICK, v) for i, v in enumerate(values)]


@pytest.mark.parametrize("step", [0.2, -0.2])
def test_a_level_shift_up_or_down_is_flagged_at_once(step: float) -> None:
    det = NoveltyScorer()
    before = _feed(det, _noise(2000))
    after = _feed(det, _noise(20, seed=2, level=0.6 + step), t0=2000)
    # Noise only nudges the edge of what has been seen, a bin at a time (0.5), and rarely.
    assert sum(s > 0.0 for s in before) <= 3 and max(before) <= 0.5
    assert after[0] >= 0.9  # ten sigma away: about ten bins beyond anything seen
    assert max(after[1:]) == 0.0  # one alarm per event, then the rest period


def test_a_further_novelty_scores_higher_and_beats_the_rest() -> None:
    det = NoveltyScorer()
    _feed(det, _noise(1000))
    first = det.update(1000 * TICK, 0.9)
    repeat = det.update(1001 * TICK, 0.9)  # now a visited bin
    nearby = det.update(1002 * TICK, 0.9 + det.width)  # one new bin next to a visited one
    further = det.update(1003 * TICK, 1.5)
    assert 0.5 <= first < further
    assert repeat == 0.0
    assert nearby == 0.0  # 0.5 does not beat the alarm that started the rest
    assert further > first


def test_steady_noise_scores_low_after_learning() -> None:
    det = NoveltyScorer()
    scores = _feed(det, _noise(20_000))
    assert max(scores[:LEARN]) == 0.0  # silent while the grid is learnt
    # Only new extremes of the noise are novel, and they get rarer: at most a few alarms an
    # hour of 5-s ticks (720 samples) after the first hour, none of them high.
    late = scores[3000:]
    assert sum(s >= 0.5 for s in late) <= 3
    assert max(late) <= 0.75


def test_bad_values_are_skipped_without_touching_state() -> None:
    clean = NoveltyScorer()
    dirty = NoveltyScorer()
    values = [*_noise(1200), 0.9, 0.2, *_noise(200, seed=4)]
    bad: list[float | None] = [math.nan, math.inf, -math.inf, None]
    want = _feed(clean, values)
    got: list[float] = []
    for i, v in enumerate(values):
        if i % 7 == 0:
            assert dirty.update(i * TICK, bad[i % 4]) == 0.0
        got.append(dirty.update(i * TICK, v))
    assert got == want
    assert max(want) >= 0.5  # the series did alarm, so equality is not trivial


def test_memory_stays_bounded_on_a_long_random_walk() -> None:
    s = NoveltySettings()
    det = NoveltyScorer(s)
    rng = random.Random(7)
    x = 0.0
    widths = set()
    for i in range(100_000):
        x += rng.gauss(0.0, 1.0)
        assert 0.0 <= det.update(i * TICK, x) <= 1.0
        if i % 1000 == 0 and det.warm:
            assert det.span <= s.max_bins
            widths.add(det.width)
    assert len(det._buf) == 0  # the learning buffer is dropped once the grid is fixed
    assert len(widths) > 1  # the walk outgrew the grid, which coarsened instead of growing
    # A wild but finite value coarsens in one step rather than asking for a huge bitmask.
    assert det.update(100_000 * TICK, 1e300) >= 0.5
    assert det.span <= s.max_bins


def test_a_long_gap_restarts_learning() -> None:
    det = NoveltyScorer()
    _feed(det, _noise(1000))
    gap_start = 1000 + int(NoveltySettings().gap_reset) + 10  # a gap of 70 ticks
    after = _feed(det, _noise(LEARN, seed=5, level=0.2), t0=gap_start)
    assert max(after) == 0.0  # a new series is learnt, not flagged
    assert det.warm and det.final
    # Without the gap, the same new level is novel.
    cont = NoveltyScorer()
    _feed(cont, _noise(1000))
    assert max(_feed(cont, _noise(10, seed=5, level=0.2), t0=1000)) >= 0.5


def test_time_going_backwards_restarts() -> None:
    det = NoveltyScorer()
    _feed(det, _noise(1000), t0=10_000)
    assert det.warm
    det.update(0.0, 0.6)
    assert not det.warm
    assert not det.final


def test_a_flat_line_learns_until_it_moves_then_flags_a_step() -> None:
    det = NoveltyScorer()
    assert max(_feed(det, [5.0] * 1000)) == 0.0
    assert not det.warm
    _feed(det, [5.0, 6.0] * 10, t0=1000)  # the first movement fixes the grid (width 1/16)
    assert det.warm
    assert det.update(1020 * TICK, 9.0) >= 0.9


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        NoveltyScorer(NoveltySettings(max_bins=16))
    with pytest.raises(ValueError):
        NoveltyScorer(NoveltySettings(learn=1))
    with pytest.raises(ValueError):
        NoveltyScorer(NoveltySettings(first_judged=1))


@pytest.mark.parametrize("step", [0.2, -0.2])
def test_a_shift_soon_after_the_start_is_judged_on_the_provisional_grid(step: float) -> None:
    values = [*_noise(100), *_noise(10, seed=2, level=0.6 + step)]
    early = _feed(NoveltyScorer(PROVISIONAL), values)
    assert max(early[:FIRST]) == 0.0  # nothing is judged before the provisional grid
    assert early[100] >= 0.9
    # Judged only once the grid is final, the same shift goes unseen: it is learnt.
    late = _feed(NoveltyScorer(), values)
    assert max(late) == 0.0


def test_the_grid_is_fixed_again_on_every_learnt_sample() -> None:
    det = NoveltyScorer(PROVISIONAL)
    narrow = _noise(FIRST, sd=0.001)
    _feed(det, narrow)
    assert det.warm and not det.final
    provisional = det.width
    assert provisional == pytest.approx((max(narrow) - min(narrow)) / 16)
    wide = [0.5 + 0.2 * (i % 11) / 10 for i in range(LEARN - FIRST)]
    scores = _feed(det, wide, t0=FIRST)
    assert max(scores) >= 0.9  # far beyond the provisional grid
    assert det.final
    everything = narrow + wide
    assert det.width == pytest.approx((max(everything) - min(everything)) / 16)
    # Every learnt sample is visited on the final grid: none is novel again.
    again = _feed(det, [everything[i] for i in range(0, LEARN, 7)], t0=LEARN)
    assert max(again) == 0.0


def test_provisional_novelties_start_no_rest() -> None:
    det = NoveltyScorer(PROVISIONAL)
    first = _noise(FIRST, sd=0.001)
    _feed(det, first)
    top = max(first)
    assert det.update(FIRST * TICK, top + 3 * det.width) >= 0.5  # beyond the narrow first range
    # A novelty no further out right after it is scored too: on the final grid it would be held
    # by the first one's rest.
    assert det.update((FIRST + 1) * TICK, min(first) - 3 * det.width) >= 0.5


def test_the_smallest_settings_are_accepted_and_one_less_is_refused() -> None:
    smallest = {"learn": 2, "first_judged": 2, "bins": 1, "max_bins": 2, "rest": 0}
    NoveltyScorer(NoveltySettings(**smallest))
    for name in ("learn", "first_judged", "bins", "rest"):
        with pytest.raises(ValueError, match=r"^need learn >= 2, first_judged >= 2, bins >= 1"):
            NoveltyScorer(NoveltySettings(**{**smallest, name: smallest[name] - 1}))


def test_a_rest_holds_exactly_rest_samples_that_do_not_beat_its_alarm() -> None:
    det = NoveltyScorer(NoveltySettings(learn=16, rest=3))
    learnt = [0.0, 1.6] * 8  # width 0.1, bins 0..16 visited
    _feed(det, learnt)
    # Each sample one bin beyond the last: a score of exactly 0.5, the rest's threshold.
    scores = [det.update((16 + k) * TICK, 1.75 + 0.1 * k) for k in range(6)]
    assert scores == [0.5, 0.0, 0.0, 0.0, 0.5, 0.0]
