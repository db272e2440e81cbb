"""Two distribution/sequence detectors for univariate streams, written for the NAB benchmark.

Both follow the core's contract, `update(t, x) -> score in [0, 1]`, are pure Python, take O(1)
work per sample (bounded by their settings, not by the length of the stream), keep bounded state,
and skip None/NaN/inf samples (state untouched, score 0). Both quantise values over the running
minimum and maximum of what they have seen (never over the whole file, which an online detector
cannot know), so both are two-sided: a rise and a fall move the value into other bins alike.

`RelativeEntropyScorer` - after Wang et al. (2011), "Statistical techniques for online anomaly
detection in data centers" (IFIP/IEEE IM). The last `window` samples are quantised into `bins`
equal-width bins and their histogram P is compared with a small set of remembered "hypothesis"
histograms Q by the multinomial goodness-of-fit test: 2·W·D(P‖Q) against the chi-square quantile
with bins - 1 degrees of freedom. The closest accepted hypothesis has its count raised; if none
is accepted, P becomes a new hypothesis. The window is anomalous when the hypothesis it matches
has been seen in less than `share` of all windows so far (a rare or brand-new state).

`ContextScorer` - a contextual detector in the spirit of CAD-OSE (Smirnov, 2016-18: "contextual
anomaly detector, open-source edition"): values are quantised, the context of a sample is the
pattern of the last k quantised values (k = 1..`order`), and the detector learns which symbol
follows each context. The raw score is the share of the contexts whose observed continuation had
never been seen after them, i.e. the share of "predictions" that failed.

`RestPeriod` - NAB-aware post-processing shared by both: after a score at or above `threshold`,
the next `rest` samples score 0 unless they beat it. NAB counts only the first detection inside
an anomaly window and every detection outside one as a false positive, so one early alarm per
event is what it (and an operator) wants.
"""

from __future__ import annotations

import math
from collections import deque
from datetime import datetime

# Upper 1 % points of the chi-square distribution, by degrees of freedom (1..12).
_CHI2_99 = (
    6.635,
    9.210,
    11.345,
    13.277,
    15.086,
    16.812,
    18.475,
    20.090,
    21.666,
    23.209,
    24.725,
    26.217,
)


def _finite(x: float | None) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


class RestPeriod:
    """Wrap a scorer: after a score >= threshold, the next `rest` samples score 0 unless higher."""

    __slots__ = ("_held", "_peak", "inner", "rest", "threshold")

    def __init__(self, inner, rest: int = 400, threshold: float = 0.5) -> None:
        self.inner = inner
        self.rest = int(rest)
        self.threshold = float(threshold)
        self._held = 0
        self._peak = 0.0

    def update(self, t: float | datetime | None, x: float | None) -> float:
        score = self.inner.update(t, x)
        if not _finite(x):
            return 0.0
        if self._held > 0:
            self._held -= 1
            if score <= self._peak:
                return 0.0
        if score >= self.threshold:
            self._held = self.rest
            self._peak = score
        return score


class RelativeEntropyScorer:
    """Wang et al. (2011) relative-entropy detector over the running value range."""

    __slots__ = (
        "_counts",
        "_hi",
        "_hyp",
        "_hyp_n",
        "_lo",
        "_n",
        "_recent",
        "_thr",
        "_total",
        "bins",
        "max_hypotheses",
        "share",
        "window",
    )

    def __init__(
        self,
        window: int = 52,
        bins: int = 5,
        share: float = 0.05,
        max_hypotheses: int = 64,
    ) -> None:
        if not 2 <= bins <= len(_CHI2_99) + 1:
            raise ValueError("bins must be 2..13")
        self.window = int(window)
        self.bins = int(bins)
        self.share = float(share)
        self.max_hypotheses = int(max_hypotheses)
        self._thr = _CHI2_99[self.bins - 2]
        self._recent: deque[float] = deque(maxlen=self.window)
        self._lo = math.inf
        self._hi = -math.inf
        self._hyp: list[list[float]] = []  # histograms (probabilities)
        self._hyp_n: list[int] = []  # how many windows matched each
        self._total = 0
        self._n = 0
        self._counts: list[int] = [0] * self.bins

    def _bin(self, x: float) -> int:
        span = self._hi - self._lo
        if span <= 0:
            return 0
        b = int((x - self._lo) / span * self.bins)
        return self.bins - 1 if b >= self.bins else (0 if b < 0 else b)

    def update(self, t: float | datetime | None, x: float | None) -> float:
        if not _finite(x):
            return 0.0
        x = float(x)
        self._n += 1
        rebin = False
        if x < self._lo:
            self._lo = x
            rebin = True
        if x > self._hi:
            self._hi = x
            rebin = True
        rec = self._recent
        if len(rec) == self.window:
            old = rec[0]
            rec.append(x)
            if not rebin:
                self._counts[self._bin(old)] -= 1
                self._counts[self._bin(x)] += 1
        else:
            rec.append(x)
            if not rebin:
                self._counts[self._bin(x)] += 1
        if rebin:
            counts = [0] * self.bins
            for v in rec:
                counts[self._bin(v)] += 1
            self._counts = counts
        if len(rec) < self.window:
            return 0.0

        w = self.window
        p = [c / w for c in self._counts]
        best = -1
        best_d = math.inf
        for i, q in enumerate(self._hyp):
            d = 0.0
            for pi, qi in zip(p, q, strict=True):
                if pi > 0.0:
                    d += pi * math.log(pi / qi)
            if d < best_d:
                best_d = d
                best = i
        self._total += 1
        if best >= 0 and 2.0 * w * best_d < self._thr:
            self._hyp_n[best] += 1
            frac = self._hyp_n[best] / self._total
        else:
            # A new hypothesis: P itself, smoothed so that later windows have no log(0).
            eps = 0.5 / w
            q = [(c + eps * w) / (w + eps * w * self.bins) for c in self._counts]
            if len(self._hyp) >= self.max_hypotheses:
                k = min(range(len(self._hyp_n)), key=self._hyp_n.__getitem__)
                self._hyp[k] = q
                self._hyp_n[k] = 1
            else:
                self._hyp.append(q)
                self._hyp_n.append(1)
            frac = 1.0 / self._total
        return 1.0 if frac < self.share else 0.0


class ContextScorer:
    """Contextual detector: the share of recent-value patterns whose continuation is new.

    Quantisation: with `freeze` = 0, `bins` equal bins over the running minimum and maximum (every
    new extreme re-maps all bins). With `freeze` = L > 0, the bin width is fixed from the range of
    the first L samples (range / bins) and bins are unbounded integers, so a new extreme opens new
    bins without changing the meaning of the learnt ones; the first L samples score 0 and are then
    learnt in one pass.
    """

    __slots__ = (
        "_buf",
        "_hi",
        "_hist",
        "_lo",
        "_n",
        "_seen",
        "_width",
        "bins",
        "freeze",
        "max_contexts",
        "mode",
        "order",
    )

    def __init__(
        self,
        bins: int = 16,
        order: int = 7,
        max_contexts: int = 100_000,
        mode: str = "novelty",
        freeze: int = 288,
    ) -> None:
        if mode not in ("novelty", "failure", "both"):
            raise ValueError("mode must be novelty, failure or both")
        self.bins = int(bins)
        self.order = int(order)
        self.max_contexts = int(max_contexts)
        self.mode = mode
        self.freeze = int(freeze)
        self._lo = math.inf
        self._hi = -math.inf
        self._width = 0.0
        self._buf: deque[float] = deque(maxlen=max(1, self.freeze))
        self._hist: deque[int] = deque(maxlen=self.order)
        self._seen: set[tuple[int, ...]] = set()
        self._n = 0

    def _sym(self, x: float) -> int:
        if self._width > 0.0:
            return math.floor((x - self._lo) / self._width)
        span = self._hi - self._lo
        if span <= 0:
            return 0
        b = int((x - self._lo) / span * self.bins)
        return self.bins - 1 if b >= self.bins else b

    def update(self, t: float | datetime | None, x: float | None) -> float:
        if not _finite(x):
            return 0.0
        x = float(x)
        self._n += 1
        if self.freeze and self._width == 0.0:
            self._buf.append(x)
            if x < self._lo:
                self._lo = x
            if x > self._hi:
                self._hi = x
            if len(self._buf) >= self.freeze and self._hi > self._lo:
                self._width = (self._hi - self._lo) / self.bins
                self._lo = min(self._buf)  # the retained samples' range anchors the grid
                for v in self._buf:
                    self._step(self._sym(v))
                self._buf.clear()
            return 0.0
        if self._width == 0.0:  # running range (freeze = 0); a frozen grid stays put
            if x < self._lo:
                self._lo = x
            if x > self._hi:
                self._hi = x
        score = self._step(self._sym(x))
        return score if self._n > self.order else 0.0

    def _step(self, s: int) -> float:
        hist = self._hist
        seen = self._seen
        # The context of order k is the last k symbols; (context, s) is a learnt transition.
        # novelty: share of orders 0..K whose transition is new. failure: among the orders whose
        # context had been seen before (so it predicted something), the share whose prediction
        # did not include s.
        ctx: tuple[int, ...] = ()
        new = 0 if (s,) in seen else 1
        total = 1
        predicted = 1
        failed = new
        for k in range(1, len(hist) + 1):
            ctx = (hist[-k], *ctx)
            key = (*ctx, s)
            total += 1
            if key not in seen:
                new += 1
                if ctx in seen:
                    predicted += 1
                    failed += 1
                if len(seen) < self.max_contexts:
                    seen.add(key)
            else:
                predicted += 1
        seen.add((s,))
        hist.append(s)
        if self.mode == "novelty":
            return new / total
        if self.mode == "failure":
            return failed / predicted
        return 0.5 * (new / total + failed / predicted)


class Combined:
    """Several scorers on the same stream, combined by `max` or a weighted mean."""

    __slots__ = ("how", "parts", "weights")

    def __init__(self, parts, weights=None, how: str = "max") -> None:
        if how not in ("max", "mean"):
            raise ValueError("how must be 'max' or 'mean'")
        self.parts = list(parts)
        self.weights = list(weights) if weights is not None else [1.0] * len(self.parts)
        self.how = how

    def update(self, t: float | datetime | None, x: float | None) -> float:
        scores = [p.update(t, x) for p in self.parts]
        if self.how == "max":
            return min(1.0, max(w * s for w, s in zip(self.weights, scores, strict=True)))
        total = sum(w * s for w, s in zip(self.weights, scores, strict=True))
        return min(1.0, total / sum(self.weights))
