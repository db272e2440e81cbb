"""A sudden drop seen in the attention signal (design §2): viewers looking away.

In a room of ten, chat and reactions come a few a minute: a fall takes the better part of a
minute to tell from chance. Who is looking is reported by everyone, within a tick of changing:
a share of the room that looks away at once is a drop the counts cannot show yet.

Pure state over the attentive share each tick; the detector turns a finding into a SUDDEN_DROP.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from scipy.stats import binom

from services.core.push_objects import Trigger, TriggerRule
from services.core.vocabulary import Severity


@dataclass(frozen=True, slots=True)
class AttentionSettings:
    # Fewer reporting viewers than this, and one turning away is most of the room: no verdict.
    min_reported: int = 5
    # Ticks of shares the usual level is the mean of, and how many it needs first.
    baseline_ticks: int = 24
    warm_ticks: int = 6
    # A drop is large (at most this much of the usual share, this far below it: a big room's
    # small dip is certain, and no drop) and not chance: as few looking as now, or fewer, would
    # happen by chance in a room looking as usual with at most `chance_once` this tick, or
    # `chance_twice` on this and the tick before (a viewer's state lasts about a tick).
    warning_ratio: float = 0.75
    critical_ratio: float = 0.4
    min_fall: float = 0.2
    chance_once: float = 1e-4
    chance_twice: float = 3e-3
    # Sudden: `sudden_ticks` ago the share was still at least this much of its usual level (a
    # gradual decline's viewers drift away over minutes: that is the activity rules' to type).
    sudden_ticks: int = 4
    sudden_from: float = 0.85
    # Back to this much of the usual level: recovered.
    recover_ratio: float = 0.85


@dataclass(frozen=True, slots=True)
class AttentionFinding:
    severity: Severity
    usual: float  # the attentive share before
    now: float  # the attentive share now

    @property
    def why(self) -> str:
        return f"viewers looking at the session fell from {self.usual:.0%} to {self.now:.0%}"

    @property
    def trigger(self) -> Trigger:
        return Trigger(TriggerRule.ATTENTION, round(self.usual, 4), round(self.now, 4), None)


class AttentionWatch:
    def __init__(self, settings: AttentionSettings | None = None) -> None:
        self.settings = settings or AttentionSettings()
        self._shares: deque[float] = deque(maxlen=self.settings.baseline_ticks)
        self._recent: deque[float | None] = deque(maxlen=self.settings.sudden_ticks)
        self.latest: float | None = None
        self._unlikely_before = False

    @property
    def usual(self) -> float | None:
        if len(self._shares) < self.settings.warm_ticks:
            return None
        return sum(self._shares) / len(self._shares)

    def check(self, share: float | None, reported: int) -> AttentionFinding | None:
        """This tick's verdict; `share` None when nobody reports attention."""
        s = self.settings
        before = self._recent[0] if len(self._recent) == s.sudden_ticks else None
        self.latest = share if share is not None and reported >= s.min_reported else None
        self._recent.append(self.latest)
        usual = self.usual
        unlikely_before, self._unlikely_before = self._unlikely_before, False
        if self.latest is None or usual is None or usual <= 0:
            return None
        now = self.latest
        if usual - now < s.min_fall or now > usual * s.warning_ratio:
            return None
        if before is None or before < usual * s.sudden_from:
            return None
        looking = round(now * reported)
        chance = float(binom.cdf(looking, reported, min(usual, 1.0)))
        self._unlikely_before = chance < s.chance_twice
        if chance >= s.chance_once and not (self._unlikely_before and unlikely_before):
            return None
        severity = Severity.CRITICAL if now <= usual * s.critical_ratio else Severity.WARNING
        return AttentionFinding(severity, usual, now)

    def learn(self, frozen: bool) -> None:
        """Take this tick's share into the usual level, unless an episode is open or the share
        is already unlikely (a drop, or its first tick, must not become the room's usual)."""
        if self.latest is not None and not frozen and not self._unlikely_before:
            self._shares.append(self.latest)

    def recovered(self) -> bool | None:
        """Back near the usual level; None when there is nothing to judge it by."""
        usual = self.usual
        if self.latest is None or usual is None:
            return None
        return self.latest >= usual * self.settings.recover_ratio
