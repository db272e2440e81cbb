"""The slow rules (LOW_ENGAGEMENT and GRADUAL_DECLINE) on hand-made tick counts, with exact
verdicts.

The detector's tests show the rules working on noisy rooms; these pin what each rule decides and
says at the edges of its thresholds, so a changed comparison or factor does not go unnoticed.
"""

from __future__ import annotations

import pytest

from services.core.push_objects import Trigger, TriggerRule
from services.core.vocabulary import AnomalyType
from services.detection.episodes import DetectorSettings, Finding
from services.detection.rules import poisson_z
from tests.activity_room import (
    CRITICAL,
    GRADUAL,
    LOW,
    SETTINGS,
    WARNING,
    Room,
    Verdict,
    busy,
    score,
)


def rates(usual: float, now: float) -> Trigger:
    """An activity alarm's trigger: chat + reactions a minute, usually and now."""
    return Trigger(TriggerRule.ACTIVITY, usual, now, None)


def test_a_long_silence_is_low_engagement_after_thirty_seconds_and_not_a_slide() -> None:
    verdicts = busy(10).judge(*[0] * 11)
    slow = [found for _, found in verdicts]
    # Significant from the 4th silent tick (the 30-s mean is a third of normal); held 30 s.
    assert slow[:9] == [{}] * 9
    assert slow[9] == {
        LOW: Finding(
            CRITICAL,
            "activity has stayed low for 30 s: 0 chat messages and reactions a minute against "
            "a usual 120 (0% of normal)",
            1.0,
            rates(120, 0),
            on_activity=True,
        )
    }
    assert set(slow[10]) == {LOW}  # fell in 20 s: too fast for a gradual decline


def test_a_room_holding_at_under_half_its_level_is_a_low_engagement_warning() -> None:
    slow = [found for _, found in busy(10).judge(*[3] * 11)]
    assert slow[:10] == [{}] * 10
    assert slow[10] == {
        LOW: Finding(
            WARNING,
            "activity has stayed low for 30 s: 36 chat messages and reactions a minute against "
            "a usual 120 (30% of normal)",
            0.7,
            rates(120, 36),
            on_activity=True,
        )
    }


def test_a_slow_slide_is_a_gradual_decline_after_two_ticks_below_the_line() -> None:
    counts = (9, 9, 8, 8, 7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1)
    slow = [found for _, found in busy(10).judge(*counts)]
    # Last normal (>= 85 %) at the 5th tick; declining (significant at z <= -3.5, <= 62 %)
    # from the 15th, 50 s later; the second declining tick fires.
    assert slow[:15] == [{}] * 15
    z = poisson_z(18, 60, SETTINGS.mood_spread)
    assert slow[15] == {
        GRADUAL: Finding(
            CRITICAL,  # at 30 % of normal: under twice the critical ratio
            "activity has been sliding: 36 chat messages and reactions a minute against a "
            "usual 120 (-70%)",
            score(z),
            rates(120, 36),
            on_activity=True,
        )
    }
    assert slow[16][GRADUAL].severity is CRITICAL


def test_a_slide_at_exactly_twice_the_critical_ratio_is_critical() -> None:
    # At z <= -3 the same slide is called at the 14th tick, 24 of 60 in 30 s: 40 % of normal.
    counts = (9, 9, 8, 8, 7, 7, 6, 6, 5, 5, 4, 4, 3, 3)
    eager = DetectorSettings(decline_z=3.0)
    found = busy(10, settings=eager).judge(*counts)[-1][1][GRADUAL]
    assert (found.severity, found.why.endswith("(-60%)")) == (CRITICAL, True)


def first(kind: AnomalyType, verdicts: list[Verdict]) -> int | None:
    """The 1-based tick at which the slow rules first report `kind`."""
    return next((i + 1 for i, (_, slow) in enumerate(verdicts) if kind in slow), None)


STEPS = (45, 45, 45, 45, 45, 40, 40, 40, 35, 35, 35, 30, 30, 30, 25, 25, 25)


def test_a_gradual_decline_above_twice_the_critical_level_is_a_warning() -> None:
    # Without mood noise a big room's slide is significant sooner: under 62 % of normal 35 s
    # after its last tick at 85 % or more, so it fires on the next tick.
    no_mood = DetectorSettings(mood_spread=0.0)
    verdicts = busy(50, settings=no_mood).judge(*STEPS)
    assert first(GRADUAL, verdicts) == 16
    assert verdicts[15][1][GRADUAL] == Finding(
        WARNING,
        "activity has been sliding: 350 chat messages and reactions a minute against a usual "
        "600 (-42%)",
        score(poisson_z(175, 300, 0.0)),
        rates(600, 350),
        on_activity=True,
    )
    assert verdicts[16][1][GRADUAL].score == 1.0  # z = -8.5: full strength
    # Twice as sensitive, the line is at 81 %: crossed within 35 s of normal, a fast fall.
    eager = DetectorSettings(mood_spread=0.0, sensitivity=2.0)
    assert first(GRADUAL, busy(50, settings=eager).judge(*STEPS)) is None
    # Half as sensitive, the line is at 24 %: the slide is called once it gets there.
    quiet = DetectorSettings(mood_spread=0.0, sensitivity=0.5)
    further = (*STEPS, 20, 20, 15, 15, 10, 10, 5, 5, 0, 0)
    assert first(GRADUAL, busy(50, settings=quiet).judge(*further)) == 26


def test_the_decline_line_and_the_normal_line_are_inclusive() -> None:
    no_mood = DetectorSettings(mood_spread=0.0)
    # 186 of 300 is exactly 62 %: declining (an open slide goes on whatever the speed).
    exact = busy(50, settings=no_mood).judge(*[31] * 8, open_types={GRADUAL})
    assert first(GRADUAL, exact) == 7
    # 255 of 300 is exactly 85 %: still normal, so the crossing 30 s later is too fast a fall.
    counts = (5, 37, 37, 37, 37, 37, 1, 37, 37)
    assert first(GRADUAL, busy(50, settings=no_mood).judge(*counts)) is None


def test_a_room_too_quiet_to_judge_starts_its_slide_afresh_when_judged_again() -> None:
    # A room of 0.7 events a tick, learning fast, drops under the 8-in-12-ticks line and back.
    settings = DetectorSettings(baseline_ticks=1, decline_z=1.0, low_z=1.0)
    room = busy(0.7, ticks=12, settings=settings)
    room.judge(*[0] * 12, open_types={GRADUAL})
    room.learnt(0, 1, 1)  # too quiet, then judged again: 2 events in 11 ticks against 8
    assert room.rules.window() == 11
    (_, first_tick), (_, second_tick) = room.judge(0, 0, open_types={GRADUAL})
    assert first_tick == {}  # its low time starts now, and its slide has one tick
    assert set(second_tick) == {GRADUAL}


def test_a_decline_interrupted_needs_two_ticks_below_the_line_again() -> None:
    counts = (9, 9, 8, 8, 7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2)  # the 15th tick is declining
    room = busy(10)
    room.judge(*counts)
    assert room.judge(10)[0][1] == {}  # not declining: the run starts again
    assert GRADUAL not in room.judge(1)[0][1]
    assert GRADUAL in room.judge(1)[0][1]


def test_an_open_gradual_decline_goes_on_whatever_the_speed() -> None:
    # The silence fell too fast to be a slide, but an open slide stays one.
    slow = [found for _, found in busy(10).judge(*[0] * 6, open_types={GRADUAL})]
    assert GRADUAL not in slow[3] and GRADUAL in slow[4]
    assert slow[4][GRADUAL].why.endswith("(-83%)")


def test_the_slow_rules_wait_for_two_warm_ups_of_learning() -> None:
    early = Room().learnt(*[10] * 8)
    assert all(found == {} for _, found in early.judge(*[0] * 12))
    ready = Room().learnt(*[10] * 12)
    assert LOW in ready.judge(*[0] * 10)[-1][1]


def test_a_room_that_never_spoke_never_alarms() -> None:
    room = busy(0.0)
    assert room.judge(0, 0, 0) == [(None, {})] * 3


SLIDE = (9, 9, 8, 8, 7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1)


@pytest.mark.parametrize(
    ("sensitivity", "counts", "kind", "tick"),
    [
        (1.0, [4] * 20, LOW, 12),
        # Twice as sensitive: significant at z <= -1.5, and low after 15 s rather than 30.
        (2.0, [4] * 20, LOW, 9),
        (0.8, [4] * 20, LOW, None),
        (1.0, SLIDE, GRADUAL, 16),
        (0.8, SLIDE, GRADUAL, 18),
        # Its decline line is at 81 % rather than 62 %: crossed 15 s after the last normal tick,
        # too fast for a gradual decline.
        (2.0, SLIDE, GRADUAL, None),
    ],
)
def test_the_slow_rules_follow_the_events_sensitivity(
    sensitivity: float, counts: list[float], kind: AnomalyType, tick: int | None
) -> None:
    settings = DetectorSettings(sensitivity=sensitivity)
    assert first(kind, busy(10, settings=settings).judge(*counts)) == tick


@pytest.mark.parametrize(("count", "low"), [(4.5, True), (4.52, False)])
def test_the_low_line_is_inclusive(count: float, low: bool) -> None:
    sure = DetectorSettings(low_z=0.1)  # any shortfall is significant here
    assert (LOW in busy(10, settings=sure).judge(*[count] * 12)[-1][1]) is low


def test_the_critical_line_of_low_engagement_is_inclusive() -> None:
    sure = DetectorSettings(low_z=0.1)
    found = busy(10, settings=sure).judge(*[2] * 12)[-1][1][LOW]
    assert (found.severity, found.why.endswith("(20% of normal)")) == (CRITICAL, True)


def test_a_z_exactly_at_the_slow_thresholds_is_significant() -> None:
    silence = -poisson_z(0, 60, SETTINGS.mood_spread)  # 30 s of nothing where 60 were usual
    held_low = DetectorSettings(low_z=silence)
    assert LOW in busy(10, settings=held_low).judge(*[0] * 12)[-1][1]
    sliding = DetectorSettings(decline_z=silence)
    verdicts = busy(10, settings=sliding).judge(*[0] * 12, open_types={GRADUAL})
    assert GRADUAL in verdicts[-1][1]


def test_a_lull_and_a_slide_are_judged_at_their_own_z() -> None:
    # 27 of 60 in 30 s: z = -3.12, enough for the held-low rule (3.0), not for a slide (3.5).
    verdicts = busy(10).judge(*[4.5] * 12, open_types={GRADUAL})
    assert set(verdicts[-1][1]) == {LOW}
    assert (
        GRADUAL
        in busy(10, settings=DetectorSettings(decline_z=3.1)).judge(
            *[4.5] * 12, open_types={GRADUAL}
        )[-1][1]
    )
