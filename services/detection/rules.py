"""The session detector's alarms, on per-tick counts. O(1) per tick, bounded memory.

These rules decide that activity fell; `services.detection.falls` names the kind of fall (their own
type is used only when no shape of fall explains the counts).

Activity is chat + reactions per tick (votes are left out: a poll is a scripted burst, and its end
is not a disengagement). Counts are Poisson-like, so every test asks two things: is the shortfall
large (a ratio), and is it more than counting noise (a one-sided Poisson likelihood-ratio z)?

- Baseline B: an exponentially weighted mean of per-tick counts (horizon `baseline_ticks`, a plain
  mean during warm-up), with upward bursts clipped. It freezes while an activity episode is open
  and learns four times slower while the room is visibly low, so a slide is not learnt as normal.
- Test windows: a tiny room is tested over as many ticks as it takes to expect `min_expected`
  events (at 10 people about 6 ticks); a room that cannot reach that in `max_window_ticks` is
  too quiet for activity rules, and only MASS_EXIT and the score floor apply.
- SUDDEN_DROP: the last k ticks against the minute just before them (a cliff: that minute, and
  the ticks right before the window, were near normal), k = 1..`drop_short_ticks`, or up to twice
  the small-room window in tiny rooms (those longer windows must show a deeper fall).
- GRADUAL_DECLINE / LOW_ENGAGEMENT: the mean of the last w ticks (30 s, longer for tiny rooms)
  against B; GRADUAL when it falls slowly (the previous w ticks were not much higher), LOW when it
  has stayed below `low_ratio` for `low_seconds` however it got there.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Collection
from itertools import accumulate

from services.core.push_objects import Trigger, TriggerRule
from services.core.vocabulary import AnomalyType, Severity
from services.detection.episodes import DetectorSettings, Finding, activity_trigger


def poisson_z(observed: float, expected: float, spread: float = 0.0) -> float:
    """Signed likelihood-ratio z of a count against its expected mean (< 0 when low).

    `spread` is extra relative variance beyond Poisson (a room's mood swings): the z is divided
    by sqrt(1 + spread * expected), so a big room's shortfall is judged against its mood, not
    against counting noise alone.
    """
    if expected <= 0:
        return 0.0
    if observed <= 0:
        dev = 2.0 * expected
    else:
        dev = 2.0 * (observed * math.log(observed / expected) - (observed - expected))
    z = math.sqrt(max(dev, 0.0) / (1.0 + spread * expected))
    return -z if observed < expected else z


class ActivityRules:
    """SUDDEN_DROP, GRADUAL_DECLINE and LOW_ENGAGEMENT on per-tick activity counts."""

    __slots__ = (
        "_crossed_at",
        "_decline_run",
        "_hist",
        "_low_since",
        "_normal_at",
        "_suffix",
        "base",
        "n",
        "s",
    )

    def __init__(self, settings: DetectorSettings) -> None:
        self.s = settings
        self._hist: deque[float] = deque(maxlen=2 * settings.max_window_ticks + 1)
        self.rebase()

    def rebase(self) -> None:
        """Forget the baseline (a new room size, or a dip that became the normal)."""
        self.base = 0.0
        self.n = 0
        self._hist.clear()
        self._suffix = [0.0]
        self._decline_run = 0
        self._low_since: float | None = None
        self._normal_at: float | None = None
        self._crossed_at: float | None = None

    @property
    def warm(self) -> bool:
        return self.n >= self.s.warmup_ticks

    @property
    def latest(self) -> float:
        """The newest tick's count (0 before any)."""
        return self._hist[-1] if self._hist else 0.0

    def window(self) -> int:
        """Ticks needed to expect `min_expected` events at baseline; 0 if a room is too quiet."""
        s = self.s
        if self.base <= 0:
            return 0
        w = math.ceil(s.min_expected / self.base)
        return w if w <= s.max_window_ticks else 0

    def _sum(self, lo: int, hi: int) -> float:
        """Sum of hist[-hi:-lo] (ticks lo+1..hi back, 1 = the newest), in O(1)."""
        return self._suffix[hi] - self._suffix[lo]

    def level(self, ticks: int | None = None) -> float:
        """Mean count per tick over the last `ticks` (default: the slow-rule window)."""
        w = ticks or max(self.window(), self.s.warmup_ticks)
        w = min(w, len(self._hist))
        return self._sum(0, w) / w if w else 0.0

    # -- learning -------------------------------------------------------------------------

    def push(self, count: float) -> None:
        self._hist.append(count)
        # The cliff rule sums dozens of windows a tick; sums of the newest i counts make each O(1).
        self._suffix = list(accumulate(reversed(self._hist), initial=0.0))

    def learn(self, count: float, frozen: bool) -> None:
        s = self.s
        if frozen:
            return
        n = self.n
        if n == 0:
            self.base = count
        else:
            a = max(1.0 / (n + 1), 1.0 / s.baseline_ticks)
            if n >= s.warmup_ticks and self.level() < 0.8 * self.base:
                a *= 0.25  # visibly low: adapt slowly, a slide must not become the baseline
            x = min(count, 2.0 * self.base + 3.0)  # applause is not the usual level
            self.base += a * (x - self.base)
        self.n = n + 1

    # -- tests ----------------------------------------------------------------------------

    def sudden(self) -> Finding | None:
        """A cliff in the last few ticks."""
        s = self.s
        w = self.window()
        if not w or not self.warm:
            return None
        short = min(max(s.drop_short_ticks, 2 * w), s.max_window_ticks)
        h = len(self._hist)
        base, suffix = self.base, self._suffix
        # Every window holds the newest tick and expects at most k * base, so a newest count
        # above every window's allowance rules a cliff out at once (most ticks of a lively room).
        longest = min(short, h)
        allowance = s.drop_ratio * min(longest, s.drop_short_ticks)
        if longest > s.drop_short_ticks:
            allowance = max(allowance, s.drop_long_ratio * longest)
        if suffix[1] > allowance * base:
            return None
        best: tuple[float, int, float, float] | None = None
        for k in range(1, short + 1):
            prior_n = min(s.max_window_ticks, h - k)
            if prior_n < s.warmup_ticks:
                break
            # A window longer than the short one (tiny rooms) must show a deeper cliff: a slide
            # into a low level would otherwise pass for one.
            ratio = s.drop_ratio if k <= s.drop_short_ticks else s.drop_long_ratio
            obs = suffix[k]
            if obs > ratio * k * base:
                continue  # more than a cliff leaves, even against the full baseline
            prior = (suffix[k + prior_n] - obs) / prior_n
            near_n = min(max(2, w), prior_n)
            near = (suffix[k + near_n] - obs) / near_n
            if min(prior, near) < s.drop_prior_ratio * base:
                continue  # the room was already sinking: a slide, not a cliff
            expected = k * min(prior, base)
            if expected < s.min_expected:
                continue
            z = poisson_z(obs, expected, s.drop_spread)
            hit = obs <= ratio * expected and z <= -s.drop_z / s.sensitivity
            if hit and (best is None or z < best[0]):
                best = (z, k, obs, expected)
        if best is None:
            return None
        z, k, obs, expected = best
        sev = Severity.CRITICAL if obs <= s.critical_ratio * expected else Severity.WARNING
        secs = k * s.tick_seconds
        per_min = 60.0 / secs
        why = (
            f"chat and reactions fell from {expected * per_min:.0f}/min to {obs * per_min:.0f}/min"
            f": {obs:.0f} in the last {secs:.0f} s where about {expected:.0f} were expected"
        )
        trigger = activity_trigger(expected * per_min, obs * per_min)
        return Finding(sev, why, min(1.0, -z / 8.0), trigger, on_activity=True)

    def slow(self, now: float, open_types: Collection[AnomalyType]) -> dict[AnomalyType, Finding]:
        """GRADUAL_DECLINE and LOW_ENGAGEMENT on the w-tick mean against the baseline."""
        s = self.s
        out: dict[AnomalyType, Finding] = {}
        window = self.window()
        w = max(window, s.warmup_ticks)
        if not window or self.n < 2 * s.warmup_ticks or len(self._hist) < w:
            self._decline_run = 0
            self._low_since = None
            return out
        cur = self._sum(0, w)
        expected = w * self.base
        ratio = cur / expected
        z = poisson_z(cur, expected, s.mood_spread)
        significant = z <= -s.decline_z / s.sensitivity
        low_significant = z <= -s.low_z / s.sensitivity
        secs = w * s.tick_seconds
        usual, now_per_min = self.base / s.tick_seconds * 60, cur / secs * 60
        # LOW_ENGAGEMENT: low for a while, whatever the path.
        if low_significant and ratio <= s.low_ratio:
            if self._low_since is None:
                self._low_since = now
        else:
            self._low_since = None
        held = now - self._low_since if self._low_since is not None else 0.0
        if self._low_since is not None and held >= s.low_seconds / s.sensitivity:
            sev = Severity.CRITICAL if ratio <= s.critical_ratio else Severity.WARNING
            why = (
                f"activity has stayed low for {held:.0f} s: {now_per_min:.0f} chat messages "
                f"and reactions a minute against a usual {usual:.0f} ({ratio:.0%} of normal)"
            )
            trigger = activity_trigger(usual, now_per_min)
            out[AnomalyType.LOW_ENGAGEMENT] = Finding(
                sev, why, min(1.0, 1.0 - ratio), trigger, on_activity=True
            )
        # GRADUAL_DECLINE: low-ish, and it took a while to get here from a normal level (a
        # slide that took under `decline_min_seconds` is a LOW_ENGAGEMENT onset instead).
        declining = significant and ratio <= 1.0 - (1.0 - s.decline_ratio) / s.sensitivity
        if ratio >= s.normal_ratio or self._normal_at is None:
            self._normal_at = now
            self._crossed_at = None
        elif declining and self._crossed_at is None:
            self._crossed_at = now
        slid = (self._crossed_at or now) - self._normal_at
        if declining and (
            slid >= s.decline_min_seconds or AnomalyType.GRADUAL_DECLINE in open_types
        ):
            self._decline_run += 1
        else:
            self._decline_run = 0
        if self._decline_run >= s.decline_ticks:
            sev = Severity.CRITICAL if ratio <= 2 * s.critical_ratio else Severity.WARNING
            why = (
                f"activity has been sliding: {now_per_min:.0f} chat messages and reactions "
                f"a minute against a usual {usual:.0f} ({ratio - 1:+.0%})"
            )
            trigger = activity_trigger(usual, now_per_min)
            out[AnomalyType.GRADUAL_DECLINE] = Finding(
                sev, why, min(1.0, -z / 8.0), trigger, on_activity=True
            )
        return out

    def recovered(self) -> bool:
        """Back near the (frozen) baseline over the short window."""
        w = max(self.window(), self.s.drop_short_ticks)
        if len(self._hist) < w or self.base <= 0:
            return False
        return self._sum(0, w) >= self.s.recover_ratio * w * self.base

    def ratio_now(self) -> float:
        w = max(self.window(), self.s.drop_short_ticks)
        if not self.base or len(self._hist) < w:
            return 1.0
        return self._sum(0, w) / (w * self.base)


class MassExitRule:
    """MASS_EXIT from exact present counts: no statistics needed."""

    __slots__ = ("_hist", "s")

    def __init__(self, settings: DetectorSettings) -> None:
        self.s = settings
        self._hist: deque[int] = deque(maxlen=settings.mass_exit_ticks + 1)

    def reset(self) -> None:
        self._hist.clear()

    @property
    def reference(self) -> int:
        return max(self._hist) if self._hist else 0

    def check(self, present: int | None) -> Finding | None:
        s = self.s
        if present is None or not self._hist:
            return None
        ref = max(self._hist)
        if ref <= 0 or ref < s.mass_exit_min_audience:
            return None
        lost = ref - present
        share = lost / ref
        secs = len(self._hist) * s.tick_seconds
        if not (lost >= s.mass_exit_min_users and share >= s.mass_exit_share / s.sensitivity):
            # Not yet `mass_exit_share` of the room: is a walk-out under way, too fast for
            # ordinary leaving?
            last = self._hist[-1]
            lost_now = last - present
            if not (
                lost_now >= s.mass_exit_fast_min_users
                and lost_now >= s.mass_exit_fast_share / s.sensitivity * last
            ):
                return None
            ref, lost, share, secs = last, lost_now, lost_now / last, s.tick_seconds
        sev = Severity.CRITICAL if share >= s.mass_exit_critical_share else Severity.WARNING
        why = f"{lost} of {ref} people left in {secs:.0f} s ({share:.0%} of the room)"
        trigger = Trigger(TriggerRule.EXIT, ref, present, secs)
        return Finding(sev, why, min(1.0, share * 2), trigger)

    def push(self, present: int | None) -> None:
        if present is not None:
            self._hist.append(present)
