"""How soon could any detector see a sudden drop in the attention signal (issue #17, part 2)?

The simulator's viewers (services/simulation/attention.py) redraw their state now and then (on
average every DWELL_SECONDS), looking at the stage with a chance that falls with the room's
activity; a change is reported at once. So the number looking at each tick's end is a Markov
chain: of those looking, a share stays looking, of the others a share turns back. This script
gives the best detector of the same per-tick counts that our watch sees everything but the
moment of the drop: the chance of looking before and after, the sudden drop's 3-s ramp, and the
viewers' dwell. For every onset second of the last `lasts` ticks it sums the log-likelihood
ratio of each tick's count given the last (changed against unchanged); its threshold is set for
at most 0.2 false alarms per quiet hour, and its delay runs from the onset (anywhere in a tick)
to the end of the tick it alarms on.

    python bench/attention_yardstick.py [--present 10,50] [--trials 300]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
from collections.abc import Callable

import numpy as np
from scipy.stats import binom

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from bench.yardstick import ONSETS, TICK_SECONDS, lowest_threshold  # noqa: E402
from services.simulation.attention import DWELL_SECONDS, AttentionModel  # noqa: E402
from services.simulation.audience import Episode, EpisodeKind  # noqa: E402

LASTS = round(60 / TICK_SECONDS)  # a minute of evidence per onset
WARM_TICKS = 60
STEPS = 50  # a tick's grid for the chance of looking


VIEWERS = AttentionModel(random.Random(0))  # for its chance of looking, which draws nothing
DROP = Episode(EpisodeKind.SUDDEN_DROP, 0.0, 3600.0)


def looking_chance(since: float | None) -> float:
    """The simulator's chance that a viewer redrawing now looks, `since` seconds after a sudden
    drop's onset (None: no drop)."""
    return VIEWERS.chance_of_looking(1.0 if since is None else DROP.activity(since))


def tick_chances(start: float, onset: float | None) -> tuple[float, float]:
    """(stay, turn): the chance that a viewer looking at a tick's start looks at its end, and
    that one not looking does, for the tick from `start` (seconds; the onset likewise)."""
    # The viewer's state at the end is set by the last redraw in the tick, if any: redraws come
    # at rate 1/DWELL, so the last one lies `back` seconds before the end with density
    # exp(-back / DWELL) / DWELL.
    back = (np.arange(STEPS) + 0.5) * TICK_SECONDS / STEPS
    weight = np.exp(-back / DWELL_SECONDS) / DWELL_SECONDS * TICK_SECONDS / STEPS
    end = start + TICK_SECONDS
    chance = np.array([looking_chance(None if onset is None else end - b - onset) for b in back])
    redrawn = float((weight * chance).sum())
    none = math.exp(-TICK_SECONDS / DWELL_SECONDS)
    return none + redrawn, redrawn


def transition_logs(present: int, stay: float, turn: float) -> np.ndarray:
    """log P(now looking | before looking), [before, now], for a room of `present`."""
    table = np.full((present + 1, present + 1), -np.inf)
    for before in range(present + 1):
        kept = binom.pmf(np.arange(before + 1), before, stay)
        back = binom.pmf(np.arange(present - before + 1), present - before, turn)
        with np.errstate(divide="ignore"):
            table[before] = np.log(np.convolve(kept, back))
    return table


class AttentionYardstick:
    """The known-change detector of a sudden drop in the number of viewers looking."""

    def __init__(self, present: int) -> None:
        self.present = present
        quiet = transition_logs(present, *tick_chances(0.0, None))
        self.quiet = quiet
        # [age in ticks, onset second, before, now]: the change's log-likelihood ratio.
        changed = np.array(
            [
                [
                    transition_logs(present, *tick_chances(age * TICK_SECONDS, float(second)))
                    for second in range(ONSETS)
                ]
                for age in range(LASTS)
            ]
        )
        with np.errstate(invalid="ignore"):
            self.ratio = np.nan_to_num(changed - quiet, nan=0.0, neginf=-1e9, posinf=1e9)

    def alarms(self, counts: np.ndarray, threshold: float) -> list[int]:
        """Ticks (indexes of `counts`, from the second) it alarms on, restarting after each."""
        evidence = np.full((LASTS, ONSETS), -np.inf)
        found = []
        for i in range(1, len(counts)):
            evidence[1:] = evidence[:-1]
            evidence[0] = 0.0
            evidence += self.ratio[:, :, counts[i - 1], counts[i]]
            if evidence.max() >= threshold:
                found.append(i)
                evidence.fill(-np.inf)
        return found

    def quiet_counts(self, rng: np.random.Generator, ticks: int) -> np.ndarray:
        stay, turn = tick_chances(0.0, None)
        return self._walk(rng, ticks, lambda _tick: (stay, turn))

    def _walk(
        self,
        rng: np.random.Generator,
        ticks: int,
        chances: Callable[[int], tuple[float, float]],
    ) -> np.ndarray:
        """The number looking at each tick's end, the tick's (stay, turn) chances given."""
        counts = np.empty(ticks, dtype=int)
        looking = rng.binomial(self.present, looking_chance(None))
        for tick in range(ticks):
            stay, turn = chances(tick)
            looking = rng.binomial(looking, stay) + rng.binomial(self.present - looking, turn)
            counts[tick] = looking
        return counts

    def delays(self, threshold: float, rng: np.random.Generator, trials: int) -> list[float]:
        found = []
        for _ in range(trials):
            onset = (WARM_TICKS + rng.random()) * TICK_SECONDS
            counts = self._walk(
                rng,
                WARM_TICKS + LASTS,
                lambda tick, at=onset: tick_chances(tick * TICK_SECONDS, at),
            )
            ticks = [i for i in self.alarms(counts, threshold) if i >= WARM_TICKS]
            end = (ticks[0] + 1) if ticks else WARM_TICKS + LASTS
            found.append(end * TICK_SECONDS - onset)
        return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--present", default="10,50")
    ap.add_argument("--false-alarms-per-hour", type=float, default=0.2)
    ap.add_argument("--trials", type=int, default=300)
    ap.add_argument("--seed", type=int, default=17)
    a = ap.parse_args(argv)
    rng = np.random.default_rng(a.seed)
    print("| present | threshold | median delay | p90 |")
    print("|---:|---:|---:|---:|")
    hours = 200.0
    ticks = round(hours * 3600 / TICK_SECONDS)
    for present in (int(x) for x in a.present.split(",")):
        watch = AttentionYardstick(present)
        threshold = lowest_threshold(
            lambda t, draws, w=watch: len(w.alarms(w.quiet_counts(draws, ticks), t)) / hours,
            a.false_alarms_per_hour,
            rng,
        )
        found = sorted(watch.delays(threshold, rng, a.trials))
        print(
            f"| {present:,} | {threshold:.2f} | {statistics.median(found):.1f} s | "
            f"{found[int(0.9 * len(found))]:.1f} s |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
