"""The overview's pure parts: the sparkline, and the order sessions and events ask for
attention in."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from app.runtime import Runtime
from components.sparkline import sparkline, sparkline_svg, trend_words
from services.storage.metrics_store import EventSummary
from services.storage.overview import events_by_attention
from tests.browser.support import open_episode, recent


def _points(svg: str) -> list[tuple[float, float]]:
    found = re.search(r'points="([^"]+)"', svg)
    assert found is not None
    return [tuple(map(float, pair.split(","))) for pair in found.group(1).split()]


def test_the_sparkline_is_a_line_on_a_fixed_zero_to_one_scale() -> None:
    # The same fall reads the same at any level: 0.8 -> 0.44 is 45 % down, drawn as 45 % of
    # the height from the same rows whatever the session's usual level.
    high = _points(sparkline_svg([0.8, 0.8, 0.44]))
    low = _points(sparkline_svg([0.4, 0.4, 0.04]))
    assert high[0][1] == pytest.approx(2 + 0.2 * 20) and high[-1][1] == pytest.approx(2 + 0.56 * 20)
    assert low[-1][1] - low[0][1] == pytest.approx(high[-1][1] - high[0][1])
    assert [x for x, _ in high] == [2.0, 50.0, 98.0]
    # Out-of-range and non-finite values never leave the frame or break the drawing.
    wild = _points(sparkline_svg([2.0, float("nan"), -1.0, float("inf")]))
    assert wild == [(2.0, 2.0), (98.0, 22.0)]
    assert "polyline" not in sparkline_svg([]) and "circle" in sparkline_svg([0.5])


def test_the_sparkline_says_in_words_what_it_draws() -> None:
    assert trend_words([], 5) == "no score in the last 5 minutes"
    assert trend_words([0.7], 5) == "one score in the last 5 minutes: 0.70"
    words = trend_words([0.82, 0.3, 0.45], 5)
    assert words == "engagement over the last 5 minutes: 0.82 to 0.45, lowest 0.30"
    image = sparkline([0.82, 0.45], 5)
    assert (
        image.alt == image.title == "engagement over the last 5 minutes: 0.82 to 0.45, lowest 0.45"
    )
    assert image.src.startswith("data:image/svg+xml;base64,")


def test_sessions_are_ordered_by_attention(web_runtime: Runtime) -> None:
    recent(web_runtime, "calm", 0.8)
    recent(web_runtime, "low", 0.2)
    recent(web_runtime, "warned", 0.7)
    recent(web_runtime, "critical", 0.9)
    open_episode(web_runtime, "warned", "ep-w", "WARNING")
    open_episode(web_runtime, "critical", "ep-c", "CRITICAL")
    records = web_runtime.store.list_sessions()
    glances = web_runtime.stores.overview.glance(records, datetime.now(UTC))
    assert [g.record.session_id for g in glances] == ["critical", "warned", "low", "calm"]
    assert len(glances[0].trend) == 12 and glances[0].mode == "MANUAL"


def test_events_are_ordered_by_their_neediest_session(web_runtime: Runtime) -> None:
    recent(web_runtime, "a-calm", 0.9, event="evt-a")
    recent(web_runtime, "b-low", 0.3, event="evt-b")
    recent(web_runtime, "c-crit", 0.95, event="evt-c")
    recent(web_runtime, "c-calm", 0.9, event="evt-c")
    open_episode(web_runtime, "c-crit", "ep-c", "CRITICAL")
    glances = web_runtime.stores.overview.glance(
        web_runtime.store.list_sessions(), datetime.now(UTC)
    )
    events = [
        EventSummary(event, live)
        for event, live in [("evt-a", 1), ("evt-b", 1), ("evt-c", 2), ("evt-idle", 0)]
    ]
    # The CRITICAL first although its score is the highest; then the lowest score; the event
    # with no live session last.
    assert events_by_attention(events, glances) == ["evt-c", "evt-b", "evt-a", "evt-idle"]
