"""The template library as a content generator: every type and anomaly validates, each has
distinct variants that seeds reach reproducibly, each type previews in one line, and the request
it is given refuses impossible context."""

from __future__ import annotations

import itertools
import json
import random
import re
from typing import Any

import pytest

from services.agent.content import ContentGenerator
from services.agent.payload_gate import validate_content
from services.core.vocabulary import InterventionType
from tests.content_samples import ANOMALIES, LIBRARY, TYPES, all_text, every_variant, request

# ------------------------------------------------------------------------------ every combination


@pytest.mark.parametrize(("kind", "anomaly"), list(itertools.product(TYPES, ANOMALIES)))
def test_every_type_and_anomaly_validates_across_contexts(
    kind: InterventionType, anomaly: str | None
) -> None:
    contexts = [
        {"users": 0, "chat": 0.0, "engagement": 0.0, "title": None},
        {"users": 1, "chat": 0.4, "engagement": 0.15, "title": "Q&A"},
        {"users": 4, "chat": 3.25, "engagement": 0.5, "title": "x" * 500},
        {"users": 300, "chat": 95.0, "engagement": 1.0, "title": "Opening keynote"},
    ]
    for ctx in contexts:
        for content in every_variant(request(kind, anomaly, **ctx)).values():
            validate_content(kind, content.payload)
            assert content.preview and len(content.preview) <= 200
            assert "\n" not in content.preview
            assert not re.search(r"\{\w+\}", all_text(content)), "an unfilled placeholder"


@pytest.mark.parametrize(("kind", "anomaly"), list(itertools.product(TYPES, ANOMALIES)))
def test_enough_distinct_variants_per_type_and_anomaly(
    kind: InterventionType, anomaly: str | None
) -> None:
    ids = LIBRARY.variant_ids(kind, anomaly)
    minimum = 3 if kind in (InterventionType.POLL, InterventionType.CHAT_PROMPT) else 2
    assert len(ids) >= minimum
    assert len(set(ids)) == len(ids)
    key = anomaly or "GENERIC"
    assert all(re.fullmatch(rf"{kind.lower()}/{key}/\d+", i) for i in ids)
    # Different variants must actually say different things.
    rendered = every_variant(request(kind, anomaly))
    assert len({json.dumps(c.payload) for c in rendered.values()}) == len(ids)


def test_library_is_a_content_generator() -> None:
    assert isinstance(LIBRARY, ContentGenerator)


def test_unknown_anomaly_type_falls_back_to_generic_texts() -> None:
    content = LIBRARY.generate(
        request(InterventionType.NOTIFICATION, "AUDIO_OUTAGE", engagement=0.5), random.Random(3)
    )
    assert content.variant.startswith("notification/GENERIC/")
    assert content.payload["content"]["priority"] == "MEDIUM"  # an anomaly, not a check-in


# -------------------------------------------------------------------------------- reproducibility


@pytest.mark.parametrize("kind", TYPES)
def test_same_seed_same_content_and_seeds_reach_every_variant(kind: InterventionType) -> None:
    req = request(kind, "GRADUAL_DECLINE")
    for seed in range(20):
        assert LIBRARY.generate(req, random.Random(seed)) == LIBRARY.generate(
            req, random.Random(seed)
        )
    variants = {LIBRARY.generate(req, random.Random(seed)).variant for seed in range(200)}
    assert variants == set(LIBRARY.variant_ids(kind, "GRADUAL_DECLINE"))


# ----------------------------------------------------------------------------------------- previews


@pytest.mark.parametrize(
    ("kind", "anomaly", "engagement", "preview"),
    [
        (
            InterventionType.POLL,
            "GRADUAL_DECLINE",
            0.27,
            'Poll: "Which direction should we take next?" (4 options, 120 s)',
        ),
        (
            InterventionType.CHAT_PROMPT,
            "GRADUAL_DECLINE",
            0.27,
            "Chat message: \"37 people tuned in — let's hear from you. What's one thing you'll "
            'try after “Scaling Postgres”?"',
        ),
        (
            InterventionType.NOTIFICATION,
            "GRADUAL_DECLINE",
            0.27,
            "Alert to organizers (MEDIUM): Audience attention fading in “Scaling Postgres”",
        ),
        (
            InterventionType.NOTIFICATION,
            "MASS_EXIT",
            0.27,
            "Alert to organizers (HIGH, escalated): Audience drop-off in “Scaling Postgres”",
        ),
        (
            InterventionType.GAMIFICATION,
            "GRADUAL_DECLINE",
            0.27,
            "Challenge: Poll Rush (POLL_RUSH, 3 min, 150 pts to the winner)",
        ),
    ],
)
def test_each_type_previews_in_one_line_what_it_will_do(
    kind: InterventionType, anomaly: str, engagement: float, preview: str
) -> None:
    content = LIBRARY.generate(request(kind, anomaly, engagement=engagement), random.Random(0))
    assert content.preview == preview


# ---------------------------------------------------------------------------------------- request


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"users": -1}, "present_users"),
        ({"users": True}, "present_users"),
        ({"chat": float("nan")}, "chat_per_min"),
        ({"chat": -0.5}, "chat_per_min"),
        ({"engagement": 1.5}, "engagement"),
        ({"engagement": float("inf")}, "engagement"),
    ],
)
def test_request_rejects_impossible_context(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        request(**changes)


def test_request_rejects_an_unknown_intervention_type() -> None:
    with pytest.raises(ValueError, match="unknown intervention type 'QUIZ'"):
        request("QUIZ")  # type: ignore[arg-type]
