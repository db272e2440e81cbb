"""Labelled-scenario benchmark: the simulator's scripted episodes against the detectors.

    python bench/detection_scenarios.py [--seeds 8] [--minutes 40] [--jobs 2] [--seed-detector]

For every audience size (10, 50, 200, 1000, 10000 present) and seed, one simulated session with
random scripted episodes and one without any ("quiet") are driven offline, second by second, into
a `SessionBook` (no Redis); at every 5-s tick the session's signals and engagement score go to a
fresh `SessionDetector`. Detections are matched to the simulator's ground truth:

- a detection is a true positive for an episode if it opens in [start, end + GRACE] with the
  episode's type (strict) - or any type (family: "something is wrong" was raised in time);
- a detection matching no episode is a false positive; quiet sessions give false alarms per hour;
- "follow-on" (documented policy, reported next to strict): a LOW_ENGAGEMENT that opens inside a
  SUDDEN_DROP or GRADUAL_DECLINE episode after its correctly typed first alarm is not counted.

Delay = detection time - episode start. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from services.core.settings import ScoreWeights  # noqa: E402
from services.detection.detector import AnomalyStarted, SessionDetector  # noqa: E402
from services.ingest.contracts import PayloadRejected, parse_signal  # noqa: E402
from services.ingest.score import score_signals  # noqa: E402
from services.ingest.windows import SessionSignals, WindowConfig  # noqa: E402
from services.live.session_book import Lifetimes, SessionBook  # noqa: E402
from services.simulation.simulator import SimSession, Simulator  # noqa: E402

AUDIENCES = (10, 50, 200, 1000, 10000)
TYPES = ("SUDDEN_DROP", "GRADUAL_DECLINE", "MASS_EXIT", "LOW_ENGAGEMENT")
GRACE = 30.0  # seconds after an episode's end in which a detection still counts for it
TICK = 5.0
T0 = 1_700_000_000.0


@dataclass(frozen=True, slots=True)
class Detection:
    at: float
    type: str


@dataclass(frozen=True, slots=True)
class RunResult:
    audience: int
    seed: int
    quiet: bool
    hours: float
    truth: list[tuple[str, float, float]]  # (type, start, end)
    detections: list[Detection]
    updates: int
    detect_seconds: float
    attention: bool = False


# A detector factory returns an object with update(now, score, signals) -> list of detections.
Factory = Callable[[], Any]


def ours() -> Any:
    det = SessionDetector("bench")

    class _Adapter:
        def update(self, now: float, score: float, sig: SessionSignals) -> list[Detection]:
            return [
                Detection(tr.at, str(tr.type))
                for tr in det.update(now, score, sig)
                if isinstance(tr, AnomalyStarted)
            ]

    return _Adapter()


def seed_factory() -> Any:
    from bench.seed_detector import SeedScenarioAdapter

    return SeedScenarioAdapter()


FACTORIES: dict[str, Factory] = {"ours": ours, "seed": seed_factory}


def simulated_ticks(
    sim: Simulator, session_id: str, minutes: float
) -> Iterator[tuple[float, float, SessionSignals]]:
    """Drive `sim` second by second into a `SessionBook`; yield (time, score, signals) per tick."""
    book = SessionBook(WindowConfig(), ScoreWeights(), Lifetimes())
    end = T0 + minutes * 60.0
    t = T0
    while t < end:
        t += 1.0
        for stream, payload in sim.step(t):
            try:
                book.apply(parse_signal(stream, payload), t)
            except PayloadRejected:
                continue
        if (t - T0) % TICK == 0:
            window = book.windows.get(session_id)
            if window is not None:
                sig = window.snapshot(t)
                yield t, score_signals(sig, book.weights).score, sig


def scenario(audience: int, seed: int, quiet: bool, attention: bool) -> tuple[Simulator, str]:
    """One simulated session of `audience` people, with random scripted episodes unless quiet;
    with `attention`, its viewers report their attention state (design §2)."""
    spec = SimSession(
        session_id=f"a{audience}-s{seed}",
        event_id="bench",
        title="bench",
        audience=audience,
        episode_every=None if quiet else 150.0,
        attention=attention,
    )
    return Simulator([spec], seed=seed, start=T0), spec.session_id


def run_one(job: tuple[str, int, int, bool, float, bool]) -> RunResult:
    name, audience, seed, quiet, minutes, attention = job
    sim, session_id = scenario(audience, seed, quiet, attention)
    det = FACTORIES[name]()
    detections: list[Detection] = []
    updates = 0
    spent = 0.0
    for t, score, sig in simulated_ticks(sim, session_id, minutes):
        started = time.perf_counter()
        found = det.update(t, score, sig)
        spent += time.perf_counter() - started
        updates += 1
        detections.extend(found)
    end = T0 + minutes * 60.0
    truth = [(str(ep.kind), ep.start, ep.end) for _, ep in sim.ground_truth() if ep.start < end]
    return RunResult(
        audience, seed, quiet, minutes / 60.0, truth, detections, updates, spent, attention
    )


# Detections that are legitimate consequences of an episode of another type, under the
# "follow-on" policy: the room stays low after a sudden drop or a gradual decline, so a
# LOW_ENGAGEMENT opened later in that same episode describes it correctly, after the primary alarm.
FOLLOW_ON = {("SUDDEN_DROP", "LOW_ENGAGEMENT"), ("GRADUAL_DECLINE", "LOW_ENGAGEMENT")}


def match(results: Iterable[RunResult], mode: str) -> dict[str, Any]:
    """Per-type recall, precision and delays; quiet-time false alarms per hour.

    mode "strict": a detection counts only for an episode of its own type; any other detection
    is a false positive. "follow-on": as strict, but a detection listed in FOLLOW_ON that opens
    inside an episode after that episode's correctly typed primary detection is neither a true
    nor a false positive (it is not counted at all). "any": any type counts for any episode.
    """
    strict = mode != "any"
    tp: dict[str, int] = defaultdict(int)
    n_truth: dict[str, int] = defaultdict(int)
    fp: dict[str, int] = defaultdict(int)
    n_det: dict[str, int] = defaultdict(int)
    delays: dict[str, list[float]] = defaultdict(list)
    quiet_alarms, quiet_hours = 0, 0.0
    for r in results:
        if r.quiet:
            quiet_alarms += len(r.detections)
            quiet_hours += r.hours
        used: set[int] = set()
        excused: set[int] = set()
        for kind, start, end in r.truth:
            n_truth[kind] += 1
            inside = [(i, d) for i, d in enumerate(r.detections) if start <= d.at <= end + GRACE]
            hits = [(i, d) for i, d in inside if d.type == kind or not strict]
            if hits:
                tp[kind] += 1
                first = min(d.at for _, d in hits)
                delays[kind].append(first - start)
                used.update(i for i, _ in hits)
                if mode == "follow-on":
                    excused.update(
                        i
                        for i, d in inside
                        if d.at > first and (kind, d.type) in FOLLOW_ON and i not in used
                    )
        for i, d in enumerate(r.detections):
            if i in excused:
                continue
            n_det[d.type] += 1
            if i not in used:
                fp[d.type] += 1
    out: dict[str, Any] = {"types": {}}
    for kind in TYPES:
        dl = sorted(delays[kind])
        out["types"][kind] = {
            "episodes": n_truth[kind],
            "recall": tp[kind] / n_truth[kind] if n_truth[kind] else math.nan,
            "detections": n_det[kind],
            "precision": 1 - fp[kind] / n_det[kind] if n_det[kind] else math.nan,
            "median_delay": statistics.median(dl) if dl else math.nan,
            "p90_delay": dl[int(0.9 * (len(dl) - 1))] if dl else math.nan,
        }
    total_truth = sum(n_truth.values())
    total_det = sum(n_det.values())
    out["recall"] = sum(tp.values()) / total_truth if total_truth else math.nan
    out["precision"] = 1 - sum(fp.values()) / total_det if total_det else math.nan
    out["quiet_alarms_per_hour"] = quiet_alarms / quiet_hours if quiet_hours else math.nan
    return out


def confusion(results: Iterable[RunResult]) -> str:
    """The type of each episode's first alarm (in [start, end + GRACE]), per true type."""
    counts: dict[str, dict[str, int]] = {kind: defaultdict(int) for kind in TYPES}
    for r in results:
        for kind, start, end in r.truth:
            first = next((d.type for d in r.detections if start <= d.at <= end + GRACE), "none")
            counts[kind][first] += 1
    cols = [*TYPES, "none"]
    lines = [
        "**first alarm's type, per true type**",
        "",
        "| true \\ first alarm | " + " | ".join(cols) + " |",
        "|---" * (len(cols) + 1) + "|",
    ]
    lines += [f"| {k} | " + " | ".join(str(counts[k][c]) for c in cols) + " |" for k in TYPES]
    return "\n".join(lines)


def fmt(x: float, pct: bool = False) -> str:
    if isinstance(x, float) and math.isnan(x):
        return "-"
    return f"{x:.2f}" if not pct else f"{x:.0%}"


def table(title: str, m: dict[str, Any]) -> str:
    lines = [
        f"**{title}**: recall {fmt(m['recall'])}, precision {fmt(m['precision'])}, "
        f"quiet-time false alarms {fmt(m['quiet_alarms_per_hour'])}/hour",
        "",
        "| type | episodes | recall | detections | precision | median delay s | p90 delay s |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, v in m["types"].items():
        lines.append(
            f"| {kind} | {v['episodes']} | {fmt(v['recall'])} | {v['detections']} | "
            f"{fmt(v['precision'])} | {fmt(v['median_delay'])} | {fmt(v['p90_delay'])} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--detector", choices=sorted(FACTORIES), default="ours")
    ap.add_argument("--seeds", type=int, default=8, help="seeds per audience below 10,000")
    ap.add_argument("--big-seeds", type=int, default=2, help="seeds at 10,000 present")
    ap.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="first seed (seeds 0-7 tuned the detector, 0-127 its false-alarm thresholds)",
    )
    ap.add_argument("--minutes", type=float, default=40.0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--audiences", default=",".join(map(str, AUDIENCES)))
    ap.add_argument(
        "--attention",
        choices=("off", "on", "both"),
        default="off",
        help="viewers report attention (design §2); both: the same rooms with and without",
    )
    a = ap.parse_args(argv)
    audiences = [int(x) for x in a.audiences.split(",")]
    modes = {"off": (False,), "on": (True,), "both": (False, True)}[a.attention]
    jobs = [
        (a.detector, aud, seed, quiet, a.minutes, attention)
        for attention in modes
        for aud in audiences
        for seed in range(a.first_seed, a.first_seed + (a.big_seeds if aud >= 10000 else a.seeds))
        for quiet in (False, True)
    ]
    started = time.perf_counter()
    with ProcessPoolExecutor(a.jobs) as ex:
        results = list(ex.map(run_one, jobs))
    wall = time.perf_counter() - started
    updates = sum(r.updates for r in results)
    spent = sum(r.detect_seconds for r in results)
    print(
        f"detector {a.detector}: {len(jobs)} sessions x {a.minutes:.0f} min, {updates} ticks, "
        f"{1e6 * spent / max(updates, 1):.1f} us/update, wall {wall:.0f} s\n"
    )
    print(table("strict (type must match)", match(results, "strict")))
    print()
    print(table("follow-on policy (see FOLLOW_ON)", match(results, "follow-on")))
    print()
    print(table("any type (an alarm of any type in the episode)", match(results, "any")))
    print()
    print(confusion(results))
    print()
    print("Per audience (strict): recall / precision / quiet alarms per hour / median delays")
    print("| attention | present | recall | precision | quiet/h | SD | GD | ME | LE |")
    print("|---|---|---|---|---|---|---|---|---|")
    for attention in modes:
        for aud in audiences:
            m = match(
                [r for r in results if r.audience == aud and r.attention == attention], "strict"
            )
            d = [fmt(m["types"][k]["median_delay"]) for k in TYPES]
            print(
                f"| {'on' if attention else 'off'} | {aud} | {fmt(m['recall'])} | "
                f"{fmt(m['precision'])} | {fmt(m['quiet_alarms_per_hour'])} | {' | '.join(d)} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
