"""The learning bench's report: a seed whose floor is 0 is reported, not divided by."""

from __future__ import annotations

from bench.agent_regret import seed_ratio


def test_a_seed_is_reported_as_its_ratio_to_the_floor() -> None:
    assert seed_ratio(0.15, 0.1) == "1.50"


def test_a_seed_with_a_floor_of_zero_shows_its_regret() -> None:
    # Regression: a 10-seed run crashed in its report when one seed's floor was exactly 0.
    assert seed_ratio(0.012, 0.0) == "0.0120 at a floor of 0"
