"""The known-change yardstick (issue #17, part 1): how soon could any detector flag a change?

The best detector of a change between two *known* Poisson rates is CUSUM on the counts'
log-likelihood ratio (optimal in Lorden's worst-case sense, Moustakides 1986): it knows what our
detector has to learn. Per room size and episode type, this script takes the simulator's rates
before and after the change (chat and reactions a tick for a sudden drop, leaves a tick for a
mass exit), sets CUSUM's threshold so that quiet rooms see at most the target false alarms per
hour, and measures its median delay by Monte Carlo. A gradual decline is a slide, not a step:
its yardstick knows the slide's whole profile and searches over its onset (`RampWatch`). Our
detector's delays, from bench/detection_scenarios.py, are compared with these in
docs/detection.md.

    python bench/yardstick.py [--false-alarms-per-hour 0.2] [--trials 400]

Its rates are the simulator's means (a room's slow mood drift, which a real detector must also
absorb, is left out: the yardstick is the floor, not a fair race).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from services.simulation.audience import (  # noqa: E402
    GRADUAL_DECLINE_FLOOR,
    GRADUAL_DECLINE_RAMP_SECONDS,
    MASS_EXIT_SECONDS,
    SUDDEN_DROP_FLOOR,
    default_chat_per_min,
    default_reactions_per_min,
)

TICK_SECONDS = 5.0
AUDIENCES = (10, 50, 200, 1000, 10000)
LEAVE_PER_HOUR = 1.2  # SimSession's default: a person's chance to leave in an hour
MASS_EXIT_SHARE = 0.32  # the least share of a room a simulated mass exit takes


@dataclass(frozen=True, slots=True)
class Change:
    """Poisson counts a tick: `before` until the change, `after` for `lasts` ticks from it."""

    before: float
    after: float
    lasts: int


def llr(count: int, before: float, after: float) -> float:
    """Log-likelihood ratio of one tick's count, changed against unchanged."""
    return count * math.log(after / before) - (after - before)


def cusum_alarm(counts: list[int], before: float, after: float, threshold: float) -> int | None:
    """Index of the first tick at which CUSUM reaches `threshold`, None if it never does."""
    statistic = 0.0
    for i, count in enumerate(counts):
        statistic = max(0.0, statistic + llr(count, before, after))
        if statistic >= threshold:
            return i
    return None


def poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method for small means, a rounded normal for large ones (means here exceed 30
    only in rooms of thousands, where the approximation is far finer than a tick)."""
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def alarms_per_hour(change: Change, threshold: float, rng: random.Random, hours: float) -> float:
    """CUSUM's alarms in quiet counts (restarted after each), per hour."""
    ticks = round(hours * 3600 / TICK_SECONDS)
    statistic, alarms = 0.0, 0
    for _ in range(ticks):
        statistic = max(
            0.0, statistic + llr(poisson(rng, change.before), change.before, change.after)
        )
        if statistic >= threshold:
            alarms, statistic = alarms + 1, 0.0
    return alarms / hours


def calibrate(change: Change, per_hour: float, rng: random.Random, hours: float = 200.0) -> float:
    """The lowest threshold (to 2 %, or 0.01) whose quiet alarms stay at or under `per_hour`."""
    return lowest_threshold(
        lambda threshold, draws: alarms_per_hour(change, threshold, draws, hours), per_hour, rng
    )


def lowest_threshold(
    alarms_at: Callable[[float, random.Random], float], per_hour: float, rng: random.Random
) -> float:
    """Bisection on a detector's quiet alarms per hour at a threshold (fresh draws each time)."""
    low, high = 0.0, 1.0
    while alarms_at(high, random.Random(rng.random())) > per_hour:
        low, high = high, high * 2
    while high - low > max(0.02 * high, 0.01):
        middle = (low + high) / 2
        if alarms_at(middle, random.Random(rng.random())) > per_hour:
            low = middle
        else:
            high = middle
    return high


def delays(
    change: Change, threshold: float, rng: random.Random, trials: int, warm_ticks: int = 60
) -> list[float]:
    """Seconds from the change to CUSUM's alarm, over `trials` quiet-then-changed series (a
    change it misses while it lasts counts as its length)."""
    found = []
    for _ in range(trials):
        statistic = 0.0
        for _ in range(warm_ticks):  # the state a quiet room leaves CUSUM in
            count = poisson(rng, change.before)
            statistic = max(0.0, statistic + llr(count, change.before, change.after))
            if statistic >= threshold:
                statistic = 0.0
        delay = change.lasts * TICK_SECONDS
        for i in range(change.lasts):
            count = poisson(rng, change.after)
            statistic = max(0.0, statistic + llr(count, change.before, change.after))
            if statistic >= threshold:
                delay = (i + 1) * TICK_SECONDS  # flagged at the end of the tick that showed it
                break
        found.append(delay)
    return found


@dataclass(frozen=True, slots=True)
class Ramp:
    """Poisson counts a tick: `before` until the change, then `profile[j]` on the j-th tick from
    it (a slide, whose rate keeps falling), for `len(profile)` ticks."""

    before: float
    profile: tuple[float, ...]

    @property
    def lasts(self) -> int:
        return len(self.profile)


class RampWatch:
    """The best detector of a known slide: for every onset in the last `lasts` ticks, the
    log-likelihood ratio of the counts since then under the slide's profile against no change;
    an alarm when the largest reaches the threshold (window-limited GLR over the onset; for a
    step it is CUSUM over a window). Restarts after each alarm, like CUSUM above."""

    def __init__(self, ramp: Ramp, threshold: float) -> None:
        rates = np.array(ramp.profile)
        self.slope = np.log(rates / ramp.before)  # a count's weight, by age of the onset
        self.offset = rates - ramp.before
        self.threshold = threshold
        self.evidence = np.full(ramp.lasts, -np.inf)  # by onset age 0..lasts-1

    def push(self, count: int) -> bool:
        evidence = self.evidence
        evidence[1:] = evidence[:-1]
        evidence[0] = 0.0
        evidence += count * self.slope - self.offset
        if evidence.max() >= self.threshold:
            evidence.fill(-np.inf)
            return True
        return False


def ramp_alarm(counts: list[int], ramp: Ramp, threshold: float) -> int | None:
    """Index of the first tick at which the slide detector alarms, None if it never does."""
    watch = RampWatch(ramp, threshold)
    return next((i for i, count in enumerate(counts) if watch.push(count)), None)


def ramp_alarms_per_hour(ramp: Ramp, threshold: float, rng: random.Random, hours: float) -> float:
    watch = RampWatch(ramp, threshold)
    ticks = round(hours * 3600 / TICK_SECONDS)
    return sum(watch.push(count) for count in _counts(rng, ramp.before, ticks)) / hours


def ramp_calibrate(ramp: Ramp, per_hour: float, rng: random.Random, hours: float = 200.0) -> float:
    """As `calibrate`, for the slide detector."""
    return lowest_threshold(
        lambda threshold, draws: ramp_alarms_per_hour(ramp, threshold, draws, hours), per_hour, rng
    )


def ramp_delays(
    ramp: Ramp, threshold: float, rng: random.Random, trials: int, warm_ticks: int = 60
) -> list[float]:
    """As `delays`, for the slide detector: the slide's rates tick by tick after quiet ones."""
    found = []
    for _ in range(trials):
        watch = RampWatch(ramp, threshold)
        for count in _counts(rng, ramp.before, warm_ticks):
            watch.push(count)
        delay = ramp.lasts * TICK_SECONDS
        for i, rate in enumerate(ramp.profile):
            if watch.push(poisson(rng, rate)):
                delay = (i + 1) * TICK_SECONDS
                break
        found.append(delay)
    return found


def _counts(rng: random.Random, mean: float, ticks: int) -> Iterator[int]:
    for _ in range(ticks):
        yield poisson(rng, mean)


def gradual_decline(audience: int) -> Ramp:
    """Chat and reactions a tick through the simulator's slide: linearly to its floor over the
    ramp (each tick at its middle), then held there, for the episode's mean length (250 s)."""
    per_tick = (default_chat_per_min(audience) + default_reactions_per_min(audience)) / 60
    before = per_tick * TICK_SECONDS
    profile = []
    for j in range(round(250 / TICK_SECONDS)):
        share = min(1.0, (j + 0.5) * TICK_SECONDS / GRADUAL_DECLINE_RAMP_SECONDS)
        profile.append(before * (1.0 - (1.0 - GRADUAL_DECLINE_FLOOR) * share))
    return Ramp(before, tuple(profile))


def sudden_drop(audience: int) -> Change:
    per_tick = (default_chat_per_min(audience) + default_reactions_per_min(audience)) / 60
    before = per_tick * TICK_SECONDS
    return Change(before, before * SUDDEN_DROP_FLOOR, lasts=round(90 / TICK_SECONDS))


def mass_exit(audience: int) -> Change:
    before = audience * LEAVE_PER_HOUR / 3600 * TICK_SECONDS
    leaving = audience * MASS_EXIT_SHARE * TICK_SECONDS / MASS_EXIT_SECONDS
    ticks = max(1, round(MASS_EXIT_SECONDS / TICK_SECONDS))
    return Change(before, before + leaving, lasts=ticks)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--false-alarms-per-hour", type=float, default=0.2)
    ap.add_argument("--trials", type=int, default=400)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument(
        "--no-gradual", dest="gradual", action="store_false", help="skip the slide (slowest)"
    )
    a = ap.parse_args(argv)
    rng = random.Random(a.seed)
    print(
        f"Known-change CUSUM at <= {a.false_alarms_per_hour} false alarms per quiet hour, "
        f"{TICK_SECONDS:.0f}-s ticks, {a.trials} trials a cell\n"
    )
    print("| present | type | rate before / after a tick | threshold | median delay | p90 |")
    print("|---:|---|---|---:|---:|---:|")
    for audience in AUDIENCES:
        for name, change in (
            ("SUDDEN_DROP", sudden_drop(audience)),
            ("MASS_EXIT", mass_exit(audience)),
        ):
            threshold = calibrate(change, a.false_alarms_per_hour, rng)
            found = delays(change, threshold, rng, a.trials)
            rates = f"{change.before:.2f} / {change.after:.2f}"
            print(_row(audience, name, rates, threshold, found))
        if a.gradual:
            ramp = gradual_decline(audience)
            threshold = ramp_calibrate(ramp, a.false_alarms_per_hour, rng)
            found = ramp_delays(ramp, threshold, rng, a.trials)
            rates = f"{ramp.before:.2f} / {ramp.profile[-1]:.2f} (a slide)"
            print(_row(audience, "GRADUAL_DECLINE", rates, threshold, found))
    return 0


def _row(audience: int, name: str, rates: str, threshold: float, found: list[float]) -> str:
    found = sorted(found)
    return (
        f"| {audience:,} | {name} | {rates} | {threshold:.2f} | "
        f"{statistics.median(found):.1f} s | {found[int(0.9 * len(found))]:.1f} s |"
    )


if __name__ == "__main__":
    sys.exit(main())
