"""The activity and mass-exit rules on hand-made tick counts, with exact verdicts.

The detector's tests show the rules working on noisy rooms; these pin what each rule decides and
says at the edges of its thresholds, so a changed comparison or factor does not go unnoticed.
"""

from __future__ import annotations

import math
from collections.abc import Collection

import pytest

from services.core.vocabulary import AnomalyType, Severity
from services.detection.episodes import DetectorSettings, Finding
from services.detection.rules import ActivityRules, MassExitRule, poisson_z

SETTINGS = DetectorSettings()
LOW, GRADUAL = AnomalyType.LOW_ENGAGEMENT, AnomalyType.GRADUAL_DECLINE
CRITICAL, WARNING = Severity.CRITICAL, Severity.WARNING
Verdict = tuple[Finding | None, dict[AnomalyType, Finding]]


class Room:
    """Activity rules fed one 5-s tick at a time, in the detector's order: push, judge, learn."""

    def __init__(self, settings: DetectorSettings = SETTINGS) -> None:
        self.rules = ActivityRules(settings)
        self.now = 0.0

    def _tick(self, count: float, frozen: bool, open_types: Collection[AnomalyType]) -> Verdict:
        rules = self.rules
        self.now += 5.0
        rules.push(count)
        verdict = (rules.sudden(), rules.slow(self.now, open_types))
        rules.learn(count, frozen=frozen)
        return verdict

    def learnt(self, *counts: float) -> Room:
        """Ticks that become the baseline."""
        for count in counts:
            self._tick(count, False, ())
        return self

    def judge(self, *counts: float, open_types: Collection[AnomalyType] = ()) -> list[Verdict]:
        """Ticks judged against a baseline that holds still, as it does while an episode is open."""
        return [self._tick(count, True, open_types) for count in counts]

    def cliff(self, *counts: float) -> Finding | None:
        return self.judge(*counts)[-1][0]


def busy(per_tick: float = 10.0, ticks: int = 20, settings: DetectorSettings = SETTINGS) -> Room:
    return Room(settings).learnt(*[per_tick] * ticks)


def score(z: float) -> float:
    return min(1.0, -z / 8.0)


# ----------------------------------------------------------------------------------- poisson_z


def test_poisson_z_is_the_signed_likelihood_ratio_of_a_count() -> None:
    assert poisson_z(0, 10) == -math.sqrt(20)
    assert poisson_z(1, 10) == -math.sqrt(2 * (math.log(0.1) + 9))
    assert poisson_z(20, 10) == math.sqrt(2 * (20 * math.log(2) - 10))
    assert poisson_z(10, 10) == 0.0
    assert poisson_z(0, 0.5) == -1.0  # a small expectation still counts
    assert poisson_z(3, 0) == 0.0 and poisson_z(3, -1) == 0.0  # nothing expected: no evidence


def test_poisson_z_is_judged_against_the_rooms_mood_as_well_as_counting_noise() -> None:
    assert poisson_z(0, 10, spread=0.1) == -math.sqrt(20 / 2)


# -------------------------------------------------------------------------------- the baseline


def test_the_baseline_is_the_first_count_then_a_running_mean_then_a_five_minute_mean() -> None:
    rules = Room().learnt(10).rules
    assert rules.base == 10
    rules = Room().learnt(10, 20).rules
    assert rules.base == 15
    assert busy(10, ticks=100).learnt(13).rules.base == pytest.approx(10 + 3 / 60)


def test_applause_is_clipped_before_it_is_learnt() -> None:
    # Counted as at most twice the baseline and 3 more.
    assert busy(10, ticks=100).learnt(100).rules.base == pytest.approx(10 + (2 * 10 + 3 - 10) / 60)


def test_a_visibly_low_room_is_learnt_four_times_slower_once_warm() -> None:
    # Warm-up (6 ticks): a plain mean, even of a sudden dip.
    assert Room().learnt(10, 0).rules.base == 5
    # From the 7th tick, a level under 80 % of the baseline moves it a quarter as fast.
    room = Room().learnt(20, 20, 0, 0, 0, 0)
    assert room.rules.base == pytest.approx(40 / 6)
    assert room.learnt(0).rules.base == pytest.approx(40 / 6 * (1 - 0.25 / 7))


def test_a_level_of_exactly_four_fifths_of_the_baseline_is_not_low() -> None:
    room = busy(10, ticks=20)
    room.judge(8, 8, 8, 8, 8)
    assert room.learnt(8).rules.base == pytest.approx(10 - 2 / 21)  # at full speed, 1/21


def test_a_normal_level_is_learnt_at_full_speed() -> None:
    assert busy(10, ticks=20).learnt(12).rules.base == pytest.approx(10 + 2 / 21)


def test_the_baseline_is_trusted_after_the_warm_up_and_frozen_ticks_do_not_count() -> None:
    room = Room().learnt(*[10] * 5)
    assert not room.rules.warm
    room.judge(10, 10)
    assert (room.rules.n, room.rules.warm) == (5, False)
    room.learnt(10)
    assert (room.rules.n, room.rules.warm, room.rules.latest) == (6, True, 10)


def test_a_baseline_not_yet_warm_judges_no_cliff_however_many_ticks_were_seen() -> None:
    room = Room().learnt(10, 10, 10)
    room.judge(*[10] * 20)
    assert room.cliff(0) is None


def test_rebase_forgets_the_baseline_and_the_history() -> None:
    rules = busy(10).rules
    rules.rebase()
    assert (rules.base, rules.n, rules.warm, rules.latest, rules.level()) == (0, 0, False, 0, 0)
    assert (rules.window(), rules.ratio_now(), rules.recovered()) == (0, 1.0, False)


def test_the_history_keeps_the_longest_window_and_the_minute_before_it() -> None:
    rules = Room().learnt(*range(1, 41)).rules
    kept = 2 * SETTINGS.max_window_ticks + 1
    assert rules.level(1000) == sum(range(41 - kept, 41)) / kept


@pytest.mark.parametrize(
    ("per_tick", "window"),
    [(10.0, 1), (2.0, 4), (0.8, 10), (0.7, 12), (0.5, 0), (0.0, 0)],
)
def test_a_room_is_tested_over_the_ticks_it_takes_to_expect_eight_events(
    per_tick: float, window: int
) -> None:
    assert busy(per_tick).rules.window() == window


def test_level_is_the_mean_of_the_newest_ticks() -> None:
    assert Room().rules.level() == 0.0
    rules = Room().learnt(*[10] * 10, 4, 4, 4, 4, 4, 1).rules
    assert rules.level() == 21 / 6  # the slow rules' window: here the 6-tick warm-up
    assert rules.level(2) == 2.5
    assert rules.level(100) == 121 / 16


def test_ratio_now_and_recovery_over_the_short_window() -> None:
    assert busy(0.0).rules.ratio_now() == 1.0  # no baseline: nothing to compare with
    assert not busy(0.0).rules.recovered()
    room = Room().learnt(10, 10, 10)
    room.judge(2)
    assert room.rules.ratio_now() == 32 / 40  # 4 ticks are enough to judge by
    assert room.rules.recovered()
    room = busy(10)
    room.judge(7, 7, 7, 7)
    assert room.rules.ratio_now() == pytest.approx(0.7)
    assert room.rules.recovered()  # exactly the recovery ratio is recovered
    room.judge(6.9)
    assert not room.rules.recovered()
    tiny = busy(0.8)
    assert tiny.rules.recovered()  # a room of under one event a tick can recover too


def test_a_room_with_fewer_ticks_than_the_short_window_has_not_recovered() -> None:
    room = Room().learnt(10, 10)
    room.judge(10)
    assert (room.rules.recovered(), room.rules.ratio_now()) == (False, 1.0)


# ------------------------------------------------------------------------------------- cliffs


def test_a_busy_room_going_silent_is_a_cliff_from_its_first_silent_tick() -> None:
    assert busy(10).cliff(0) == Finding(
        CRITICAL,
        "chat and reactions fell from 120/min to 0/min: 0 in the last 5 s where about 10 "
        "were expected",
        score(poisson_z(0, 10, SETTINGS.drop_spread)),
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
        on_activity=True,
    )


def test_the_strongest_window_names_the_cliff() -> None:
    # The last tick alone (0 of about 9.5) is stronger evidence than the last two (4 of 20).
    assert busy(10).cliff(4, 0) == Finding(
        CRITICAL,
        "chat and reactions fell from 114/min to 0/min: 0 in the last 5 s where about 10 "
        "were expected",
        score(poisson_z(0, 9.5, SETTINGS.drop_spread)),
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
        on_activity=True,
    )


def test_a_cliff_needs_the_two_ticks_before_it_near_normal() -> None:
    # 6 of a usual 10 is just near enough (60 %).
    near = busy(10, ticks=21)
    near.judge(6, 6)
    assert near.cliff(0) == Finding(
        CRITICAL,
        "chat and reactions fell from 112/min to 0/min: 0 in the last 5 s where about 9 "
        "were expected",
        score(poisson_z(0, 28 / 3, SETTINGS.drop_spread)),
        on_activity=True,
    )
    # Only those two count: a dip three ticks back leaves a cliff, expected at the minute's mean.
    dipped = busy(10, ticks=20)
    dipped.judge(0, 6, 6)
    found = dipped.cliff(0)
    assert found is not None and "about 8 were expected" in found.why  # 8.5, the dip included


def test_a_cliff_needs_at_least_eight_expected_events() -> None:
    assert busy(8).cliff(0) == Finding(
        CRITICAL,
        "chat and reactions fell from 96/min to 0/min: 0 in the last 5 s where about 8 "
        "were expected",
        score(poisson_z(0, 8, SETTINGS.drop_spread)),
        on_activity=True,
    )
    assert busy(7).cliff(0) is None
    assert busy(7).cliff(0, 0) is not None  # two ticks of 7 are enough


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
    assert busy(40, settings=strict).cliff(0) is not None


def test_a_tiny_room_is_judged_over_longer_windows_that_must_fall_deeper() -> None:
    # Two events a tick: four ticks to expect eight, so windows of up to eight ticks.
    assert busy(2.0).cliff(0, 0, 0, 0, 0) == Finding(
        CRITICAL,
        "chat and reactions fell from 24/min to 0/min: 0 in the last 25 s where about 10 "
        "were expected",
        score(poisson_z(0, 10, SETTINGS.drop_spread)),
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
        on_activity=True,
    )


def test_a_steady_room_has_no_cliff() -> None:
    assert busy(10).cliff(10) is None
    assert busy(10).cliff(9, 8) is None


# -------------------------------------------------------------------- slow falls and low rooms


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
            on_activity=True,
        )
    }


def test_a_slow_slide_is_a_gradual_decline_after_two_ticks_below_the_line() -> None:
    counts = (9, 9, 8, 8, 7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2)
    slow = [found for _, found in busy(10).judge(*counts)]
    # Last normal (>= 85 %) at the 5th tick; declining (significant, <= 62 %) from the 13th,
    # 40 s later; the second declining tick fires.
    assert slow[:13] == [{}] * 13
    z = poisson_z(24, 60, SETTINGS.mood_spread)
    assert slow[13] == {
        GRADUAL: Finding(
            CRITICAL,  # at 40 % of normal: twice the critical ratio
            "activity has been sliding: 48 chat messages and reactions a minute against a "
            "usual 120 (-60%)",
            score(z),
            on_activity=True,
        )
    }
    assert slow[14][GRADUAL].severity is CRITICAL


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
    settings = DetectorSettings(baseline_ticks=1, decline_z=1.0)
    room = busy(0.7, ticks=12, settings=settings)
    room.judge(*[0] * 12, open_types={GRADUAL})
    room.learnt(0, 1, 1)  # too quiet, then judged again: 2 events in 11 ticks against 8
    assert room.rules.window() == 11
    (_, first_tick), (_, second_tick) = room.judge(0, 0, open_types={GRADUAL})
    assert first_tick == {}  # its low time starts now, and its slide has one tick
    assert set(second_tick) == {GRADUAL}


def test_a_decline_interrupted_needs_two_ticks_below_the_line_again() -> None:
    counts = (9, 9, 8, 8, 7, 7, 6, 6, 5, 5, 4, 4, 3)
    room = busy(10)
    room.judge(*counts)
    assert room.judge(10)[0][1] == {}  # not declining: the run starts again
    assert GRADUAL not in room.judge(2)[0][1]
    assert GRADUAL in room.judge(2)[0][1]


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
        (1.0, SLIDE, GRADUAL, 14),
        (0.8, SLIDE, GRADUAL, 16),
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
    sure = DetectorSettings(decline_z=0.1)  # any shortfall is significant here
    assert (LOW in busy(10, settings=sure).judge(*[count] * 12)[-1][1]) is low


def test_the_critical_line_of_low_engagement_is_inclusive() -> None:
    sure = DetectorSettings(decline_z=0.1)
    found = busy(10, settings=sure).judge(*[2] * 12)[-1][1][LOW]
    assert (found.severity, found.why.endswith("(20% of normal)")) == (CRITICAL, True)


def test_a_z_exactly_at_the_slow_threshold_is_significant() -> None:
    exact = DetectorSettings(decline_z=-poisson_z(0, 60, SETTINGS.mood_spread))
    assert LOW in busy(10, settings=exact).judge(*[0] * 12)[-1][1]


# ---------------------------------------------------------------------------------- mass exit


def exits(*present: int, settings: DetectorSettings = SETTINGS) -> Finding | None:
    """MASS_EXIT's verdict on the last head count, after the ones before it."""
    rule = MassExitRule(settings)
    for count in present[:-1]:
        rule.push(count)
    return rule.check(present[-1])


def test_a_fifth_of_the_room_leaving_within_three_ticks_is_a_mass_exit() -> None:
    assert exits(15, 15, 15, 12) == Finding(
        WARNING, "3 of 15 people left in 15 s (20% of the room)", 0.4
    )
    assert exits(100, 85) is None
    assert exits(100, 85, settings=DetectorSettings(sensitivity=2.0)) is not None


def test_a_mass_exit_needs_three_leavers_and_a_room_of_eight() -> None:
    assert exits(8, 5) == Finding(WARNING, "3 of 8 people left in 5 s (38% of the room)", 0.75)
    assert exits(7, 4) is None
    assert exits(100, 95) is None  # 5 % of a big room
    assert exits(10, 8) is None  # 20 %, but only two people


def test_two_fifths_leaving_is_critical_and_more_than_half_is_full_strength() -> None:
    assert exits(10, 6) == Finding(CRITICAL, "4 of 10 people left in 5 s (40% of the room)", 0.8)
    assert exits(10, 2) == Finding(CRITICAL, "8 of 10 people left in 5 s (80% of the room)", 1.0)


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
