"""Live sockets at scale: 1,000 and then 5,000 WebSockets against one `serve` worker.

Runs the real product (`engagement-conductor serve`, one gevent worker with its collector,
PostgreSQL, Redis, tick 1 s) fed by the simulator, and opens sockets the way browsers do (they
offer permessage-deflate) on the live sessions, spread evenly. For each step it records:
connect time (handshake and backfill), tick -> frame received p50/p99 (the collector's
`computedAt` to the client's receipt, same clock), the worker's resident memory per socket,
and page and /health/ready latency while the sockets are open. Beside it, in the same run, a
bare redis-py subscriber on the same push channels gives the transport floor. Prints Markdown.

    python bench/sockets.py [--steps 1000,5000] [--seconds 20]
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402 - gevent must patch before anything opens a socket
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
import psycopg  # noqa: E402
import redis  # noqa: E402
import simple_websocket  # noqa: E402
from gevent.pool import Pool  # noqa: E402
from wsproto.events import Request  # noqa: E402
from wsproto.extensions import PerMessageDeflate  # noqa: E402

from services.core.redis_bus import RedisNames  # noqa: E402
from services.simulation.simulator import Simulator, demo_sessions  # noqa: E402


class BrowserLikeClient(simple_websocket.Client):
    """Offers permessage-deflate, as Chromium and Firefox do."""

    def handshake(self) -> None:
        self.sock.send(
            self.ws.send(
                Request(host=self.host, target=self.path, extensions=[PerMessageDeflate()])
            )
        )
        while True:
            self.ws.receive_data(self.sock.recv(self.receive_bytes))
            for event in self.ws.events():
                self.connected = type(event).__name__ == "AcceptConnection"
                if not self.connected:
                    raise ConnectionError(getattr(event, "status_code", 400))
                self._handle_events()  # frames that came with the answer
                return


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def worker_of(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    if len(children) != 1:
        raise RuntimeError(f"expected one worker, found {children}")
    return int(children[0])


class Fleet:
    """The open sockets and what they received."""

    def __init__(self, url: str, sessions: list[str]) -> None:
        self.url = url
        self.sessions = sessions
        self.clients: list[simple_websocket.Client] = []
        self.connect_ms: list[float] = []
        self.latencies: list[float] = []
        self.failures = 0
        self.recording = False

    def open(self, count: int) -> None:
        pool = Pool(50)
        for i in range(len(self.clients), len(self.clients) + count):
            pool.spawn(self._open_one, self.sessions[i % len(self.sessions)])
        pool.join()

    def _open_one(self, session_id: str) -> None:
        started = time.perf_counter()
        try:
            client = BrowserLikeClient.connect(f"{self.url}/ws/live/{session_id}")
            if client.receive(timeout=30) is None:
                raise TimeoutError("no backfill")
        except (OSError, ConnectionError, simple_websocket.ConnectionClosed, TimeoutError):
            self.failures += 1
            return
        self.connect_ms.append((time.perf_counter() - started) * 1000)
        self.clients.append(client)
        gevent.spawn(self._read, client)

    def _read(self, client: simple_websocket.Client) -> None:
        while client.connected:
            try:
                text = client.receive(timeout=5)
            except simple_websocket.ConnectionClosed:
                return
            if text is None or not self.recording:
                continue
            received = time.time()
            message = json.loads(text)
            if message.get("kind") == "tick":
                self.latencies.append((received - message["computedAt"]) * 1000)

    def close(self) -> None:
        for client in self.clients:
            client.close()


def bare_subscriber(
    client: redis.Redis,
    names: RedisNames,
    stop: threading.Event,
    out: list[float],
    recording: threading.Event,
) -> None:
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.psubscribe(names.push_pattern)
    while not stop.is_set():
        message = pubsub.get_message(timeout=0.5)
        if message and message["type"] == "pmessage" and recording.is_set():
            payload = json.loads(message["data"])
            if payload.get("kind") == "tick":
                out.append((time.time() - payload["computedAt"]) * 1000)
    pubsub.close()


def timed_gets(url: str, count: int) -> list[float]:
    took = []
    for _ in range(count):
        started = time.perf_counter()
        with urllib.request.urlopen(url, timeout=30) as response:
            response.read()
        took.append((time.perf_counter() - started) * 1000)
    return took


def wait_ready(url: str) -> None:
    deadline = time.monotonic() + 40
    while True:
        try:
            urllib.request.urlopen(url + "/health/ready", timeout=2)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--steps", default="1000,5000")
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()
    steps = [int(step) for step in args.steps.split(",")]
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    name = f"ec_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.pg, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    names = RedisNames(prefix)
    port = free_port()
    most = str(max(steps) + 100)
    env = os.environ | {
        "DATABASE_URL": args.pg.rsplit("/", 1)[0] + "/" + name,
        "REDIS_URL": args.redis,
        "REDIS_KEY_PREFIX": prefix,
        "TICK_SECONDS": "1",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "ALLOW_OPEN_ACCESS": "true",
        "WEB_WORKERS": "1",
        "SOCKETS_PER_PROCESS": most,
        "SOCKETS_PER_SIGN_IN": most,
        "SOCKETS_PER_SESSION": most,
    }
    script = Path(sys.executable).parent / "engagement-conductor"
    server = subprocess.Popen(
        [str(script), "serve", "--migrate"], env=env, stdout=subprocess.DEVNULL
    )
    client = redis.Redis.from_url(args.redis)
    stop = threading.Event()
    recording = threading.Event()
    sessions = demo_sessions(args.sessions, seed=3)
    bare: list[float] = []
    feeders = [
        threading.Thread(target=Simulator(sessions, seed=3).run, args=(client, names, stop)),
        threading.Thread(target=bare_subscriber, args=(client, names, stop, bare, recording)),
    ]
    url = f"http://127.0.0.1:{port}"
    fleet = Fleet(url.replace("http://", "ws://"), [s.session_id for s in sessions])
    rows = []
    try:
        wait_ready(url)
        for feeder in feeders:
            feeder.start()
        time.sleep(6)  # the sessions reach the catalogue
        worker = worker_of(server.pid)
        idle_kb = rss_kb(worker)
        for step in steps:
            started = time.perf_counter()
            fleet.open(step - len(fleet.clients))
            opened_in = time.perf_counter() - started
            time.sleep(3)  # a few ticks through every socket
            held_kb = rss_kb(worker)
            fleet.latencies.clear()
            bare.clear()
            fleet.recording = True
            recording.set()
            pages = timed_gets(url + f"/live/{sessions[0].session_id}", 10)
            probes = timed_gets(url + "/health/ready", 20)
            time.sleep(args.seconds)
            fleet.recording = False
            recording.clear()
            rows.append(
                {
                    "sockets": len(fleet.clients),
                    "failed": fleet.failures,
                    "opened_s": opened_in,
                    "connect_p50": percentile(fleet.connect_ms, 50),
                    "connect_p99": percentile(fleet.connect_ms, 99),
                    "tick_p50": percentile(fleet.latencies, 50),
                    "tick_p99": percentile(fleet.latencies, 99),
                    "frames": len(fleet.latencies),
                    "bare_p99": percentile(bare, 99),
                    "kb_per_socket": (held_kb - idle_kb) / max(1, len(fleet.clients)),
                    "worker_mb": held_kb / 1024,
                    "page_p50": percentile(pages, 50),
                    "page_max": max(pages),
                    "ready_p99": percentile(probes, 99),
                }
            )
            fleet.connect_ms.clear()
    finally:
        stop.set()
        fleet.close()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(40)
        finally:
            if server.poll() is None:
                server.kill()
        for feeder in feeders:
            feeder.join(5)
        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for key in client.scan_iter(match=prefix + "*", count=1000):
            client.delete(key)

    print(
        f"worker idle: {idle_kb / 1024:.0f} MB resident; {args.sessions} live sessions, "
        f"tick 1 s, {args.seconds} s recorded per step"
    )
    print()
    print(
        "| sockets | failed | opened in | connect p50 / p99 | tick→frame p50 / p99 "
        "| frames | bare subscriber p99 | KB per socket | worker RSS "
        "| live page p50 / max | /health/ready p99 |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['sockets']:,} | {row['failed']} | {row['opened_s']:.1f} s "
            f"| {row['connect_p50']:.0f} / {row['connect_p99']:.0f} ms "
            f"| {row['tick_p50']:.0f} / {row['tick_p99']:.0f} ms | {row['frames']:,} "
            f"| {row['bare_p99']:.1f} ms | {row['kb_per_socket']:.0f} "
            f"| {row['worker_mb']:.0f} MB | {row['page_p50']:.0f} / {row['page_max']:.0f} ms "
            f"| {row['ready_p99']:.0f} ms |"
        )


if __name__ == "__main__":
    main()
