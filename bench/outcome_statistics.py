"""Which measure of an intervention's outcome tells the best type from the others most often.

    python bench/outcome_statistics.py [--seeds 6] [--decisions 5000] [--jobs 2]

The uniform random policy runs the learning bench's closed loop (bench/agent_regret.py: the
simulator, the collector's SessionBook, drawn truth tables), keeping each decision's session
scores from 60 s before it to 105 s after. Then, per seed and agent context where every type has
at least --min-outcomes outcomes, each candidate measure is computed for every outcome and
judged by:

- d': the true best type's mean minus the other types' mean, in pooled within-type spreads;
- how often the highest mean of 10, 20 or 40 outcomes per type (drawn with replacement) is the
  true best type (the highest true mean rescue share over the context's decisions).

The measures: the change (the mean score in an after-window minus that in a before-window),
the after-window alone, and the after minus a fraction of the before. Within a context every
type starts from rooms alike, so a measure that is the after alone, less anything the same for
every type, compares types as fairly as the change does. docs/agent.md ("Why the lift") has the
results.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from bench.agent_regret import Decision, RunJob, run  # noqa: E402
from services.agent.reward import RewardRule  # noqa: E402
from services.core.vocabulary import InterventionType  # noqa: E402

# Scores kept: 60 s before each decision to 105 s after (the after-window is unused here).
KEEP = RewardRule(delay_seconds=105.0, before_seconds=60.0, after_seconds=105.0)
SAMPLE_SIZES = (10, 20, 40)

Measure = Callable[[dict[int, float]], float | None]


def window_mean(scores: dict[int, float], start: int, end: int) -> float | None:
    """Mean score in (start, end] seconds from the decision; before it, in [start, end)."""
    if end <= 0:
        values = [s for at, s in scores.items() if start <= at < end]
    else:
        values = [s for at, s in scores.items() if start < at <= end]
    return statistics.fmean(values) if values else None


def change(before: int, start: int, end: int) -> Measure:
    def measure(scores: dict[int, float]) -> float | None:
        was, now = window_mean(scores, -before, 0), window_mean(scores, start, end)
        return None if was is None or now is None else now - was

    return measure


def after_less(fraction: float, start: int, end: int) -> Measure:
    def measure(scores: dict[int, float]) -> float | None:
        was, now = window_mean(scores, -30, 0), window_mean(scores, start, end)
        return None if was is None or now is None else now - fraction * was

    return measure


MEASURES: dict[str, Measure] = {
    "change: after 30-60 s - before 30 s": change(30, 30, 60),
    "change: after 30-90 s - before 30 s": change(30, 30, 90),
    "change: after 30-60 s - before 60 s": change(60, 30, 60),
    "after 30-60 s - half the before": after_less(0.5, 30, 60),
    "after 30-60 s alone": after_less(0.0, 30, 60),
    "after 30-90 s alone": after_less(0.0, 30, 90),
    "after 45-90 s alone": after_less(0.0, 45, 90),
    "after 30-105 s alone": after_less(0.0, 30, 105),
}


def judge_measure(
    runs: Iterable[list[Decision]],
    measure: Measure,
    min_outcomes: int,
    resamples: int,
    rng: random.Random,
) -> tuple[float, dict[int, float], int]:
    """(mean d', share of resamples naming the true best per sample size, contexts judged)."""
    separations: list[float] = []
    named = {n: [0, 0] for n in SAMPLE_SIZES}
    for decisions in runs:
        outcomes: dict[str, dict[InterventionType, list[float]]] = defaultdict(
            lambda: defaultdict(list)
        )
        shares: dict[str, dict[InterventionType, list[float]]] = defaultdict(
            lambda: defaultdict(list)
        )
        for d in decisions:
            for arm, share in d.shares.items():
                shares[d.context][arm].append(share)
            value = measure(d.scores or {})
            if value is not None:
                outcomes[d.context][d.chosen].append(value)
        for key, per_arm in outcomes.items():
            if len(per_arm) < len(shares[key]) or min(map(len, per_arm.values())) < min_outcomes:
                continue
            best = max(shares[key], key=lambda arm: statistics.fmean(shares[key][arm]))
            spread = math.sqrt(statistics.fmean(statistics.pvariance(v) for v in per_arm.values()))
            others = statistics.fmean(statistics.fmean(v) for a, v in per_arm.items() if a != best)
            separations.append((statistics.fmean(per_arm[best]) - others) / spread)
            for n, tally in named.items():
                for _ in range(resamples):
                    means = {a: statistics.fmean(rng.choices(v, k=n)) for a, v in per_arm.items()}
                    tally[0] += max(means, key=means.__getitem__) is best
                    tally[1] += 1
    share = {n: right / max(1, tried) for n, (right, tried) in named.items()}
    return statistics.fmean(separations) if separations else 0.0, share, len(separations)


def after_on_before(runs: Iterable[list[Decision]], start: int, end: int) -> tuple[float, float]:
    """The slope of the after-window's mean on the 30 s before, within each context and type,
    and the share of the after's spread there that it explains."""
    products = squares = spread = 0.0
    for decisions in runs:
        pairs: dict[tuple[str, InterventionType], list[tuple[float, float]]] = defaultdict(list)
        for d in decisions:
            was, now = window_mean(d.scores or {}, -30, 0), window_mean(d.scores or {}, start, end)
            if was is not None and now is not None:
                pairs[(d.context, d.chosen)].append((was, now))
        for group in pairs.values():
            if len(group) < 5:
                continue
            mean_was = statistics.fmean(was for was, _ in group)
            mean_now = statistics.fmean(now for _, now in group)
            products += sum((was - mean_was) * (now - mean_now) for was, now in group)
            squares += sum((was - mean_was) ** 2 for was, _ in group)
            spread += sum((now - mean_now) ** 2 for _, now in group)
    return products / squares, products**2 / squares / spread


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--decisions", type=int, default=5000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--min-outcomes", type=int, default=20)
    parser.add_argument("--resamples", type=int, default=20)
    args = parser.parse_args(argv)
    jobs = [
        RunJob("random", seed, args.decisions, rule=KEEP, keep_scores=True)
        for seed in range(args.seeds)
    ]
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            results = list(pool.map(run, jobs))
    else:
        results = [run(job) for job in jobs]
    runs = [result.decisions for result in results]
    print(f"\nRandom policy, {args.seeds} seeds, {args.decisions} decisions each.\n")
    print("| what each outcome counts | d' | " + " | ".join(map(str, SAMPLE_SIZES)) + " |")
    print("|---|---:|" + "---:|" * len(SAMPLE_SIZES))
    judged = 0
    for name, measure in MEASURES.items():
        rng = random.Random(1)
        separation, share, judged = judge_measure(
            runs, measure, args.min_outcomes, args.resamples, rng
        )
        cells = " | ".join(f"{share[n]:.0%}" for n in SAMPLE_SIZES)
        print(f"| {name} | {separation:.2f} | {cells} |")
    print(f"\nContexts judged (every type with >= {args.min_outcomes} outcomes): {judged}.")
    for start, end in ((30, 60), (30, 90)):
        slope, explained = after_on_before(runs, start, end)
        print(
            f"After {start}-{end} s on the 30 s before, within context and type: slope "
            f"{slope:+.3f}, {explained:.2%} of the after's spread explained."
        )
    wall = sum(r.wall_seconds for r in results)
    print(f"{wall:.0f} s of CPU over {len(results)} runs.")


if __name__ == "__main__":
    main()
