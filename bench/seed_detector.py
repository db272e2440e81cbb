"""The seed system's detector, rebuilt as a baseline (bench only; never used by the service).

As described in issue #3: river's HalfSpaceTrees (weight 0.7) plus a z-score (weight 0.3) on the
engagement score, alerting per tick at >= 0.6 (WARNING) and >= 0.8 (CRITICAL). Assumptions where
the description is silent, chosen to be the libraries' defaults: HalfSpaceTrees(n_trees=10,
height=8, window_size=250, seed=42) on the single feature {"score": x} (already in [0, 1]), its
score read before learning the sample; the z-score over the last 60 values (the live chart's
five minutes), squashed to [0, 1] as min(|z| / 3, 1). The seed's 2-hour cache rebuild is not
modelled (every run here is shorter or is a single model, which only flatters the seed).

Needs `river` (bench-only dependency).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from river.anomaly import HalfSpaceTrees


class SeedHybrid:
    """0.7 * HalfSpaceTrees + 0.3 * rolling z-score, in [0, 1]."""

    def __init__(self, window: int = 60, hst_window: int = 250, seed: int = 42) -> None:
        self.hst = HalfSpaceTrees(n_trees=10, height=8, window_size=hst_window, seed=seed)
        self.buf: deque[float] = deque(maxlen=window)

    def update(self, x: float) -> float:
        if x is None or not math.isfinite(x):
            return 0.0
        features = {"score": x}
        hst = float(self.hst.score_one(features))
        self.hst.learn_one(features)
        z = 0.0
        if len(self.buf) >= 2:
            mean = sum(self.buf) / len(self.buf)
            var = sum((v - mean) ** 2 for v in self.buf) / len(self.buf)
            sd = math.sqrt(var)
            z = abs(x - mean) / sd if sd > 1e-12 else 0.0
        self.buf.append(x)
        return 0.7 * hst + 0.3 * min(z / 3.0, 1.0)


class SeedNabAdapter:
    """For run_detector.py: NAB values are min-max scaled online so HalfSpaceTrees sees [0, 1]."""

    def __init__(self, **kwargs: Any) -> None:
        self.det = SeedHybrid(**kwargs)
        self.lo = math.inf
        self.hi = -math.inf

    def update(self, timestamp: Any, value: float) -> float:
        self.lo, self.hi = min(self.lo, value), max(self.hi, value)
        span = self.hi - self.lo
        x = (value - self.lo) / span if span > 0 else 0.5
        return min(1.0, max(0.0, self.det.update(x)))


class SeedScenarioAdapter:
    """For bench/detection_scenarios.py: every tick scoring >= 0.6 is an alert (as the seed did).

    The seed had no episode logic, so each alerting tick is one detection; its type is reported
    as the seed's rule of thumb would name it: a mass exit if the room shrank >= 20 % since the
    previous tick, else a sudden drop. Compare it with our detector on the "any type" table.
    """

    def __init__(self) -> None:
        self.det = SeedHybrid()
        self.prev_present: int | None = None

    def update(self, now: float, score: float, sig: Any) -> list[Any]:
        from bench.detection_scenarios import Detection

        s = self.det.update(score)
        present = sig.total_users
        kind = "SUDDEN_DROP"
        if self.prev_present and present <= 0.8 * self.prev_present:
            kind = "MASS_EXIT"
        self.prev_present = present
        return [Detection(now, kind)] if s >= 0.6 else []
