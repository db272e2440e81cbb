"""The collector: routes the platform's events to partitions and scores the partitions it owns.

Every collector (one per server process or host) runs the same loop: route a batch of platform
entries to their partitions' streams, apply what arrived on the partitions it owns, and at each
tick boundary score, persist and publish their sessions. Leases in Redis share the partitions
out evenly; a collector that takes a partition rebuilds its state first (see partition_share).
One collector, the housekeeper, also runs the deployment-wide chores.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import threading
import time

import redis
from redis.exceptions import LockError
from sqlalchemy.exc import SQLAlchemyError

from services.agent.desk import InterventionDesk
from services.core import instruments
from services.core.redis_bus import REDIS_DOWN, RedisNames
from services.core.settings import Settings
from services.detection.event_settings import valid_stored_overrides
from services.ingest.partition_reader import PartitionReader
from services.ingest.router import Router
from services.ingest.windows import WindowConfig
from services.live.agent_turn import AgentTurn
from services.live.checkpoints import CheckpointStore
from services.live.chore_thread import ChoreThread
from services.live.collector_status import CollectorStatus, resident_mb
from services.live.gc_tuning import collector_gc_thresholds
from services.live.housekeeping import Housekeeping
from services.live.ownership import PartitionLeases
from services.live.partition_share import PartitionShare
from services.live.session_book import Lifetimes, SessionBook, TickOutput
from services.live.session_quota import SessionQuota
from services.live.stores import Stores
from services.live.tick_metrics import record_tick
from services.live.tick_publisher import TickPublisher
from services.storage.tick_writer import TickWriter, WriterThread

log = logging.getLogger(__name__)

_MAX_BLOCK_MS = 1000
# Some servers (the embedded one) answer a blocking read at once; don't spin on them.
_EMPTY_READ_PAUSE = 0.02
_FAILURE_PAUSE = 1.0
# The longest a collector waits between attempts to reach Redis again.
_MAX_REDIS_BACKOFF = 10.0
# How soon a change to an event's detector settings reaches its running detectors.
EVENT_SETTINGS_SECONDS = 15.0
# How often the housekeeper's chore thread runs its housekeeping.
HOUSEKEEPING_SECONDS = 15.0


class Collector:
    """Shared parts (the stores, the desk, the Redis names) come from the process's runtime;
    the collector builds only what it alone uses (router, book, share, writer, follow-up)."""

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
        me = settings.consumer_name
        cluster = settings.redis_cluster
        self.router = Router(
            client,
            names,
            me,
            settings.read_batch,
            settings.dead_letter_maxlen,
            partitions=settings.partitions,
            retain_seconds=settings.partition_retain_seconds,
            cluster=cluster,
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
            quota=SessionQuota(settings.live_session_limit, settings.max_event_sessions),
        )
        self.store = stores.metrics
        self.event_settings = stores.event_settings
        self.share = PartitionShare(
            client,
            names,
            self.book,
            PartitionReader(
                client, names, me, settings.read_batch, settings.dead_letter_maxlen, cluster
            ),
            CheckpointStore(
                client,
                names,
                settings.tick_seconds,
                max(settings.partition_retain_seconds, settings.session_idle_seconds),
            ),
            PartitionLeases(client, names, me, settings.partitions, settings.lease_seconds),
            tick_seconds=settings.tick_seconds,
            checkpoint_seconds=settings.checkpoint_seconds,
        )
        # Well inside a lease, so a live collector never lets one lapse.
        self.turn_seconds = min(1.0, settings.lease_seconds / 5)
        self.publisher = TickPublisher(client, names)
        self.writer = WriterThread(TickWriter(self.store.write_batch, settings.write_buffer_rows))
        self.housekeeper_lease = client.lock(
            names.housekeeper_lease,
            timeout=settings.lease_seconds,
            blocking=False,
            thread_local=False,
        )
        self.stop_event = threading.Event()
        self.is_housekeeper = False
        self.redis_ok = True
        self.running = False
        self.last_tick: float | None = None
        self.last_tick_ms: float | None = None
        self.missed_ticks = 0
        self._next_tick = 0.0
        self._turned_at = 0.0
        self._reclaimed_at = 0.0
        self._event_settings_at = 0.0
        self._redis_backoff = 0.0
        self.event_settings_every = event_settings_every
        self.desk = desk
        self.agent = AgentTurn(
            settings, client, names, stores, desk, self.book, lambda: self.is_housekeeper
        )
        self.housekeeping = Housekeeping(settings, self.store)
        self.chores = ChoreThread(
            self.agent.run,
            self.housekeeping.run,
            lambda: self.is_housekeeper,
            housekeeping_every=housekeeping_every,
        )

    @property
    def owned(self) -> list[int]:
        return sorted(self.share.owned)

    # -- the loop -------------------------------------------------------------------------------

    def run(self) -> None:
        """Run until `stop()`; hands its partitions over, flushes buffered rows on the way out."""
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
        """One turn of the loop: keep the share, then route and apply until the tick, or tick."""
        now = time.time()
        if now - self._turned_at >= self.turn_seconds:
            self._turned_at = now
            self.take_turn(now)
        if now - self._reclaimed_at >= self.settings.reclaim_idle_seconds / 2:
            self._reclaimed_at = now
            self.router.route_abandoned(int(self.settings.reclaim_idle_seconds * 1000))
        if now - self._event_settings_at >= self.event_settings_every:
            self._event_settings_at = now
            self._load_event_settings()
        if now >= self._next_tick:
            boundary = math.floor(now / self.tick_seconds) * self.tick_seconds
            if self._next_tick and boundary > self._next_tick:
                late = round((boundary - self._next_tick) / self.tick_seconds)
                self._note_missed(late, "the loop was held up")
            self._next_tick = boundary + self.tick_seconds
            if self.share.owned and now < self.share.valid_until:
                self.tick(boundary)
            else:
                if self.share.owned:
                    # Owned, but the leases are not confirmed (Redis came back, or a turn
                    # failed): scoring could double a partition another collector took.
                    self._note_missed(1, "leases not confirmed")
                # Owning nothing at this boundary: a partition taken before the next one still
                # needs it scored (late), or a collector that just joined leaves a hole.
                self.share.last_tick = boundary
                self._write_heartbeat()
            return
        # Never block past the next ownership turn: a partition handed back waits for it.
        until = min(self._next_tick, self._turned_at + self.turn_seconds)
        wait_ms = int(min(_MAX_BLOCK_MS, max(0.0, until - now) * 1000)) + 1
        started = time.monotonic()
        got = self.router.route(wait_ms) + self.share.read()
        if got == 0 and time.monotonic() - started < wait_ms / 1000 / 2:
            self.stop_event.wait(min(_EMPTY_READ_PAUSE, wait_ms / 1000))

    def take_turn(self, now: float) -> None:
        """Renew and balance this collector's partitions; hold the housekeeper lease if free."""
        if not self.share.members:
            self.router.ensure_groups()
            self.agent.outcomes.ensure_group()
        self.share.turn(now)
        self._hold_housekeeper_lease()
        late, self.share.late_ticks = self.share.late_ticks, []
        for out in late:
            self.writer.submit(out.metric_rows, out.session_rows, out.episodes.rows)
            self.publisher.publish(out)
            self.chores.tick_done(out.episodes.opened, out.episodes.escalated)

    def tick(self, boundary: float) -> TickOutput:
        """Score, persist and publish the owned sessions' tick at `boundary` (epoch seconds)."""
        started = time.perf_counter()
        # Whatever was routed to our partitions before the boundary counts in this tick.
        for _ in range(10):
            if not self.share.read():
                break
        read = time.perf_counter()
        done = self.share.already_scored(boundary)
        skip = (lambda s: self.share.partition(s) in done) if done else None
        out = self.book.score_tick(boundary, skip)
        scored = time.perf_counter()
        self.writer.submit(out.metric_rows, out.session_rows, out.episodes.rows)
        written = time.perf_counter()
        self.publisher.publish(out)
        published = time.perf_counter()
        self.share.after_tick(boundary)
        self.chores.tick_done(out.episodes.opened, out.episodes.escalated)
        self.last_tick = boundary
        self.last_tick_ms = (time.perf_counter() - started) * 1000
        record_tick(
            out,
            {
                "read": read - started,
                "score": scored - read - out.detect_seconds,
                "detect": out.detect_seconds,
                "write": written - scored,
                "publish": published - written,
            },
            self.last_tick_ms / 1000,
        )
        self._write_heartbeat()
        return out

    def _note_missed(self, ticks: int, why: str) -> None:
        # Those boundaries get no row (Redis away, a starved process, leases in doubt). Their
        # events are not lost: they count in the next tick.
        self.missed_ticks += ticks
        log.warning(
            "collector %s missed %d tick(s): %s; %d missed in total",
            self.settings.consumer_name,
            ticks,
            why,
            self.missed_ticks,
        )

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

    # -- the housekeeper --------------------------------------------------------------------

    def _hold_housekeeper_lease(self) -> None:
        try:
            if self.is_housekeeper:
                self.housekeeper_lease.reacquire()
                return
        except LockError:
            log.warning("collector %s is no longer the housekeeper", self.settings.consumer_name)
            instruments.lease_changes.labels(change="housekeeper_lost").inc()
            self.is_housekeeper = False
        if not self.stop_event.is_set() and self.housekeeper_lease.acquire(blocking=False):
            log.info("collector %s is the housekeeper", self.settings.consumer_name)
            instruments.lease_changes.labels(change="housekeeper_taken").inc()
            self.is_housekeeper = True

    def status(self) -> CollectorStatus:
        stats = self.writer.stats
        return CollectorStatus(
            consumer=self.settings.consumer_name,
            running=self.running,
            housekeeper=self.is_housekeeper,
            partitions=self.owned,
            redis_ok=self.redis_ok,
            last_tick=self.last_tick,
            last_tick_ms=self.last_tick_ms,
            live_sessions=len(self.book),
            accepted=self.router.stats.accepted,
            rejected=self.router.stats.rejected + self.share.reader.stats.rejected,
            pending_rows=self.writer.pending_rows,
            dropped_rows=stats.dropped_rows,
            database_error=stats.last_error,
            missed_ticks=self.missed_ticks + self.share.unscored_ticks,
            outcomes_accepted=self.agent.outcomes.accepted,
            outcomes_rejected=self.agent.outcomes.rejected,
            last_drop_at=stats.last_drop_at,
            ingest_lag_seconds=self.router.stats.lag_seconds,
            rss_mb=resident_mb(),
            stamped_ahead=self.router.stats.clamped_ahead,
            refused_session_events=self.book.quota.refused_events,
            rejected_by_reason=dict(
                self.router.stats.rejected_by_reason + self.share.reader.stats.rejected_by_reason
            ),
        )

    def _write_heartbeat(self) -> None:
        """This collector's status, read by every web process's health endpoint."""
        report = self.status().as_json() | {"updated_at": time.time()}
        self.client.hset(
            self.names.collector_reports, self.settings.consumer_name, json.dumps(report)
        )

    # -- faults ---------------------------------------------------------------------------------

    def _redis_failed(self, exc: BaseException) -> None:
        if self.redis_ok:
            log.error("Redis unreachable (%s); collector pausing and reconnecting", exc)
        self.redis_ok = False
        self._redis_backoff = min(_MAX_REDIS_BACKOFF, max(0.2, self._redis_backoff * 2))
        # If Redis lost its data, every lease is gone, ours and everyone's. The others still
        # hold their partitions' state and take their leases back when they next reach Redis
        # (within a backoff of it coming back): until then a free partition is not free.
        wait = self.settings.lease_seconds + _MAX_REDIS_BACKOFF + self.turn_seconds
        self.share.hold_free_until = time.time() + wait
        # Without Redis there is no input: scoring now would show a false collapse. What is
        # buffered keeps being written by the writer's thread.
        self.stop_event.wait(self._redis_backoff)

    def _redis_recovered(self) -> None:
        if not self.redis_ok:
            log.info("Redis reachable again; collector resuming")
            self.redis_ok = True
            # Leases may have lapsed while Redis was away; confirm them before the next tick.
            self._turned_at = 0.0
            self.share.valid_until = 0.0
        self._redis_backoff = 0.0

    def _shutdown(self) -> None:
        self.running = False
        self.chores.stop()
        # A successor takes the partitions at its next turn, from the state saved here. Without
        # Redis it cannot be saved: the successor replays the retained minutes instead.
        with contextlib.suppress(*REDIS_DOWN):
            self.share.hand_back_all()
            self.client.hdel(self.names.collector_reports, self.settings.consumer_name)
        if not self.writer.stop(flush_seconds=10.0):
            unwritten = self.writer.pending_rows
            log.error("shutting down with %d score rows unwritten", unwritten)
            with contextlib.suppress(*REDIS_DOWN):
                self.client.hincrby(self.names.collector_losses, "rows", unwritten)
        if self.is_housekeeper:
            try:
                self.housekeeper_lease.release()
            except (LockError, *REDIS_DOWN):
                pass
            self.is_housekeeper = False
        log.info("collector %s stopped", self.settings.consumer_name)
