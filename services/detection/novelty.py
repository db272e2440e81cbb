"""A novelty core: "the value fell where this series has never been", two-sided, bounded.

`NoveltyScorer` is the statistical core that `services.detection.detector.SessionDetector` runs on a
live session's engagement score (`update(t, x) -> score in [0, 1]`, `reset()`);
`bench/nab_detector.py:make` returns its default construction, so the NAB number is the number
of what the live detector runs. It knows nothing about engagement.
Horizons are in samples; a live session's tick is 5 s.

How a sample is judged:

1. Learning. The first `learn` samples fix a grid on the value axis: bin width = their range /
   `bins`, anchored at their minimum. They are replayed into the grid as visited and score 0.
   (With `first_judged` < `learn`, the first `first_judged` samples fix a provisional grid the
   same way, the samples after them are judged on it without starting a rest, and the grid is
   fixed again once `learn` samples are in.) The grid then stays frozen: a new extreme opens
   new bins without re-mapping the learnt ones (a grid over the running min/max re-maps every
   bin at each new extreme and scored 50 on NAB dev against 70 frozen; see docs/detection.md).
   A series that has not moved at all learns until it does (the last `learn` samples are
   replayed).
2. Novelty. A sample in a visited bin scores 0. A sample in a bin never visited scores d / (d + 1),
   where d >= 1 is its distance in bins from the nearest visited bin (0.5 for the next bin over,
   0.9 nine bins away), and its bin becomes visited. The value itself is quantised, so a rise and
   a fall open new bins alike: two-sided by construction. Returning to a level already seen is not
   novel, and a slow drift scores at the edge of what has been seen, bin by bin.
3. Rest. After a score >= `rest_threshold`, the next `rest` samples score 0 unless they beat it:
   one event gives one early alarm, not one per bin it crosses (NAB counts only a window's first
   detection and every detection outside a window as a false positive; an operator wants the same).

Bounded memory and time. The visited bins are one bitmask over at most `max_bins` consecutive
bins. When a new bin would stretch it further, the grid coarsens: the width doubles (as often as
needed, in one step) and neighbouring bins merge, so every value seen stays visited and the grid's
resolution never gets finer than (range seen) / `max_bins`. A learning buffer of `learn` floats
exists only until the grid is final. So an instance holds at most max(`learn` floats, `max_bins`
bits) plus a dozen scalars. Work per sample is O(1) bitmask operations on at most `max_bins` bits;
a coarsening walks the at most `max_bins` visited bins once.

Bad input (None, NaN, +-inf) is skipped: state untouched, score 0, so it neither crashes nor
alarms. Time going backwards or a gap longer than `gap_reset` typical intervals restarts the
scorer, learning included (a restarted series is not an anomaly).
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from datetime import datetime

# Bin indices beyond this are clamped: float spacing is coarser than one bin there anyway, and it
# keeps a wild finite value (or an overflowing x - anchor) from asking for an astronomical shift.
_MAX_INDEX = 2**52
# A learning range this small relative to the values is float noise, not movement.
_REL_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class NoveltySettings:
    """Tunables of `NoveltyScorer`. Round values, chosen for meaning, checked on NAB dev."""

    # Samples whose range fixes the grid: 288 is 24 min of 5-s ticks (and one day of NAB's 5-min
    # sampling).
    learn: int = 288
    # Samples after which a provisional grid, fixed on them alone, starts judging; the grid is
    # fixed again on all `learn` samples when they are in. At `learn` or more (the default) the
    # scorer is silent until the grid is final: judging from 48 samples on ties on NAB dev and
    # scores lower on short series (74.7 against 80.2, bench/nab_crossval.py --rows 1600), since
    # a range seen over 48 samples is too narrow and its edges alarm.
    first_judged: int = 288
    # Bins across the learnt range: a move of 1/16 of the range seen while learning, beyond
    # anything seen since, is the smallest novelty.
    bins: int = 16
    # Widest span of the visited-bin bitmask before the grid coarsens: 16 learnt ranges.
    max_bins: int = 256
    # Re-alarm hold after a score >= rest_threshold: 400 samples is 33 min of 5-s ticks.
    rest: int = 400
    # 0.5 is the score of any new bin, so any novelty starts a rest.
    rest_threshold: float = 0.5
    # A gap longer than this many typical intervals restarts the scorer (5 min at 5-s ticks).
    gap_reset: float = 60.0


def _timestamp(t: float | datetime | None) -> float | None:
    if t is None:
        return None
    v = t.timestamp() if isinstance(t, datetime) else float(t)
    return v if math.isfinite(v) else None


class NoveltyScorer:
    """Streaming two-sided novelty scorer on a frozen value grid; one instance per series."""

    __slots__ = (
        "_anchor",
        "_base",
        "_buf",
        "_dt",
        "_final",
        "_held",
        "_hi",
        "_last_t",
        "_lo",
        "_mask",
        "_n",
        "_peak",
        "_width",
        "settings",
    )

    def __init__(self, settings: NoveltySettings | None = None) -> None:
        s = settings or NoveltySettings()
        if s.learn < 2 or s.first_judged < 2 or s.bins < 1 or s.max_bins <= s.bins or s.rest < 0:
            raise ValueError(
                "need learn >= 2, first_judged >= 2, bins >= 1, max_bins > bins, rest >= 0"
            )
        self.settings = s
        self.reset()

    def reset(self) -> None:
        self._n = 0  # valid samples seen
        self._lo = math.inf
        self._hi = -math.inf
        # Ring of the latest samples, replayed into the grid once it is fixed, then dropped.
        self._buf = array("d", bytes(8 * self.settings.learn))
        self._width = 0.0  # 0 until a grid (provisional or final) is fixed
        self._final = False
        self._anchor = 0.0
        self._base = 0  # bin index of the mask's bit 0
        self._mask = 0  # visited bins, relative to _base
        self._held = 0
        self._peak = 0.0
        self._last_t: float | None = None
        self._dt = 0.0

    @property
    def warm(self) -> bool:
        """True once a grid is fixed and samples are judged."""
        return self._width > 0.0

    @property
    def final(self) -> bool:
        """True once the grid is fixed on the whole learning period."""
        return self._final

    @property
    def width(self) -> float:
        return self._width

    @property
    def span(self) -> int:
        """Bins covered by the visited-bin bitmask (<= max_bins)."""
        return self._mask.bit_length()

    def update(self, t: float | datetime | None, x: float | None) -> float:
        """Feed one sample; return its anomaly score in [0, 1] (0 while learning or skipped)."""
        if x is None or not math.isfinite(x):
            return 0.0
        x = float(x)
        self._tick(_timestamp(t))
        self._n += 1
        if not self._final:
            self._remember(x)
            if not self.warm:
                self._fix_grid()
                return 0.0
        b = self._index(x)
        delta = self._offset(b)
        if delta:
            self._visit(b)
        d = abs(delta)
        score = d / (d + 1.0)
        s = self.settings
        if self._held > 0:
            self._held -= 1
            if score <= self._peak:
                score = 0.0
        if not self._final:
            # A provisional grid's range is the first few samples': its novelties do not start
            # a rest that could hide the first real event.
            self._fix_grid()
        elif score >= s.rest_threshold:
            self._held = s.rest
            self._peak = score
        return score

    # -- time ------------------------------------------------------------------------------

    def _tick(self, now: float | None) -> None:
        if now is None:
            return
        if self._last_t is not None:
            dt = now - self._last_t
            if dt < 0 or (self._dt > 0 and dt > self.settings.gap_reset * self._dt):
                self.reset()  # time went backwards or a long outage: a new series
            elif dt > 0:
                # A slow average, so a few late ticks do not make the next gap look normal.
                self._dt = dt if self._dt == 0 else 0.99 * self._dt + 0.01 * dt
        self._last_t = now

    # -- the grid --------------------------------------------------------------------------

    def _remember(self, x: float) -> None:
        self._buf[(self._n - 1) % self.settings.learn] = x
        self._lo = min(self._lo, x)
        self._hi = max(self._hi, x)

    def _fix_grid(self) -> None:
        """Fix the grid on the samples remembered so far, if there are enough and they moved:
        provisionally after `first_judged` samples, finally after `learn`."""
        s = self.settings
        final = self._n >= s.learn
        if not final and (self.warm or self._n < s.first_judged):
            return
        span = self._hi - self._lo
        if span <= _REL_EPS * max(abs(self._lo), abs(self._hi)):
            return
        self._width = span / s.bins
        self._anchor = self._lo
        self._mask = 0
        kept = self._buf if final else self._buf[: self._n]
        for v in kept:  # all within [lo, hi]: bins 0..bins, inside max_bins
            self._visit(self._index(v))
        if final:
            self._final = True
            self._buf = array("d")

    def _index(self, x: float) -> int:
        q = (x - self._anchor) / self._width
        if not q <= _MAX_INDEX:  # also catches an overflow to inf or nan
            return _MAX_INDEX
        return -_MAX_INDEX if q < -_MAX_INDEX else math.floor(q)

    def _offset(self, b: int) -> int:
        """b minus the nearest visited bin (0: b is visited). The mask is never empty here."""
        mask = self._mask
        i = b - self._base
        bits = mask.bit_length()
        if 0 <= i < bits and (mask >> i) & 1:
            return 0
        best = 0
        if i > 0:
            below = mask & ((1 << min(i, bits)) - 1)
            if below:
                best = i - (below.bit_length() - 1)
        start = max(i + 1, 0)
        above = mask >> start
        if above:
            gap = i - (start + (above & -above).bit_length() - 1)  # negative: b is below it
            if best == 0 or -gap < best:
                best = gap
        return best

    def _visit(self, b: int) -> None:
        if not self._mask:
            self._base = b
            self._mask = 1
            return
        low = min(self._base, b)
        high = max(self._base + self._mask.bit_length() - 1, b)
        k = 0
        while (high >> k) - (low >> k) >= self.settings.max_bins:
            k += 1
        if k:
            self._coarsen(k)
            b >>= k
            low >>= k
        if low < self._base:
            self._mask <<= self._base - low
            self._base = low
        self._mask |= 1 << (b - self._base)

    def _coarsen(self, k: int) -> None:
        """Widen the bins 2**k times; a visited bin marks the wider bin it falls in."""
        base = self._base >> k  # >> floors, so negative bins merge like positive ones
        mask = 0
        m = self._mask
        while m:
            low_bit = m & -m
            mask |= 1 << (((self._base + low_bit.bit_length() - 1) >> k) - base)
            m ^= low_bit
        self._mask = mask
        self._base = base
        self._width *= 2**k
