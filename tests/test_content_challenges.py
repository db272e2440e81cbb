"""What the library's challenges say: a template that suits the anomaly, a length and prizes that
scale with the room, and no more podium places than people."""

from __future__ import annotations

import random
from typing import Any

import pytest

from services.core.platform import CHALLENGE_TEMPLATES
from services.core.vocabulary import InterventionType
from tests.content_samples import ANOMALIES, GAME, LIBRARY, TABLES, every_variant, request

SUITABLE = {
    "SUDDEN_DROP": {"CHAT_BLITZ"},  # the chat fell silent: get it talking again
    "GRADUAL_DECLINE": {"QA_SPRINT", "POLL_RUSH"},
    "MASS_EXIT": {"POINTS_RACE", "QA_SPRINT"},
    "LOW_ENGAGEMENT": {"POLL_RUSH", "POINTS_RACE"},
    None: set(CHALLENGE_TEMPLATES),
}


@pytest.mark.parametrize("anomaly", ANOMALIES)
def test_gamification_template_suits_the_anomaly(anomaly: str | None) -> None:
    req = request(InterventionType.GAMIFICATION, anomaly)
    templates = {
        LIBRARY.generate(req, random.Random(seed)).payload["content"]["template"]
        for seed in range(100)
    }
    assert templates <= SUITABLE[anomaly]
    if anomaly is not None and anomaly != "SUDDEN_DROP":
        assert "CHAT_BLITZ" not in templates


def test_gamification_scales_with_the_room() -> None:
    def challenge(anomaly: str, users: int, engagement: float, seed: int = 0) -> dict[str, Any]:
        req = request(InterventionType.GAMIFICATION, anomaly, users=users, engagement=engagement)
        return LIBRARY.generate(req, random.Random(seed)).payload["content"]

    for seed in range(10):
        small = challenge("GRADUAL_DECLINE", 5, 0.5, seed)
        large = challenge("GRADUAL_DECLINE", 500, 0.5, seed)
        assert small["duration_minutes"] < large["duration_minutes"]
        assert small["rewards"]["first"] < large["rewards"]["first"]
        assert challenge("GRADUAL_DECLINE", 500, 0.1, seed)["duration_minutes"] <= 3
    # No podium places without people to fill them.
    assert set(challenge("SUDDEN_DROP", 2, 0.5)["rewards"]) == {"first", "participation"}
    assert set(challenge("SUDDEN_DROP", 40, 0.5)["rewards"]) == {
        "first",
        "second",
        "third",
        "participation",
    }
    # Rewards fall with place, and staying is worth more when people are leaving.
    rewards = challenge("SUDDEN_DROP", 40, 0.5)["rewards"]
    assert rewards["first"] > rewards["second"] > rewards["third"] > rewards["participation"]
    leaving = challenge("MASS_EXIT", 40, 0.5)["rewards"]
    assert leaving["participation"] / leaving["first"] > rewards["participation"] / rewards["first"]


def test_challenge_description_states_its_duration_and_prize() -> None:
    for content in every_variant(request(InterventionType.GAMIFICATION, "MASS_EXIT")).values():
        c = content.payload["content"]
        assert f"{c['duration_minutes']} minute" in c["description"]
        assert str(c["rewards"]["first"]) in c["description"]
        assert f"{c['duration_minutes']} min, {c['rewards']['first']} pts" in content.preview


def challenge_for(anomaly: str, users: int, engagement: float = 0.5) -> dict[str, Any]:
    """The first variant's challenge: its template is 5 minutes for both anomalies used here."""
    req = request(InterventionType.GAMIFICATION, anomaly, users=users, engagement=engagement)
    content = every_variant(req)[f"gamification/{anomaly}/1"]
    assert TABLES[GAME][anomaly][0].minutes == 5
    return content.payload["content"]


@pytest.mark.parametrize(
    ("users", "engagement", "minutes"),
    [(9, 0.5, 4), (10, 0.5, 5), (49, 0.5, 5), (50, 0.5, 6), (37, 0.2, 5), (37, 0.19, 3)],
)
def test_a_challenge_runs_a_minute_shorter_in_a_handful_and_longer_in_a_crowd(
    users: int, engagement: float, minutes: int
) -> None:
    challenge = challenge_for("GRADUAL_DECLINE", users, engagement)
    assert challenge["duration_minutes"] == minutes
    assert f"{minutes} minutes" in challenge["description"]


def nice(points: float) -> int:
    """Points as the challenge rules state them: a multiple of 5, at least 5."""
    return max(5, 5 * round(points / 5))


@pytest.mark.parametrize(
    ("anomaly", "users", "minutes", "share"),
    [("GRADUAL_DECLINE", 37, 5, 10), ("GRADUAL_DECLINE", 50, 6, 10), ("MASS_EXIT", 50, 6, 4)],
)
def test_a_challenge_pays_fifty_points_a_minute_halving_down_the_podium(
    anomaly: str, users: int, minutes: int, share: int
) -> None:
    first = 50 * minutes
    assert challenge_for(anomaly, users)["rewards"] == {
        "first": first,
        "second": nice(first / 2),
        "third": nice(first / 4),
        # A tenth of the winner's points for taking part; a quarter while people leave.
        "participation": nice(first / share),
    }


def test_a_two_minute_challenge_pays_its_third_place_and_says_two_minutes() -> None:
    req = request(InterventionType.GAMIFICATION, "GRADUAL_DECLINE", users=6)
    challenge = every_variant(req)["gamification/GRADUAL_DECLINE/2"].payload["content"]
    assert challenge["duration_minutes"] == 2  # a 3-minute template, in a handful of people
    assert challenge["rewards"] == {"first": 100, "second": 50, "third": 25, "participation": 10}
    assert "next 2 minutes" in challenge["description"]


@pytest.mark.parametrize(
    ("users", "places"),
    [
        (0, {"first"}),
        (2, {"first"}),
        (3, {"first", "second"}),
        (5, {"first", "second"}),
        (6, {"first", "second", "third"}),
    ],
)
def test_the_podium_has_no_more_places_than_people(users: int, places: set[str]) -> None:
    rewards = challenge_for("GRADUAL_DECLINE", users)["rewards"]
    assert set(rewards) == places | {"participation"}
