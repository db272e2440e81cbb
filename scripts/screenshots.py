"""Screenshots of every page, desktop and phone, from a running demo in headless Chromium.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--wait 40] [--patience 300]

Starts `engagement-conductor demo` on a free port with its own SQLite file, signs in with the
producer link it prints, lets the simulated audiences play for --wait seconds (so the charts have
something to show) and then until a suggestion waits for a producer (at most --patience seconds),
so the live page shows that session with its decision. Saves `<page>-desktop.png` (1440x900) and
`<page>-phone.png` (390x844) for each page. The README shows two of them.
"""

from __future__ import annotations

import argparse
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

SCRIPT = Path(sys.executable).parent / "engagement-conductor"
SIZES = {"desktop": (1440, 900), "phone": (390, 844)}
# The first session the simulator plays, in the demo's first event: shown unless another has a
# suggestion waiting.
FIRST_SESSION = "sess-keynote-01"


def pages(live_session: str) -> dict[str, str]:
    return {
        "overview": "/",
        "live": f"/live/{live_session}",
        "sessions": "/sessions",
        "session": f"/sessions/{FIRST_SESSION}",
        "embedding": "/demo/embedding",
    }


def session_waiting_for_decision(database: Path) -> str | None:
    """A session with a suggestion waiting for a producer, read from the demo's SQLite file."""
    with sqlite3.connect(database) as conn:
        try:
            row = conn.execute(
                "SELECT session_id FROM interventions WHERE status = 'pending' "
                "ORDER BY time DESC LIMIT 1"
            ).fetchone()
        except sqlite3.OperationalError:  # the demo has not created its tables yet
            return None
    return row[0] if row else None


DATABASE = "demo.sqlite3"
LINK = re.compile(r"(http://\S+)/\?token=(\S+)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_demo(port: int, workdir: Path) -> Iterator[tuple[str, str]]:
    """The demo's base URL and producer token, the demo stopped on the way out."""
    env = {
        "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
        "DATABASE_URL": f"sqlite:///{workdir / DATABASE}",
        "HOME": str(workdir),
    }
    proc = subprocess.Popen(
        [str(SCRIPT), "demo", "--port", str(port), "--sessions", "6"],
        env=env,
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            found = LINK.search(line)
            if found:
                yield found.group(1), found.group(2)
                return
        raise SystemExit("the demo stopped before printing its sign-in link")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def browser(width: int, height: int) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.add_argument("--headless=new")
    options.add_argument("--no-sandbox")
    options.add_argument("--disable-gpu")
    options.add_argument("--hide-scrollbars")
    options.add_argument(f"--window-size={width},{height}")
    driver = webdriver.Chrome(options=options)
    # --window-size sets the outer window; the page needs the viewport at this size.
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    return driver


def settle(driver: webdriver.Chrome) -> None:
    """Until the page (a Dash page, or the example page framing panels) has rendered and no
    Dash callback is running."""
    WebDriverWait(driver, 30).until(
        lambda d: (
            d.execute_script("return document.readyState") == "complete"
            and (
                not d.find_elements(By.ID, "react-entry-point")
                or d.find_elements(By.CSS_SELECTOR, "#react-entry-point *")
            )
            and not d.find_elements(By.CSS_SELECTOR, "[data-dash-is-loading='true']")
        )
    )
    # Plotly draws after Dash settles; a chart still empty is worth one more second.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if driver.execute_script(
            "var g = document.querySelector('.js-plotly-plot');"
            "return !g || (g.data && g.data[0] && g.data[0].x && g.data[0].x.length > 0);"
        ):
            break
        time.sleep(0.2)
    time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--wait", type=float, default=40.0, help="seconds of simulated show")
    parser.add_argument(
        "--patience", type=float, default=300.0, help="longest wait for a suggestion, seconds"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as workdir, running_demo(free_port(), Path(workdir)) as demo:
        base, token = demo
        database = Path(workdir) / DATABASE
        time.sleep(args.wait)
        deadline = time.monotonic() + args.patience
        waiting = session_waiting_for_decision(database)
        while waiting is None and time.monotonic() < deadline:
            time.sleep(2)
            waiting = session_waiting_for_decision(database)
        for size, (width, height) in SIZES.items():
            driver = browser(width, height)
            try:
                driver.get(f"{base}/?token={token}")
                settle(driver)
                for name, path in pages(waiting or FIRST_SESSION).items():
                    driver.get(base + path)
                    settle(driver)
                    target = args.out / f"{name}-{size}.png"
                    driver.save_screenshot(str(target))
                    print(target)
            finally:
                driver.quit()


if __name__ == "__main__":
    main()
