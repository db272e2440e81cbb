"""A simulated event platform: live sessions' audiences writing the platform's Redis Streams.

Every payload is exactly what the platform writes (design §2). `Simulator.step(now)` returns the
events due up to `now` without touching Redis, so tests and benchmarks drive it offline;
`publish` and `Simulator.run` put them on (prefixed) streams for the demo and `simulate`.
Output depends only on the seed, the times stepped to and the interventions delivered (and when),
not on how often `step` is called.

Like the platform, it executes the agent's interventions (`deliver`; `run` hears them on the
agent.interventions channel and answers on the outcome stream), and its audiences respond with a
true lift only it knows (`services.simulation.response`), listed by `ground_truth_interventions`.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import logging
import math
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from typing import Any, NamedTuple

import redis

from services.core.platform import OUTCOME_STREAM, valid_id
from services.core.redis_bus import REDIS_DOWN, RedisNames
from services.core.vocabulary import InterventionType
from services.simulation.audience import Episode, EpisodeKind, SimSession, iso_time
from services.simulation.response import InvalidIntervention, message_ids, parse_order
from services.simulation.room import Emitted, SessionRoom
from services.simulation.truth_table import SEED_TABLE, ResponseTable

__all__ = [
    "DeliveredIntervention",
    "Episode",
    "EpisodeKind",
    "SimEvent",
    "SimSession",
    "Simulator",
    "demo_sessions",
    "failed_outcome",
    "publish",
]

log = logging.getLogger(__name__)

PUBLISH_CHUNK = 1000
STREAM_MAXLEN = 100_000  # per stream, approximate: keeps a forever-running demo's memory flat
MAX_BACKLOG = 50_000
MAX_BACKOFF_SECONDS = 5.0
MAX_CATCH_UP_SECONDS = 60.0
MAX_INTERVENTIONS_PER_ROUND = 1000
# The ids a message that is not JSON may still show, for its failure outcome.
_IDS_IN_TEXT = {
    name: re.compile(rf'"{name}"\s*:\s*"([^"\\]*)"')
    for name in ("intervention_id", "session_id", "event_id")
}


class SimEvent(NamedTuple):
    stream: str  # contract (unprefixed) stream name
    payload: dict[str, Any]


class DeliveredIntervention(NamedTuple):
    """An executed intervention and its true effect (simulator-only: the benchmarks' oracle)."""

    session_id: str
    intervention_id: str
    time: float
    intervention_type: InterventionType
    episode_kind: EpisodeKind | None  # the episode under way when it was delivered
    present: int
    rescue_share: float  # the truth table's share for that type in that context


class Simulator:
    """Simulated live sessions; `step(now)` returns the platform events due since the last step."""

    def __init__(
        self,
        sessions: Iterable[SimSession],
        *,
        seed: int = 0,
        start: float | None = None,
        truth: ResponseTable = SEED_TABLE,
    ) -> None:
        self.sessions: tuple[SimSession, ...] = tuple(sessions)
        self.truth = truth
        ids = [spec.session_id for spec in self.sessions]
        if len(set(ids)) != len(ids):
            raise ValueError("session ids must be unique")
        self.seed = seed
        self._rooms: dict[str, SessionRoom] = {}
        self._clock: float | None = None
        self._delivered: list[DeliveredIntervention] = []
        if start is not None:
            self._open(start)

    def _open(self, start: float) -> None:
        self._rooms = {
            spec.session_id: SessionRoom(spec, self.seed, start, self.truth)
            for spec in self.sessions
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

    def episode_at(self, session_id: str, t: float) -> EpisodeKind | None:
        """The kind of the latest-starting episode under way in the room at `t` (the truth)."""
        return self._rooms[session_id].episode_at(t)

    def present_count(self, session_id: str) -> int:
        room = self._rooms.get(session_id)
        return room.audience.present_count if room is not None else 0

    def deliver(self, message: object, now: float) -> dict[str, Any]:
        """Execute a decoded agent.interventions message (design §3) at `now`; never raises.

        Returns the outcome payload (design §2): `success`, the three ids (None where the message
        had no valid one), `result` or `error`, and `timestamp`. The effect starts at `now`, or
        at the clock if that is later (what has been stepped is past).
        """
        at = now if self._clock is None else max(now, self._clock)
        try:
            order = parse_order(message)
            room = self._rooms.get(order.session_id)
            if room is None and self._clock is None:
                raise InvalidIntervention("the simulated platform has not started")
            if room is None:
                raise InvalidIntervention(f"unknown session {order.session_id!r}")
            result = room.deliver(order.intervention_type, order.content, at)
        except InvalidIntervention as exc:
            return failed_outcome(message_ids(message), str(exc), at)
        except Exception:  # never let one bad message stop the platform
            log.exception("simulator: delivering an intervention failed")
            return failed_outcome(message_ids(message), "the platform failed to execute it", at)
        e = room.delivered[-1]
        truth = (e.intervention_type, e.episode_kind, e.present, e.share)
        self._delivered.append(
            DeliveredIntervention(order.session_id, order.intervention_id, at, *truth)
        )
        ids = message_ids(message)
        return {"success": True, **ids, "result": result, "timestamp": iso_time(at)}

    def ground_truth_interventions(self) -> list[DeliveredIntervention]:
        """Every intervention executed so far with its true effect, by time."""
        return sorted(self._delivered, key=lambda d: (d.time, d.session_id))

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
        once it is back. Interventions heard on `names.agent_channel` are delivered at the clock
        and their outcomes XADDed to `names.outcome_stream`; the subscription is renewed after an
        outage (pub/sub keeps nothing: messages sent while it was down are lost, as with the
        platform).
        """
        backlog: deque[SimEvent] = deque(maxlen=MAX_BACKLOG)
        backoff = 0.0
        listener = _Listener(client, names.agent_channel)
        try:
            while not stop_event.is_set():
                now = clock()
                if self._clock is not None and now - self._clock > MAX_CATCH_UP_SECONDS:
                    # After a suspend, replaying hours of audience at once would only flood Redis.
                    skipped = self._skip_to(now - MAX_CATCH_UP_SECONDS)
                    log.warning("simulator: clock jumped; skipped %d events", skipped)
                backlog.extend(self.step(now))
                for data in listener.messages():
                    outcome = self._answer(data)
                    if outcome is not None:
                        backlog.append(outcome)
                backoff = self._flush(client, names, backlog, maxlen, backoff, stop_event)
                if not backoff:
                    stop_event.wait(interval)
        finally:
            listener.close()

    def _flush(
        self,
        client: redis.Redis,
        names: RedisNames,
        backlog: deque[SimEvent],
        maxlen: int | None,
        backoff: float,
        stop_event: threading.Event,
    ) -> float:
        """Publish the backlog; on an outage wait and return the next backoff (0 when done)."""
        try:
            while backlog:
                chunk = list(itertools.islice(backlog, PUBLISH_CHUNK))
                publish(client, names, chunk, maxlen=maxlen)
                for _ in chunk:
                    backlog.popleft()
        except (*REDIS_DOWN, redis.RedisError) as exc:  # a refused write must not end the run
            if not backoff:
                log.warning("simulator: Redis unavailable (%s); retrying", exc)
            backoff = min(MAX_BACKOFF_SECONDS, backoff * 2 if backoff else 0.25)
            log.debug("simulator: %d events waiting, next try in %.2fs", len(backlog), backoff)
            stop_event.wait(backoff)
            return backoff
        if backoff:
            log.info("simulator: Redis is reachable again")
        return 0.0

    def _answer(self, data: bytes | str) -> SimEvent | None:
        """Deliver one agent.interventions message now; its outcome, or None if unanswerable."""
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
        at = self._clock if self._clock is not None else time.time()
        try:
            message = json.loads(text)
        except ValueError:
            log.warning("simulator: agent.interventions message is not JSON: %.200r", text)
            ids = {}
            for name, pattern in _IDS_IN_TEXT.items():
                found = pattern.search(text)
                ids[name] = found.group(1) if found and valid_id(found.group(1)) else None
            if ids["intervention_id"] is None:
                return None
            outcome = failed_outcome(ids, "the message is not valid JSON", at)
        else:
            outcome = self.deliver(message, at)
        if outcome["intervention_id"] is None:
            log.warning("simulator: ignored an intervention without an id: %s", outcome["error"])
            return None
        if not outcome["success"]:
            log.info(
                "simulator: intervention %s failed: %s",
                outcome["intervention_id"],
                outcome["error"],
            )
        return SimEvent(OUTCOME_STREAM, outcome)

    def _skip_to(self, target: float) -> int:
        skipped = 0
        while self._clock is not None and self._clock < target:
            skipped += len(self.step(min(self._clock + MAX_CATCH_UP_SECONDS, target)))
        return skipped


def failed_outcome(ids: dict[str, str | None], error: str, at: float) -> dict[str, Any]:
    """An outcome payload (design §2) saying the intervention was not executed, and why."""
    ids = {key: ids.get(key) for key in ("intervention_id", "session_id", "event_id")}
    return {"success": False, **ids, "error": error, "timestamp": iso_time(at)}


class _Listener:
    """The agent.interventions subscription: renewed after Redis goes away and comes back."""

    def __init__(self, client: redis.Redis, channel: str) -> None:
        self._client = client
        self._channel = channel
        self._pubsub: Any = None
        self._lost = False

    def messages(self) -> list[bytes | str]:
        """The messages waiting now (none while Redis is unreachable); never raises."""
        found: list[bytes | str] = []
        try:
            if self._pubsub is None:
                pubsub = self._client.pubsub()
                self._pubsub = pubsub
                pubsub.subscribe(self._channel)
                if self._lost:
                    log.info("simulator: listening to %s again", self._channel)
                self._lost = False
            for _ in range(MAX_INTERVENTIONS_PER_ROUND):
                message = self._pubsub.get_message(timeout=0.0)
                if message is None:
                    break
                if message.get("type") == "message":
                    found.append(message["data"])
        except Exception as exc:  # Redis went away (or worse): start over next round
            if not self._lost:
                log.warning("simulator: lost %s (%s); will resubscribe", self._channel, exc)
            self._lost = True
            self.close()
        return found

    def close(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                pubsub.close()


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


_DEMO_EVENT_TITLES = {
    "evt-keynote": "LiveCon 2026: Main Stage",
    "evt-workshop": "LiveCon 2026: Workshops",
    "evt-summit": "Virtual Events Summit",
}


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
                event_title=_DEMO_EVENT_TITLES[event_id],
                audience=round(math.exp(rng.uniform(math.log(20), math.log(800)))),
                poll_every=rng.uniform(180.0, 300.0),
                poll_participation=rng.uniform(0.4, 0.7),
                episode_every=rng.uniform(150.0, 300.0),
                # The first room as a platform without the attention signal, the others with.
                attention=n > 0,
            )
        )
    return sessions
