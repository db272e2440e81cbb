"""How the session's context fills the library's texts: its title (verbatim, trimmed, tidied or
absent), its numbers, the fields every template may use, and the clip of a long text."""

from __future__ import annotations

import itertools
import random

import pytest

from services.agent import content as library
from services.agent import templates as texts
from services.agent.content import clean_title, clip
from services.core.vocabulary import InterventionType
from tests.content_samples import (
    ANOMALIES,
    LIBRARY,
    TYPES,
    all_text,
    every_variant,
    raw_template,
    request,
)

# ------------------------------------------------------------------------------------------ title


@pytest.mark.parametrize("title", ["Pricing {q3} at 100% {0} {session!r}", "50%s off %(name)s"])
def test_title_with_format_characters_is_inserted_verbatim(title: str) -> None:
    seen = 0
    for kind, anomaly in itertools.product(TYPES, ANOMALIES):
        for variant, content in every_variant(request(kind, anomaly, title=title)).items():
            if "session}" in raw_template(variant):
                assert f"“{title}”" in all_text(content)
                seen += 1
    assert seen >= 10  # titles are used in plenty of templates, so this checks something


def test_long_title_is_trimmed_with_an_ellipsis() -> None:
    title = "Building resilient pipelines " * 20
    trimmed = clean_title(title)
    assert trimmed is not None and len(trimmed) == 120 and trimmed.endswith("…")
    req = request(InterventionType.NOTIFICATION, title=title)
    content = LIBRARY.generate(req, random.Random(0))
    assert f"“{trimmed}”" in content.payload["content"]["title"]
    assert title.strip() not in all_text(content)
    assert len(content.preview) <= 200


def test_title_whitespace_and_control_characters_are_tidied() -> None:
    assert clean_title("  Day 2:\n\tKeynote\x00 ") == "Day 2: Keynote"
    assert clean_title("   \n ") is None
    assert clean_title(None) is None


@pytest.mark.parametrize("title", [None, "", "   "])
def test_without_a_title_no_text_says_none(title: str | None) -> None:
    for kind, anomaly in itertools.product(TYPES, ANOMALIES):
        for variant, content in every_variant(request(kind, anomaly, title=title)).items():
            text = all_text(content)
            assert "None" not in text and "“" not in text, variant
            assert "  " not in text and " ." not in text and " ?" not in text, variant


def test_without_a_title_the_session_is_named_generically() -> None:
    content = every_variant(request(InterventionType.POLL, "MASS_EXIT", title=None))
    assert content["poll/MASS_EXIT/1"].payload["poll"]["question"] == (
        "What would make the rest of this session most worth your time?"
    )
    notice = every_variant(request(InterventionType.NOTIFICATION, "LOW_ENGAGEMENT", title=None))
    assert notice["notification/LOW_ENGAGEMENT/1"].payload["content"]["title"] == "Low engagement"


# -------------------------------------------------------------------------------- context numbers


def test_context_numbers_appear_where_templates_use_them() -> None:
    expected = {
        "{people}": "37 people",
        "{users}": "37",
        "{chat}": "4.5",
        "{engagement}": "27%",
        "{anomaly}": None,  # checked per anomaly below
    }
    used = dict.fromkeys(expected, 0)
    for kind, anomaly in itertools.product(TYPES, ANOMALIES):
        for variant, content in every_variant(request(kind, anomaly)).items():
            raw, text = raw_template(variant), all_text(content)
            for field, value in expected.items():
                if field not in raw:
                    continue
                used[field] += 1
                wanted = texts.ANOMALY_WORDS[anomaly or "GENERIC"] if value is None else value
                assert wanted in text, f"{variant}: {field} should read {wanted!r}"
    # Organizers' notifications carry every number; none of the checks above is vacuous.
    assert used["{people}"] >= 10 and used["{chat}"] >= 8 and used["{engagement}"] >= 10
    assert used["{anomaly}"] >= 3


def test_one_person_is_not_one_people_and_busy_chat_drops_decimals() -> None:
    notice = every_variant(
        request(InterventionType.NOTIFICATION, "GRADUAL_DECLINE", users=1, chat=23.4)
    )
    body = notice["notification/GRADUAL_DECLINE/1"].payload["content"]["body"]
    assert "1 person present" in body and "1 people" not in body
    assert "chat at 23 messages per minute" in body


# ------------------------------------------------------------------------------- fields and clips


def test_templates_get_every_field_their_docstring_promises() -> None:
    untitled = request(anomaly=None, title=None, users=1, chat=10.0, engagement=0.6)
    assert library._fields(untitled) == {
        "session": "this session",
        "Session": "This session",
        "in_session": "",
        "users": "1",
        "people": "1 person",
        "chat": "10",
        "engagement": "60%",
        "anomaly": texts.ANOMALY_WORDS["GENERIC"],
    }
    titled = request(anomaly="CROWD_SURGE", users=12, chat=9.94, engagement=0.275)
    assert library._fields(titled) == {
        "session": "“Scaling Postgres”",
        "Session": "“Scaling Postgres”",
        "in_session": " in “Scaling Postgres”",
        "users": "12",
        "people": "12 people",
        "chat": "9.9",
        "engagement": "28%",
        "anomaly": "crowd surge",  # an anomaly without words of its own: its name, readable
    }


@pytest.mark.parametrize(
    ("text", "limit", "clipped"),
    [
        ("abcde", 5, "abcde"),
        ("abcdef", 5, "abcd…"),
        ("  ab  cdef", 6, "  ab…"),
        ("abc", 1, "…"),
        ("abc", 0, "…"),
    ],
)
def test_clip_keeps_text_that_fits_and_marks_a_cut(text: str, limit: int, clipped: str) -> None:
    assert clip(text, limit) == clipped
