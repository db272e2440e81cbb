"""The attention signal in detection (#17): viewers looking away reveal a sudden drop that
chat and reactions, a few a minute in a small room, cannot show yet."""

from __future__ import annotations

import random

import pytest

from services.core.push_objects import TriggerRule
from services.core.vocabulary import AnomalyType, Severity
from services.detection.attention_watch import AttentionWatch
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
