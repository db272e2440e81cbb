"""The anomaly detector's vocabulary: types, settings, and the episode transitions it emits.

`services.detection.detector.SessionDetector` emits `AnomalyStarted`, `AnomalyEscalated` and
`AnomalyEnded`; `services.detection.rules` holds the per-type tests. All tunables are in the frozen
`DetectorSettings` (per event; `sensitivity` > 1 flags more, < 1 fewer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

from services.core.platform import SIGNAL_NAMES
from services.core.push_objects import Trigger, TriggerRule
from services.core.vocabulary import AnomalyType, Severity
from services.detection.novelty import NoveltySettings


class SignalsLike(Protocol):
    """The fields of `services.ingest.windows.SessionSignals` that the detector reads.

    `chat_in_tick` and `reactions_in_tick` (events since the previous tick) drive the activity
    rules; `total_users` drives MASS_EXIT. A signals object without the per-tick counts still
    works, but then only MASS_EXIT and the score-floor LOW_ENGAGEMENT can fire.
    """

    total_users: int
    chat_in_tick: int
    reactions_in_tick: int


@dataclass(frozen=True, slots=True)
class DetectorSettings:
    """Per-event tunables. Ratios are shares of the session's own baseline activity."""

    tick_seconds: float = 5.0
    sensitivity: float = 1.0
    cooldown_seconds: float = 90.0
    # Exact counts need no cooldown against noise: a second walk-out soon after is real.
    mass_exit_cooldown_seconds: float = 30.0
    # Activity baseline: EW mean of per-tick counts over `baseline_ticks` (5 min), trusted after
    # `warmup_ticks` (30 s). Upward bursts (applause) are clipped before they are learnt.
    baseline_ticks: float = 60.0
    warmup_ticks: int = 6
    # Smallest expected count a test window must hold: a tiny room is tested over more ticks
    # (up to `max_window_ticks`), or not at all, rather than alarm on Poisson noise.
    min_expected: float = 8.0
    max_window_ticks: int = 12
    # MASS_EXIT
    mass_exit_share: float = 0.2
    mass_exit_min_users: int = 3
    mass_exit_min_audience: int = 8
    mass_exit_ticks: int = 3
    mass_exit_critical_share: float = 0.4
    # A walk-out under way: this share of the room, and at least this many, gone in one tick
    # (ordinary leaving takes about a tenth of a percent of a room a tick).
    mass_exit_fast_share: float = 0.05
    mass_exit_fast_min_users: int = 4
    # SUDDEN_DROP: the last k ticks (k <= 4, longer only in tiny rooms) hold at most
    # `drop_ratio` of what the minute before them predicts, at Poisson z <= -drop_z, and that
    # minute was itself near normal (>= `drop_prior_ratio` of baseline): a cliff, not a slide.
    drop_ratio: float = 0.2
    drop_z: float = 4.2
    drop_spread: float = 0.005  # extra relative variance over a few ticks
    drop_prior_ratio: float = 0.6
    drop_short_ticks: int = 4
    drop_long_ratio: float = 0.12
    # GRADUAL_DECLINE: the 30-s mean at most `decline_ratio` of baseline (z <= -decline_z) for
    # `decline_ticks` ticks, having slid there slowly: at least `decline_min_seconds` since it was
    # last at `normal_ratio` of baseline. A faster slide is a LOW_ENGAGEMENT onset. The z asked
    # of a slide is higher than a lull's: a slide's test runs every tick of a long sag, and at
    # 3.0 half of a quiet room's false alarms were the mood's slow swings read as slides.
    decline_ratio: float = 0.62
    decline_z: float = 3.5
    # Relative variance of a room's 30-s level around its 5-min baseline beyond Poisson noise
    # (the audience's mood: about +-15 % in the simulator).
    mood_spread: float = 0.0225
    decline_min_seconds: float = 35.0
    normal_ratio: float = 0.85
    decline_ticks: int = 2
    # LOW_ENGAGEMENT: the 30-s mean at most `low_ratio` of baseline (z <= -low_z) for
    # `low_seconds`; or the engagement score below `low_score` for `low_score_seconds`.
    low_ratio: float = 0.45
    low_z: float = 3.0
    low_seconds: float = 30.0
    low_score: float = 0.1
    low_score_seconds: float = 180.0
    # Severity and recovery
    critical_ratio: float = 0.2  # activity below this share of baseline is CRITICAL
    recover_ratio: float = 0.7
    recover_ticks: int = 2
    max_episode_seconds: float = 900.0
    # A silence this long, or time going backwards, resets the detector.
    restart_gap_seconds: float = 300.0
    core: NoveltySettings = field(default_factory=NoveltySettings)

    def __post_init__(self) -> None:
        if not self.sensitivity > 0:
            raise ValueError("sensitivity must be > 0")
        if self.tick_seconds <= 0 or self.max_window_ticks < self.drop_short_ticks:
            raise ValueError("tick_seconds must be > 0 and max_window_ticks >= drop_short_ticks")


@dataclass(frozen=True, slots=True)
class AnomalyStarted:
    session_id: str
    episode_id: str
    type: AnomalyType
    severity: Severity
    at: float
    anomaly_score: float
    current_engagement: float
    expected_engagement: float
    deviation: float  # (current - expected) / expected; negative when below
    explanation: str
    signals: dict[str, float | int]
    trigger: Trigger | None = None  # the numbers behind `severity`


@dataclass(frozen=True, slots=True)
class AnomalyEscalated:
    session_id: str
    episode_id: str
    type: AnomalyType
    severity: Severity
    at: float
    explanation: str
    trigger: Trigger | None = None  # the numbers behind `severity`


@dataclass(frozen=True, slots=True)
class AnomalyEnded:
    session_id: str
    episode_id: str
    type: AnomalyType
    severity: Severity  # the highest reached
    started_at: float
    at: float
    recovered: bool
    recovery_seconds: float | None  # from opening to recovery; None if it never recovered


Transition = AnomalyStarted | AnomalyEscalated | AnomalyEnded


@dataclass(slots=True)
class OpenEpisode:
    episode_id: str
    type: AnomalyType
    severity: Severity
    started_at: float
    good_ticks: int = 0
    # Opened by the activity alarms (one such episode at a time); not by a mass exit or the
    # score floor, which judge other signals and recover by them.
    on_activity: bool = False


@dataclass(frozen=True, slots=True)
class Finding:
    """A rule's verdict for this tick: the type is anomalous now, this badly, because `why`."""

    severity: Severity
    why: str
    score: float  # rule strength in [0, 1]
    trigger: Trigger  # the numbers `severity` was decided on, for the page's headline
    on_activity: bool = False  # from the activity alarms (see OpenEpisode.on_activity)


def activity_trigger(usual_per_min: float, now_per_min: float) -> Trigger:
    """An activity alarm's numbers: chat + reactions a minute, usually and now."""
    return Trigger(TriggerRule.ACTIVITY, round(usual_per_min, 4), round(now_per_min, 4), None)


def finite(x: Any) -> float | None:
    """A finite, non-negative float, or None (missing, NaN, inf, negative, not a number)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) and v >= 0 else None


def signals_dict(signals: Any) -> dict[str, float | int]:
    if signals is None:
        return {}
    if hasattr(signals, "as_contract"):
        return signals.as_contract()  # type: ignore[no-any-return]
    return {k: getattr(signals, k) for k in SIGNAL_NAMES if hasattr(signals, k)}
