"""Fast unit tests for the NAB factory and the NAB experiments in bench/nab_detectors.py."""

from __future__ import annotations

import math
import random

from bench.multiscale_core import CoreScorer
from bench.nab_detector import make
from bench.nab_detectors import ContextScorer, RelativeEntropyScorer, RestPeriod
from services.detection.novelty import NoveltyScorer, NoveltySettings


def _noise(n: int, seed: int = 1, level: float = 10.0, sd: float = 1.0) -> list[float]:
    rng = random.Random(seed)
    return [level + rng.gauss(0.0, sd) for _ in range(n)]


def _feed(det, values):
    return [det.update(float(i), v) for i, v in enumerate(values)]


def test_make_is_the_product_core_with_its_defaults() -> None:
    # The NAB number must be the number of what the live detector runs.
    det = make()
    assert type(det) is NoveltyScorer
    assert det.settings == NoveltySettings()
    assert make(learn=300).settings == NoveltySettings(learn=300)


def test_context_flags_a_level_shift_soon_after() -> None:
    det = RestPeriod(ContextScorer(), rest=400)
    base = _noise(1500)
    before = _feed(det, base)
    after = _feed(det, [v + 10.0 for v in _noise(50, seed=2)])
    assert max(after[:3]) == 1.0
    assert max(before[1000:]) < 1.0


def test_context_flags_a_downward_shift_too() -> None:
    det = ContextScorer()
    _feed(det, _noise(1500))
    assert max(_feed(det, _noise(5, seed=3, level=-5.0))) == 1.0


def test_context_steady_noise_scores_low_after_learning() -> None:
    det = RestPeriod(ContextScorer(), rest=400)
    scores = _feed(det, _noise(6000))
    assert sum(s >= 1.0 for s in scores[2000:]) <= 2


def test_bad_values_are_harmless_and_scores_in_range() -> None:
    for det in (ContextScorer(), RelativeEntropyScorer(), RestPeriod(ContextScorer())):
        vals = _noise(800)
        for i in range(0, 800, 37):
            vals[i] = (math.nan, math.inf, -math.inf)[i % 3]
        scores = [det.update(None, v) for v in vals] + [det.update(None, None)]
        assert all(0.0 <= s <= 1.0 for s in scores)
        assert all(s == 0.0 for v, s in zip(vals, scores[:-1], strict=True) if not math.isfinite(v))


def test_flatline_is_quiet_then_a_step_is_flagged() -> None:
    det = ContextScorer()
    assert max(_feed(det, [5.0] * 1000)) == 0.0
    # the grid freezes once the range is non-zero; the first change is learnt with it
    _feed(det, [5.0, 6.0] * 200)
    assert det.update(None, 50.0) == 1.0


def test_relative_entropy_flags_a_new_distribution() -> None:
    det = RelativeEntropyScorer()
    base = _feed(det, _noise(3000))
    after = _feed(det, [v + 2.0 for v in _noise(60, seed=5)])
    # It fires often on plain noise too (about a quarter of windows here, which is why it
    # scores low on NAB), but a shifted distribution keeps it firing.
    assert sum(after[-30:]) / 30 > 2 * sum(base[2000:]) / 1000


def test_core_step_down_flagged_within_three_ticks() -> None:
    rng = random.Random(1)
    core = CoreScorer()
    before = [core.update(i * 5.0, 10.0 + rng.gauss(0, 0.2)) for i in range(200)]
    after = [core.update((200 + i) * 5.0, 5.0 + rng.gauss(0, 0.2)) for i in range(3)]
    # Scores are novelty-calibrated: a 25-sigma step scores several times the noise's best.
    assert max(after) > 0.3
    assert max(after) > 3 * max(before[50:])


def test_core_steady_noise_is_quiet_and_bad_values_are_harmless() -> None:
    rng = random.Random(2)
    core = CoreScorer()
    scores = [core.update(i * 5.0, rng.gauss(0, 1)) for i in range(3000)]
    assert max(scores[500:]) < 0.5
    for bad in (math.nan, math.inf, None):
        assert 0.0 <= core.update(3000 * 5.0, bad) <= 1.0  # type: ignore[arg-type]
