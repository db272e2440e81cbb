"""The MASS_EXIT rule on hand-made head counts, with exact verdicts at the edges of its
thresholds."""

from __future__ import annotations

from services.core.push_objects import Trigger, TriggerRule
from services.core.vocabulary import Severity
from services.detection.episodes import DetectorSettings, Finding
from services.detection.rules import MassExitRule

SETTINGS = DetectorSettings()
CRITICAL, WARNING = Severity.CRITICAL, Severity.WARNING


def exits(*present: int, settings: DetectorSettings = SETTINGS) -> Finding | None:
    """MASS_EXIT's verdict on the last head count, after the ones before it."""
    rule = MassExitRule(settings)
    for count in present[:-1]:
        rule.push(count)
    return rule.check(present[-1])


def left(before: int, after: int, seconds: float) -> Trigger:
    """The trigger of a mass exit: present before, present after, within how long."""
    return Trigger(TriggerRule.EXIT, before, after, seconds)


def test_a_fifth_of_the_room_leaving_within_three_ticks_is_a_mass_exit() -> None:
    assert exits(15, 15, 15, 12) == Finding(
        WARNING, "3 of 15 people left in 15 s (20% of the room)", 0.4, left(15, 12, 15)
    )
    assert exits(100, 96, 92, 88, 85) is None  # 15 % in 15 s, never 5 % in one tick
    assert exits(100, 96, 92, 88, 85, settings=DetectorSettings(sensitivity=2.0)) is not None


def test_a_mass_exit_needs_three_leavers_and_a_room_of_eight() -> None:
    assert exits(8, 5) == Finding(
        WARNING, "3 of 8 people left in 5 s (38% of the room)", 0.75, left(8, 5, 5)
    )
    assert exits(7, 4) is None
    assert exits(100, 96) is None  # 4 % of a big room
    assert exits(10, 8) is None  # 20 %, but only two people


def test_a_twentieth_of_the_room_gone_in_one_tick_is_a_walk_out_under_way() -> None:
    # Ordinary leaving takes about a tenth of a percent of a room a tick: 5 % in one is not it.
    assert exits(100, 100, 95) == Finding(
        WARNING, "5 of 100 people left in 5 s (5% of the room)", 0.1, left(100, 95, 5)
    )
    assert exits(1000, 1000, 1000, 990, 940) == Finding(
        WARNING, "50 of 990 people left in 5 s (5% of the room)", 100 / 990, left(990, 940, 5)
    )
    assert exits(60, 57) is None  # 5 %, but only three people
    assert exits(80, 80, 76) is not None  # four people, 5 %
    assert exits(100, 97, 94, 91) is None  # 3 % a tick: 9 % in 15 s is no walk-out yet
    assert exits(200, 195) is None
    assert exits(200, 195, settings=DetectorSettings(sensitivity=2.0)) is not None


def test_two_fifths_leaving_is_critical_and_more_than_half_is_full_strength() -> None:
    assert exits(10, 6) == Finding(
        CRITICAL, "4 of 10 people left in 5 s (40% of the room)", 0.8, left(10, 6, 5)
    )
    assert exits(10, 2) == Finding(
        CRITICAL, "8 of 10 people left in 5 s (80% of the room)", 1.0, left(10, 2, 5)
    )


def test_the_reference_is_the_largest_of_the_last_four_head_counts() -> None:
    rule = MassExitRule(SETTINGS)
    for present in (100, 50, 50, 50):
        rule.push(present)
    assert rule.reference == 100
    rule.push(50)
    assert rule.reference == 50
    rule.reset()
    assert (rule.reference, rule.check(0)) == (0, None)


def test_an_empty_or_unknown_room_is_no_mass_exit() -> None:
    anyone = DetectorSettings(mass_exit_min_audience=0, mass_exit_min_users=1)
    assert exits(0, 0, settings=anyone) is None
    assert exits(10, None) is None  # type: ignore[arg-type]
    # With settings that allow it, even a room of one can empty.
    alone = exits(1, 0, settings=anyone)
    assert alone is not None and (alone.severity, alone.score) == (CRITICAL, 1.0)
