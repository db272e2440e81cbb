"""The activity rules fed hand-made tick counts one 5-s tick at a time, as the detector feeds
them: shared by the tests of the baseline, of cliffs and of slow falls."""

from __future__ import annotations

from collections.abc import Collection

from services.core.vocabulary import AnomalyType, Severity
from services.detection.episodes import DetectorSettings, Finding
from services.detection.rules import ActivityRules

SETTINGS = DetectorSettings()
LOW, GRADUAL = AnomalyType.LOW_ENGAGEMENT, AnomalyType.GRADUAL_DECLINE
CRITICAL, WARNING = Severity.CRITICAL, Severity.WARNING
Verdict = tuple[Finding | None, dict[AnomalyType, Finding]]


class Room:
    """Activity rules fed one 5-s tick at a time, in the detector's order: push, judge, learn."""

    def __init__(self, settings: DetectorSettings = SETTINGS) -> None:
        self.rules = ActivityRules(settings)
        self.now = 0.0

    def _tick(self, count: float, frozen: bool, open_types: Collection[AnomalyType]) -> Verdict:
        rules = self.rules
        self.now += 5.0
        rules.push(count)
        verdict = (rules.sudden(), rules.slow(self.now, open_types))
        rules.learn(count, frozen=frozen)
        return verdict

    def learnt(self, *counts: float) -> Room:
        """Ticks that become the baseline."""
        for count in counts:
            self._tick(count, False, ())
        return self

    def judge(self, *counts: float, open_types: Collection[AnomalyType] = ()) -> list[Verdict]:
        """Ticks judged against a baseline that holds still, as it does while an episode is open."""
        return [self._tick(count, True, open_types) for count in counts]

    def cliff(self, *counts: float) -> Finding | None:
        return self.judge(*counts)[-1][0]


def busy(per_tick: float = 10.0, ticks: int = 20, settings: DetectorSettings = SETTINGS) -> Room:
    return Room(settings).learnt(*[per_tick] * ticks)


def score(z: float) -> float:
    return min(1.0, -z / 8.0)
