"""Per-session online anomaly detection: engagement episodes that open, escalate and close.

`SessionDetector(session_id, settings).update(now, score, signals)` is called once per tick for
one live session and returns that tick's episode transitions (usually none):
`AnomalyStarted`, `AnomalyEscalated`, `AnomalyEnded` (see `services.detection.episodes`). Work per
tick is O(1) and memory bounded (rings of at most 25 numbers, the fall typer's 17 sums, and one
`NoveltyScorer`: 288 floats while it learns, then 256 bits).

Two questions are answered separately:

- *Is something wrong?* MASS_EXIT from the present count: the room lost >= 20 % of its people
  (and >= 3) within 3 ticks; exact counts, so it fires on the first tick that shows it, and the
  activity baseline is then re-learnt for the smaller room. The activity rules
  (`services.detection.rules`) on the per-tick chat + reaction counts: a cliff against the previous
  minute, a significant slide below the 5-min baseline, or a level held low for 30 s. The
  engagement score below an absolute floor for 3 minutes (a session that is low from its start
  has no baseline to fall from) opens LOW_ENGAGEMENT on its own.
- *Which kind of fall?* When an activity rule fires, the episode is named by the shape of the
  fall since it began (`services.detection.falls`: a collapse is a SUDDEN_DROP, a lull a
  LOW_ENGAGEMENT, a slide over minutes a GRADUAL_DECLINE), whichever rule saw it first. One
  activity episode is open at a time; it stays open while any rule still sees the fall. The
  score floor's LOW_ENGAGEMENT is a separate condition: a collapse under it opens its own episode.

An episode opens once (WARNING, or CRITICAL when already deep), may escalate to CRITICAL, and
closes after `recover_ticks` ticks back near the baseline (recording `recovery_seconds`; a tick
without counts is no step either way), or unrecovered after `max_episode_seconds` (the baseline
is then re-learnt: the dip is the new normal). A mass exit ends an open activity episode
unrecovered: the smaller room is judged afresh. A closed type does not re-open for
`cooldown_seconds`. While an activity episode is open the activity baseline is frozen.

Bad values (None, NaN, inf, negative) are "no information this tick": nothing opens on them and
baselines skip them. Time going backwards or a silence of `restart_gap_seconds` resets the state.
"""

from __future__ import annotations

import math
from typing import Any

from services.core.push_objects import Trigger, TriggerRule
from services.core.vocabulary import AnomalyType, Severity
from services.detection.attention_watch import AttentionWatch
from services.detection.episodes import (
    AnomalyEnded,
    AnomalyEscalated,
    AnomalyStarted,
    DetectorSettings,
    Finding,
    OpenEpisode,
    SignalsLike,
    Transition,
    activity_trigger,
    finite,
    signals_dict,
)
from services.detection.falls import FallTyper, explain_fall
from services.detection.novelty import NoveltyScorer
from services.detection.rules import ActivityRules, MassExitRule

# A collapse or a lull is described by its level over at most this many ticks since it began.
RECENT_TICKS = 6

__all__ = [
    "AnomalyEnded",
    "AnomalyEscalated",
    "AnomalyStarted",
    "AnomalyType",
    "DetectorSettings",
    "SessionDetector",
    "Severity",
    "SignalsLike",
    "Transition",
]


class SessionDetector:
    """Online detector for one live session. Feed it every tick with `update`."""

    def __init__(self, session_id: str, settings: DetectorSettings | None = None) -> None:
        self.session_id = session_id
        self.settings = settings or DetectorSettings()
        self._episode_seq = 0
        self.last_explanation = ""
        self._reset_state()

    def _reset_state(self) -> None:
        s = self.settings
        self.core = NoveltyScorer(s.core)
        self.activity = ActivityRules(s)
        self.falls = FallTyper()
        self.exits = MassExitRule(s)
        self.attention = AttentionWatch()
        self.open: dict[AnomalyType, OpenEpisode] = {}
        self._cooldown_until: dict[AnomalyType, float] = {}
        self._last_t: float | None = None
        self._score_base = 0.0
        self._score_n = 0
        self._score_low_since: float | None = None
        self._rebase_until = -math.inf
        self._exit_ref = 0
        self._core_score = 0.0

    @property
    def expected_engagement(self) -> float:
        return self._score_base

    def retune(self, settings: DetectorSettings) -> None:
        """Take on new thresholds now, keeping the learnt baseline and any open episodes.

        Window sizes and the baseline horizon are kept as they were built: only thresholds
        (see services.detection.event_settings.TUNABLE) change on a running detector.
        """
        self.settings = settings
        self.activity.s = settings
        self.exits.s = settings

    # -- the tick --------------------------------------------------------------------------

    def update(
        self, now: float, score: float | None, signals: SignalsLike | None
    ) -> list[Transition]:
        s = self.settings
        out: list[Transition] = []
        if self._last_t is not None and (
            now < self._last_t - s.tick_seconds or now - self._last_t > s.restart_gap_seconds
        ):
            # A restart or a long outage: the past is not a baseline for the present.
            out.extend(self._close(ep, now, recovered=False) for ep in list(self.open.values()))
            seq = self._episode_seq
            self._reset_state()
            self._episode_seq = seq
        if self._last_t is not None and now <= self._last_t:
            return out  # a repeated tick: already judged
        self._last_t = now

        sc = finite(score)
        sc = min(sc, 1.0) if sc is not None else None
        chat = finite(getattr(signals, "chat_in_tick", None))
        react = finite(getattr(signals, "reactions_in_tick", None))
        present_f = finite(getattr(signals, "total_users", None))
        present = int(present_f) if present_f is not None else None
        count = chat + react if chat is not None and react is not None else None
        self._core_score = self.core.update(now, sc)

        act = self.activity
        if count is not None:
            act.push(count)
        else:
            self.falls.skip()  # a fall's age is time, even across ticks without counts
        findings: dict[AnomalyType, Finding] = {}
        exit_found = self.exits.check(present)
        if exit_found is not None:
            findings[AnomalyType.MASS_EXIT] = exit_found
        rebasing = now < self._rebase_until or exit_found is not None
        if count is not None and not rebasing:
            self._activity_findings(now, findings)
        looked_away = self.attention.check(
            finite(getattr(signals, "attentive_share", None)),
            int(getattr(signals, "attention_reported", 0) or 0),
        )
        if looked_away is not None and not rebasing and self._activity_episode() is None:
            # Seen before chat and reactions can show it: the same SUDDEN_DROP, recovered
            # when both the counts and the looking are back.
            findings.setdefault(
                AnomalyType.SUDDEN_DROP,
                Finding(
                    looked_away.severity,
                    looked_away.why,
                    1.0 - looked_away.now / looked_away.usual,
                    looked_away.trigger,
                    on_activity=True,
                ),
            )
        self._score_floor(now, sc, findings)

        for kind, f in findings.items():
            ep = self.open.get(kind)
            if ep is None:
                if now >= self._cooldown_until.get(kind, -math.inf):
                    out.append(self._start(kind, f, now, sc, signals))
            elif f.severity is Severity.CRITICAL and ep.severity is Severity.WARNING:
                ep.severity = Severity.CRITICAL
                out.append(
                    AnomalyEscalated(
                        self.session_id,
                        ep.episode_id,
                        kind,
                        Severity.CRITICAL,
                        now,
                        f.why,
                        f.trigger,
                    )
                )
                self.last_explanation = f.why

        current = self._activity_episode()
        if rebasing and current is not None:
            # The room's size changed under it: its fall can't be judged against the old
            # baseline, and the mass exit now says what happened.
            out.append(self._close(self.open[current], now, recovered=False))
        out.extend(self._recoveries(now, present, sc, findings, count is not None))
        if count is not None:
            if rebasing:
                act.rebase()
                self.falls.reset()
            else:
                act.learn(count, frozen=self._activity_episode() is not None)
        self.exits.push(present)
        self.attention.learn(frozen=self._activity_episode() is not None)
        self._learn_score(sc)
        return out

    def _activity_findings(self, now: float, findings: dict[AnomalyType, Finding]) -> None:
        act, s = self.activity, self.settings
        if act.warm:
            self.falls.push(act.latest, act.base)
        else:
            self.falls.reset()
        alarms = self._activity_alarms(now)
        current = self._activity_episode()
        if current is not None:
            # One activity episode at a time: it stays open while any rule still sees the fall,
            # and escalates when a rule calls it critical or the room sinks further.
            critical = [f for f in alarms.values() if f.severity is Severity.CRITICAL]
            ratio = act.ratio_now()
            if critical:
                findings[current] = critical[0]
            elif ratio <= s.critical_ratio:
                why = f"chat and reactions are down to {ratio:.0%} of normal"
                usual = act.base * 60.0 / s.tick_seconds
                trigger = activity_trigger(usual, usual * ratio)
                findings[current] = Finding(Severity.CRITICAL, why, 1.0, trigger, on_activity=True)
            elif alarms:
                findings[current] = next(iter(alarms.values()))
            return
        if not alarms:
            return
        # The rules say that the room fell; the shape of the fall says which kind of fall it was.
        verdict = self.falls.verdict()
        critical = next((f for f in alarms.values() if f.severity is Severity.CRITICAL), None)
        score = max(f.score for f in alarms.values())
        if verdict is None:
            kind, first = next(iter(alarms.items()))
            findings[kind] = first
            return
        cliff = alarms.get(AnomalyType.SUDDEN_DROP)
        if verdict.kind is AnomalyType.SUDDEN_DROP and cliff is not None:
            why = cliff.why  # what the cliff rule saw: the level before, the level since
            trigger = cliff.trigger
        else:
            if verdict.kind is AnomalyType.GRADUAL_DECLINE:
                recent = act.level()
            else:
                recent = act.level(max(1, min(verdict.ticks_since_start, RECENT_TICKS)))
            why = explain_fall(verdict, act.base, recent, s.tick_seconds)
            per_min = 60.0 / s.tick_seconds
            trigger = activity_trigger(act.base * per_min, recent * per_min)
        if critical is not None:
            # The headline shows the numbers the severity was decided on, so CRITICAL never
            # stands beside a milder fall than the one that made it critical.
            trigger = critical.trigger
        findings[verdict.kind] = Finding(
            Severity.CRITICAL if critical is not None else Severity.WARNING,
            why,
            score,
            trigger,
            on_activity=True,
        )

    def _activity_alarms(self, now: float) -> dict[AnomalyType, Finding]:
        act = self.activity
        alarms: dict[AnomalyType, Finding] = {}
        drop = act.sudden()
        if drop is not None:
            alarms[AnomalyType.SUDDEN_DROP] = drop
        alarms.update(act.slow(now, self.open.keys()))
        return alarms

    def _activity_episode(self) -> AnomalyType | None:
        """The type of the open episode that the activity alarms opened, if any."""
        if not self.open:
            return None
        return next((k for k, ep in self.open.items() if ep.on_activity), None)

    def _score_floor(
        self, now: float, sc: float | None, findings: dict[AnomalyType, Finding]
    ) -> None:
        """LOW_ENGAGEMENT from the engagement score itself: below an absolute floor for long."""
        s = self.settings
        if sc is None:
            return
        if sc >= s.low_score:
            self._score_low_since = None
            return
        if self._score_low_since is None:
            self._score_low_since = now
        held = now - self._score_low_since
        # An activity episode, open or opening, already explains the low score.
        if (
            held >= s.low_score_seconds / s.sensitivity
            and self._activity_episode() is None
            and not any(f.on_activity for f in findings.values())
        ):
            findings.setdefault(
                AnomalyType.LOW_ENGAGEMENT,
                Finding(
                    Severity.WARNING,
                    f"engagement has stayed at {sc:.2f} (below {s.low_score:.2f}) for {held:.0f} s",
                    min(1.0, 1.0 - sc),
                    Trigger(TriggerRule.SCORE, s.low_score, round(sc, 4), held),
                ),
            )

    # -- episodes --------------------------------------------------------------------------

    def _start(
        self, kind: AnomalyType, f: Finding, now: float, sc: float | None, signals: Any
    ) -> AnomalyStarted:
        self._episode_seq += 1
        episode_id = f"{self.session_id}:{self._episode_seq}"
        ep = OpenEpisode(episode_id, kind, f.severity, now, on_activity=f.on_activity)
        self.open[kind] = ep
        if kind is AnomalyType.MASS_EXIT:
            self._exit_ref = self.exits.reference
            # The smaller room chats less: re-learn its activity once the exit has settled.
            self._rebase_until = now + self.settings.mass_exit_ticks * self.settings.tick_seconds
        cur = sc if sc is not None else 0.0
        exp = self._score_base
        dev = (cur - exp) / exp if exp > 0 else 0.0
        core = self._core_score
        self.last_explanation = f.why
        return AnomalyStarted(
            session_id=self.session_id,
            episode_id=ep.episode_id,
            type=kind,
            severity=f.severity,
            at=now,
            anomaly_score=round(max(f.score, core), 4),
            current_engagement=round(cur, 4),
            expected_engagement=round(exp, 4),
            deviation=round(dev, 4),
            explanation=f.why,
            signals=signals_dict(signals),
            trigger=f.trigger,
        )

    def _recoveries(
        self,
        now: float,
        present: int | None,
        sc: float | None,
        active: dict[AnomalyType, Finding],
        have_counts: bool,
    ) -> list[Transition]:
        s = self.settings
        out: list[Transition] = []
        for kind, ep in list(self.open.items()):
            ok: bool | None
            if kind in active:
                ok = False
            elif kind is AnomalyType.MASS_EXIT:
                ok = present is not None and present >= s.recover_ratio * self._exit_ref
            elif ep.on_activity:
                # Judged by chat and reactions, and by who is looking where that is reported:
                # a tick without either is no step either way.
                judged = have_counts and self.activity.base > 0
                counts = self.activity.recovered() if judged else None
                looking = self.attention.recovered()
                ok = counts if looking is None else looking and counts is not False
            else:  # the score floor's LOW_ENGAGEMENT
                ok = sc is not None and sc >= s.low_score
            if ok is not None:
                ep.good_ticks = ep.good_ticks + 1 if ok else 0
            if ep.good_ticks >= s.recover_ticks:
                out.append(self._close(ep, now, recovered=True))
            elif now - ep.started_at >= s.max_episode_seconds:
                out.append(self._close(ep, now, recovered=False))
        return out

    def _close(self, ep: OpenEpisode, now: float, *, recovered: bool) -> AnomalyEnded:
        del self.open[ep.type]
        s = self.settings
        cool = (
            s.mass_exit_cooldown_seconds if ep.type is AnomalyType.MASS_EXIT else s.cooldown_seconds
        )
        self._cooldown_until[ep.type] = now + cool
        self.falls.reset()  # a later fall is judged from its own start
        if not recovered and ep.on_activity:
            self.activity.rebase()  # the dip has become the room's normal
        return AnomalyEnded(
            session_id=self.session_id,
            episode_id=ep.episode_id,
            type=ep.type,
            severity=ep.severity,
            started_at=ep.started_at,
            at=now,
            recovered=recovered,
            recovery_seconds=(now - ep.started_at) if recovered else None,
        )

    def _learn_score(self, sc: float | None) -> None:
        if sc is None or self.open:
            return
        n = self._score_n
        a = max(1.0 / (n + 1), 1.0 / self.settings.baseline_ticks)
        self._score_base = sc if n == 0 else self._score_base + a * (sc - self._score_base)
        self._score_n = n + 1
