"""Shared by the partition benches: a scratch database and Redis prefix, collector processes
started and stopped like a deployment's, a steady load of twin sessions, and reading it back.

Twin sessions (`tw<i>-a`, `tw<i>-b`) receive the very same events stamped with the very same
Redis times, so their scores are equal unless something (a handover) disturbs one of them: the
twin that did not move is the undisturbed control of the one that did.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis
import sqlalchemy as sa

from services.core.platform import CHAT_STREAM, LIVE_SYNC_STREAM, REACTION_STREAM
from services.core.redis_bus import RedisNames

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SCRIPT = Path(sys.executable).with_name("engagement-conductor")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def scratch_database() -> Iterator[str]:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def drop_prefix(client: redis.Redis, prefix: str) -> None:
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        client.delete(key)


@dataclass
class Fleet:
    """Collector processes (`engagement-conductor collect`) sharing one deployment."""

    env: dict[str, str]
    logs: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _serial: int = 0

    def start(self, command: str = "collect", extra: dict[str, str] | None = None) -> str:
        self._serial += 1
        name = f"c{self._serial}"
        env = os.environ | self.env | {"CONSUMER_NAME": name} | (extra or {})
        log = (self.logs / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(
            [str(SCRIPT), command, "--migrate"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        return name

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def terminate(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)

    def cpu_seconds(self, name: str) -> float:
        """User + system CPU of the process and its children so far."""
        pid = self.procs[name].pid
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = sum(int(v) for v in fields[11:15])
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.terminate(name)


class TwinLoad:
    """Steady events for `pairs` twin sessions of `audience` people, on a thread."""

    def __init__(
        self, client: redis.Redis, names: RedisNames, pairs: int, audience: int, seed: int = 1
    ) -> None:
        self.client = client
        self.names = names
        self.pairs = pairs
        self.audience = audience
        self.rng = random.Random(seed)
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.failures = 0
        self._last_ms = 0

    def sessions(self) -> list[str]:
        return [f"tw{i}-{side}" for i in range(self.pairs) for side in "ab"]

    def start(self) -> None:
        self.joined = False
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(10)

    def _run(self) -> None:
        while not self.stop_event.wait(0.25):
            try:
                self._step()
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                self.failures += 1  # Redis restarting: the platform's events are lost too

    def _step(self) -> None:
        ms = max(int(time.time() * 1000), self._last_ms + 1)
        self._last_ms = ms
        stamp = f"{ms}-*"
        pipe = self.client.pipeline(transaction=False)
        names = self.names
        for pair in range(self.pairs):
            rolls = [self.rng.random() for _ in range(4)]
            user = f"u{self.rng.randrange(self.audience)}"
            for side in "ab":
                session = f"tw{pair}-{side}"
                if not self.joined:
                    for u in range(self.audience):
                        _add(pipe, names.stream(LIVE_SYNC_STREAM), stamp, {
                            "type": "user_join", "sessionId": session, "eventId": "bench",
                            "userId": f"u{u}"})  # fmt: skip
                if rolls[0] < 0.5:
                    _add(pipe, names.stream(CHAT_STREAM), stamp, {
                        "sessionId": session, "message": {"authorId": user}})  # fmt: skip
                if rolls[1] < 0.3:
                    _add(pipe, names.stream(REACTION_STREAM), stamp, {
                        "sessionId": session, "userId": user, "emoji": "+"})  # fmt: skip
        pipe.execute()
        self.joined = True


def _add(pipe: redis.client.Pipeline, stream: str, stamp: str, payload: dict) -> None:  # type: ignore[type-arg]
    pipe.xadd(stream, {"data": json.dumps(payload)}, id=stamp)


def score_rows(engine: sa.Engine, since: float) -> dict[str, dict[float, tuple[float, int]]]:
    """session -> {tick time: (score, people present)} for ticks since `since`."""
    query = sa.text(
        "SELECT session_id, extract(epoch from time) AS t, engagement_score, "
        "(extra->>'total_users')::int FROM engagement_metrics WHERE time >= to_timestamp(:since)"
    )
    out: dict[str, dict[float, tuple[float, int]]] = {}
    with engine.connect() as conn:
        for session, t, score, present in conn.execute(query, {"since": since}):
            out.setdefault(session, {})[round(float(t), 3)] = (float(score), int(present))
    return out


def episodes_since(engine: sa.Engine, since: float) -> list[tuple[str, str]]:
    query = sa.text("SELECT session_id, type FROM anomalies WHERE time >= to_timestamp(:since)")
    with engine.connect() as conn:
        return [(s, t) for s, t in conn.execute(query, {"since": since})]
