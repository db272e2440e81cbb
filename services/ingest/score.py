"""The engagement score (design §5) and its category bands."""

from __future__ import annotations

import math
from dataclasses import dataclass

from services.core.settings import ScoreWeights
from services.ingest.windows import SessionSignals

CATEGORY_BANDS: tuple[tuple[float, str], ...] = (
    (0.8, "VERY_HIGH"),
    (0.6, "HIGH"),
    (0.4, "MODERATE"),
    (0.2, "LOW"),
    (0.0, "VERY_LOW"),
)


@dataclass(frozen=True, slots=True)
class ScoredTick:
    score: float
    category: str
    breakdown: dict[str, float]


def category_of(score: float) -> str:
    for floor, name in CATEGORY_BANDS:
        if score >= floor:
            return name
    return CATEGORY_BANDS[-1][1]


def _log_norm(rate: float, cap: float) -> float:
    return min(1.0, math.log(max(rate, 0.0) + 1.0) / math.log(cap + 1.0))


def score_signals(signals: SessionSignals, weights: ScoreWeights) -> ScoredTick:
    chat_n = _log_norm(signals.chat_msgs_per_min, weights.chat_cap_per_min)
    react_n = _log_norm(signals.reactions_per_min, weights.reactions_cap_per_min)
    present = signals.total_users
    active_ratio = signals.active_users / present if present else 0.0

    share = signals.attentive_share
    w_chat, w_poll = weights.chat, weights.poll
    w_active, w_react = weights.active, weights.reactions
    w_attention = weights.attention
    # Weight for what nobody in the room could do (no poll running) or the platform does not
    # report (no attention) is shared out over the other positive terms.
    idle = 0.0
    if not signals.poll_active and weights.redistribute_idle_poll_weight:
        idle, w_poll = idle + w_poll, 0.0
    if share is None:
        idle, w_attention = idle + w_attention, 0.0
    if idle:
        others = w_chat + w_active + w_react + w_poll + w_attention
        if others > 0:
            scale = (others + idle) / others
            w_chat, w_active, w_react = w_chat * scale, w_active * scale, w_react * scale
            w_poll, w_attention = w_poll * scale, w_attention * scale

    parts = {
        "chat": w_chat * chat_n,
        "poll": w_poll * signals.poll_participation,
        "active": w_active * active_ratio,
        "reactions": w_react * react_n,
        "leave": -weights.leave * signals.user_leave_rate,
    }
    if weights.attention:
        parts["attention"] = w_attention * (share or 0.0)
    raw = sum(parts.values())
    score = min(1.0, max(0.0, raw))
    breakdown = {name: round(value, 5) for name, value in parts.items()}
    breakdown["active_ratio"] = round(active_ratio, 5)
    if share is not None:
        breakdown["attentive_share"] = round(share, 5)
    return ScoredTick(score=score, category=category_of(score), breakdown=breakdown)
