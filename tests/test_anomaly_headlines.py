"""The headline each anomaly episode leads with (components/anomalies.py `headline`): its type,
its severity, and what fell in the numbers of the alarm that set that severity, never the
score's distance from its expected value beside a severity it did not decide.

The browser's copy (assets/live_format.js) is held to the same cases in
tests/browser/test_live_anomalies.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from components.anomalies import UNMEASURED, Headline, headline
from services.core.push_objects import Episode, Trigger, TriggerRule
from services.core.vocabulary import AnomalyType
from services.detection.detector import SessionDetector
from services.detection.episode_log import EpisodeLog, EpisodeOutput
from services.detection.episodes import activity_trigger

ARROW = "\u2192"


def episode(
    kind: Any, severity: str = "WARNING", trigger: Any = None, **rest: Any
) -> dict[str, Any]:
    """An EPISODE dict with what a headline reads; `trigger` left out when None, as old rows."""
    ep = {"type": kind, "severity": severity, **rest}
    if trigger is not None:
        ep["trigger"] = trigger
    return ep


def activity(usual: float, now: float) -> dict[str, Any]:
    return {"rule": "activity", "reference": usual, "value": now, "seconds": None}


def exit_(before: float, after: float, seconds: float) -> dict[str, Any]:
    return {"rule": "exit", "reference": before, "value": after, "seconds": seconds}


def floor(score: float, under: float, seconds: float) -> dict[str, Any]:
    return {"rule": "score", "reference": under, "value": score, "seconds": seconds}


# One case per type (two for LOW_ENGAGEMENT, which two alarms open), as the detector fills them.
HEADLINES = [
    (
        episode("SUDDEN_DROP", "CRITICAL", activity(29.4, 2.4)),
        Headline("Sudden drop", "CRITICAL", f"chat and reactions 29/min {ARROW} 2/min"),
    ),
    (
        # Opened by the attention signal, before chat and reactions showed the fall.
        episode(
            "SUDDEN_DROP",
            "WARNING",
            {"rule": "attention", "reference": 0.8512, "value": 0.3046, "seconds": None},
        ),
        Headline("Sudden drop", "WARNING", f"viewers looking 85% {ARROW} 30%"),
    ),
    (
        episode("GRADUAL_DECLINE", "WARNING", activity(455.8807, 236.0)),
        Headline("Gradual decline", "WARNING", f"chat and reactions 456/min {ARROW} 236/min"),
    ),
    (
        episode("MASS_EXIT", "CRITICAL", exit_(278, 187, 15.0)),
        Headline("Mass exit", "CRITICAL", "91 of 278 left in 15s"),
    ),
    (
        episode("LOW_ENGAGEMENT", "WARNING", activity(120.0, 36.0)),
        Headline("Low engagement", "WARNING", f"chat and reactions 120/min {ARROW} 36/min"),
    ),
    (
        episode("LOW_ENGAGEMENT", "WARNING", floor(0.0549, 0.1, 180.0)),
        Headline("Low engagement", "WARNING", "engagement 0.05, under 0.10 for 3m 00s"),
    ),
]


@pytest.mark.parametrize(("ep", "expected"), HEADLINES)
def test_each_type_says_what_fell_in_numbers_beside_its_severity(
    ep: dict[str, Any], expected: Headline
) -> None:
    assert headline(ep) == expected


def test_every_type_of_the_vocabulary_has_a_headline_and_words_without_numbers() -> None:
    assert {ep["type"] for ep, _ in HEADLINES} == set(AnomalyType)
    assert set(UNMEASURED) == set(AnomalyType)


def test_the_score_against_its_expected_value_is_never_the_headline() -> None:
    # The complaint of issue #14: "Low engagement CRITICAL: 0.66 vs 0.63 expected, +5 %".
    ep = episode(
        "LOW_ENGAGEMENT",
        "CRITICAL",
        activity(120.0, 12.0),
        currentEngagement=0.66,
        expectedEngagement=0.63,
        deviation=0.05,
    )
    assert headline(ep) == Headline(
        "Low engagement", "CRITICAL", f"chat and reactions 120/min {ARROW} 12/min"
    )


ROUNDED_SCORES = [(0.125, "0.13"), (0.0049, "0.00"), (0.005, "0.01"), (0.1, "0.10")]


@pytest.mark.parametrize(("value", "text"), ROUNDED_SCORES)
def test_scores_round_half_up_as_the_browser_does(value: float, text: str) -> None:
    assert headline(episode("LOW_ENGAGEMENT", trigger=floor(value, 0.1, 59.6))).what_fell == (
        f"engagement {text}, under 0.10 for 1m 00s"
    )


def test_counts_and_rates_round_half_up() -> None:
    assert headline(episode("SUDDEN_DROP", trigger=activity(2.5, 0.5))).what_fell == (
        f"chat and reactions 3/min {ARROW} 1/min"
    )
    assert headline(episode("MASS_EXIT", trigger=exit_(10, 2, 4.5))).what_fell == (
        "8 of 10 left in 5s"
    )


# -- episodes without the numbers: stored before triggers were, or from a newer collector ----------


OLD_WORDS = [
    ("SUDDEN_DROP", "chat and reactions fell"),
    ("GRADUAL_DECLINE", "chat and reactions slid"),
    ("MASS_EXIT", "people left"),
    ("LOW_ENGAGEMENT", "activity or the score stayed low"),
]


def old_episode(kind: str) -> dict[str, Any]:
    """Stored before triggers were: the score's numbers, which no alarm judged, and no trigger."""
    return episode(
        kind, "CRITICAL", currentEngagement=0.66, expectedEngagement=0.63, deviation=0.05
    )


@pytest.mark.parametrize(("kind", "words"), OLD_WORDS)
def test_an_old_episode_says_what_its_type_measured_without_numbers(kind: str, words: str) -> None:
    assert headline(old_episode(kind)).what_fell == words
    assert headline({**old_episode(kind), "trigger": None}).what_fell == words


UNREADABLE = [
    {"rule": "activity", "reference": None, "value": 2.0, "seconds": None},
    {"rule": "activity", "reference": 29.0, "value": "2", "seconds": None},
    {"rule": "activity", "reference": True, "value": 2.0, "seconds": None},
    {"rule": "exit", "reference": 278, "value": 187, "seconds": None},
    {"rule": "score", "reference": 0.1, "value": 0.05, "seconds": None},
    {"rule": "applause", "reference": 1.0, "value": 2.0, "seconds": 5.0},  # a newer rule
    {"reference": 1.0, "value": 2.0},
    "activity",
]


@pytest.mark.parametrize("trigger", UNREADABLE)
def test_numbers_a_headline_cannot_read_fall_back_to_the_types_words(trigger: Any) -> None:
    assert headline(episode("MASS_EXIT", trigger=trigger)).what_fell == "people left"


def test_numbers_no_json_can_carry_fall_back_too() -> None:
    # NaN and infinity reach no browser (JSON has neither), but a Python caller may pass them.
    for bad in (float("nan"), float("inf")):
        assert headline(episode("MASS_EXIT", trigger=exit_(10, bad, 5.0))).what_fell == (
            "people left"
        )


def test_a_type_the_page_does_not_know_is_labelled_from_its_name() -> None:
    assert headline(episode("NEW_KIND", "CRITICAL")) == Headline("New kind", "CRITICAL", "")
    known = episode("NEW_KIND", trigger=exit_(20, 10, 5.0))
    assert headline(known).what_fell == "10 of 20 left in 5s"
    assert headline(episode(None, "BAD")) == Headline("Anomaly", "WARNING", "")


# Every case above that JSON can carry: the browser's copy is held to each of them.
SAMPLES: list[dict[str, Any]] = [
    *(ep for ep, _ in HEADLINES),
    *(episode("LOW_ENGAGEMENT", trigger=floor(v, 0.1, 59.6)) for v, _ in ROUNDED_SCORES),
    episode("SUDDEN_DROP", trigger=activity(2.5, 0.5)),
    episode("MASS_EXIT", trigger=exit_(10, 2, 4.5)),
    *(old_episode(kind) for kind, _ in OLD_WORDS),
    *(episode("MASS_EXIT", trigger=t) for t in UNREADABLE),
    episode("NEW_KIND", "CRITICAL"),
    episode("NEW_KIND", trigger=exit_(20, 10, 5.0)),
    episode(None, "BAD"),
]


# -- from the detector's ticks to the headline ----------------------------------------------------

T0 = 1_800_000_000.0


@dataclass(frozen=True)
class Counts:
    chat_in_tick: float
    reactions_in_tick: float
    total_users: int


@dataclass(frozen=True)
class NoCounts:
    """Signals of a platform that sends no chat or reactions: only the score and exits."""

    total_users: int = 100


def recorded(frames: list[tuple[float, Any]]) -> EpisodeOutput:
    """The detector's transitions, one 5-s tick a frame, through the episode log as the
    collector records them."""
    detector, log, out = SessionDetector("s"), EpisodeLog(), EpisodeOutput()
    for i, (score, signals) in enumerate(frames):
        log.record(detector.update(T0 + 5.0 * i, score, signals), "evt", {}, out)
    return out


def headlines(frames: list[tuple[float, Any]]) -> list[tuple[str, Headline]]:
    """(phase, headline) of each push."""
    return [(str(m.phase), headline(m.episode.as_json())) for _, m in recorded(frames).pushes]


def test_a_collapse_reads_as_the_cliff_saw_it() -> None:
    frames = [(0.6, Counts(7, 3, 200))] * 40 + [(0.3, Counts(0, 0, 200))]
    assert headlines(frames) == [
        (
            "started",
            Headline("Sudden drop", "CRITICAL", f"chat and reactions 120/min {ARROW} 0/min"),
        )
    ]


def test_a_lull_made_critical_by_the_cliff_rule_reads_in_the_cliffs_numbers() -> None:
    # The shape names it a lull, whose level over 30 s is 44/min (38 %): beside CRITICAL that
    # would contradict it, so the headline shows what the cliff rule judged critical.
    frames = [(0.6, Counts(7, 3, 200))] * 40
    frames += [(0.4, Counts(c, 0, 200)) for c in (5, 3, 2, 1, 1, 1, 1, 1, 1)]
    (started,) = headlines(frames)
    assert started == (
        "started",
        Headline("Low engagement", "CRITICAL", f"chat and reactions 115/min {ARROW} 21/min"),
    )


def test_a_lull_that_sinks_further_escalates_with_its_new_level() -> None:
    frames = [(0.6, Counts(7, 3, 200))] * 40 + [(0.4, Counts(3, 0, 200))] * 12
    frames += [(0.3, Counts(0, 0, 200))] * 6
    assert headlines(frames) == [
        (
            "started",
            Headline("Low engagement", "WARNING", f"chat and reactions 114/min {ARROW} 36/min"),
        ),
        (
            "escalated",
            Headline("Low engagement", "CRITICAL", f"chat and reactions 114/min {ARROW} 18/min"),
        ),
    ]


def test_a_mass_exit_reads_in_people_and_its_escalation_in_the_larger_count() -> None:
    frames = [(0.6, Counts(7, 3, present)) for present in [200] * 20 + [160, 110]]
    assert headlines(frames) == [
        ("started", Headline("Mass exit", "WARNING", "40 of 200 left in 20s")),
        ("escalated", Headline("Mass exit", "CRITICAL", "90 of 200 left in 20s")),
    ]


def test_a_slide_escalates_with_the_numbers_that_made_it_critical() -> None:
    frames = [(0.6, Counts(28, 12, 200))] * 60
    frames += [(0.5, Counts(round(40 * (1 - 0.02 * i)), 0, 200)) for i in range(40)]
    # A slide is critical at or under 40 % of the usual level: 178 of 453 is 39 %.
    assert headlines(frames) == [
        (
            "started",
            Headline("Gradual decline", "WARNING", f"chat and reactions 453/min {ARROW} 206/min"),
        ),
        (
            "escalated",
            Headline("Gradual decline", "CRITICAL", f"chat and reactions 453/min {ARROW} 178/min"),
        ),
    ]


def test_a_score_under_its_floor_reads_as_the_score_and_the_floor() -> None:
    assert headlines([(0.05, NoCounts())] * 40) == [
        ("started", Headline("Low engagement", "WARNING", "engagement 0.05, under 0.10 for 3m 00s"))
    ]


def test_an_episode_record_built_back_from_its_dict_keeps_its_headline() -> None:
    frames = [(0.6, Counts(7, 3, present)) for present in [200] * 20 + [150]]
    (row,) = recorded(frames).rows
    listed = Episode.from_row(row).as_json()
    assert Episode(**listed) == Episode.from_row(row)
    assert headline(listed) == Headline("Mass exit", "WARNING", "50 of 200 left in 20s")


def test_an_activity_trigger_keeps_four_decimals_of_both_rates() -> None:
    assert activity_trigger(1.234567, 7.654321) == Trigger(
        TriggerRule.ACTIVITY, 1.2346, 7.6543, None
    )
