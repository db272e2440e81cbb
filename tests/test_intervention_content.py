"""Intervention content: the template library's texts and the design §3 payload gate."""

from __future__ import annotations

import copy
import itertools
import json
import random
import re
from collections.abc import Callable
from typing import Any

import pytest

from services.agent import content as gate
from services.agent import templates as texts
from services.agent.content import (
    ContentGenerator,
    ContentRequest,
    InterventionContent,
    TemplateLibrary,
    clean_title,
    clip,
    validate_content,
)
from services.core.platform import CHALLENGE_TEMPLATES
from services.core.vocabulary import InterventionType

ANOMALIES = (None, "SUDDEN_DROP", "GRADUAL_DECLINE", "MASS_EXIT", "LOW_ENGAGEMENT")
TYPES = tuple(InterventionType)
TABLES = {
    InterventionType.POLL: texts.POLLS,
    InterventionType.CHAT_PROMPT: texts.CHAT_PROMPTS,
    InterventionType.NOTIFICATION: texts.NOTIFICATIONS,
    InterventionType.GAMIFICATION: texts.CHALLENGES,
}
LIBRARY = TemplateLibrary()


def request(
    kind: InterventionType = InterventionType.POLL,
    anomaly: str | None = "SUDDEN_DROP",
    *,
    title: str | None = "Scaling Postgres",
    users: int = 37,
    chat: float = 4.5,
    engagement: float = 0.27,
) -> ContentRequest:
    return ContentRequest(kind, anomaly, "sess-1", "evt-1", title, users, chat, engagement)


def every_variant(req: ContentRequest) -> dict[str, InterventionContent]:
    """One content per variant the library has for `req`, found by trying seeds."""
    wanted = set(LIBRARY.variant_ids(req.intervention_type, req.anomaly_type))
    found: dict[str, InterventionContent] = {}
    for seed in range(500):
        content = LIBRARY.generate(req, random.Random(seed))
        found.setdefault(content.variant, content)
        if set(found) == wanted:
            return found
    raise AssertionError(f"seeds 0..499 reached only {sorted(found)} of {sorted(wanted)}")


def all_text(content: InterventionContent) -> str:
    return json.dumps(content.payload, ensure_ascii=False) + "\n" + content.preview


def raw_template(variant: str) -> str:
    """The unrendered texts behind a variant id, to see which fields it uses."""
    kind, key, number = variant.split("/")
    template = TABLES[InterventionType(kind.upper())][key][int(number) - 1]
    return repr(template)


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


def test_engagement_at_the_low_bands_edge_is_not_escalated() -> None:
    # Escalation is for VERY_LOW, which ends below 0.2 (design §5).
    edge = request(InterventionType.NOTIFICATION, "GRADUAL_DECLINE", engagement=0.2)
    below = request(InterventionType.NOTIFICATION, "GRADUAL_DECLINE", engagement=0.19)
    assert LIBRARY.generate(edge, random.Random(0)).payload["escalate"] is False
    assert LIBRARY.generate(below, random.Random(0)).payload["escalate"] is True


def test_poll_durations_are_the_templates_plus_half_a_minute_from_fifty_people() -> None:
    for users, bonus in ((0, 0), (49, 0), (50, 30), (5000, 30)):
        for variant, content in every_variant(
            request(POLL, "GRADUAL_DECLINE", users=users)
        ).items():
            template = TABLES[POLL]["GRADUAL_DECLINE"][int(variant.split("/")[2]) - 1]
            assert content.payload["poll"]["duration"] == template.seconds + bonus


# ----------------------------------------------------------------------------------- gamification

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


# ------------------------------------------------------------------------------------- validation


def valid(kind: InterventionType) -> dict[str, Any]:
    return copy.deepcopy(LIBRARY.generate(request(kind), random.Random(0)).payload)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split(".")

    def change(payload: dict[str, Any]) -> None:
        target = payload
        for key in parents:
            target = target[key]
        target[last] = value

    return change


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split(".")

    def change(payload: dict[str, Any]) -> None:
        target = payload
        for key in parents:
            target = target[key]
        del target[last]

    return change


POLL, CHAT = InterventionType.POLL, InterventionType.CHAT_PROMPT
NOTE, GAME = InterventionType.NOTIFICATION, InterventionType.GAMIFICATION


@pytest.mark.parametrize(
    ("kind", "change", "message"),
    [
        (POLL, _drop("poll.question"), "poll: missing question"),
        (POLL, _drop("poll"), "payload: missing poll"),
        (POLL, _set("poll.options", ["Yes"]), "poll.options must have 2 to 5 items, not 1"),
        (POLL, _set("poll.options", list("abcdef")), "must have 2 to 5 items, not 6"),
        (POLL, _set("poll.options", ["Yes", "yes "]), "poll.options must all differ"),
        (POLL, _set("poll.options", ["Yes", 2]), "poll.options[1] must be non-empty text"),
        (POLL, _set("poll.options", "Yes,No"), "poll.options must be a list, not str"),
        (POLL, _set("poll.options", ["Yes", "x" * 101]), "poll.options[1] is longer than 100"),
        (POLL, _set("poll.duration", "90"), "poll.duration must be a whole number"),
        (POLL, _set("poll.duration", True), "poll.duration must be a whole number"),
        (POLL, _set("poll.duration", 30), "poll.duration must be 60..180, not 30"),
        (POLL, _set("poll.type", "FREE_TEXT"), "poll.type must be one of MULTIPLE_CHOICE"),
        (POLL, _set("poll.question", "  "), "poll.question must be non-empty text"),
        (POLL, _set("poll.question", "?" * 301), "poll.question is longer than 300"),
        (POLL, _set("poll", ["q"]), "poll must be an object, not list"),
        (CHAT, _set("message", 42), "message must be non-empty text, not 42"),
        (CHAT, _set("type", "agent.intervention.broadcast"), "unexpected 'type' (the envelope"),
        (NOTE, _set("escalate", "yes"), "escalate must be true or false"),
        (NOTE, _set("target", "EVERYONE"), "target must be one of ORGANIZERS"),
        (NOTE, _set("content.priority", "URGENT"), "content.priority must be one of HIGH"),
        (NOTE, _drop("content.body"), "content: missing body"),
        (NOTE, _set("content", "alert"), "content must be an object, not str"),
        (GAME, _set("content.template", "TRIVIA"), "content.template must be one of CHAT_BLITZ"),
        (GAME, _set("content.action", "STOP_CHALLENGE"), "content.action must be one of"),
        (GAME, _set("content.duration_minutes", 0), "content.duration_minutes must be 1..10"),
        (GAME, _set("content.duration_minutes", 11), "content.duration_minutes must be 1..10"),
        (GAME, _set("content.rewards", {}), "content.rewards must be a non-empty object"),
        (GAME, _set("content.rewards", {"first": -5}), "content.rewards.first must be whole"),
        (GAME, _set("content.rewards", {"first": 1.5}), "content.rewards.first must be whole"),
        (GAME, _set("content.extra", 1), "content: unexpected 'extra'"),
        (GAME, _set("content.rewards", {5: 10}), "content.rewards: 5 is not a name for a place"),
        (GAME, _set("content.rewards", {" ": 10}), "content.rewards: ' ' is not a name for a"),
    ],
)
def test_validate_content_rejects_malformed_payloads(
    kind: InterventionType, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    payload = valid(kind)
    validate_content(kind, payload)  # the starting point is fine...
    change(payload)
    with pytest.raises(ValueError, match=re.escape(message)) as caught:
        validate_content(kind, payload)  # ...and the one change is what it names
    assert str(caught.value).startswith(f"invalid {kind} content: ")


@pytest.mark.parametrize(
    ("kind", "change"),
    [
        (POLL, _set("poll.options", ["Yes", "No"])),
        (POLL, _set("poll.options", ["A", "B", "C", "D", "x" * 100])),
        (GAME, _set("content.rewards", {"first": 100, "participation": 0})),
    ],
)
def test_validate_content_accepts_what_is_at_its_limits(
    kind: InterventionType, change: Callable[[dict[str, Any]], None]
) -> None:
    payload = valid(kind)
    change(payload)
    validate_content(kind, payload)


def test_validate_content_names_keys_by_their_path_and_hints_only_at_the_envelope() -> None:
    with pytest.raises(ValueError) as caught:
        validate_content(CHAT, {"message": "", "note": 1, "extra": 2})
    assert str(caught.value) == (
        "invalid CHAT_PROMPT content: payload: unexpected 'extra', 'note'; "
        "message must be non-empty text, not ''"
    )
    with pytest.raises(ValueError) as caught:
        validate_content(POLL, {"poll": {"type": "MULTIPLE_CHOICE", "duration": 60}})
    assert str(caught.value) == "invalid POLL content: poll: missing question, options"


# The payload gate's rules are built once, when the module loads; these check the builders.
@pytest.mark.parametrize(
    ("builder", "args", "value", "problem"),
    [
        (gate._whole, [(60, 180)], 60, None),
        (gate._whole, [(60, 180)], 180, None),
        (gate._whole, [(60, 180)], 59, "x must be 60..180, not 59"),
        (gate._whole, [(60, 180)], 181, "x must be 60..180, not 181"),
        (gate._whole, [(60, 180)], 90.0, "x must be a whole number, not 90.0"),
        (gate._whole, [(60, 180)], False, "x must be a whole number, not False"),
        (gate._one_of, ["HIGH", "LOW"], "LOW", None),
        (gate._one_of, ["HIGH", "LOW"], "low", "x must be one of HIGH, LOW, not 'low'"),
        (gate._one_of, ["HIGH", "LOW"], ["HIGH"], "x must be one of HIGH, LOW, not ['HIGH']"),
        (gate._text, [5], "abcde", None),
        (gate._text, [5], "abcdef", "x is longer than 5 characters"),
        (gate._text, [5], " \t", "x must be non-empty text, not ' \\t'"),
    ],
)
def test_each_rule_of_the_gate_accepts_its_bounds_and_names_the_problem(
    builder: Callable[..., Callable[[Any, str, list[str]], None]],
    args: list[Any],
    value: Any,
    problem: str | None,
) -> None:
    rule = builder(*args)
    problems: list[str] = []
    rule(value, "x", problems)
    assert problems == ([] if problem is None else [problem])


def test_validate_content_reports_every_problem_at_once() -> None:
    with pytest.raises(ValueError) as caught:
        validate_content(POLL, {"poll": {"question": "", "options": [], "type": "X"}})
    message = str(caught.value)
    for part in ("missing duration", "poll.question", "poll.options", "poll.type"):
        assert part in message


def test_validate_content_rejects_a_payload_of_the_wrong_type() -> None:
    with pytest.raises(ValueError, match="payload: missing message; payload: unexpected 'poll'"):
        validate_content(CHAT, valid(POLL))
    with pytest.raises(ValueError, match="payload must be an object, not list"):
        validate_content(POLL, [])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown intervention type 'QUIZ'"):
        validate_content("QUIZ", valid(POLL))  # type: ignore[arg-type]


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


# ------------------------------------------------------------------------------- fields and clips


def test_templates_get_every_field_their_docstring_promises() -> None:
    untitled = request(anomaly=None, title=None, users=1, chat=10.0, engagement=0.6)
    assert gate._fields(untitled) == {
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
    assert gate._fields(titled) == {
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
