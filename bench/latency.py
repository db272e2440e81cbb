"""Tick → pixel latency in headless Chromium: score computed by the collector → point drawn.

Runs the real product: `engagement-conductor serve` (collector thread, PostgreSQL, Redis, tick
1 s) fed by the simulator, with one browser tab per live page. Next to it, in the same run, a
bare redis-py subscriber on the same push channels measures the transport floor (score computed
→ message received by a Python process). Prints a Markdown table.

    python bench/latency.py [--seconds 120] [--tabs 4]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import psycopg
import redis
from selenium import webdriver

from services.core.redis_bus import RedisNames
from services.simulation.simulator import Simulator, demo_sessions

WARM_UP_SAMPLES = 3  # the first points arrive while plotly.js is still loading


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def bare_subscriber(
    client: redis.Redis, names: RedisNames, stop: threading.Event, out: list[float]
) -> None:
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.psubscribe(names.push_pattern)
    while not stop.is_set():
        message = pubsub.get_message(timeout=0.5)
        if message and message["type"] == "pmessage":
            payload = json.loads(message["data"])
            if payload.get("kind") == "tick":
                out.append(time.time() - payload["computedAt"])
    pubsub.close()


def browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/lib/chromium/chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-background-timer-throttling",
        "--disable-renderer-backgrounding",
        "--disable-backgrounding-occluded-windows",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(options=options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--tabs", type=int, default=4)
    args = parser.parse_args()

    name = f"ec_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.pg, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    names = RedisNames(prefix)
    port = free_port()
    env = os.environ | {
        "DATABASE_URL": args.pg.rsplit("/", 1)[0] + "/" + name,
        "REDIS_URL": args.redis,
        "REDIS_KEY_PREFIX": prefix,
        "TICK_SECONDS": "1",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
    }
    script = Path(sys.executable).parent / "engagement-conductor"
    server = subprocess.Popen(
        [str(script), "serve", "--migrate"], env=env, stdout=subprocess.DEVNULL
    )
    client = redis.Redis.from_url(args.redis)
    stop = threading.Event()
    sessions = demo_sessions(args.tabs, seed=3)
    threads = [
        threading.Thread(target=Simulator(sessions, seed=3).run, args=(client, names, stop)),
    ]
    bare: list[float] = []
    threads.append(threading.Thread(target=bare_subscriber, args=(client, names, stop, bare)))
    driver = None
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/health/ready", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        for thread in threads:
            thread.start()
        time.sleep(5)  # let the sessions appear in the catalogue before opening their pages
        driver = browser()
        handles = []
        for i, session in enumerate(sessions):
            if i:
                driver.switch_to.new_window("window")
            driver.get(f"{url}/live/{session.session_id}")
            handles.append(driver.current_window_handle)
        time.sleep(args.seconds)
        drawn: list[float] = []
        for handle in handles:
            driver.switch_to.window(handle)
            samples = driver.execute_script("return (window.ecLive || {}).latencies || []")
            drawn.extend(samples[WARM_UP_SAMPLES:])
    finally:
        stop.set()
        for thread in threads:
            if thread.is_alive():
                thread.join(10)
        if driver is not None:
            driver.quit()
        server.terminate()
        server.wait(30)
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    print(f"{args.tabs} live pages, tick 1 s, {args.seconds} s; milliseconds\n")
    print("| path | samples | median | p95 | max |")
    print("|---|---:|---:|---:|---:|")
    for label, values in (
        ("bare redis-py subscriber (transport floor)", bare),
        ("product: point drawn in the chart", drawn),
    ):
        ms = [v * 1000 for v in values]
        print(
            f"| {label} | {len(ms)} | {statistics.median(ms):.1f} | {percentile(ms, 95):.1f} "
            f"| {max(ms):.1f} |"
        )


if __name__ == "__main__":
    main()
