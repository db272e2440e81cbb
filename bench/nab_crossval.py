"""Leave-one-folder-out cross-validation of the detector's core on NAB's development split.

    python bench/nab_crossval.py [--nab ../shared/nab] [--split dev] [--jobs 2]
    python bench/nab_crossval.py --rows 1600 --lead 250     # short series

The core (`services/detection/novelty.py`) has a few round settings. Choosing them on the whole
development split and scoring the same split says how well they fit it, not how well they
generalise. Here every candidate in a small grid runs once over every file; then, for each
folder, the candidate with the best standard score on the *other* folders is scored on that
folder. The held-out predictions of all folders, put together, are scored as one corpus: the
cross-validated score, to set beside the full-split score of the candidate tuned on everything
and beside the default's.

A folder without anomaly windows (artificialNoAnomaly) has no normalised score of its own (its
perfect and null scores are equal), so its row shows its false positives instead.

Timestamps are restamped 5 s apart, as `run_detector.py --restamp 5` does (scoring is by row).
Stdlib and the project only; NAB's scorer (`nab_score.py`) comes from the NAB directory.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import statistics
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from services.detection.novelty import NoveltyScorer, NoveltySettings  # noqa: E402

# Each a few round values either side of the default.
GRID: dict[str, Sequence[Any]] = {
    "learn": (96, 288, 576),
    # 288 and more: nothing is judged before the grid is final. Ties go to the earlier value.
    "first_judged": (288, 144, 48),
    "bins": (8, 16, 32),
    "rest": (200, 400, 800),
}
PROFILE = "standard"
RESTAMP_SECONDS = 5

Corpus = list[tuple[str, list[Any], list[Any]]]


def candidates(grid: dict[str, Sequence[Any]]) -> list[dict[str, Any]]:
    names = list(grid)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*grid.values())]


def folder_of(rel: str) -> str:
    return rel.split("/", 1)[0]


class Harness:
    """The split's files, loaded once per process, and the scorer module."""

    def __init__(
        self, nab_dir: str, split: str, rows: int | None = None, lead: int | None = None
    ) -> None:
        sys.path.insert(0, nab_dir)
        import nab_score

        self.nab = nab_score
        self.split_dir = os.path.join(nab_dir, split) if not os.path.isdir(split) else split
        self.corpus: Corpus = nab_score.load_corpus(self.split_dir)
        self.profiles = {PROFILE: nab_score.load_profiles(self.split_dir)[PROFILE]}
        self.values = {
            rel: [
                float(v)
                for v in nab_score.read_columns(
                    os.path.join(self.split_dir, "data", rel), ["value"]
                )["value"]
            ]
            for rel, _, _ in self.corpus
        }
        if rows:
            self._cut(rows, lead)

    def _cut(self, rows: int, lead: int | None) -> None:
        """Short series: every file cut to `rows` rows, keeping the windows inside them (NAB's
        probation shrinks with the file: 15 % of its rows). With `lead`, a file with windows
        starts `lead` rows before its first window, as a series that begins just before trouble."""
        corpus = []
        for rel, stamps, windows in self.corpus:
            start = 0
            if lead is not None and windows:
                first = next(i for i, at in enumerate(stamps) if at >= windows[0][0])
                start = max(0, min(first - lead, len(stamps) - rows))
            cut = stamps[start : start + rows]
            kept = [w for w in windows if cut[0] <= w[0] and w[1] <= cut[-1]]
            corpus.append((rel, cut, kept))
            self.values[rel] = self.values[rel][start : start + rows]
        self.corpus = corpus

    def scores(self, settings: dict[str, Any]) -> dict[str, list[float]]:
        """Run a fresh core with these settings over every file, as run_detector.py does."""
        out: dict[str, list[float]] = {}
        step = timedelta(seconds=RESTAMP_SECONDS)
        for rel, stamps, _ in self.corpus:
            core = NoveltyScorer(NoveltySettings(**settings))
            out[rel] = [
                _clamp(core.update(stamps[0] + k * step, value))
                for k, value in enumerate(self.values[rel])
            ]
        return out

    def score(self, scores: dict[str, list[float]], folders: set[str]) -> dict[str, Any]:
        corpus = [item for item in self.corpus if folder_of(item[0]) in folders]
        return self.nab.score_corpus(corpus, scores, self.profiles)[PROFILE]


def _clamp(score: float) -> float:
    return 0.0 if math.isnan(score) else min(1.0, max(0.0, score))


@dataclass(slots=True)
class Evaluation:
    """One candidate's scores on every file and its NAB results on the subsets the folds need."""

    settings: dict[str, Any]
    scores: dict[str, list[float]]
    full: dict[str, Any]
    without: dict[str, dict[str, Any]]  # folder -> result on all the other folders
    alone: dict[str, dict[str, Any]]  # folder -> result on that folder


_harness: Harness | None = None


def _init(nab_dir: str, split: str, rows: int | None, lead: int | None) -> None:
    global _harness
    _harness = Harness(nab_dir, split, rows, lead)


def evaluate(settings: dict[str, Any]) -> Evaluation:
    harness = _harness
    assert harness is not None
    scores = harness.scores(settings)
    folders = {folder_of(rel) for rel, _, _ in harness.corpus}
    return Evaluation(
        settings,
        scores,
        harness.score(scores, folders),
        {f: harness.score(scores, folders - {f}) for f in folders},
        {f: harness.score(scores, {f}) for f in folders},
    )


def label(settings: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items())


def crossvalidate(harness: Harness, runs: list[Evaluation]) -> None:
    folders = sorted({folder_of(rel) for rel, _, _ in harness.corpus})
    defaults = NoveltySettings()
    default = next(
        run for run in runs if all(getattr(defaults, k) == v for k, v in run.settings.items())
    )
    best_full = max(runs, key=lambda run: run.full["normalized_score"])
    print(f"\n{len(runs)} candidates over {', '.join(runs[0].settings)}; {len(folders)} folders.\n")
    print(
        "| held-out folder | chosen on the other three | score there | held-out score "
        "| default's held-out score |"
    )
    print("|---|---|---|---|---|")
    held_out: dict[str, list[float]] = {}
    for folder in folders:
        pick = max(runs, key=lambda run: run.without[folder]["normalized_score"])
        for rel, _, _ in harness.corpus:
            if folder_of(rel) == folder:
                held_out[rel] = pick.scores[rel]
        print(
            f"| {folder} | {label(pick.settings)} | "
            f"{pick.without[folder]['normalized_score']:.2f} | {_held(pick.alone[folder])} | "
            f"{_held(default.alone[folder])} |"
        )
    pooled = harness.score(held_out, set(folders))
    print(
        f"\nCross-validated score (every folder scored with settings chosen without it, "
        f"pooled): {_held(pooled)}."
    )
    print(
        f"Default ({label(default.settings)}) on the full split: {_held(default.full)}; "
        f"tuned on the full split ({label(best_full.settings)}): {_held(best_full.full)}."
    )
    spread = sorted(run.full["normalized_score"] for run in runs)
    print(
        f"Full-split scores across the grid: median {statistics.median(spread):.2f}, "
        f"lowest {spread[0]:.2f}, highest {spread[-1]:.2f}."
    )
    print("\nBest ten candidates on the full split:\n")
    for run in sorted(runs, key=lambda r: -r.full["normalized_score"])[:10]:
        print(f"- {label(run.settings)}: {_held(run.full)}")


def _held(result: dict[str, Any]) -> str:
    if math.isnan(result["normalized_score"]):
        return f"no windows; {result['fp']} FP"
    return (
        f"{result['normalized_score']:.2f} ({result['windows_detected']}/{result['windows']}, "
        f"{result['fp']} FP)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nab", default=os.path.join(_ROOT, "..", "shared", "nab"))
    parser.add_argument("--split", default="dev")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rows", type=int, help="cut every file to ROWS rows")
    parser.add_argument("--lead", type=int, help="with --rows: start LEAD rows before a window")
    args = parser.parse_args(argv)
    nab_dir = os.path.abspath(args.nab)
    harness = Harness(nab_dir, args.split, args.rows, args.lead)
    mapper: Callable = map
    setup = (nab_dir, args.split, args.rows, args.lead)
    if args.jobs > 1:
        pool = ProcessPoolExecutor(args.jobs, initializer=_init, initargs=setup)
        mapper = pool.map
    else:
        _init(*setup)
    crossvalidate(harness, list(mapper(evaluate, candidates(GRID))))


if __name__ == "__main__":
    main()
