"""The live sessions' windows and the tick that scores them all at once."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.core.settings import ScoreWeights
from services.detection.detector import DetectorSettings, SessionDetector
from services.detection.episode_log import EpisodeLog, EpisodeOutput
from services.detection.event_settings import effective
from services.ingest.chat_ring import ChatRing
from services.ingest.contracts import SignalEvent
from services.ingest.score import score_signals
from services.ingest.windows import SessionWindow, WindowConfig
from services.live.session_quota import SessionQuota
from services.storage.metrics_store import ENDED, LIVE

log = logging.getLogger(__name__)

# Event ids remembered for sessions that ended, so a late event naming none still gets one.
_KNOWN_EVENTS_KEPT = 100_000


@dataclass(frozen=True, slots=True)
class Lifetimes:
    idle_seconds: float = 900.0  # no event at all for this long ends a session
    empty_seconds: float = 60.0  # nobody present and no event for this long ends it sooner


@dataclass(slots=True)
class SessionsState:
    """Everything the book keeps about some sessions: what a checkpoint saves and restores."""

    windows: dict[str, SessionWindow] = field(default_factory=dict)
    detectors: dict[str, SessionDetector] = field(default_factory=dict)
    open_episodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    known_events: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class TickOutput:
    tick_time: datetime
    metric_rows: list[dict[str, Any]] = field(default_factory=list)
    session_rows: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)  # engagement:update payloads
    # Beside the contract's signals, for the live page: is a poll running in the session?
    poll_active: dict[str, bool] = field(default_factory=dict)
    ended: list[str] = field(default_factory=list)
    episodes: EpisodeOutput = field(default_factory=EpisodeOutput)
    detect_seconds: float = 0.0  # of the tick's time, how much the detectors took


class SessionBook:
    def __init__(
        self,
        config: WindowConfig,
        weights: ScoreWeights,
        lifetimes: Lifetimes,
        chat: ChatRing | None = None,
        quota: SessionQuota | None = None,
    ) -> None:
        self.config = config
        self.weights = weights
        self.lifetimes = lifetimes
        self.windows: dict[str, SessionWindow] = {}
        self.detectors: dict[str, SessionDetector] = {}
        self.detector_defaults = DetectorSettings(tick_seconds=config.tick_seconds)
        self._event_detector_settings: dict[str, DetectorSettings] = {}
        self.episodes = EpisodeLog()
        # Shared with every spare book: words replayed in a handover reach the same ring.
        self.chat = chat if chat is not None else ChatRing()
        # Unbounded unless the collector sets limits (MAX_LIVE_SESSIONS, MAX_EVENT_SESSIONS).
        self.quota = quota if quota is not None else SessionQuota(10**9, 10**9)
        # Events can name a session's event id only once; later ones inherit it (design §2).
        self._known_event: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self.windows)

    def apply(self, event: SignalEvent, at: float) -> None:
        window = self.windows.get(event.session_id)
        if window is None:
            event_id = event.event_id or self._known_event.get(event.session_id)
            if not self.quota.admit(event.session_id, event_id):
                return
            window = SessionWindow(event.session_id, event_id, self.config, at)
            self.windows[event.session_id] = window
        window.apply(event, at)
        if event.text is not None:
            self.chat.add(event.session_id, event.text)
        if window.event_id is not None and event.session_id not in self._known_event:
            self._remember_event(event.session_id, window.event_id)

    def _remember_event(self, session_id: str, event_id: str) -> None:
        self._known_event[session_id] = event_id
        if len(self._known_event) > _KNOWN_EVENTS_KEPT:
            del self._known_event[next(iter(self._known_event))]

    def spare(self) -> SessionBook:
        """An empty book alike in every setting, to rebuild a partition in before merging it."""
        # Its own count: a partition being rebuilt holds sessions that were admitted already.
        book = SessionBook(self.config, self.weights, self.lifetimes, self.chat)
        book._event_detector_settings = self._event_detector_settings
        return book

    def sessions_where(self, keep: Callable[[str], bool]) -> set[str]:
        return {session_id for session_id in self.windows if keep(session_id)}

    def export(self, session_ids: set[str]) -> SessionsState:
        """These sessions' state, shared, not copied: pickle it before the next apply."""
        return SessionsState(
            windows={s: self.windows[s] for s in session_ids if s in self.windows},
            detectors={s: self.detectors[s] for s in session_ids if s in self.detectors},
            open_episodes=self.episodes.open_rows(session_ids),
            known_events={s: self._known_event[s] for s in session_ids if s in self._known_event},
        )

    def adopt(self, state: SessionsState) -> None:
        """Take over sessions another owner (or a spare book) kept, replacing what is here."""
        self.windows.update(state.windows)
        for session_id, window in state.windows.items():
            self.quota.take(session_id, window.event_id)
        self.detectors.update(state.detectors)
        self.episodes.adopt(state.open_episodes)
        for session_id, event_id in state.known_events.items():
            self._remember_event(session_id, event_id)

    def drop(self, session_ids: set[str]) -> None:
        """Let go of sessions without ending them or their episodes: a new owner goes on."""
        for session_id in session_ids:
            self.windows.pop(session_id, None)
            self.detectors.pop(session_id, None)
            self.chat.forget(session_id)
            self.quota.release(session_id)
        self.episodes.forget(session_ids)

    def detector_settings(self, event_id: str | None) -> DetectorSettings:
        if event_id is None:
            return self.detector_defaults
        return self._event_detector_settings.get(event_id, self.detector_defaults)

    def set_event_overrides(self, overrides: dict[str, dict[str, float | int]]) -> None:
        """Per-event detector thresholds; running detectors take them on at their next tick."""
        self._event_detector_settings = {
            event_id: effective(self.detector_defaults, values)
            for event_id, values in overrides.items()
            if values
        }

    def clear(self, at: float) -> EpisodeOutput:
        """Forget every session; their open episodes end, unrecovered, at `at`."""
        out = EpisodeOutput()
        when = datetime.fromtimestamp(at, UTC)
        for session_id in self.windows:
            self.episodes.end_session(session_id, when, out)
            self.chat.forget(session_id)
            self.quota.release(session_id)
        self.windows.clear()
        self.detectors.clear()
        return out

    def score_tick(
        self, tick_epoch: float, skip: Callable[[str], bool] | None = None
    ) -> TickOutput:
        """Score every live session at the tick boundary `tick_epoch`; end the idle ones.

        `skip` names sessions someone else scored at this boundary already (a handover).
        """
        tick_time = datetime.fromtimestamp(tick_epoch, UTC)
        stamp = tick_time.isoformat()
        out = TickOutput(tick_time=tick_time)
        for session_id, window in list(self.windows.items()):
            if skip is not None and skip(session_id):
                continue
            silent_for = tick_epoch - window.last_event_at
            if silent_for >= self.lifetimes.idle_seconds or (
                window.present_count == 0 and silent_for >= self.lifetimes.empty_seconds
            ):
                del self.windows[session_id]
                self.detectors.pop(session_id, None)
                self.chat.forget(session_id)
                self.quota.release(session_id)
                self.episodes.end_session(session_id, tick_time, out.episodes)
                out.ended.append(session_id)
                out.session_rows.append(
                    _catalogue_row(window, tick_time, ENDED, None, ended_at=tick_time)
                )
                continue
            signals = window.snapshot(tick_epoch)
            scored = score_signals(signals, self.weights)
            contract_signals = signals.as_contract()
            out.metric_rows.append(
                {
                    "time": tick_time,
                    "session_id": session_id,
                    "event_id": window.event_id,
                    "engagement_score": scored.score,
                    "chat_msgs_per_min": signals.chat_msgs_per_min,
                    "poll_participation": signals.poll_participation,
                    "active_users": signals.active_users,
                    "reactions_per_min": signals.reactions_per_min,
                    "user_leave_rate": signals.user_leave_rate,
                    "extra": {
                        "total_users": signals.total_users,
                        "category": scored.category,
                        "poll_active": signals.poll_active,
                        "breakdown": scored.breakdown,
                        # A session's lowest score and its time below a threshold leave these
                        # out: every room scores about 0 while it fills (session_stats.py).
                        **({"warmup": True} if window.warming_up(tick_epoch) else {}),
                        # Viewers per reported attention state (counts only, design §2).
                        **({"attention": signals.attention} if signals.attention else {}),
                    },
                }
            )
            out.session_rows.append(_catalogue_row(window, tick_time, LIVE, scored.score))
            wanted = self.detector_settings(window.event_id)
            detector = self.detectors.get(session_id)
            if detector is None:
                detector = self.detectors[session_id] = SessionDetector(session_id, wanted)
            elif detector.settings is not wanted:
                # The event's thresholds changed, or the session's event became known.
                detector.retune(wanted)
            detecting = time.perf_counter()
            try:
                transitions = detector.update(tick_epoch, scored.score, signals)
            except Exception:
                # One session's detector failing must not cost every session its tick.
                log.exception(
                    "anomaly detector of session %r failed; starting it afresh", session_id
                )
                del self.detectors[session_id]
                transitions = []
            out.detect_seconds += time.perf_counter() - detecting
            if transitions:
                self.episodes.record(transitions, window.event_id, contract_signals, out.episodes)
            out.poll_active[session_id] = signals.poll_active
            out.updates.append(
                {
                    "timestamp": stamp,
                    "sessionId": session_id,
                    "eventId": window.event_id,
                    "score": round(scored.score, 5),
                    "signals": contract_signals,
                }
            )
        return out


def _catalogue_row(
    window: SessionWindow,
    tick_time: datetime,
    status: str,
    score: float | None,
    ended_at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "session_id": window.session_id,
        "event_id": window.event_id,
        "title": window.session_title,
        "event_title": window.event_title,
        "first_seen": datetime.fromtimestamp(window.first_seen, UTC),
        "last_seen": tick_time,
        "ended_at": ended_at,
        "status": status,
        "last_score": score,
        "present_users": window.present_count,
    }
