"""The cliff rule (SUDDEN_DROP) on hand-made tick counts, with exact verdicts.

The detector's tests show the rules working on noisy rooms; these pin what each rule decides and
says at the edges of its thresholds, so a changed comparison or factor does not go unnoticed.
"""

from __future__ import annotations

from services.core.push_objects import Trigger, TriggerRule
from services.detection.episodes import DetectorSettings, Finding
from services.detection.rules import poisson_z
from tests.activity_room import CRITICAL, SETTINGS, WARNING, busy, score


def rates(usual: float, now: float) -> Trigger:
    """An activity alarm's trigger: chat + reactions a minute, usually and now."""
    return Trigger(TriggerRule.ACTIVITY, usual, now, None)


def test_a_busy_room_going_silent_is_a_cliff_from_its_first_silent_tick() -> None:
    assert busy(10).cliff(0) == Finding(
        CRITICAL,
        "chat and reactions fell from 120/min to 0/min: 0 in the last 5 s where about 10 "
        "were expected",
        score(poisson_z(0, 10, SETTINGS.drop_spread)),
        rates(120, 0),
        on_activity=True,
    )


def test_a_cliff_right_after_the_warm_up_is_judged_against_it() -> None:
    assert busy(10, ticks=6).cliff(0) == busy(10).cliff(0)


def test_four_silent_ticks_are_the_strongest_cliff_the_rule_reports() -> None:
    assert busy(10).cliff(0, 0, 0, 0) == Finding(
        CRITICAL,
        "chat and reactions fell from 120/min to 0/min: 0 in the last 20 s where about 40 "
        "were expected",
        1.0,  # z = -8.2: full strength
        rates(120, 0),
        on_activity=True,
    )
    # A fifth silent tick is no longer a fresh cliff: the slow rules judge a longer silence.
    assert busy(10).cliff(0, 0, 0, 0, 0) is None


def test_a_cliff_leaving_exactly_a_fifth_of_the_expected_count_is_critical() -> None:
    assert busy(10).cliff(0, 0, 0, 8) == Finding(
        CRITICAL,
        "chat and reactions fell from 120/min to 24/min: 8 in the last 20 s where about 40 "
        "were expected",
        score(poisson_z(8, 40, SETTINGS.drop_spread)),
        rates(120, 24),
        on_activity=True,
    )


def test_the_strongest_window_names_the_cliff() -> None:
    # Both are cliffs, and the last tick alone (0 of about 14, z = -5.2) is stronger evidence
    # than the last two (6 of 30, a fifth: z = -5.0).
    assert busy(15).cliff(6, 0) == Finding(
        CRITICAL,
        "chat and reactions fell from 171/min to 0/min: 0 in the last 5 s where about 14 "
        "were expected",
        score(poisson_z(0, 14.25, SETTINGS.drop_spread)),
        rates(171, 0),
        on_activity=True,
    )


def test_a_cliff_is_critical_at_or_below_the_critical_ratio() -> None:
    # By default a cliff leaves at most a fifth, which is critical; an event may set it lower.
    lenient = DetectorSettings(critical_ratio=0.1)
    assert busy(10, settings=lenient).cliff(0, 0, 0, 4) == Finding(
        CRITICAL,
        "chat and reactions fell from 120/min to 12/min: 4 in the last 20 s where about 40 "
        "were expected",
        score(poisson_z(4, 40, SETTINGS.drop_spread)),
        rates(120, 12),
        on_activity=True,
    )
    found = busy(10, settings=lenient).cliff(0, 0, 0, 6)
    assert found is not None and found.severity is WARNING


def test_a_room_already_below_its_baseline_is_expected_to_stay_at_its_recent_level() -> None:
    room = busy(10)
    room.judge(*[8] * 12)
    assert room.cliff(0, 0, 0, 1) == Finding(
        CRITICAL,
        "chat and reactions fell from 96/min to 3/min: 1 in the last 20 s where about 32 "
        "were expected",
        score(poisson_z(1, 32, SETTINGS.drop_spread)),
        rates(96, 3),
        on_activity=True,
    )


def test_a_cliff_needs_the_two_ticks_before_it_near_normal() -> None:
    # 9 of a usual 15 is just near enough (60 %).
    near = busy(15, ticks=21)
    near.judge(9, 9)
    assert near.cliff(0) == Finding(
        CRITICAL,
        "chat and reactions fell from 168/min to 0/min: 0 in the last 5 s where about 14 "
        "were expected",
        score(poisson_z(0, 14, SETTINGS.drop_spread)),
        rates(168, 0),
        on_activity=True,
    )
    # Only those two count: a dip three ticks back leaves a cliff, expected at the minute's mean.
    dipped = busy(15, ticks=20)
    dipped.judge(0, 9, 9)
    found = dipped.cliff(0)
    assert found is not None and "about 13 were expected" in found.why  # 12.75, the dip included


def test_one_silent_tick_is_a_cliff_from_about_nine_and_a_quarter_expected_events() -> None:
    # z <= -4.2 at 0 seen: 2 x expected / (1 + 0.005 x expected) >= 4.2^2.
    assert busy(9.5).cliff(0) == Finding(
        CRITICAL,
        "chat and reactions fell from 114/min to 0/min: 0 in the last 5 s where about 10 "
        "were expected",
        score(poisson_z(0, 9.5, SETTINGS.drop_spread)),
        rates(114, 0),
        on_activity=True,
    )
    assert busy(9).cliff(0) is None
    assert busy(7).cliff(0, 0) is not None  # two ticks of 7 are enough


def test_a_cliff_needs_at_least_eight_expected_events() -> None:
    # Twice as sensitive, z <= -2.1 is enough, and the expected count decides.
    eager = DetectorSettings(sensitivity=2.0)
    assert busy(8, settings=eager).cliff(0) is not None
    assert busy(7.9, settings=eager).cliff(0) is None


def test_a_z_exactly_at_the_threshold_is_a_cliff() -> None:
    exact = DetectorSettings(drop_z=-poisson_z(0, 10, SETTINGS.drop_spread))
    assert busy(10, settings=exact).cliff(0) is not None


def test_a_more_sensitive_event_flags_smaller_cliffs() -> None:
    assert busy(5).cliff(0) is None  # 5 expected: too few to judge at all
    eager = DetectorSettings(sensitivity=2.0, min_expected=4.0)
    strict = DetectorSettings(sensitivity=0.5, min_expected=4.0)
    found = busy(5, settings=eager).cliff(0)
    assert found is not None and found.score == score(poisson_z(0, 5, SETTINGS.drop_spread))
    assert busy(5, settings=strict).cliff(0) is None
    assert busy(50, settings=strict).cliff(0) is not None  # z <= -8.4


def test_a_tiny_room_is_judged_over_longer_windows_that_must_fall_deeper() -> None:
    # Two events a tick: four ticks to expect eight, so windows of up to eight ticks.
    assert busy(2.0).cliff(0, 0, 0, 0, 0) == Finding(
        CRITICAL,
        "chat and reactions fell from 24/min to 0/min: 0 in the last 25 s where about 10 "
        "were expected",
        score(poisson_z(0, 10, SETTINGS.drop_spread)),
        rates(24, 0),
        on_activity=True,
    )
    # Nine silent ticks: the longest window, eight ticks, names it.
    found = busy(2.0).cliff(*[0] * 9)
    assert found is not None and "in the last 40 s" in found.why
    # 3 events in 40 s where 20 were expected (15 %): deep enough in a short window, not a long.
    quiet = busy(2.5)
    assert quiet.cliff(0, 0, 0, 0, 0, 1, 1, 1) is None


def test_a_long_silence_in_a_tiny_room_is_a_cliff_even_when_it_ends_with_a_few_events() -> None:
    # 1.4 events a tick: a 6-tick window, so cliffs of up to 12 ticks; 2 events in the last
    # minute where about 17 were expected is a deep enough fall for the longest.
    assert busy(1.4).cliff(*[0] * 11, 2) == Finding(
        CRITICAL,
        "chat and reactions fell from 17/min to 2/min: 2 in the last 60 s where about 17 "
        "were expected",
        score(poisson_z(2, 12 * 1.4, SETTINGS.drop_spread)),
        rates(16.8, 2),
        on_activity=True,
    )


def test_a_steady_room_has_no_cliff() -> None:
    assert busy(10).cliff(10) is None
    assert busy(10).cliff(9, 8) is None
