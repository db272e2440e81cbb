"""The outcome-statistics bench's windows and measures (docs/agent.md, "Why the lift")."""

from __future__ import annotations

import random

import pytest

from bench.agent_regret import Decision
from bench.outcome_statistics import after_less, change, judge_measure, window_mean
from services.core.vocabulary import InterventionType

SCORES = {-35: 9.0, -30: 0.2, -5: 0.4, 0: 9.0, 30: 9.0, 35: 0.5, 60: 0.7, 65: 9.0}


def test_windows_are_the_product_s_before_it_and_after_it() -> None:
    # Before: [start, end), so the decision's own tick is not in it; after: (start, end].
    assert window_mean(SCORES, -30, 0) == pytest.approx(0.3)
    assert window_mean(SCORES, 30, 60) == pytest.approx(0.6)
    assert window_mean(SCORES, 70, 90) is None
    assert change(30, 30, 60)(SCORES) == pytest.approx(0.3)
    assert after_less(0.5, 30, 60)(SCORES) == pytest.approx(0.45)
    assert change(30, 70, 90)(SCORES) is None


def test_a_measure_that_tells_the_best_type_apart_is_judged_so() -> None:
    best, other = InterventionType.CHAT_PROMPT, InterventionType.POLL
    shares = {best: 0.6, other: 0.1}
    decisions = [
        Decision(0.0, "s", "ctx", arm, 0.0, best, shares, scores={-5: 0.3, 60: level})
        for arm, level in [(best, 0.5), (best, 0.7), (other, 0.2), (other, 0.4)] * 25
    ]
    separation, named, judged = judge_measure(
        [decisions], change(30, 30, 60), 20, 5, random.Random(1)
    )
    # Means 0.3 and 0.0 apart by 0.3, each type spread 0.1 about its mean.
    assert (separation, judged) == (pytest.approx(3.0), 1)
    assert named[40] > 0.9
    # Too few outcomes per type: nothing judged.
    assert judge_measure([decisions], change(30, 30, 60), 60, 5, random.Random(1))[2] == 0
