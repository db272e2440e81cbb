"""The overview's pure parts: the sparkline and the order sessions ask for attention in."""

from __future__ import annotations

from datetime import UTC, datetime

from app.runtime import Runtime
from services.storage.overview import sparkline
from tests.browser.support import open_episode, recent


def test_sparkline_draws_scores_as_blocks() -> None:
    assert sparkline([]) == ""
    assert sparkline([0.0, 1.0]) == "▁█"
    assert len(sparkline([0.5] * 60)) == 20
    assert sparkline([0.0, float("nan"), float("inf"), 1.0]) == "▁█"  # review: NaN crashed it


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
