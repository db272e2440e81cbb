"""The live detector's first statistical core, kept as a NAB baseline: `update(t, x) -> [0, 1]`.

`services.detection.novelty.NoveltyScorer` replaced it in `SessionDetector` (it scores 69.4 on the
Numenta Anomaly Benchmark's dev split where this file's `MultiScaleScorer` scores 45.1, see
docs/detection.md); `bench/nab_detector.py:make_multiscale` and `make_core` still run it. It knows
nothing about engagement. Every update is O(1) time and memory (a handful of floats plus two
fixed-length rings), there is no model to rebuild, and it scores from the third sample on.

How a sample is judged (all two-sided):

1. A robust baseline: an exponentially weighted mean and mean absolute deviation over a long
   horizon, updated with residuals clipped at `clip` scales (Huber-style) so that a spike does not
   drag the baseline or inflate the scale it is judged against.
2. Four "surprise" measures, each a z-like number:
   - spike:  the sample against the baseline, (x - mean) / scale;
   - jump:   the step from the previous sample against the typical step size (catches a step
             even on a drifting series, where the level itself is unremarkable);
   - shift:  the median of the last `shift_window` samples against the baseline as it was before
             those samples arrived (a level shift; a one-sample spike cannot move a median);
   - CUSUM:  a two-sided Page CUSUM of the clipped z, for slow drifts no single sample shows.
3. Calibration to [0, 1] by novelty: for each of spike, jump and shift, the log-surprise above
   the slowly decaying peak of that measure's own past surprises; the score is the largest,
   squashed as u / (u + 1). A series whose jumps are routine needs a bigger jump to score high
   than a quiet one, so one threshold serves many series, and one event produces one high score,
   early, rather than a plateau of them - what an operator wants from an alert and what NAB
   rewards. (Tried and measured worse on NAB dev: a Gaussian tail probability of log-surprise
   against its EW mean/variance, like Numenta's "anomaly likelihood" (0.0), novelty of the
   combined maximum (28.9). The CUSUM is reported but not scored: on its own it scored 5.7.)
4. After a level shift is confirmed the baseline is re-seeded at the new level; otherwise a long
   horizon keeps flagging the new normal for hundreds of samples.

Bad input (None, NaN, +-inf) is skipped: the state is untouched and the score returned is the
previous one decayed, so a missing sample neither crashes nor raises an alarm. A time gap longer
than `gap_reset` samples restarts the scorer (a restarted series is not an anomaly).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import datetime

# Gaussian E|x - mu| = sigma * sqrt(2/pi): turns a mean absolute deviation into a sigma.
_MAD_TO_SIGMA = math.sqrt(math.pi / 2.0)


@dataclass(frozen=True, slots=True)
class CoreSettings:
    """Tunables of `CoreScorer`; horizons are in samples (a live session's tick is 5 s)."""

    # Long baseline horizon. 300 samples is 25 minutes of 5-s ticks: long enough to hold a
    # session's usual level through a short dip, short enough to follow a talk's slow drift.
    horizon: float = 300.0
    # Residuals beyond this many scales are clipped before they update the baseline.
    clip: float = 3.0
    # Samples in the level-shift median. 5 ticks = 25 s; odd so the median is one sample.
    shift_window: int = 5
    # A shift of this many scales, seen by every sample in the window, re-seeds the baseline.
    reseed_z: float = 4.0
    # CUSUM slack and decision scale (in z units): a standard two-sided Page CUSUM.
    cusum_k: float = 0.5
    cusum_h: float = 8.0
    # How fast (log units per sample) the memory of past surprise fades: 0.001 forgets a
    # tenfold surprise in ~2,400 samples (3.3 hours of 5-s ticks).
    peak_drop: float = 0.001
    # Smallest scale, relative to the series' typical magnitude, and absolute.
    rel_scale_floor: float = 1e-3
    abs_scale_floor: float = 1e-9
    # A gap longer than this many typical intervals restarts the scorer.
    gap_reset: float = 60.0


@dataclass(frozen=True, slots=True)
class CoreReading:
    """One update's detail, for explanations and for the session detector's rules."""

    score: float  # calibrated (novelty) anomaly score in [0, 1]
    surprise: float  # the strongest raw z-like measure (>= 0)
    z_spike: float  # signed
    z_jump: float  # signed
    z_shift: float  # signed
    cusum: float  # signed: positive for an upward drift, negative for a downward one
    expected: float  # the baseline the sample was judged against
    scale: float  # its sigma-equivalent scale
    warm: bool  # enough samples to judge


def _timestamp(t: float | datetime | None) -> float | None:
    if t is None:
        return None
    if isinstance(t, datetime):
        return t.timestamp()
    return float(t)


class CoreScorer:
    """Streaming two-sided anomaly scorer; one instance per series."""

    __slots__ = (
        "_cneg",
        "_cpos",
        "_dt",
        "_jump_mad",
        "_lag",
        "_last_t",
        "_level",
        "_mad",
        "_mean",
        "_n",
        "_peaks",
        "_prev",
        "_recent",
        "_score",
        "settings",
    )

    def __init__(self, settings: CoreSettings | None = None) -> None:
        self.settings = settings or CoreSettings()
        self.reset()

    def reset(self) -> None:
        s = self.settings
        self._n = 0
        self._mean = 0.0
        self._mad = 0.0
        self._level = 0.0  # EW mean of |x|, for the relative scale floor
        self._jump_mad = 0.0
        self._prev = 0.0
        self._recent: deque[float] = deque(maxlen=s.shift_window)
        # (mean, scale) as they were shift_window samples ago: the level-shift reference.
        self._lag: deque[tuple[float, float]] = deque(maxlen=s.shift_window + 1)
        self._cpos = 0.0
        self._cneg = 0.0
        self._peaks = [0.0, 0.0, 0.0, 0.0]
        self._score = 0.0
        self._last_t: float | None = None
        self._dt = 0.0

    @property
    def count(self) -> int:
        return self._n

    @property
    def expected(self) -> float:
        return self._mean

    @property
    def scale(self) -> float:
        return self._scale()

    def _scale(self) -> float:
        s = self.settings
        floor = max(s.abs_scale_floor, s.rel_scale_floor * self._level)
        return max(_MAD_TO_SIGMA * self._mad, floor)

    def update(self, t: float | datetime | None, x: float | None) -> float:
        """Feed one sample; return its anomaly score in [0, 1]."""
        return self.read(t, x).score

    def read(self, t: float | datetime | None, x: float | None) -> CoreReading:
        """Feed one sample; return the score and the measures behind it."""
        s = self.settings
        if x is None or not math.isfinite(x):
            # Skip the sample: no state change, the last score fades.
            self._score *= 0.5
            return self._idle_reading(self._score)
        now = _timestamp(t)
        if now is not None and not math.isfinite(now):
            now = None
        if now is not None and self._last_t is not None:
            dt = now - self._last_t
            if dt < 0 or (self._dt > 0 and dt > s.gap_reset * self._dt):
                self.reset()  # time went backwards or a long outage: a new series
            elif dt > 0:
                self._dt = dt if self._dt == 0 else 0.99 * self._dt + 0.01 * dt
        if now is not None:
            self._last_t = now

        n = self._n
        if n == 0:
            self._mean = x
            self._level = abs(x)
            self._prev = x
            self._n = 1
            self._recent.append(x)
            self._lag.append((x, self._scale()))
            self._score = 0.0
            return self._idle_reading(0.0)

        # Warm-up: early samples weigh 1/n (a plain mean) until that is smaller than 1/horizon.
        a = max(1.0 / (n + 1), 1.0 / s.horizon)
        mean = self._mean
        scale = self._scale()
        jump_scale = max(_MAD_TO_SIGMA * self._jump_mad, scale * 0.1, s.abs_scale_floor)
        z_spike = (x - mean) / scale
        z_jump = (x - self._prev) / jump_scale
        self._recent.append(x)
        lag_mean, lag_scale = self._lag[0]
        med = _median(self._recent)
        z_shift = (med - lag_mean) / lag_scale if len(self._recent) == s.shift_window else 0.0

        zc = max(-s.clip, min(s.clip, z_spike))
        self._cpos = max(0.0, self._cpos + zc - s.cusum_k)
        self._cneg = max(0.0, self._cneg - zc - s.cusum_k)
        cusum = self._cpos if self._cpos >= self._cneg else -self._cneg

        warm = n >= 2
        # The strongest measure. CUSUM is put on the z scale: h is where a Page test would alarm,
        # which we equate with a 4-sigma single sample.
        surprise = 0.0
        if warm:
            surprise = max(
                abs(z_spike),
                abs(z_jump),
                abs(z_shift),
                4.0 * abs(cusum) / s.cusum_h,
            )
        # With a mean absolute deviation of zero (a flat line) any change is infinitely
        # surprising; cap it so the calibration stays finite.
        surprise = min(surprise, 1e6)

        # Calibration by novelty, per measure: how far (in log units) this sample's surprise
        # exceeds the slowly decaying peak of that measure's earlier surprises. A series whose
        # jumps are routine (a square wave, a daily peak) keeps its peak high and so scores its
        # routine jumps low; a quiet series scores its first real jump high. Scale-free, so one
        # threshold serves many series; the peak decays so old events stop masking new ones.
        best = 0.0
        if warm:
            for i, v in enumerate((abs(z_spike), abs(z_jump), abs(z_shift))):
                lv = math.log1p(min(v, 1e6))
                nov = lv - self._peaks[i]
                if nov > best:
                    best = nov
                self._peaks[i] = max(lv, self._peaks[i] - s.peak_drop)
        score = best / (best + 1.0)

        # Baseline updates, robust to spikes.
        r = x - mean
        lim = s.clip * scale
        rc = max(-lim, min(lim, r))
        self._mean = mean + a * rc
        self._mad += a * (min(abs(r), lim) - self._mad)
        self._level += a * (abs(x) - self._level)
        step = abs(x - self._prev)
        jlim = s.clip * jump_scale
        self._jump_mad += a * (min(step, jlim) - self._jump_mad)
        self._prev = x

        # A confirmed level shift: every sample in the window beyond reseed_z on the same side.
        if len(self._recent) == s.shift_window and abs(z_shift) >= s.reseed_z:
            lo = min(self._recent)
            hi = max(self._recent)
            thr = s.reseed_z * lag_scale
            if lo - lag_mean >= thr or lag_mean - hi >= thr:
                self._mean = med
                self._cpos = self._cneg = 0.0
                self._lag.clear()
        self._lag.append((self._mean, self._scale()))
        self._n = n + 1
        self._score = score
        return CoreReading(
            score=score,
            surprise=surprise,
            z_spike=z_spike,
            z_jump=z_jump,
            z_shift=z_shift,
            cusum=cusum,
            expected=mean,
            scale=scale,
            warm=warm,
        )

    def _idle_reading(self, score: float) -> CoreReading:
        """A sample that was not scored (skipped or still warming up): no measures."""
        return CoreReading(
            score=score,
            surprise=0.0,
            z_spike=0.0,
            z_jump=0.0,
            z_shift=0.0,
            cusum=0.0,
            expected=self._mean,
            scale=self._scale(),
            warm=False,
        )


def _median(values: deque[float]) -> float:
    ordered = sorted(values)  # at most shift_window (5) items: O(1)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return 0.5 * (ordered[mid - 1] + ordered[mid])


class MultiScaleScorer:
    """Two `CoreScorer`s (level-shift medians of `shift_window` and `long_window` samples), their
    larger score, and a re-alarm hold: after a score >= `hold_threshold`, the next `hold` samples
    score 0 unless they beat it. One event then gives one early alarm, not a plateau of them (what
    an operator wants, and what NAB rewards: only a window's first detection counts, and repeats
    outside windows are false positives). Twice the cost of one `CoreScorer`; still O(1).

    Measured on NAB dev (standard): CoreScorer alone 43.1, + long window 43.7, + hold 45.1.
    """

    __slots__ = ("_held", "_peak", "hold", "hold_threshold", "long", "short")

    def __init__(
        self,
        settings: CoreSettings | None = None,
        long_window: int = 51,
        hold: int = 400,
        hold_threshold: float = 0.25,
    ) -> None:
        base = settings or CoreSettings()
        self.short = CoreScorer(base)
        fields = {k: getattr(base, k) for k in CoreSettings.__dataclass_fields__}
        self.long = CoreScorer(CoreSettings(**{**fields, "shift_window": long_window}))
        self.hold = hold
        self.hold_threshold = hold_threshold
        self._held = 0
        self._peak = 0.0

    def update(self, t: float | datetime | None, x: float | None) -> float:
        score = max(self.short.update(t, x), self.long.update(t, x))
        if self._held > 0:
            self._held -= 1
            if score <= self._peak:
                return 0.0
        if score >= self.hold_threshold:
            self._held = self.hold
            self._peak = score
        return score
