"""What the library's polls and organizers' notifications say: options and durations in range and
longer for a big room; a notification's priority, and its escalation in a nearly silent room."""

from __future__ import annotations

import itertools
import random

import pytest

from services.core.vocabulary import InterventionType
from tests.content_samples import ANOMALIES, LIBRARY, POLL, TABLES, every_variant, request

# ------------------------------------------------------------------------------------------ polls


def test_poll_options_and_durations_stay_in_range() -> None:
    for anomaly, users in itertools.product(ANOMALIES, (0, 12, 49, 50, 5000)):
        req = request(InterventionType.POLL, anomaly, users=users)
        for content in every_variant(req).values():
            poll = content.payload["poll"]
            assert 2 <= len(poll["options"]) <= 5
            assert 60 <= poll["duration"] <= 180
            assert poll["type"] == "MULTIPLE_CHOICE"
            assert content.preview.endswith(
                f'" ({len(poll["options"])} options, {poll["duration"]} s)'
            )


def test_a_large_room_gets_longer_to_vote() -> None:
    small = request(InterventionType.POLL, "LOW_ENGAGEMENT", users=20)
    large = request(InterventionType.POLL, "LOW_ENGAGEMENT", users=200)
    for seed in range(10):
        short = LIBRARY.generate(small, random.Random(seed)).payload["poll"]["duration"]
        long = LIBRARY.generate(large, random.Random(seed)).payload["poll"]["duration"]
        assert long > short


def test_poll_durations_are_the_templates_plus_half_a_minute_from_fifty_people() -> None:
    for users, bonus in ((0, 0), (49, 0), (50, 30), (5000, 30)):
        for variant, content in every_variant(
            request(POLL, "GRADUAL_DECLINE", users=users)
        ).items():
            template = TABLES[POLL]["GRADUAL_DECLINE"][int(variant.split("/")[2]) - 1]
            assert content.payload["poll"]["duration"] == template.seconds + bonus


# ---------------------------------------------------------------------------------- notifications


@pytest.mark.parametrize(
    ("anomaly", "engagement", "escalate", "priority"),
    [
        ("MASS_EXIT", 0.7, True, "HIGH"),
        ("LOW_ENGAGEMENT", 0.1, True, "HIGH"),
        ("LOW_ENGAGEMENT", 0.3, False, "MEDIUM"),
        ("GRADUAL_DECLINE", 0.5, False, "MEDIUM"),
        ("SUDDEN_DROP", 0.5, False, "HIGH"),
        (None, 0.6, False, "LOW"),
        (None, 0.05, True, "HIGH"),
    ],
)
def test_notification_priority_and_escalation(
    anomaly: str | None, engagement: float, escalate: bool, priority: str
) -> None:
    req = request(InterventionType.NOTIFICATION, anomaly, engagement=engagement)
    for content in every_variant(req).values():
        assert content.payload["escalate"] is escalate
        assert content.payload["content"]["priority"] == priority
        assert content.payload["target"] == "ORGANIZERS"
        assert content.preview.startswith(f"Alert to organizers ({priority}")


def test_engagement_at_the_low_bands_edge_is_not_escalated() -> None:
    # Escalation is for VERY_LOW, which ends below 0.2 (design §5).
    edge = request(InterventionType.NOTIFICATION, "GRADUAL_DECLINE", engagement=0.2)
    below = request(InterventionType.NOTIFICATION, "GRADUAL_DECLINE", engagement=0.19)
    assert LIBRARY.generate(edge, random.Random(0)).payload["escalate"] is False
    assert LIBRARY.generate(below, random.Random(0)).payload["escalate"] is True
