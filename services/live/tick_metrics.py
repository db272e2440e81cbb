"""A tick's timings and the episodes it opened, into the process's instruments."""

from __future__ import annotations

from collections.abc import Mapping

from services.core import instruments
from services.live.session_book import TickOutput


def record_tick(out: TickOutput, phases: Mapping[str, float], total: float) -> None:
    instruments.tick_seconds.observe(total)
    for phase, seconds in phases.items():
        # Score is the book's time less detection's: rounding can leave a hair below zero.
        instruments.tick_phase_seconds.labels(phase=phase).observe(max(0.0, seconds))
    for row in (*out.episodes.opened, *out.episodes.escalated):
        instruments.anomaly_episodes.labels(type=row["type"], severity=row["severity"]).inc()
