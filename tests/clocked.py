"""The simulated platform and a collector on a clock the test gives, not the wall clock.

`ClockedRoom.run_until(t)` plays the platform and the collector up to simulated time `t` as fast
as they can go, in the order they act live: every `PUBLISH_EVERY` simulated seconds the simulator's
events go to the real Redis streams, stamped with the simulated time (the collector's clock is the
entries' Redis stamp, see services.ingest.stream_reader); at every tick boundary the collector
routes and applies them, scores the tick (`Collector.tick`), its writer thread
writes the rows to the test's database, and the agent takes its turn (the chore thread's job
live) on the same clock: the runtime's agent clock is the room's `SimulatedClock`.
Interventions the agent sends on agent.interventions are delivered by the simulator, whose
outcomes go back on the outcome stream, as `Simulator.run` does live.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import redis

from app.runtime import Runtime
from services.core.platform import OUTCOME_STREAM
from services.live.collector import Collector
from services.simulation.simulator import Episode, EpisodeKind, SimEvent, SimSession, Simulator
from tests.waiting import wait_until

# How often the simulated platform publishes what happened, in simulated seconds.
PUBLISH_EVERY = 0.25
# A simulated start: a whole number of seconds, on every tick boundary a test may choose.
T0 = 1_700_000_000.0


class SimulatedClock:
    """Seconds since the epoch, moved only by the room; called, the agent's time."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)


class ClockedRoom:
    """A simulator and a collector that is not running, driven tick by tick by the test."""

    def __init__(
        self,
        collector: Collector,
        simulator: Simulator,
        clock: SimulatedClock,
        client: redis.Redis,
    ) -> None:
        assert simulator.clock == clock.now, "the simulator starts at the room's clock"
        self.collector = collector
        self.simulator = simulator
        self.clock = clock
        self.client = client
        tick = collector.tick_seconds
        self._next_tick = (math.floor(clock.now / tick) + 1) * tick
        # The only collector: it takes every partition at its first turn.
        collector.take_turn(time.time())
        # The platform's ear: the agent sends nothing unless someone listens.
        self._orders = client.pubsub()
        self._orders.subscribe(collector.names.agent_channel)
        wait_until(
            lambda: (
                (message := self._orders.get_message(timeout=0.1))
                and message["type"] == "subscribe"
            ),
            what="the simulated platform to subscribe to agent.interventions",
        )
        collector.writer.start()

    @property
    def now(self) -> float:
        return self.clock.now

    @property
    def tick(self) -> float:
        return self.collector.tick_seconds

    def run_until(self, until: float) -> None:
        """Play the platform and the collector up to simulated time `until`."""
        while self.clock.now < until:
            at = min(self.clock.now + PUBLISH_EVERY, self._next_tick, until)
            self.clock.now = at
            self._publish([*self.simulator.step(at), *self._deliver_orders(at)], at)
            if at == self._next_tick:
                self._tick(at)
                self._next_tick += self.tick

    def close(self) -> None:
        self._orders.close()
        self.collector.writer.stop()

    def _tick(self, boundary: float) -> None:
        collector = self.collector
        while collector.router.route(None):
            pass
        out = collector.tick(boundary)
        # The agent measures from the stored scores: they must be there, as they are live.
        wait_until(
            lambda: collector.writer.pending_rows == 0, timeout=10, what="the tick's rows written"
        )
        collector.agent.run(out.episodes.opened)

    def _deliver_orders(self, at: float) -> list[SimEvent]:
        """The platform executes what the agent sent; its outcomes, for the outcome stream."""
        outcomes = []
        while (message := self._orders.get_message(timeout=0.0)) is not None:
            if message["type"] == "message":
                outcome = self.simulator.deliver(json.loads(message["data"]), at)
                outcomes.append(SimEvent(OUTCOME_STREAM, outcome))
        return outcomes

    def _publish(self, events: Sequence[SimEvent], at: float) -> None:
        """XADD each event stamped `at` (Redis numbers entries of one millisecond itself)."""
        names = self.collector.names
        stamp = f"{round(at * 1000)}-*"
        pipe = self.client.pipeline(transaction=False)
        for stream, payload in events:
            data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
            pipe.xadd(names.stream(stream), {"data": data}, id=stamp)
        pipe.execute()


BuildRoom = Callable[..., ClockedRoom]


@pytest.fixture
def clocked_room(
    make_runtime: Callable[..., Runtime], redis_client: redis.Redis
) -> Iterator[BuildRoom]:
    """Rooms of simulated sessions starting at `start` (default T0) with a collector on the
    test's database and prefix; keyword arguments override settings (the tick too: on a
    simulated clock the deployment's default costs no waiting)."""
    rooms: list[ClockedRoom] = []

    def build(
        sessions: Sequence[SimSession], *, seed: int, start: float = T0, **overrides: object
    ) -> ClockedRoom:
        clock = SimulatedClock(start)
        runtime = make_runtime(agent_clock=clock, **overrides)
        assert runtime.collector is not None
        simulator = Simulator(sessions, seed=seed, start=start)
        rooms.append(ClockedRoom(runtime.collector, simulator, clock, redis_client))
        return rooms[-1]

    yield build
    for room in rooms:
        room.close()


MASS_EXIT_AFTER = 20.0


@dataclass(frozen=True)
class MassExit:
    """A 150-person room (everyone in within 5 s, no polls) of which a third or more walks out
    at `exit_at`, MASS_EXIT_AFTER seconds in, for a minute."""

    room: ClockedRoom
    session: SimSession
    exit_at: float

    @property
    def collector(self) -> Collector:
        return self.room.collector


@pytest.fixture
def mass_exit(clocked_room: BuildRoom) -> MassExit:
    """The mass-exit room, not yet played: the test runs it as far as it needs."""
    exit_at = T0 + MASS_EXIT_AFTER
    session = SimSession(
        session_id="sess-exit",
        event_id="evt-exit",
        title="Exit",
        audience=150,
        join_seconds=5,
        poll_every=None,
        episodes=(Episode(EpisodeKind.MASS_EXIT, exit_at, exit_at + 60),),
    )
    return MassExit(clocked_room([session], seed=11), session, exit_at)
