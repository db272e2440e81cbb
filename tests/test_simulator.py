"""The simulated platform: contract-exact payloads, determinism, scripted episodes, publishing."""

from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

import fakeredis
import redis

from services.core.platform import (
    CHAT_STREAM,
    LIVE_SYNC_STREAM,
    POLL_CLOSED_STREAM,
    POLL_VOTE_STREAM,
    REACTION_STREAM,
    SIGNAL_STREAMS,
)
from services.core.redis_bus import RedisNames
from services.ingest.contracts import SignalKind, decode_entry, parse_signal
from services.simulation.simulator import (
    Episode,
    EpisodeKind,
    SimEvent,
    SimSession,
    Simulator,
    demo_sessions,
    publish,
)

T0 = 1_700_000_000.0


def simulate(sim: Simulator, until: float, step: float = 1.0) -> list[SimEvent]:
    assert sim.clock is not None
    events: list[SimEvent] = []
    t = sim.clock
    while t < until:
        t = min(t + step, until)
        events.extend(sim.step(t))
    return events


def when(stream: str, payload: dict[str, Any]) -> float:
    if stream == CHAT_STREAM:
        stamp = payload["message"]["createdAt"]
    elif stream == POLL_VOTE_STREAM:
        stamp = payload["voteTimestamp"]
    elif stream == POLL_CLOSED_STREAM:
        raise ValueError("poll.closed carries no timestamp")
    else:
        stamp = payload["timestamp"]
    return datetime.fromisoformat(stamp).timestamp()


def count(
    events: list[SimEvent], stream: str, lo: float, hi: float, kind: str | None = None
) -> int:
    return sum(
        1
        for s, p in events
        if s == stream and (kind is None or p.get("type") == kind) and lo <= when(s, p) < hi
    )


def room_after(events: list[SimEvent]) -> set[str]:
    """Who is present after `events`, replayed from joins and leaves in stream order."""
    present: set[str] = set()
    for stream, payload in events:
        if stream == LIVE_SYNC_STREAM and payload["type"] == "user_join":
            present.add(payload["userId"])
        elif stream == LIVE_SYNC_STREAM and payload["type"] == "user_leave":
            present.discard(payload["userId"])
    return present


def one_session(audience: int, *episodes: Episode, **options: Any) -> SimSession:
    return SimSession(
        "sess-a", "evt-a", "A session", audience=audience, episodes=episodes, **options
    )


def test_every_payload_passes_the_contract() -> None:
    sessions = [
        SimSession("tiny", "evt-x", "Tiny room", audience=10),
        one_session(
            300,
            Episode(EpisodeKind.SUDDEN_DROP, T0 + 200, T0 + 300),
            Episode(EpisodeKind.MASS_EXIT, T0 + 500, T0 + 600),
        ),
        *demo_sessions(3, seed=11),
    ]
    sim = Simulator(sessions, seed=5, start=T0)
    events = simulate(sim, T0 + 900, step=2.5)
    by_id = {spec.session_id: spec for spec in sessions}
    seen: Counter[tuple[str, str | None]] = Counter()
    for stream, payload in events:
        assert stream in SIGNAL_STREAMS
        assert json.loads(json.dumps(payload)) == payload
        signal = parse_signal(stream, payload)
        spec = by_id[signal.session_id]
        if stream == REACTION_STREAM:
            assert "eventId" not in payload
        elif stream == POLL_VOTE_STREAM:
            assert payload["eventId"] == payload["sessionId"]
        elif stream != POLL_CLOSED_STREAM:
            assert signal.event_id == spec.event_id
        if signal.kind is not SignalKind.POLL_CLOSED:
            assert signal.user_id is not None
        seen[(stream, payload.get("type"))] += 1
    assert set(seen) == {
        (CHAT_STREAM, None),
        (POLL_VOTE_STREAM, None),
        (POLL_CLOSED_STREAM, None),
        (REACTION_STREAM, None),
        (LIVE_SYNC_STREAM, "user_join"),
        (LIVE_SYNC_STREAM, "user_leave"),
        (LIVE_SYNC_STREAM, "typing"),
        (LIVE_SYNC_STREAM, "reaction"),
        (LIVE_SYNC_STREAM, "presence_update"),  # the demo's rooms after its first
    }


def test_same_seed_same_events_however_it_is_stepped() -> None:
    def build(seed: int) -> Simulator:
        return Simulator(demo_sessions(3, seed=1), seed=seed, start=T0)

    fine = simulate(build(7), T0 + 400, step=0.25)
    coarse = simulate(build(7), T0 + 400, step=7.3)
    assert fine == coarse
    assert len(fine) > 500
    assert simulate(build(8), T0 + 400, step=0.25) != fine


def test_first_step_starts_a_simulator_built_without_a_start() -> None:
    sim = Simulator([one_session(50)], seed=1)
    assert sim.step(T0) == []
    assert sim.clock == T0
    assert sim.step(T0 - 10) == []  # time never runs backwards
    assert sim.step(T0 + 60)
    assert sim.present_count("sess-a") >= 45


def rooms(count: int, audience: int, episode: Episode) -> list[SimSession]:
    """Identically scripted sessions: summed, their counts average out each room's mood swings."""
    return [
        SimSession(f"room-{n}", "evt", f"Room {n}", audience=audience, episodes=(episode,))
        for n in range(count)
    ]


def test_sudden_drop_cuts_chat_by_more_than_seventy_percent_then_recovers() -> None:
    start, end = T0 + 300, T0 + 480
    sim = Simulator(rooms(4, 1500, Episode(EpisodeKind.SUDDEN_DROP, start, end)), seed=3)
    sim.step(T0)
    events = simulate(sim, end + 150)
    before = count(events, CHAT_STREAM, start - 60, start)
    during_per_min = count(events, CHAT_STREAM, start, end) / 3
    assert before >= 60
    assert during_per_min <= 0.3 * before
    reactions_before = count(events, REACTION_STREAM, start - 60, start)
    assert count(events, REACTION_STREAM, start + 5, end) / 2.9 <= 0.3 * reactions_before
    assert count(events, CHAT_STREAM, end + 30, end + 90) >= 0.6 * before


def test_gradual_decline_falls_over_minutes() -> None:
    start = T0 + 300
    sim = Simulator(
        rooms(4, 2000, Episode(EpisodeKind.GRADUAL_DECLINE, start, start + 300)), seed=4
    )
    sim.step(T0)
    events = simulate(sim, start + 300)
    before = count(events, CHAT_STREAM, start - 60, start)
    assert count(events, CHAT_STREAM, start, start + 60) >= 0.6 * before, "a decline, not a cliff"
    assert count(events, CHAT_STREAM, start + 120, start + 180) <= 0.5 * before
    assert count(events, CHAT_STREAM, start + 180, start + 300) / 2 <= 0.35 * before


def test_low_engagement_slides_into_a_sustained_low_level() -> None:
    start = T0 + 300
    sim = Simulator(rooms(4, 2000, Episode(EpisodeKind.LOW_ENGAGEMENT, start, start + 200)), seed=5)
    sim.step(T0)
    events = simulate(sim, start + 200)
    before = count(events, CHAT_STREAM, start - 120, start) / 2
    # Not a cliff: the first few seconds still look like the room before.
    assert count(events, CHAT_STREAM, start, start + 5) * 12 >= 0.6 * before
    # Then minutes at about a quarter of the usual level: low, but not silent.
    sustained = count(events, CHAT_STREAM, start + 30, start + 150) / 2
    assert 0.1 * before <= sustained <= 0.4 * before


def test_mass_exit_empties_a_third_of_the_room_within_ten_seconds() -> None:
    start, end = T0 + 300, T0 + 400
    sim = Simulator([one_session(500, Episode(EpisodeKind.MASS_EXIT, start, end))], seed=9)
    sim.step(T0)
    events = simulate(sim, end + 600)
    present: set[str] = set()
    leavers: set[str] = set()
    returned: set[str] = set()
    came_back_early: set[str] = set()
    for stream, payload in events:
        if stream != LIVE_SYNC_STREAM or payload["type"] not in ("user_join", "user_leave"):
            continue
        at, user = when(stream, payload), payload["userId"]
        if at < start:
            (present.add if payload["type"] == "user_join" else present.discard)(user)
        elif payload["type"] == "user_leave" and at <= start + 10:
            leavers.add(user)
        elif payload["type"] == "user_join" and user in leavers:
            (returned if at >= end else came_back_early).add(user)
    assert len(present) >= 450
    assert leavers <= present
    assert len(leavers) >= 0.3 * len(present)
    # Only the odd ordinary leaver among them comes back while the episode lasts.
    assert len(came_back_early) <= 0.05 * len(leavers)
    assert returned, "those who walked out trickle back after the episode"
    assert sim.present_count("sess-a") == len(room_after(events))


def test_poll_votes_are_by_distinct_present_users_and_the_poll_closes() -> None:
    sim = Simulator([one_session(400, poll_every=200.0)], seed=2, start=T0)
    events = simulate(sim, T0 + 900)
    present: set[str] = set()
    voters: dict[str, set[str]] = defaultdict(set)
    tallies: dict[str, Counter[str]] = defaultdict(Counter)
    closed: set[str] = set()
    for stream, payload in events:
        if stream == LIVE_SYNC_STREAM and payload["type"] == "user_join":
            present.add(payload["userId"])
        elif stream == LIVE_SYNC_STREAM and payload["type"] == "user_leave":
            present.discard(payload["userId"])
        elif stream == POLL_VOTE_STREAM:
            poll_id, user = payload["pollId"], payload["userId"]
            assert poll_id not in closed
            assert user in present
            assert user not in voters[poll_id]
            voters[poll_id].add(user)
            tallies[poll_id][payload["optionId"]] += 1
        elif stream == POLL_CLOSED_STREAM:
            poll = payload["poll"]
            assert payload["userVotedForOptionId"] is None
            assert poll["sessionId"] == "sess-a" and poll["question"]
            assert poll["totalVotes"] == len(voters[poll["id"]])
            assert {o["id"]: o["voteCount"] for o in poll["options"] if o["voteCount"]} == dict(
                tallies[poll["id"]]
            )
            closed.add(poll["id"])
    assert len(closed) >= 3
    # Only the poll still running when the simulation stops may lack its poll.closed.
    assert len(set(voters) - closed) <= 1
    for poll_id in closed:
        assert 0.3 <= len(voters[poll_id]) / 400 <= 0.85


def test_ten_thousand_people_make_a_sane_event_volume() -> None:
    sim = Simulator([one_session(10_000)], seed=6, start=T0)
    ramp = simulate(sim, T0 + 60)
    first_join: dict[str, float] = {}
    for stream, payload in ramp:
        if stream == LIVE_SYNC_STREAM and payload["type"] == "user_join":
            first_join.setdefault(payload["userId"], when(stream, payload))
    assert len(first_join) == 10_000
    assert max(first_join.values()) < T0 + 30
    events = simulate(sim, T0 + 660)
    per_second = Counter(int(when(s, p)) for s, p in events if s != POLL_CLOSED_STREAM)
    assert 10 <= len(events) / 600 <= 300
    assert max(per_second.values()) <= 400
    chat_per_min = count(events, CHAT_STREAM, T0 + 60, T0 + 660) / 10
    assert 20 <= chat_per_min <= 100


def test_ground_truth_lists_started_episodes_of_demo_sessions() -> None:
    sessions = demo_sessions(6, seed=3)
    assert sessions == demo_sessions(6, seed=3)
    assert len({s.event_id for s in sessions}) in (2, 3)
    assert len({s.session_id for s in sessions}) == 6
    assert all(20 <= s.audience <= 800 and s.title for s in sessions)
    sim = Simulator(sessions, seed=3, start=T0)
    simulate(sim, T0 + 1800, step=5.0)
    truth = sim.ground_truth()
    assert {session_id for session_id, _ in truth} == {s.session_id for s in sessions}
    assert all(T0 + 120 <= ep.start <= T0 + 1800 for _, ep in truth)
    for session in sessions:
        mine = [ep for sid, ep in truth if sid == session.session_id]
        assert all(a.end < b.start for a, b in itertools.pairwise(mine))
    explicit = Episode(EpisodeKind.LOW_ENGAGEMENT, T0 + 100, T0 + 200)
    sim = Simulator([one_session(20, explicit)], seed=1, start=T0)
    simulate(sim, T0 + 99)
    assert sim.ground_truth() == []
    simulate(sim, T0 + 101)
    assert sim.ground_truth() == [("sess-a", explicit)]


def test_publish_writes_prefixed_streams_that_decode(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    names = RedisNames(redis_prefix)
    sim = Simulator([one_session(80, poll_every=61.0, poll_duration=30.0)], seed=1, start=T0)
    events = simulate(sim, T0 + 120)
    assert publish(redis_client, names, events) == len(events)
    written: Counter[str] = Counter()
    for stream in SIGNAL_STREAMS:
        for payload in read_stream(redis_client, names.stream(stream)):
            parse_signal(stream, payload)
            written[stream] += 1
    assert written == Counter(stream for stream, _ in events)
    assert set(written) == set(SIGNAL_STREAMS)


def read_stream(client: redis.Redis, key: str) -> list[dict[str, Any]]:
    return [decode_entry(fields) for _, fields in client.xrange(key) or [] if fields]


class _FlakyRedis(fakeredis.FakeRedis):
    """Fails the first `failures` pipeline executions as if the server were unreachable."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
        pipe = super().pipeline(transaction, shard_hint)
        execute = pipe.execute

        def flaky_execute(raise_on_error: bool = True) -> Any:
            if self.failures > 0:
                self.failures -= 1
                raise redis.ConnectionError("connection refused")
            return execute(raise_on_error)

        pipe.execute = flaky_execute  # type: ignore[method-assign]
        return pipe


class _Stopper:
    """A stop event that records each wait and stops the loop after `waits` of them."""

    def __init__(self, waits: int) -> None:
        self.waits: list[float] = []
        self._limit = waits

    def is_set(self) -> bool:
        return len(self.waits) >= self._limit

    def wait(self, timeout: float) -> bool:
        self.waits.append(timeout)
        return self.is_set()


def test_run_survives_redis_outages_and_loses_nothing() -> None:
    client = _FlakyRedis(failures=3)
    ticks = iter(T0 + 0.5 * n for n in range(1, 10_000))
    stopper = _Stopper(waits=40)
    names = RedisNames("sim:")
    sim = Simulator([one_session(60)], seed=1, start=T0)
    sim.run(client, names, stopper, interval=0.25, clock=lambda: next(ticks))  # type: ignore[arg-type]
    assert stopper.waits[:4] == [0.25, 0.5, 1.0, 0.25]
    assert max(stopper.waits) <= 5.0
    assert sim.clock is not None
    reference = simulate(Simulator([one_session(60)], seed=1, start=T0), sim.clock, step=3.0)
    written = [
        (stream, payload)
        for stream in SIGNAL_STREAMS
        for payload in read_stream(client, names.stream(stream))
    ]
    assert sorted(map(json.dumps, written)) == sorted(json.dumps(list(e)) for e in reference)


def test_run_skips_ahead_after_the_clock_jumps() -> None:
    client = fakeredis.FakeRedis()
    times = iter([T0 + 1.0, T0 + 3600.0])
    sim = Simulator([one_session(30)], seed=1, start=T0)
    sim.run(client, RedisNames(), _Stopper(waits=2), clock=lambda: next(times))  # type: ignore[arg-type]
    assert sim.clock == T0 + 3600.0
    stamps = [when(LIVE_SYNC_STREAM, p) for p in read_stream(client, LIVE_SYNC_STREAM)]
    assert stamps
    assert all(at < T0 + 1 or at >= T0 + 3600 - 61 for at in stamps)


def test_demo_sessions_send_their_titles_on_arrivals() -> None:
    sessions = demo_sessions(4, seed=3)
    sim = Simulator(sessions, seed=3, start=T0)
    titles: dict[str, set[tuple[str | None, str | None]]] = defaultdict(set)
    for stream, payload in simulate(sim, T0 + 60):
        event = parse_signal(stream, payload)
        if event.kind is SignalKind.JOIN:
            titles[event.session_id].add((event.session_title, event.event_title))
    assert {s.session_id: {(s.title, s.event_title)} for s in sessions} == dict(titles)
    assert all(s.event_title for s in sessions)


def attentive_share(events: list[SimEvent], lo: float, hi: float) -> float:
    """The share looking among the viewers who reported a state, averaged over [lo, hi) by
    replaying the presence updates (what a collector's window would count)."""
    states: dict[str, str] = {}
    shares = []
    next_sample = lo
    sync = [(s, p) for s, p in events if s == LIVE_SYNC_STREAM]
    for stream, payload in sorted(sync, key=lambda e: when(*e)):
        t = when(stream, payload)
        while next_sample <= t and next_sample < hi:
            if states:
                shares.append(sum(s == "active" for s in states.values()) / len(states))
            next_sample += 1.0
        if payload["type"] == "presence_update":
            states[payload["userId"]] = payload["state"]
        elif payload["type"] == "user_leave":
            states.pop(payload["userId"], None)
    return sum(shares) / len(shares)


def test_with_attention_viewers_report_their_state_and_look_away_in_a_drop() -> None:
    """#17: on, every arrival reports a state and every present viewer reports again within
    30 s; the attentive share falls in a sudden drop and comes back after it."""
    drop = Episode(EpisodeKind.SUDDEN_DROP, T0 + 300, T0 + 400)
    sim = Simulator([one_session(200, drop, attention=True, poll_every=None)], seed=4, start=T0)
    events = simulate(sim, T0 + 700)
    updates = [p for s, p in events if s == LIVE_SYNC_STREAM and p["type"] == "presence_update"]
    assert {p["state"] for p in updates} == {"active", "idle", "hidden", "away"}
    joins = [p for s, p in events if s == LIVE_SYNC_STREAM and p["type"] == "user_join"]
    reported_at: dict[str, float] = {}
    for p in updates:
        reported_at.setdefault(p["userId"], when(LIVE_SYNC_STREAM, p))
    assert all(p["userId"] in reported_at for p in joins)
    last: dict[str, float] = {}
    gaps = []
    for p in updates:
        t = when(LIVE_SYNC_STREAM, p)
        if p["userId"] in last:
            gaps.append(t - last[p["userId"]])
        last[p["userId"]] = t
    assert sorted(gaps)[int(len(gaps) * 0.95)] < 60  # refreshes come about every 30 s or sooner
    before = attentive_share(events, T0 + 200, T0 + 300)
    during = attentive_share(events, T0 + 330, T0 + 400)
    after = attentive_share(events, T0 + 600, T0 + 700)
    assert 0.75 < before < 0.95
    assert during < 0.6 * before
    assert after > 0.9 * before


def test_turning_attention_on_leaves_the_rooms_other_events_as_they_were() -> None:
    """The attention draws come from a stream of their own: the demo's rooms keep their
    behaviour (and every seeded test and bench its numbers) whether the signal is on or off."""
    drop = Episode(EpisodeKind.SUDDEN_DROP, T0 + 100, T0 + 160)

    def without_attention(on: bool) -> list[SimEvent]:
        sim = Simulator([one_session(80, drop, attention=on)], seed=9, start=T0)
        return [
            (s, p)
            for s, p in simulate(sim, T0 + 300)
            if not (s == LIVE_SYNC_STREAM and p["type"] == "presence_update")
        ]

    assert without_attention(True) == without_attention(False)


def test_the_demos_first_room_sends_no_attention_and_the_others_do() -> None:
    sessions = demo_sessions(4, seed=2)
    assert [s.attention for s in sessions] == [False, True, True, True]
