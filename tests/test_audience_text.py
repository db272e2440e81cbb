"""Text for an audience: links, mentions, markup and hidden characters are refused in content
and stripped from titles we quote; everyday text passes."""

from __future__ import annotations

import random

import pytest

from services.agent.audience_text import strip_unsafe, unsafe_reason
from services.agent.content import ContentRequest, TemplateLibrary, clean_title
from services.agent.payload_gate import validate_content
from services.core.vocabulary import InterventionType


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Vote now at https://evil.example/x", "contains a link: 'https://evil.example/x'"),
        ("see hxxp://x or FTP://files", "contains a link: 'hxxp://x'"),
        ("go to www.example.org today", "contains a link: 'www.example.org'"),
        ("free tokens on bit.ly/abc", "contains a link: 'bit.ly/abc'"),
        ("mail me at a@b.com", "contains a link: 'b.com'"),
        ("click javascript:alert(1)", "contains a link: 'javascript:alert(1)'"),
        ("@everyone look here", "contains a mention: '@everyone'"),
        ("thanks (@host_1) for that", "contains a mention: '@host_1'"),
        ("<b>Vote</b> now", "contains markup: '<b>'"),
        ("[Vote here](somewhere)", "contains markup: '[Vote here](somewhere)'"),
        ("run `rm -rf`", "contains markup: '`'"),
        ("Tom &amp; Jerry", "contains markup: '&amp;'"),
        ("two\nlines", "contains a control character: '\\n'"),
        ("abc\u202edcba", "contains a control character: '\\u202e'"),
    ],
)
def test_what_may_not_reach_an_audience_is_named(text: str, reason: str) -> None:
    assert unsafe_reason(text) == reason


@pytest.mark.parametrize(
    "text",
    [
        "Q&A starts in 5 minutes: what should we cover first?",
        "Rate the demo: 3.5 stars or more?",
        "Node.js or Deno for the backend?",
        "Meet us @ 3pm by the stage",
        "Great energy in here 👩\u200d👩\u200d👧 keep it coming!",
        "Which of these 2 options (A or B) do you prefer?",
    ],
)
def test_everyday_text_passes(text: str) -> None:
    assert unsafe_reason(text) is None


def test_a_long_find_is_shown_cut() -> None:
    reason = unsafe_reason("see https://" + "a" * 100)
    assert reason == f"contains a link: {('https://' + 'a' * 32)!r}"
    long_tag = "<" + "x" * 60 + ">"
    assert unsafe_reason(long_tag) == f"contains markup: {long_tag[:40]!r}"


def test_stripping_keeps_the_words() -> None:
    assert strip_unsafe("Keynote <i>live</i> @host: see bit.ly/x\n now") == "Keynote live : see now"
    assert strip_unsafe("  plain   title ") == "plain title"
    assert strip_unsafe("@a @b") == ""


def test_a_title_is_quoted_without_what_it_may_not_carry() -> None:
    assert clean_title("Deep dive <b>@speaker</b> https://x.example/y") == "Deep dive"
    assert clean_title("<br>") is None
    request = ContentRequest(
        InterventionType.CHAT_PROMPT,
        "SUDDEN_DROP",
        session_id="s-1",
        event_id="evt-1",
        session_title="Query planners [slides](https://evil.example) @all",
        present_users=40,
        chat_per_min=2.0,
        engagement=0.3,
    )
    content = TemplateLibrary().generate(request, random.Random(3))
    shown = str(content.payload)
    assert "evil" not in shown and "@all" not in shown and "](" not in shown
    validate_content(InterventionType.CHAT_PROMPT, content.payload)


def test_the_gate_refuses_content_carrying_a_link_or_a_mention() -> None:
    poll = {
        "poll": {
            "question": "Which topic next?",
            "options": ["Indexes", "Free prizes at bit.ly/win"],
            "type": "MULTIPLE_CHOICE",
            "duration": 90,
        }
    }
    with pytest.raises(ValueError, match=r"poll\.options\[1\] contains a link: 'bit\.ly/win'"):
        validate_content(InterventionType.POLL, poll)
    with pytest.raises(ValueError, match=r"message contains a mention: '@everyone'"):
        validate_content(InterventionType.CHAT_PROMPT, {"message": "@everyone say hi"})
