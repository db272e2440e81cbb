"""`/live/<session>` in headless Chromium, before and after light delivery (issue #14).

Starts two demo-like servers side by side, each in its own process as `engagement-conductor
demo` runs (simulated platform, in-process Redis, a SQLite file, collector on the default 5-s
tick, Flask's threaded server; open access): "after" is this tree as it ships; "before" is
either this tree with compression off and Dash's full plotly.js (`--before switch`, the
default: `create_app(runtime, Delivery(compress=False, partial_plotly=False))`; the agent
panel's pacing has no switch, so its background requests are the new ones) or another checkout
served as it is (`--before PATH`, e.g. a clean clone of the previous commit: every change
undone, the pacing too).

Each server is warmed with one visit first. Then, alternately, `--loads` fresh browsers (empty
cache and profile) per server open the live page twice: cold, then warm (the same URL again, so
the browser's cache answers what its headers allow). Each visit is read from Chrome's DevTools
network log until the network has been quiet for a second after the chart drew: bytes
transferred (encoded, headers included, as DevTools counts them; the WebSocket's frames are not
in it), requests that reached the server, and the time from navigation to the chart's first
drawn point (a requestAnimationFrame loop injected before the page's own scripts looks for
plotly's first marker). Then one more page per server sits idle for `--idle-seconds` while its
HTTP requests are counted (the WebSocket is not an HTTP request). Prints Markdown.

    python bench/delivery.py [--loads 5] [--idle-seconds 20] [--before switch|PATH]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

from selenium import webdriver
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parent.parent
SESSIONS = 3
SEED = 7
# Points in the session's chart before the bench opens it.
MIN_POINTS = 3
QUIET_SECONDS = 1.0
FULL_PLOTLY = "/plotly/package_data/plotly.min.js"

# A live collection: checking its length each frame costs next to nothing, where a selector
# query each frame would slow the page it measures.
FIRST_POINT_JS = """
(function () {
    var points = document.getElementsByClassName("point");
    function look() {
        if (points.length) {
            window.__ecFirstPoint = performance.now();
            return;
        }
        window.requestAnimationFrame(look);
    }
    window.requestAnimationFrame(look);
})();
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the server (a subprocess of the bench) ------------------------------------------------------


def serve(root: Path, port: int, database: Path, heavy: bool) -> None:
    """The demo's pieces from the tree at `root`; prints `READY <session id>` once that
    session's chart has MIN_POINTS points."""
    sys.path.insert(0, str(root))
    from app.factory import create_app
    from app.runtime import Runtime
    from services.core.settings import load_settings
    from services.simulation.simulator import Simulator, demo_sessions

    settings = load_settings(
        database_url=f"sqlite:///{database}", redis_url="embedded", port=port, log_level="WARNING"
    )
    runtime = Runtime.build(settings)
    simulated = demo_sessions(SESSIONS, SEED)
    stop = threading.Event()
    platform = Simulator(simulated, seed=SEED)
    threading.Thread(
        target=platform.run, args=(runtime.redis, runtime.names, stop), daemon=True
    ).start()
    if heavy:
        from app.delivery import Delivery

        app = create_app(runtime, Delivery(compress=False, partial_plotly=False))
    else:
        app = create_app(runtime)
    runtime.start()
    session_id = simulated[0].session_id

    def announce() -> None:
        while len(runtime.store.recent_points(session_id, MIN_POINTS)) < MIN_POINTS:
            time.sleep(0.2)
        print(f"READY {session_id}", flush=True)

    threading.Thread(target=announce, daemon=True).start()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app.run(host="127.0.0.1", port=port, threaded=True)


@dataclass
class Server:
    label: str
    process: subprocess.Popen[str]
    base: str
    # The live page of the session the server announced.
    page: str = ""


def start_server(label: str, root: Path, heavy: bool, workdir: Path) -> Server:
    port = free_port()
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--serve",
        "--root",
        str(root),
        "--port",
        str(port),
        "--database",
        # Labels may hold a path.
        str(workdir / f"{label.split()[0]}.sqlite3"),
    ]
    process = subprocess.Popen(
        [*command, *(["--heavy"] if heavy else [])],
        cwd=workdir,
        stdout=subprocess.PIPE,
        text=True,
    )
    return Server(label, process, f"http://127.0.0.1:{port}")


def wait_ready(server: Server) -> None:
    assert server.process.stdout is not None
    line = " "
    while not line.startswith("READY "):
        # Dash prints its own banner first.
        line = server.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {server.label} server stopped before it was ready")
    session_id = line.split(" ", 1)[1].strip()
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(server.base + "/health/ready", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    server.page = f"{server.base}/live/{quote(session_id, safe='')}"


# -- the browser -----------------------------------------------------------------------------------


def chrome() -> webdriver.Chrome:
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
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": FIRST_POINT_JS})
    return driver


@dataclass
class Network:
    """HTTP requests from Chrome's performance log: id -> (label, url), bytes when finished."""

    requests: dict[str, tuple[str, str]] = field(default_factory=dict)
    done: dict[str, int] = field(default_factory=dict)
    last_event: float = 0.0

    def read(self, driver: webdriver.Chrome) -> None:
        for entry in driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            params = message.get("params", {})
            method = message["method"]
            if method == "Network.requestWillBeSent":
                url = params["request"]["url"]
                if url.startswith("http"):
                    self.requests[params["requestId"]] = (request_label(params["request"]), url)
                    self.last_event = time.monotonic()
            elif method in ("Network.loadingFinished", "Network.loadingFailed"):
                self.done[params["requestId"]] = int(params.get("encodedDataLength", 0))
                self.last_event = time.monotonic()

    def quiet(self) -> bool:
        waiting = set(self.requests) - set(self.done)
        return not waiting and time.monotonic() - self.last_event >= QUIET_SECONDS


def request_label(request: dict[str, object]) -> str:
    """The path, and for a Dash callback the outputs it asks for."""
    path = urlsplit(str(request["url"])).path
    body = request.get("postData")
    if path.endswith("/_dash-update-component") and isinstance(body, str):
        return f"callback → {json.loads(body).get('output', '?')}"
    return path


@dataclass
class Visit:
    transferred: int
    # Requests that reached the server: one answered from the browser's cache moves no bytes.
    requests: int
    first_point_ms: float


@dataclass
class Load:
    cold: Visit
    # The same page again in the same browser: what its cache spares.
    warm: Visit
    full_plotly: bool


def open_page(driver: webdriver.Chrome, page: str) -> tuple[Visit, Network]:
    """Navigates to `page` and waits for the chart's first drawn point, then for the network
    to be quiet."""
    network = Network()
    driver.get_log("performance")  # what the previous page did is not this visit's
    driver.get(page)
    WebDriverWait(driver, 60, poll_frequency=0.05).until(
        lambda d: d.execute_script("return window.__ecFirstPoint || null")
    )
    first = float(driver.execute_script("return window.__ecFirstPoint"))
    deadline = time.monotonic() + 30
    network.read(driver)
    while not network.quiet() and time.monotonic() < deadline:
        time.sleep(0.1)
        network.read(driver)
    sent = [size for size in network.done.values() if size > 0]
    return Visit(sum(sent), len(sent), first), network


def cold_and_warm(page: str) -> Load:
    driver = chrome()
    try:
        cold, network = open_page(driver, page)
        warm, _ = open_page(driver, page)
        urls = [url for _, url in network.requests.values()]
        return Load(cold, warm, any(url.endswith(FULL_PLOTLY) for url in urls))
    finally:
        driver.quit()


def idle_requests(page: str, seconds: float) -> Counter[str]:
    """The HTTP requests a loaded page makes while nobody touches it, by label."""
    driver = chrome()
    try:
        _, network = open_page(driver, page)
        seen = set(network.requests)
        # The measuring window itself: the page is left alone for this long.
        time.sleep(seconds)
        network.read(driver)
        return Counter(label for key, (label, _) in network.requests.items() if key not in seen)
    finally:
        driver.quit()


# -- the report ------------------------------------------------------------------------------------


def megabytes(visits: list[Visit]) -> str:
    return f"{statistics.median(v.transferred for v in visits) / 1e6:.2f} MB"


def requests(visits: list[Visit]) -> str:
    return f"{statistics.median(v.requests for v in visits):.0f}"


def seconds(visits: list[Visit]) -> str:
    values = [v.first_point_ms / 1000 for v in visits]
    return f"{statistics.median(values):.2f} s ({min(values):.2f}-{max(values):.2f})"


def report(
    servers: list[Server],
    loads: dict[str, list[Load]],
    idle: dict[str, Counter[str]],
    window: float,
) -> None:
    labels = [server.label for server in servers]
    count = len(loads[labels[0]])
    print(f"`/live/<session>`, {count} browsers per column (medians; min-max in brackets)\n")
    print("| measure | " + " | ".join(labels) + " |")
    print("|---|" + "---:|" * len(labels))
    rows: list[tuple[str, Callable[[list[Load]], str]]] = [
        ("cold: transferred (encoded, headers included)", lambda x: megabytes(cold(x))),
        ("cold: HTTP requests", lambda x: requests(cold(x))),
        (
            "cold: full plotly.min.js fetched",
            lambda x: f"{sum(load.full_plotly for load in x)} of {len(x)}",
        ),
        ("cold: navigation → chart's first point drawn", lambda x: seconds(cold(x))),
        ("warm (second visit): transferred", lambda x: megabytes(warm(x))),
        ("warm: HTTP requests reaching the server", lambda x: requests(warm(x))),
        ("warm: navigation → chart's first point drawn", lambda x: seconds(warm(x))),
    ]
    for name, cell in rows:
        print(f"| {name} | " + " | ".join(cell(loads[label]) for label in labels) + " |")
    print(
        f"| idle page: HTTP requests in {window:g} s (WebSocket aside) | "
        + " | ".join(str(sum(idle[label].values())) for label in labels)
        + " |"
    )
    print(f"\nThe idle page's requests by what they ask for ({window:g} s)\n")
    print("| request | " + " | ".join(labels) + " |")
    print("|---|" + "---:|" * len(labels))
    for what in sorted(set().union(*idle.values())):
        print(f"| {what} | " + " | ".join(str(idle[label][what]) for label in labels) + " |")


def cold(loads: list[Load]) -> list[Visit]:
    return [load.cold for load in loads]


def warm(loads: list[Load]) -> list[Visit]:
    return [load.warm for load in loads]


def measure(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="ec-delivery-") as tmp:
        workdir = Path(tmp)
        if args.before == "switch":
            before = start_server("before (switch)", ROOT, True, workdir)
        else:
            before = start_server(f"before ({args.before})", Path(args.before), False, workdir)
        servers = [before, start_server("after", ROOT, False, workdir)]
        try:
            for server in servers:
                wait_ready(server)
                cold_and_warm(server.page)  # warms the server: Dash builds its index on first use
            # Other work on the machine slows every column: say how busy it was.
            load_before = os.getloadavg()[0]
            loads: dict[str, list[Load]] = {server.label: [] for server in servers}
            for _ in range(args.loads):
                for server in servers:
                    loads[server.label].append(cold_and_warm(server.page))
            load_after = os.getloadavg()[0]
            idle = {
                server.label: idle_requests(server.page, args.idle_seconds) for server in servers
            }
        finally:
            for server in servers:
                server.process.terminate()
                server.process.wait(30)
    report(servers, loads, idle, args.idle_seconds)
    print(
        f"\n{os.cpu_count()} cores; 1-minute load average {load_before:.1f} before the visits, "
        f"{load_after:.1f} after them; Chromium {browser_version()}, headless, loopback."
    )


def browser_version() -> str:
    driver = chrome()
    try:
        return str(driver.capabilities["browserVersion"])
    finally:
        driver.quit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument(
        "--before", default="switch", help="'switch', or the path of another checkout to serve"
    )
    # The server side, started by the bench itself.
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--heavy", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.root, args.port, args.database, args.heavy)
    else:
        measure(args)


if __name__ == "__main__":
    main()
