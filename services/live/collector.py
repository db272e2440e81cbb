"""The collector: one leader at a time reads the streams, scores every tick, writes and publishes.

Several collectors may run (one per server process or host); a Redis lease picks the one that
reads and scores, so each session's ticks are written by one writer. The others stand by and take
over, reclaiming the dead leader's unacknowledged entries, when its lease lapses.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import redis
from redis.exceptions import LockError
from sqlalchemy.exc import SQLAlchemyError

from services.agent.desk import InterventionDesk, SessionContext
from services.agent.followup import InterventionFollowUp
from services.agent.outcomes import DeliveryOutcome, OutcomeReader
from services.agent.reward import RewardRule
from services.core.push import EndedMessage, TickMessage, TickSignals, encode
from services.core.redis_bus import REDIS_DOWN, RedisNames
from services.core.settings import Settings
from services.detection.event_settings import valid_stored_overrides
from services.ingest.stream_reader import StreamReader
from services.ingest.windows import WindowConfig
from services.live.chore_thread import ChoreThread
from services.live.collector_status import CollectorStatus
from services.live.gc_tuning import collector_gc_thresholds
from services.live.housekeeping import Housekeeping
from services.live.session_book import Lifetimes, SessionBook, TickOutput
from services.live.stores import Stores
from services.storage.tick_writer import TickWriter, WriterThread

log = logging.getLogger(__name__)

_PUBLISH_CHUNK = 1000
_MAX_BLOCK_MS = 1000
# Some servers (the embedded one) answer a blocking read at once; don't spin on them.
_EMPTY_READ_PAUSE = 0.02
_FAILURE_PAUSE = 1.0
# How soon a change to an event's detector settings reaches its running detectors.
EVENT_SETTINGS_SECONDS = 15.0
# How often the leader's chore thread runs its housekeeping.
HOUSEKEEPING_SECONDS = 15.0


class Collector:
    """Shared parts (the stores, the desk, the Redis names) come from the process's runtime;
    the collector builds only what it alone uses (reader, book, writer, lease, follow-up)."""

    def __init__(
        self,
        settings: Settings,
        client: redis.Redis,
        names: RedisNames,
        stores: Stores,
        desk: InterventionDesk,
        *,
        event_settings_every: float = EVENT_SETTINGS_SECONDS,
        housekeeping_every: float = HOUSEKEEPING_SECONDS,
    ) -> None:
        self.settings = settings
        self.client = client
        self.names = names
        self.tick_seconds = settings.tick_seconds
        self.reader = StreamReader(
            client,
            names,
            settings.consumer_name,
            settings.read_batch,
            settings.dead_letter_maxlen,
        )
        self.book = SessionBook(
            WindowConfig(
                tick_seconds=settings.tick_seconds,
                rate_window_seconds=settings.rate_window_seconds,
                active_window_seconds=settings.active_window_seconds,
                poll_idle_seconds=settings.poll_idle_seconds,
            ),
            settings.score,
            Lifetimes(settings.session_idle_seconds, settings.session_empty_seconds),
        )
        self.store = stores.metrics
        self.event_settings = stores.event_settings
        self.writer = WriterThread(TickWriter(self.store.write_batch, settings.write_buffer_rows))
        self.lease = client.lock(
            names.leader_lease,
            timeout=settings.lease_seconds,
            blocking=False,
            thread_local=False,
        )
        self.stop_event = threading.Event()
        self.is_leader = False
        self.redis_ok = True
        self.running = False
        self.last_tick: float | None = None
        self.last_tick_ms: float | None = None
        self.missed_ticks = 0
        self._next_tick = 0.0
        self._lease_checked_at = 0.0
        self._reclaimed_at = 0.0
        self._event_settings_at = 0.0
        self._redis_backoff = 0.0
        self.event_settings_every = event_settings_every
        self.desk = desk
        delay = settings.agent_reward_delay_seconds
        self.followup = InterventionFollowUp(
            desk.sender,
            stores.posteriors,
            RewardRule(delay_seconds=delay, after_seconds=min(30.0, delay)),
        )
        self.outcomes = OutcomeReader(
            client, names, settings.consumer_name, settings.dead_letter_maxlen
        )
        self.housekeeping = Housekeeping(settings, self.store)
        self.chores = ChoreThread(
            self.follow_interventions,
            self.housekeeping.run,
            lambda: self.is_leader,
            housekeeping_every=housekeeping_every,
        )

    # -- the loop -------------------------------------------------------------------------------

    def run(self) -> None:
        """Run until `stop()`; flushes buffered rows and gives up the lease on the way out."""
        self.running = True
        log.info("collector %s starting", self.settings.consumer_name)
        self.writer.start()
        self.chores.start()
        try:
            with collector_gc_thresholds():
                while not self.stop_event.is_set():
                    try:
                        self.step()
                        self._redis_recovered()
                    except REDIS_DOWN as exc:
                        self._redis_failed(exc)
                    except Exception:
                        # A bug or an unforeseen server error must not end collection for good:
                        # log it loudly, pause, and carry on with the next turn.
                        log.exception("collector turn failed; retrying in %.0f s", _FAILURE_PAUSE)
                        self.stop_event.wait(_FAILURE_PAUSE)
        finally:
            self._shutdown()

    def stop(self) -> None:
        self.stop_event.set()

    def step(self) -> None:
        """One turn of the loop: hold the lease, then read until the next tick is due, or tick."""
        now = time.time()
        if not self._hold_lease(now):
            self.stop_event.wait(min(1.0, self.settings.lease_seconds / 3))
            return
        if now - self._reclaimed_at >= self.settings.reclaim_idle_seconds / 2:
            self._reclaimed_at = now
            self.reader.reclaim(self.book.apply, int(self.settings.reclaim_idle_seconds * 1000))
        if now - self._event_settings_at >= self.event_settings_every:
            self._event_settings_at = now
            self._load_event_settings()
        if now >= self._next_tick:
            boundary = math.floor(now / self.tick_seconds) * self.tick_seconds
            if self._next_tick and boundary > self._next_tick:
                self._note_missed(round((boundary - self._next_tick) / self.tick_seconds))
            self.tick(boundary)
            self._next_tick = boundary + self.tick_seconds
            return
        wait_ms = int(min(_MAX_BLOCK_MS, (self._next_tick - now) * 1000)) + 1
        started = time.monotonic()
        got = self.reader.read(self.book.apply, wait_ms)
        if got == 0 and time.monotonic() - started < wait_ms / 1000 / 2:
            self.stop_event.wait(min(_EMPTY_READ_PAUSE, wait_ms / 1000))

    def tick(self, boundary: float) -> TickOutput:
        """Score, persist and publish the tick at `boundary` (seconds since the epoch)."""
        started = time.perf_counter()
        out = self.book.score_tick(boundary)
        self.writer.submit(out.metric_rows, out.session_rows, out.episodes.rows)
        self.publish_tick(out)
        self.chores.tick_done(out.episodes.opened)
        self.last_tick = boundary
        self.last_tick_ms = (time.perf_counter() - started) * 1000
        self._write_heartbeat()
        return out

    def _note_missed(self, ticks: int) -> None:
        # The loop was held up past whole ticks (Redis away, a starved process): those
        # boundaries get no row. Their events are not lost, they count in the next tick.
        self.missed_ticks += ticks
        log.warning(
            "collector %s was %d tick(s) late; %d missed in total",
            self.settings.consumer_name,
            ticks,
            self.missed_ticks,
        )

    def follow_interventions(self, opened: Sequence[dict[str, Any]]) -> None:
        """The agent's turn (on the chore thread): suggest for newly opened episodes, expire,
        measure, read delivery outcomes.

        Each part fails on its own (logged): the database or Redis being away, or a bug in a
        content generator, costs that part of this turn, never the tick or the stream reading.
        """
        for row in opened:
            self._isolated_step("suggesting for a new episode", self._propose, row)
        self._isolated_step("expiring suggestions", self.followup.expire)
        self._isolated_step("measuring interventions", self.followup.measure)
        self._isolated_step("reading delivery outcomes", self.outcomes.read, self._delivered)

    def _propose(self, row: dict[str, Any]) -> None:
        signals = row["signals"]
        session = SessionContext(
            session_id=row["session_id"],
            event_id=row["event_id"],
            engagement=row["current_engagement"],
            present_users=int(signals.get("total_users", 0)),
            chat_per_min=float(signals.get("chat_msgs_per_min", 0.0)),
        )
        self.desk.propose(
            session, row["type"], row["deviation"], row["episode_id"], row["explanation"]
        )

    def _isolated_step(self, what: str, action: Callable[..., object], *args: object) -> None:
        try:
            action(*args)
        except SQLAlchemyError as exc:
            log.warning(
                "%s skipped, database error (%s)",
                what,
                str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200],
            )
        except REDIS_DOWN as exc:
            log.warning("%s skipped, Redis unavailable (%s)", what, exc)
        except Exception:
            log.exception("%s failed", what)

    def _delivered(self, outcome: DeliveryOutcome) -> str | None:
        """Apply the platform's word on one delivery; why not, if it cannot be applied."""
        return self.followup.apply_delivery(outcome)

    def _load_event_settings(self) -> None:
        try:
            overrides = self.event_settings.all_overrides()
        except SQLAlchemyError as exc:
            log.warning(
                "could not load per-event detector settings (%s); keeping the last ones",
                str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200],
            )
            return
        self.book.set_event_overrides(valid_stored_overrides(overrides))

    # -- lease ----------------------------------------------------------------------------------

    def _hold_lease(self, now: float) -> bool:
        renew_every = self.settings.lease_seconds / 3
        if self.is_leader:
            if now - self._lease_checked_at < renew_every:
                return True
            try:
                self.lease.reacquire()
            except LockError:
                log.warning(
                    "collector %s lost the leader lease; standing by", self.settings.consumer_name
                )
                self._step_down()
                return False
            self._lease_checked_at = now
            return True
        if self.stop_event.is_set() or not self.lease.acquire(blocking=False):
            return False
        log.info("collector %s is the leader", self.settings.consumer_name)
        if self._another_leader_ticked():
            # Our windows missed what the other leader read meanwhile.
            self._forget_sessions(now)
        self.is_leader = True
        self._lease_checked_at = now
        self._next_tick = 0.0
        self._event_settings_at = 0.0
        self.reader.ensure_groups()
        self.outcomes.ensure_group()
        # A previous leader's unacknowledged entries are ours now, whatever their age.
        self._reclaimed_at = now
        self.reader.reclaim(self.book.apply, 0)
        return True

    def _step_down(self) -> None:
        # The windows are kept: if nobody else led meanwhile (Redis restarted and lost the
        # lease, say), they are still right when we take the lease back.
        self.is_leader = False

    def _forget_sessions(self, at: float) -> None:
        """Drop every window; episodes still open end unrecovered, so none stays open forever."""
        out = TickOutput(tick_time=datetime.fromtimestamp(at, UTC), episodes=self.book.clear(at))
        self.writer.submit([], [], out.episodes.rows)
        self.publish_tick(out)

    def _another_leader_ticked(self) -> bool:
        raw = self.client.get(self.names.collector_status)
        if raw is None:
            return False
        return json.loads(raw).get("consumer") != self.settings.consumer_name

    # -- output ---------------------------------------------------------------------------------

    def publish_tick(self, out: TickOutput) -> None:
        """engagement:update for every scored session, and the web push (ticks and endings)."""
        names = self.names
        pipe = self.client.pipeline(transaction=False)
        computed_at = time.time()
        for i, update in enumerate(out.updates, start=1):
            pipe.publish(names.engagement_channel, json.dumps(update))
            session_id = update["sessionId"]
            tick = TickMessage(
                timestamp=update["timestamp"],
                sessionId=session_id,
                eventId=update["eventId"],
                score=update["score"],
                signals=TickSignals(**update["signals"], poll_active=out.poll_active[session_id]),
                computedAt=computed_at,
            )
            pipe.publish(names.push_channel(session_id), encode(tick))
            if i % _PUBLISH_CHUNK == 0:
                pipe.execute()
        for message in out.episodes.detected:
            pipe.publish(names.anomaly_channel, json.dumps(message))
        for session_id, change in out.episodes.pushes:
            pipe.publish(names.push_channel(session_id), encode(change))
        ended_at = out.tick_time.isoformat()
        for session_id in out.ended:
            ended = EndedMessage(sessionId=session_id, timestamp=ended_at)
            pipe.publish(names.push_channel(session_id), encode(ended))
        pipe.execute()

    def status(self) -> CollectorStatus:
        stats = self.writer.stats
        return CollectorStatus(
            consumer=self.settings.consumer_name,
            running=self.running,
            role="stopped" if not self.running else ("leader" if self.is_leader else "standby"),
            redis_ok=self.redis_ok,
            last_tick=self.last_tick,
            last_tick_ms=self.last_tick_ms,
            live_sessions=len(self.book),
            accepted=self.reader.stats.accepted,
            rejected=self.reader.stats.rejected,
            pending_rows=self.writer.pending_rows,
            dropped_rows=stats.dropped_rows,
            database_error=stats.last_error,
            missed_ticks=self.missed_ticks,
            outcomes_accepted=self.outcomes.accepted,
            outcomes_rejected=self.outcomes.rejected,
        )

    def _write_heartbeat(self) -> None:
        """The leader's status, read by every web process's health endpoint."""
        status = self.status()
        key = self.names.collector_status
        ttl = max(3 * self.tick_seconds, self.settings.lease_seconds)
        self.client.set(
            key, json.dumps(status.as_json() | {"updated_at": time.time()}), px=int(ttl * 1000)
        )

    # -- faults ---------------------------------------------------------------------------------

    def _redis_failed(self, exc: BaseException) -> None:
        if self.redis_ok:
            log.error("Redis unreachable (%s); collector pausing and reconnecting", exc)
        self.redis_ok = False
        self._redis_backoff = min(10.0, max(0.2, self._redis_backoff * 2))
        # Without Redis there is no input: scoring now would show a false collapse. What is
        # buffered keeps being written by the writer's thread.
        self.stop_event.wait(self._redis_backoff)

    def _redis_recovered(self) -> None:
        if not self.redis_ok:
            log.info("Redis reachable again; collector resuming")
            self.redis_ok = True
            # The lease may have lapsed while Redis was away; confirm it before the next tick.
            self._lease_checked_at = 0.0
        self._redis_backoff = 0.0

    def _shutdown(self) -> None:
        self.running = False
        self.chores.stop()
        if self.is_leader:
            # The episode rows are buffered all the same; without Redis only the push is lost.
            with contextlib.suppress(*REDIS_DOWN):
                self._forget_sessions(time.time())
        if not self.writer.stop(flush_seconds=10.0):
            log.error("shutting down with %d score rows unwritten", self.writer.pending_rows)
        if self.is_leader:
            try:
                self.lease.release()
            except (LockError, *REDIS_DOWN):
                pass
            self.is_leader = False
        log.info("collector %s stopped", self.settings.consumer_name)
