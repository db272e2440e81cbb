"""What the agent has learnt, in a producer's words (#17)."""

from __future__ import annotations

from services.agent.lessons import lessons
from services.agent.thompson import ArmRecord
from services.core.vocabulary import InterventionType

POLL, CHAT = InterventionType.POLL, InterventionType.CHAT_PROMPT
NOTE, GAME = InterventionType.NOTIFICATION, InterventionType.GAMIFICATION


def rec(successes: int, failures: int, delta: float = 0.0, lift: float | None = None) -> ArmRecord:
    """Outcomes whose lifts sum to their changes unless told otherwise."""
    return ArmRecord(successes, failures, delta, lift_sum=delta if lift is None else lift)


def test_the_best_type_of_each_context_in_words_the_most_measured_first() -> None:
    records = {
        ("SUDDEN_DROP|*|lt50|*", CHAT): rec(7, 2, 0.54),
        ("SUDDEN_DROP|*|lt50|*", POLL): rec(2, 3, -0.1),
        ("MASS_EXIT|*|ge50|*", NOTE): rec(1, 2, 0.03),
        ("MASS_EXIT|*|ge50|*", GAME): rec(1, 1, 0.4),  # too few tries to be a lesson
        ("LOW_ENGAGEMENT|*|lt10|*", POLL): rec(3, 0, 0.3),
        # The fine contexts and the anomaly type alone say nothing in words.
        ("SUDDEN_DROP|low|lt50|dev<10%", GAME): rec(9, 0),
        ("SUDDEN_DROP|*|*|*", GAME): rec(9, 0),
    }
    found = lessons(records)
    assert [lesson.words for lesson in found] == [
        "In rooms of 10-49 people after a sudden drop, chat prompts worked 7 of 9 times "
        "(engagement +0.06 on average).",
        "In rooms of 50 people or more after a mass exit, notifications worked 1 of 3 times "
        "(engagement +0.01 on average).",
        "In rooms of fewer than 10 people while engagement was low, polls worked 3 of 3 times "
        "(engagement +0.10 on average).",
    ]
    assert [lesson.measured_here for lesson in found] == [14, 5, 3]
    assert lessons(records, limit=1) == found[:1]
    assert lessons(records, min_attempts=10) == []


def test_a_tie_goes_to_the_better_rate_then_the_type_tried_more_and_odd_keys_are_ignored() -> None:
    records = {
        ("GRADUAL_DECLINE|*|ge50|*", POLL): rec(2, 2, 0.08),
        ("GRADUAL_DECLINE|*|ge50|*", GAME): rec(4, 4, 0.16),
        ("GRADUAL_DECLINE|*|ge50|*", NOTE): rec(1, 3, 0.08),  # as much, less often
        ("NONE|*|lt10|*", CHAT): rec(1, 2),
        ("broken", CHAT): rec(5, 0),
        ("SUDDEN_DROP|*|giant|*", CHAT): rec(5, 0),
        ("NEW_KIND|*|lt10|*", CHAT): rec(5, 0),
    }
    words = [lesson.words for lesson in lessons(records)]
    assert words == [
        "In rooms of 50 people or more in a gradual decline, challenges worked 4 of 8 times "
        "(engagement +0.02 on average).",
        "In rooms of fewer than 10 people with no anomaly open, chat prompts worked 1 of 3 times "
        "(engagement +0.00 on average).",
    ]
    one = lessons({("MASS_EXIT|*|lt10|*", POLL): rec(1, 0, -0.02)}, min_attempts=1)
    assert one[0].words.endswith("polls worked 1 of 1 time (engagement -0.02 on average).")


def test_odd_records_before_good_ones_are_skipped_not_the_end_of_the_list() -> None:
    records = {
        ("broken", CHAT): rec(5, 0),
        ("SUDDEN_DROP|low|lt50|dev<10%", GAME): rec(9, 0),
        ("NEW_KIND|*|lt10|*", CHAT): rec(5, 0),
        ("SUDDEN_DROP|*|lt50|*", "SURPRISE"): rec(5, 0),  # type: ignore[dict-item]
        ("MASS_EXIT|*|lt10|*", POLL): rec(1, 0),  # too few tries: the next still counts
        ("MASS_EXIT|*|ge50|*", POLL): rec(3, 1),
    }
    assert [lesson.words for lesson in lessons(records)] == [
        "In rooms of 50 people or more after a mass exit, polls worked 3 of 4 times "
        "(engagement +0.00 on average).",
    ]


def test_the_best_lifted_engagement_most_not_worked_most_often() -> None:
    # What the sampler judges by: chat prompts worked every time, a little; polls half the
    # time, and by more on average.
    records = {
        ("SUDDEN_DROP|*|ge50|*", POLL): rec(5, 5, 1.0),
        ("SUDDEN_DROP|*|ge50|*", CHAT): rec(3, 0, 0.15),
    }
    (lesson,) = lessons(records)
    assert (lesson.type, lesson.successes, lesson.attempts) == (POLL, 5, 10)
    assert lesson.mean_delta == 0.1


def test_changes_that_read_the_same_are_a_tie_the_better_rate_breaks() -> None:
    # +0.021 and +0.019 both read "+0.02": chat prompts worked more often, in fewer tries.
    records = {
        ("SUDDEN_DROP|*|ge50|*", POLL): rec(3, 7, 0.21),
        ("SUDDEN_DROP|*|ge50|*", CHAT): rec(3, 1, 0.076),
    }
    (lesson,) = lessons(records)
    assert (lesson.type, lesson.successes, lesson.attempts) == (CHAT, 3, 4)


def test_at_most_three_lessons_by_default() -> None:
    records = {
        (f"{kind}|*|{room}|*", POLL): rec(3, 0)
        for kind in ("SUDDEN_DROP", "MASS_EXIT")
        for room in ("lt10", "lt50", "ge50")
    }
    assert len(lessons(records)) == 3


def test_the_best_is_the_sampler_s_by_lift_and_its_words_tell_the_change() -> None:
    # Polls' rooms started low and rose more; chat prompts left their rooms higher over where
    # rooms like these stood, which is what the agent chooses by.
    records = {
        ("SUDDEN_DROP|*|ge50|*", POLL): rec(4, 0, 0.4, lift=0.0),
        ("SUDDEN_DROP|*|ge50|*", CHAT): rec(2, 2, 0.08, lift=0.2),
    }
    (lesson,) = lessons(records)
    assert (lesson.type, lesson.successes, lesson.attempts) == (CHAT, 2, 4)
    assert lesson.words.endswith("chat prompts worked 2 of 4 times (engagement +0.02 on average).")
