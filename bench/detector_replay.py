"""The anomaly detector's cost alone: recorded simulator ticks replayed into fresh detectors.

    python bench/detector_replay.py [--reps 5] [--seeds 3] [--minutes 40]

The scenario bench (`bench/detection_scenarios.py`) times each update inside a run that also
simulates the room, so its µs/update moves with whatever else the machine does. Here the ticks
of sessions with random scripted episodes (10 to 10,000 present) are recorded once, then
replayed `--reps` times; the best replay is reported. The fingerprint hashes every transition
the detectors return, so a change meant only to make the detector cheaper can show that its
verdicts stayed the same.

Instruction counts do not depend on the machine's load. For them, run the replay under
callgrind with `--reps 0` and `--reps 2` and divide the difference by twice the updates:

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        python bench/detector_replay.py --reps 2
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from bench.detection_scenarios import AUDIENCES, scenario, simulated_ticks  # noqa: E402
from services.detection.detector import SessionDetector  # noqa: E402
from services.ingest.windows import SessionSignals  # noqa: E402

Trace = list[tuple[float, float, SessionSignals]]


def record(seeds: int, minutes: float) -> list[Trace]:
    traces = []
    for audience in AUDIENCES:
        for seed in range(seeds if audience < 10_000 else 1):
            sim, session_id = scenario(audience, seed, quiet=False, attention=False)
            traces.append(list(simulated_ticks(sim, session_id, minutes)))
    return traces


def replay(traces: list[Trace]) -> tuple[float, str]:
    """Seconds spent in `SessionDetector.update`, and a hash of every transition it returned."""
    digest = hashlib.sha256()
    spent = 0.0
    for trace in traces:
        detector = SessionDetector("replay")
        started = time.perf_counter()
        for now, score, signals in trace:
            transitions = detector.update(now, score, signals)
            if transitions:
                digest.update(repr(transitions).encode())
        spent += time.perf_counter() - started
    return spent, digest.hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5, help="replays; the best is reported")
    ap.add_argument("--seeds", type=int, default=3, help="seeds per audience below 10,000")
    ap.add_argument("--minutes", type=float, default=40.0)
    args = ap.parse_args(argv)
    traces = record(args.seeds, args.minutes)
    updates = sum(len(t) for t in traces)
    runs = [replay(traces) for _ in range(args.reps)]
    if not runs:
        print(f"recorded {updates} ticks of {len(traces)} sessions; no replay asked for")
        return 0
    fingerprints = {fp for _, fp in runs}
    best = min(spent for spent, _ in runs)
    print(
        f"{updates} updates of {len(traces)} sessions, best of {args.reps}: "
        f"{best / updates * 1e6:.1f} µs/update; transitions fingerprint {fingerprints.pop()}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
