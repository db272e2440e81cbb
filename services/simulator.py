"""A simulated event platform: live sessions' audiences writing the platform's Redis Streams.

Every payload is exactly what the platform writes (design §2). `Simulator.step(now)` returns the
events due up to `now` without touching Redis, so tests and benchmarks drive it offline;
`publish` and `Simulator.run` put them on (prefixed) streams for the demo and `simulate`.
Output depends only on the seed and the times stepped to, not on how often `step` is called.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from typing import Any, NamedTuple

import redis

from services.redis_bus import REDIS_DOWN, RedisNames
from services.sim_audience import Episode, EpisodeKind, SimSession
from services.sim_room import Emitted, SessionRoom

__all__ = [
    "Episode",
    "EpisodeKind",
    "SimEvent",
    "SimSession",
    "Simulator",
    "demo_sessions",
    "publish",
]

log = logging.getLogger(__name__)

PUBLISH_CHUNK = 1000
STREAM_MAXLEN = 100_000  # per stream, approximate: keeps a forever-running demo's memory flat
MAX_BACKLOG = 50_000
MAX_BACKOFF_SECONDS = 5.0
MAX_CATCH_UP_SECONDS = 60.0


class SimEvent(NamedTuple):
    stream: str  # contract (unprefixed) stream name
    payload: dict[str, Any]


class Simulator:
    """Simulated live sessions; `step(now)` returns the platform events due since the last step."""

    def __init__(
        self, sessions: Iterable[SimSession], *, seed: int = 0, start: float | None = None
    ) -> None:
        self.sessions: tuple[SimSession, ...] = tuple(sessions)
        ids = [spec.session_id for spec in self.sessions]
        if len(set(ids)) != len(ids):
            raise ValueError("session ids must be unique")
        self.seed = seed
        self._rooms: dict[str, SessionRoom] = {}
        self._clock: float | None = None
        if start is not None:
            self._open(start)

    def _open(self, start: float) -> None:
        self._rooms = {
            spec.session_id: SessionRoom(spec, self.seed, start) for spec in self.sessions
        }
        self._clock = start

    @property
    def clock(self) -> float | None:
        """Time up to which events have been generated (None before the start)."""
        return self._clock

    def step(self, now: float) -> list[SimEvent]:
        """All events due in [previous step, now), merged across sessions in time order.

        The first step of a simulator built without `start` starts it and returns nothing.
        """
        if self._clock is None:
            self._open(now)
            return []
        if now <= self._clock:
            return []
        per_room: list[list[Emitted]] = []
        for room in self._rooms.values():
            emitted: list[Emitted] = []
            room.advance(now, emitted)
            per_room.append(emitted)
        self._clock = now
        merged = heapq.merge(*per_room, key=itemgetter(0))
        return [SimEvent(stream, payload) for _, stream, payload in merged]

    def ground_truth(self) -> list[tuple[str, Episode]]:
        """Every episode that has begun by the simulator's clock, by start time."""
        if self._clock is None:
            return []
        clock = self._clock
        found = [
            (session_id, episode)
            for session_id, room in self._rooms.items()
            for episode in room.episodes
            if episode.start <= clock
        ]
        return sorted(found, key=lambda item: (item[1].start, item[0]))

    def present_count(self, session_id: str) -> int:
        room = self._rooms.get(session_id)
        return room.audience.present_count if room is not None else 0

    def run(
        self,
        client: redis.Redis,
        names: RedisNames,
        stop_event: threading.Event,
        interval: float = 0.25,
        *,
        maxlen: int | None = STREAM_MAXLEN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Step with the wall clock and publish until `stop_event` is set; outlives Redis outages.

        Events generated while Redis is down wait (the newest MAX_BACKLOG of them) and go out
        once it is back.
        """
        backlog: deque[SimEvent] = deque(maxlen=MAX_BACKLOG)
        backoff = 0.0
        while not stop_event.is_set():
            now = clock()
            if self._clock is not None and now - self._clock > MAX_CATCH_UP_SECONDS:
                # After a suspend, replaying hours of audience at once would only flood Redis.
                skipped = self._skip_to(now - MAX_CATCH_UP_SECONDS)
                log.warning("simulator: clock jumped; skipped %d events", skipped)
            backlog.extend(self.step(now))
            try:
                while backlog:
                    chunk = list(itertools.islice(backlog, PUBLISH_CHUNK))
                    publish(client, names, chunk, maxlen=maxlen)
                    for _ in chunk:
                        backlog.popleft()
            except REDIS_DOWN as exc:
                if not backoff:
                    log.warning("simulator: Redis unavailable (%s); retrying", exc)
                backoff = min(MAX_BACKOFF_SECONDS, backoff * 2 if backoff else 0.25)
                log.debug("simulator: %d events waiting, next try in %.2fs", len(backlog), backoff)
                stop_event.wait(backoff)
                continue
            if backoff:
                log.info("simulator: Redis is reachable again")
                backoff = 0.0
            stop_event.wait(interval)

    def _skip_to(self, target: float) -> int:
        skipped = 0
        while self._clock is not None and self._clock < target:
            skipped += len(self.step(min(self._clock + MAX_CATCH_UP_SECONDS, target)))
        return skipped


def publish(
    client: redis.Redis,
    names: RedisNames,
    events: Iterable[tuple[str, dict[str, Any]]],
    *,
    maxlen: int | None = None,
) -> int:
    """XADD each event to its prefixed stream with `data` = JSON, pipelined; returns the count."""
    pipe = client.pipeline(transaction=False)
    count = 0
    for stream, payload in events:
        data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        pipe.xadd(names.stream(stream), {"data": data}, maxlen=maxlen, approximate=True)
        count += 1
    if count:
        pipe.execute()
    return count


_DEMO_EVENTS: Sequence[tuple[str, Sequence[str]]] = (
    (
        "evt-keynote",
        (
            "Opening Keynote: The Next Decade of Live Events",
            "Fireside Chat with the Founders",
            "Product Vision and Roadmap",
            "Closing Keynote: What We Learned This Year",
        ),
    ),
    (
        "evt-workshop",
        (
            "Hands-on: Building Real-time Dashboards",
            "Workshop: Streams, Consumer Groups and Back-pressure",
            "Lab: Observability for Live Systems",
            "Clinic: Scaling Webinars to Ten Thousand",
        ),
    ),
    (
        "evt-summit",
        (
            "Panel: Hybrid Events After the Hype",
            "Customer Story: Onboarding 50,000 Attendees",
            "Breakout: Moderation at Scale",
            "Ask Me Anything: Platform Engineering",
        ),
    ),
)


def demo_sessions(count: int, seed: int) -> list[SimSession]:
    """Sessions for the demo: 1-3 events, human titles, 20-800 people, recurring episodes."""
    if count < 1:
        raise ValueError("count must be at least 1")
    rng = random.Random(f"demo:{seed}")
    events = 1 if count == 1 else 2 if count <= 4 else 3
    sessions = []
    for n in range(count):
        event_id, titles = _DEMO_EVENTS[n % events]
        index = n // events
        title = titles[index % len(titles)]
        if index >= len(titles):
            title = f"{title} (part {index // len(titles) + 1})"
        sessions.append(
            SimSession(
                session_id=f"sess-{event_id.removeprefix('evt-')}-{index + 1:02d}",
                event_id=event_id,
                title=title,
                audience=round(math.exp(rng.uniform(math.log(20), math.log(800)))),
                poll_every=rng.uniform(180.0, 300.0),
                poll_participation=rng.uniform(0.4, 0.7),
                episode_every=rng.uniform(150.0, 300.0),
            )
        )
    return sessions
