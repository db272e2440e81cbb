"""The known-change yardstick (issue #17, part 1): how soon could any detector flag a change?

The best detector of a change between two *known* Poisson rates is CUSUM on the counts'
log-likelihood ratio (optimal in Lorden's worst-case sense, Moustakides 1986): it knows what our
detector has to learn. Per room size and episode type, this script draws the counts a tick as the
simulator draws them and gives that detector everything but the moment of the change:

- the rates before and after (the simulator's configured means: chat and reactions for a sudden
  drop and a gradual decline, leaves for a mass exit) and the change's whole shape (a sudden drop
  falls to 10 % over 3 s; a gradual decline slides to 20 % over 180 s; a mass exit's leavers go
  within 10 s);
- the onset falls anywhere in a tick, as the simulator's episodes do, so the tick that holds it
  shows part of the change; the detector weighs every onset second of the last `lasts` ticks
  (a window-limited likelihood-ratio search, `ChangeWatch`; for a step at a tick's start it is
  CUSUM, which a test checks);
- the room's mood (a 15 % drift in log rate with a 60-s relaxation) multiplies chat and
  reactions, and half of the chat arrives 1.5-5 s after it was written, as in the simulator. The
  detector does not see the mood: like ours, it must absorb it (`--no-mood` leaves it out, for
  the floor of counting noise alone).

Its threshold is set so that quiet rooms see at most the target false alarms per hour, and its
delay (from the onset to the end of the tick it alarms on) is measured by Monte Carlo. Our
detector's delays, from bench/detection_scenarios.py, are compared with these in
docs/detection.md.

    python bench/yardstick.py [--false-alarms-per-hour 0.2] [--trials 300] [--no-mood]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from services.simulation.audience import (  # noqa: E402
    MASS_EXIT_SECONDS,
    Episode,
    EpisodeKind,
    default_chat_per_min,
    default_reactions_per_min,
)
from services.simulation.room import (  # noqa: E402
    MOOD_NOISE,
    MOOD_RELAX_SECONDS,
    TYPING_SHARE,
)

TICK_SECONDS = 5.0
STEP_SECONDS = 0.2  # rates are integrated into a tick's mean on this grid
STEPS = round(TICK_SECONDS / STEP_SECONDS)
ONSETS = 5  # onset seconds a tick the detector weighs
WARM_TICKS = 60  # quiet ticks before each trial's change: the state a quiet room leaves it in
AUDIENCES = (10, 50, 200, 1000, 10000)
LEAVE_PER_HOUR = 1.2  # SimSession's default: a person's chance to leave in an hour
MASS_EXIT_SHARE = (0.32, 0.6)  # the simulator's walk-out, as a share of the room
TYPING_DELAY = (1.5, 5.0)  # seconds a typed chat message arrives after it was written


@dataclass(frozen=True, slots=True)
class Change:
    """What the simulator draws, per second: `quiet` events a second in each stream before the
    onset, and `shape(seconds since onset, size)` the factor on them after it.

    Streams are (rate a second, moved by the mood, share delayed by typing)."""

    streams: tuple[tuple[float, bool, float], ...]
    shape: Callable[[np.ndarray, float], np.ndarray]
    lasts: int  # ticks from the onset's tick that the change is watched
    sizes: tuple[float, float] = (1.0, 1.0)  # the change's size is drawn from this range

    @property
    def before(self) -> float:
        """Mean count a tick before the change."""
        return sum(rate for rate, _, _ in self.streams) * TICK_SECONDS

    def counts(
        self,
        rng: np.random.Generator,
        ticks: int,
        onset: float | None = None,
        size: float | None = None,
        mood: bool = True,
    ) -> np.ndarray:
        """One draw of `ticks` tick counts, the change starting `onset` seconds in (None: never)."""
        return rng.poisson(self.means(ticks, onset, size, self._mood(rng, ticks) if mood else None))

    def means(
        self,
        ticks: int,
        onset: float | None,
        size: float | None = None,
        mood: np.ndarray | None = None,
    ) -> np.ndarray:
        """Mean count of each tick, given the mood's path (log rate a second; None: no mood)."""
        at = (np.arange(ticks * STEPS) + 0.5) * STEP_SECONDS
        factor = np.ones_like(at)
        if onset is not None:
            after = at >= onset
            size = self.sizes[0] if size is None else size
            factor[after] = self.shape(at[after] - onset, size)
        swing = np.exp(mood[(at // 1).astype(int)]) if mood is not None else 1.0
        total = np.zeros_like(at)
        for rate, moody, delayed in self.streams:
            written = rate * factor * (swing if moody else 1.0)
            total += (1.0 - delayed) * written
            if delayed:
                total += delayed * _typing_delay(written)
        return total.reshape(ticks, STEPS).sum(axis=1) * STEP_SECONDS

    def profiles(self) -> np.ndarray:
        """Mean counts of the `lasts` ticks from the onset's tick, per onset second in that tick
        (rows), on the configured rates: what the known-change detector expects."""
        return np.array(
            [self.means(self.lasts + 1, TICK_SECONDS + second)[1:] for second in range(ONSETS)]
        )

    def _mood(self, rng: np.random.Generator, ticks: int) -> np.ndarray:
        """The simulator's mood a second: an AR(1) in log rate, from its stationary spread."""
        keep = 1.0 - 1.0 / MOOD_RELAX_SECONDS
        seconds = int(ticks * TICK_SECONDS) + 1
        shocks = rng.normal(0.0, MOOD_NOISE, seconds)
        shocks[0] = rng.normal(0.0, MOOD_NOISE / math.sqrt(1.0 - keep * keep))
        return lfilter([1.0], [1.0, -keep], shocks)


def _typing_delay(written: np.ndarray) -> np.ndarray:
    """Rates a step, moved later by a delay uniform over TYPING_DELAY (a convolution)."""
    lo, hi = (round(d / STEP_SECONDS) for d in TYPING_DELAY)
    kernel = np.zeros(hi + 1)
    kernel[lo : hi + 1] = 1.0 / (hi - lo + 1)
    moved = np.convolve(written, kernel)[: len(written)]
    moved[:hi] += written[0] * (1.0 - np.cumsum(kernel)[:hi])  # before the series: as at its start
    return moved


class ChangeWatch:
    """The best detector of a known change at an unknown moment: for every onset second of the
    last `lasts` ticks, the log-likelihood ratio of the counts since then under the change against
    none; an alarm when the largest reaches the threshold, then a fresh start."""

    def __init__(self, before: float, profiles: np.ndarray, threshold: float) -> None:
        self.slope = np.log(profiles / before).T  # (age in ticks, onset second)
        self.offset = (profiles - before).T
        self.threshold = threshold
        self.evidence = np.full(self.slope.shape, -np.inf)

    def push(self, count: int) -> bool:
        evidence = self.evidence
        evidence[1:] = evidence[:-1]
        evidence[0] = 0.0
        evidence += count * self.slope - self.offset
        if evidence.max() >= self.threshold:
            evidence.fill(-np.inf)
            return True
        return False


def first_alarm(watch: ChangeWatch, counts: np.ndarray) -> int | None:
    """Index of the first tick the detector alarms on, None if it never does."""
    return next((i for i, count in enumerate(counts) if watch.push(int(count))), None)


def alarms_per_hour(
    change: Change, threshold: float, rng: np.random.Generator, hours: float, mood: bool = True
) -> float:
    """The detector's alarms in quiet counts (restarting after each), per hour."""
    watch = ChangeWatch(change.before, change.profiles(), threshold)
    counts = change.counts(rng, round(hours * 3600 / TICK_SECONDS), mood=mood)
    return sum(watch.push(int(count)) for count in counts) / hours


def calibrate(
    change: Change,
    per_hour: float,
    rng: np.random.Generator,
    hours: float = 200.0,
    mood: bool = True,
) -> float:
    """The lowest threshold (to 2 %, or 0.01) whose quiet alarms stay at or under `per_hour`."""
    return lowest_threshold(
        lambda threshold, draws: alarms_per_hour(change, threshold, draws, hours, mood),
        per_hour,
        rng,
    )


def lowest_threshold(
    alarms_at: Callable[[float, np.random.Generator], float],
    per_hour: float,
    rng: np.random.Generator,
) -> float:
    """Bisection on a detector's quiet alarms per hour at a threshold (fresh draws each time)."""
    low, high = 0.0, 1.0
    while alarms_at(high, rng.spawn(1)[0]) > per_hour:
        low, high = high, high * 2
    while high - low > max(0.02 * high, 0.01):
        middle = (low + high) / 2
        if alarms_at(middle, rng.spawn(1)[0]) > per_hour:
            low = middle
        else:
            high = middle
    return high


def delays(
    change: Change, threshold: float, rng: np.random.Generator, trials: int, mood: bool = True
) -> list[float]:
    """Seconds from the onset to the end of the tick the detector alarms on, over `trials` quiet
    series that then change at a moment uniform in a tick (a change it misses while it lasts
    counts as its length)."""
    profiles, found = change.profiles(), []
    for _ in range(trials):
        onset = (WARM_TICKS + rng.random()) * TICK_SECONDS
        size = rng.uniform(*change.sizes)
        counts = change.counts(rng, WARM_TICKS + change.lasts, onset, size, mood)
        watch = ChangeWatch(change.before, profiles, threshold)
        for count in counts[:WARM_TICKS]:
            watch.push(int(count))
        at = first_alarm(watch, counts[WARM_TICKS:])
        ticks = change.lasts if at is None else at + 1
        found.append((WARM_TICKS + ticks) * TICK_SECONDS - onset)
    return found


def _activity(kind: EpisodeKind, seconds: float, audience: int) -> Change:
    """Chat and reactions through `seconds` of one of the simulator's activity episodes (the
    factor it puts on them, by seconds since the onset; its size is fixed)."""
    episode = Episode(kind, 0.0, seconds + TICK_SECONDS)

    def shape(since: np.ndarray, _size: float) -> np.ndarray:
        return np.array([episode.activity(t) for t in since.tolist()])

    chat = default_chat_per_min(audience) / 60
    reactions = default_reactions_per_min(audience) / 60
    streams = ((chat, True, TYPING_SHARE), (reactions, True, 0.0))
    return Change(streams, shape, round(seconds / TICK_SECONDS))


def sudden_drop(audience: int) -> Change:
    """Chat and reactions through a sudden drop's first 90 s."""
    return _activity(EpisodeKind.SUDDEN_DROP, 90.0, audience)


def gradual_decline(audience: int) -> Change:
    """Chat and reactions through a gradual decline's mean length (250 s)."""
    return _activity(EpisodeKind.GRADUAL_DECLINE, 250.0, audience)


def mass_exit(audience: int) -> Change:
    """Leaves a second: the usual trickle, then a share of the room within 10 s. The detector
    expects the smallest walk-out the simulator draws; the trials draw its whole range."""
    usual = audience * LEAVE_PER_HOUR / 3600

    def shape(since: np.ndarray, size: float) -> np.ndarray:
        walking = np.where(since < MASS_EXIT_SECONDS, audience * size / MASS_EXIT_SECONDS, 0.0)
        return 1.0 + walking / usual

    ticks = math.ceil(MASS_EXIT_SECONDS / TICK_SECONDS) + 1
    return Change(((usual, False, 0.0),), shape, ticks, MASS_EXIT_SHARE)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--false-alarms-per-hour", type=float, default=0.2)
    ap.add_argument("--trials", type=int, default=300)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--no-mood", dest="mood", action="store_false", help="counting noise only")
    ap.add_argument(
        "--no-gradual", dest="gradual", action="store_false", help="skip the slide (slowest)"
    )
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args(argv)
    print(
        f"Known-change detector at <= {a.false_alarms_per_hour} false alarms per quiet hour, "
        f"{TICK_SECONDS:.0f}-s ticks, {a.trials} trials a cell, "
        f"{'with' if a.mood else 'without'} the room's mood\n"
    )
    print("| present | type | mean count a tick before | threshold | median delay | p90 |")
    print("|---:|---|---:|---:|---:|---:|")
    kinds = ["SUDDEN_DROP", "MASS_EXIT"] + (["GRADUAL_DECLINE"] if a.gradual else [])
    cells = [
        (audience, kind, a.false_alarms_per_hour, a.trials, a.mood, (a.seed, n))
        for n, (audience, kind) in enumerate(
            (audience, kind) for audience in AUDIENCES for kind in kinds
        )
    ]
    with ProcessPoolExecutor(max(1, a.jobs)) as pool:
        for row in pool.map(cell, cells):
            print(row)
    return 0


CHANGES: dict[str, Callable[[int], Change]] = {
    "SUDDEN_DROP": sudden_drop,
    "MASS_EXIT": mass_exit,
    "GRADUAL_DECLINE": gradual_decline,
}


def cell(job: tuple[int, str, float, int, bool, tuple[int, int]]) -> str:
    """One table row: calibrate the detector for a room and a change, then time it."""
    audience, kind, per_hour, trials, mood, seed = job
    rng = np.random.default_rng(seed)
    change = CHANGES[kind](audience)
    threshold = calibrate(change, per_hour, rng, mood=mood)
    found = sorted(delays(change, threshold, rng, trials, mood))
    return (
        f"| {audience:,} | {kind} | {change.before:.2f} | {threshold:.2f} | "
        f"{statistics.median(found):.1f} s | {found[int(0.9 * len(found))]:.1f} s |"
    )


if __name__ == "__main__":
    sys.exit(main())
