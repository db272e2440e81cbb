"""The attention signal in detection (#17): viewers looking away reveal a sudden drop that
chat and reactions, a few a minute in a small room, cannot show yet."""

from __future__ import annotations

import random

import pytest

from services.core.push_objects import TriggerRule
from services.core.vocabulary import AnomalyType, Severity
from services.detection.attention_watch import AttentionSettings, AttentionWatch
from services.detection.detector import SessionDetector
from services.detection.episodes import AnomalyEnded, AnomalyStarted, DetectorSettings
from services.ingest.windows import SessionSignals

TICK = 5.0
T0 = 1_800_000_000.0


def watch_through(watch: AttentionWatch, looking: list[int], room: int) -> list[object]:
    found = []
    for n in looking:
        found.append(watch.check(n / room, room))
        watch.learn(frozen=False)
    return found


def test_nothing_is_judged_before_a_usual_level_or_without_enough_viewers() -> None:
    watch = AttentionWatch()
    assert watch_through(watch, [9, 9, 9, 9, 9, 1], 10) == [None] * 6  # not warm yet
    assert watch.check(None, 0) is None and watch.recovered() is None
    assert watch.check(0.0, 4) is None  # four viewers: one turning away is a quarter


def test_a_room_looking_away_at_once_is_a_drop_in_one_tick() -> None:
    watch = AttentionWatch()
    watch_through(watch, [9] * 10, 10)
    found = watch.check(0.2, 10)
    assert found is not None and found.severity is Severity.CRITICAL
    assert (found.usual, found.now) == (pytest.approx(0.9), 0.2)
    assert found.trigger.rule == TriggerRule.ATTENTION
    assert found.why == "viewers looking at the session fell from 90% to 20%"
    assert watch.recovered() is False
    watch.learn(frozen=True)  # the drop does not become the usual level
    assert watch.usual == pytest.approx(0.9)
    watch.check(0.8, 10)
    assert watch.recovered() is True


def test_a_fall_that_chance_could_explain_once_must_hold_for_two_ticks() -> None:
    watch = AttentionWatch()
    watch_through(watch, [9] * 10, 10)
    # 5 of 10 where 9 of 10 look: 1 in 600 by chance; not enough alone.
    first = watch.check(0.5, 10)
    assert first is None
    watch.learn(frozen=False)
    second = watch.check(0.5, 10)
    assert second is not None and second.severity is Severity.WARNING
    # One unlikely tick after an ordinary one is not two.
    calm = AttentionWatch()
    watch_through(calm, [9] * 10 + [7], 10)
    assert calm.check(0.5, 10) is None


def test_a_big_rooms_small_dip_is_no_drop_however_certain() -> None:
    watch = AttentionWatch()
    watch_through(watch, [850] * 10, 1000)
    assert watch.check(0.78, 1000) is None  # certain, but no sudden drop
    assert watch.check(0.5, 1000) is not None


@pytest.mark.parametrize("seed", range(5))
def test_a_quiet_small_room_raises_no_alarm_in_an_hour(seed: int) -> None:
    rng = random.Random(seed)
    watch = AttentionWatch()
    alarms = 0
    looking = [rng.random() < 0.85 for _ in range(10)]
    for _ in range(720):  # an hour of 5-s ticks; each viewer keeps a state about a tick
        looking = [was if rng.random() < 0.2 else rng.random() < 0.85 for was in looking]
        alarms += watch.check(sum(looking) / 10, 10) is not None
        watch.learn(frozen=False)
    assert alarms == 0


def signals(looking: int, room: int = 10, chat: int = 1) -> SessionSignals:
    return SessionSignals(
        chat_msgs_per_min=12.0 * chat,
        poll_participation=0.0,
        active_users=room // 2,
        total_users=room,
        reactions_per_min=0.0,
        user_leave_rate=0.0,
        poll_active=False,
        chat_in_tick=chat,
        reactions_in_tick=0,
        attention={"active": looking, "hidden": room - looking},
    )


def test_attention_alone_reveals_a_drop_in_a_ten_person_room_within_ten_seconds() -> None:
    detector = SessionDetector("s", DetectorSettings(tick_seconds=TICK))
    t = T0
    for _ in range(60):  # five quiet minutes: a chat line a tick, nine of ten looking
        assert not detector.update(t, 0.5, signals(9))
        t += TICK
    dropped_at = t
    started = []
    while not started and t < dropped_at + 60:
        started = [x for x in detector.update(t, 0.5, signals(2)) if isinstance(x, AnomalyStarted)]
        t += TICK
    assert started, "no drop flagged"
    (event,) = started
    assert event.type is AnomalyType.SUDDEN_DROP
    assert event.at - dropped_at <= 10.0
    # Chat never fell: the episode lasts while the room looks away, and ends when it looks back.
    for _ in range(6):
        assert not any(isinstance(x, AnomalyEnded) for x in detector.update(t, 0.5, signals(2)))
        t += TICK
    ended = []
    while not ended and t < dropped_at + 600:
        ended = [x for x in detector.update(t, 0.5, signals(9)) if isinstance(x, AnomalyEnded)]
        t += TICK
    assert ended and ended[0].recovered


def test_viewers_drifting_away_over_minutes_are_no_sudden_drop() -> None:
    """A gradual decline's viewers look away a few at a time: the activity rules type that."""
    watch = AttentionWatch()
    watch_through(watch, [180] * 24, 200)
    drifting = [180 - 4 * i for i in range(1, 30)]  # 90 % to 32 % over two and a half minutes
    assert watch_through(watch, drifting, 200) == [None] * len(drifting)
    # The same fall at once is one.
    sudden = AttentionWatch()
    watch_through(sudden, [180] * 24, 200)
    assert sudden.check(64 / 200, 200) is not None


# -- the watch's boundaries, each at an exact value --------------------------------------------

EXACT = AttentionSettings(baseline_ticks=3, warm_ticks=3, min_fall=0.25)


def warmed(settings: AttentionSettings = EXACT, share: float = 1.0) -> AttentionWatch:
    watch = AttentionWatch(settings)
    for _ in range(max(settings.baseline_ticks, settings.sudden_ticks)):
        watch.check(share, 1000)
        watch.learn(frozen=False)
    return watch


def test_the_usual_level_is_the_mean_of_the_last_baseline_ticks_only() -> None:
    watch = AttentionWatch(EXACT)
    watch.learn(frozen=False)  # before any tick: nothing to learn
    for share in (0.6, 0.6, 0.6, 0.5, 0.5, 0.5):
        watch.check(share, 1000)
        watch.learn(frozen=False)
    assert watch.usual == pytest.approx(0.5)


def test_five_reporting_viewers_are_judged_and_four_are_not() -> None:
    watch = warmed()
    assert watch.check(0.0, 4) is None and watch.recovered() is None
    watch = warmed()
    assert watch.check(0.0, 5) is not None


@pytest.mark.parametrize(
    ("settings", "now", "flagged"),
    [
        (EXACT, 0.75, True),  # exactly 0.25 below and exactly 75 % of usual: a drop
        (EXACT, 0.76, False),  # less than the smallest fall
        (AttentionSettings(baseline_ticks=3, warm_ticks=3, min_fall=0.0), 0.8, False),
        (AttentionSettings(baseline_ticks=3, warm_ticks=3, min_fall=0.3), 0.72, False),
    ],
)
def test_a_drop_must_be_both_large_and_far_enough_below_usual(
    settings: AttentionSettings, now: float, flagged: bool
) -> None:
    assert (warmed(settings).check(now, 1000) is not None) is flagged


def test_a_small_usual_level_that_halves_is_no_drop_if_it_falls_too_little() -> None:
    watch = warmed(AttentionSettings(baseline_ticks=3, warm_ticks=3), share=0.2)
    assert watch.check(0.1, 1000) is None  # half, but 0.1 below: not the smallest fall


def test_critical_at_exactly_its_ratio_and_recovered_at_exactly_its_own() -> None:
    found = warmed().check(0.4, 1000)
    assert found is not None and found.severity is Severity.CRITICAL
    watch = warmed()
    watch.check(0.85, 1000)
    assert watch.recovered() is True
    watch.check(0.84, 1000)
    assert watch.recovered() is False


def test_sudden_means_near_usual_exactly_sudden_ticks_ago() -> None:
    """`sudden_ticks` (4) ago at 85 % of usual is still near it; 3 ticks ago does not count."""
    watch = warmed()
    for share in (0.85, 0.7, 0.7, 0.7):  # no tick here is a drop yet (0.7: too little)
        watch.check(share, 1000)
    assert watch.check(0.2, 1000) is not None
    watch = warmed()
    for share in (0.84, 0.9, 0.9, 0.9):
        watch.check(share, 1000)
    assert watch.check(0.2, 1000) is None  # 4 ticks ago it had already slipped


def test_without_learning_a_drift_is_never_sudden() -> None:
    watch = warmed(share=0.9)
    drift = [0.9 - 0.02 * i for i in range(1, 35)]
    assert [watch.check(share, 1000) for share in drift] == [None] * len(drift)
