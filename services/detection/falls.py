"""How did the room's activity fall? Poisson likelihoods of three shapes of fall, to type episodes.

The activity rules (`services.detection.rules`) decide *that* a session's chat + reactions are
abnormally low; this module decides *which kind* of fall it is, from the per-tick counts since it
began. Each shape is a path of the expected count, as a share m(j) of the usual count per tick
(the activity baseline), j ticks after the fall began:

- SUDDEN_DROP, a collapse: nearly everything stops (a tenth is left) from one tick to the next;
- LOW_ENGAGEMENT, a lull: the room settles at about a quarter of its usual level within ~15 s;
- GRADUAL_DECLINE, a slide: a straight line down to a fifth of the usual level over ~3 minutes.

For every shape the evidence is the Poisson log-likelihood ratio of the counts against "no fall",
maximised over when the fall began: Σ_j [x_j ln m(j) - (m(j) - 1)·usual] (a generalised CUSUM).
The tick in which a fall begins holds part of the old level and part of the new one, so its share
is fitted (anywhere between the shape's first step and 1). The likeliest shape names the episode.

Shapes are told apart by how deep and how fast the room fell, the two things the counts can show.
The shares and durations are round values chosen on simulated rooms (docs/detection.md lists the
plateau around them); nothing here depends on the simulator's code.

Cost per tick is O(start times tried): at most 0 + 2 + 12 starts still inside their fall, plus one
running maximum per shape, so at most 17 sums. A start older than its shape's fall is on the
shape's floor for good, so all such starts merge into that one running maximum (the CUSUM
recursion).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from services.core.vocabulary import AnomalyType


@dataclass(frozen=True, slots=True)
class FallShape:
    """A kind of fall: down to `floor` of the usual activity, linearly over `ticks` ticks."""

    kind: AnomalyType
    floor: float
    ticks: int

    def __post_init__(self) -> None:
        if not 0.0 < self.floor < 1.0 or self.ticks < 1:
            raise ValueError("a fall goes to a floor in (0, 1) over at least one tick")

    def share(self, j: int) -> float:
        """Expected share of the usual activity j ticks after the fall began."""
        return 1.0 - (1.0 - self.floor) * min(1.0, (j + 1) / self.ticks)


FALL_SHAPES = (
    FallShape(AnomalyType.SUDDEN_DROP, floor=0.10, ticks=1),
    FallShape(AnomalyType.LOW_ENGAGEMENT, floor=0.25, ticks=3),
    FallShape(AnomalyType.GRADUAL_DECLINE, floor=0.20, ticks=36),
)


# A slow fall is tried from a start every 1/12 of its length; a fast one from every tick.
SLOW_FALL_STARTS = 12


@dataclass(frozen=True, slots=True)
class FallVerdict:
    """The likeliest shape, its evidence (nats over "no fall") and how many ticks ago it began."""

    kind: AnomalyType
    evidence: float
    ticks_since_start: int


class FallEvidence:
    """The running evidence for one shape of fall: O(shape.ticks / stride) per tick."""

    __slots__ = (
        "_clock",
        "_evidence",
        "_first",
        "_floor",
        "_phases",
        "_settled",
        "_settled_age",
        "shape",
    )

    def __init__(self, shape: FallShape) -> None:
        self.shape = shape
        share = [shape.share(j) for j in range(shape.ticks)]
        last = shape.ticks - 1
        # A slow fall's start needs no finer grain than a twelfth of its length.
        stride = max(1, shape.ticks // SLOW_FALL_STARTS)
        # Starts are tried every `stride` ticks, so at clock c the starts still inside their fall
        # are 1 <= j <= last ticks old with j = c (mod stride): one table of (age, ln m(j),
        # m(j) - 1) per phase, youngest first, replaces per-start bookkeeping.
        self._phases = [
            [(j, math.log(share[j]), share[j] - 1.0) for j in range(r or stride, last + 1, stride)]
            for r in range(stride)
        ]
        self._first = share[0]
        self._floor = (math.log(share[last]), share[last] - 1.0)
        self.reset()

    def reset(self) -> None:
        # Evidence of the starts still inside their fall, youngest first; a start that a tick
        # without counts kept from being tried holds -inf, so ages stay implied by position.
        self._evidence: list[float] = []
        # The best start whose fall is complete (on the floor ever since), and its age in ticks.
        self._settled = -math.inf
        self._settled_age = 0
        self._clock = 0

    def push(self, count: float, usual: float) -> None:
        """Add one tick: `count` events where `usual` per tick is the room's normal."""
        clock, phases = self._clock, self._phases
        if self._settled > -math.inf:
            log_floor, floor_step = self._floor
            self._settled += count * log_floor - floor_step * usual
            self._settled_age += 1
        evidence = self._evidence
        if evidence:
            phase = phases[clock % len(phases)]
            evidence = [
                e + (count * log_m - step * usual)
                for e, (_, log_m, step) in zip(evidence, phase, strict=False)
            ]
            self._retire(evidence, phase)
            self._evidence = evidence
        if clock % len(phases) == 0:
            # A fall that began during this tick: the tick's share is fitted, within the shape.
            m0 = min(1.0, max(self._first, count / usual))
            first = count * math.log(m0) - (m0 - 1.0) * usual
            if phases[0]:
                evidence.insert(0, first)
            else:
                self._settle(first, 1)
        self._clock = clock + 1

    def skip(self) -> None:
        """A tick without counts: every start grows a tick older, and no evidence is added."""
        clock, phases = self._clock, self._phases
        if self._settled > -math.inf:
            self._settled_age += 1
        evidence = self._evidence
        if evidence:
            self._retire(evidence, phases[clock % len(phases)])
        if clock % len(phases) == 0 and phases[0]:
            evidence.insert(0, -math.inf)  # no start can be tried in a tick without counts
        self._clock = clock + 1

    def _retire(self, evidence: list[float], phase: list[tuple[int, float, float]]) -> None:
        """The oldest start, once its whole fall has been seen, joins the settled maximum."""
        age = phase[len(evidence) - 1][0]
        if age == self.shape.ticks - 1:
            self._settle(evidence.pop(), age + 1)

    def _settle(self, evidence: float, age: int) -> None:
        if evidence > self._settled:
            self._settled, self._settled_age = evidence, age

    def best(self) -> tuple[float, int]:
        """(evidence, ticks since the fall began) of the likeliest start; (0, 0) if none."""
        evidence, age = self._settled, self._settled_age
        phase = self._phases[self._clock % len(self._phases)]
        for ev, (seen, _, _) in zip(self._evidence, phase, strict=False):
            if ev > evidence:
                evidence, age = ev, seen
        return (evidence, age) if evidence > 0 else (0.0, 0)


class FallTyper:
    """The three shapes side by side; `verdict()` names the likeliest."""

    __slots__ = ("_fresh", "_shapes")

    def __init__(self, shapes: tuple[FallShape, ...] = FALL_SHAPES) -> None:
        self._shapes = [FallEvidence(s) for s in shapes]
        self._fresh = True

    def reset(self) -> None:
        # A detector resets every tick while its baseline warms up: nothing to forget then.
        if not self._fresh:
            for s in self._shapes:
                s.reset()
            self._fresh = True

    def push(self, count: float, usual: float) -> None:
        """Add one tick's count against the room's usual count per tick."""
        if not (math.isfinite(usual) and usual > 0):
            self.reset()  # no baseline to fall from
            return
        if not (math.isfinite(count) and count >= 0):
            self.skip()
            return
        self._fresh = False
        for s in self._shapes:
            s.push(count, usual)

    def skip(self) -> None:
        """A tick that brought no counts: the candidate starts age, their evidence stays."""
        for s in self._shapes:
            s.skip()

    def verdict(self) -> FallVerdict | None:
        """The likeliest shape, or None while no shape explains the counts better than no fall."""
        best: FallVerdict | None = None
        for s in self._shapes:
            evidence, age = s.best()
            if evidence > 0 and (best is None or evidence > best.evidence):
                best = FallVerdict(s.shape.kind, evidence, age)
        return best


def explain_fall(verdict: FallVerdict, usual: float, recent: float, tick_seconds: float) -> str:
    """One line in plain words: from what to what, and how fast (counts are per tick)."""
    per_min = 60.0 / tick_seconds
    before, now = usual * per_min, recent * per_min
    took = _span(max(1, verdict.ticks_since_start) * tick_seconds)
    if verdict.kind is AnomalyType.SUDDEN_DROP:
        return f"chat and reactions fell from {before:.0f}/min to {now:.0f}/min about {took} ago"
    if verdict.kind is AnomalyType.GRADUAL_DECLINE:
        return f"chat and reactions slid from {before:.0f}/min to {now:.0f}/min over {took}"
    share = recent / usual if usual > 0 else 0.0
    return (
        f"chat and reactions have been down at {now:.0f}/min for {took}, "
        f"{share:.0%} of the usual {before:.0f}/min"
    )


def _span(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    if not minutes:
        return f"{secs} s"
    return f"{minutes} min {secs} s" if secs else f"{minutes} min"
