"""Who wrote an intervention's words, as its card and the log say it: a model and how long it
took, or the template and why (services/agent/model_writer.py names the reasons)."""

from __future__ import annotations

from typing import Any

from services.agent.desk_writing import TEMPLATE
from services.agent.model_writer import (
    BREAKER_OPEN,
    BUDGET_SPENT,
    BUSY,
    LATE,
    REFUSED,
    SERVICE_ERROR,
    TIMED_OUT,
    UNREACHABLE,
)

# What a producer reads for each reason, after "Template: ".
FALLBACK_WORDS = {
    TIMED_OUT: "the model took too long",
    SERVICE_ERROR: "the model service failed",
    UNREACHABLE: "the model service was unreachable",
    BREAKER_OPEN: "the model service is paused after repeated failures",
    REFUSED: "the model's answer failed the safety checks",
    BUDGET_SPENT: "the event's token budget is spent",
    BUSY: "the writer was busy",
    LATE: "the model answered after the decision",
}


def written_words(written_by: str | None, writing: dict[str, Any] | None) -> str | None:
    """Who wrote an intervention's words, for its card and the log; None when no model took
    part (no model configured, the event keeps to templates, a manual launch) or for rows
    older than the writer: "Template" on every card would say nothing."""
    if written_by is None or (written_by == TEMPLATE and not writing):
        return None
    writing = writing or {}
    if written_by != TEMPLATE:
        latency = writing.get("latency_ms")
        took = f" in {latency / 1000:.1f} s" if isinstance(latency, int | float) else ""
        return f"Written by {written_by}{took}"
    if writing.get("state") == "writing":
        return "Template for now: the model is writing"
    reason = writing.get("fallback")
    if isinstance(reason, str):
        return f"Template: {FALLBACK_WORDS.get(reason, reason)}"
    return None
