"""Running `engagement-conductor demo` as a user would, and reading what it prints."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from tests.waiting import wait_until

SCRIPT = Path(sys.executable).parent / "engagement-conductor"
# The session the example page shows: the first the simulator plays.
SHOWN = "sess-keynote-01"
# The events of `--sessions 3`.
EVENTS = {"evt-keynote", "evt-workshop"}
# Stopping hands the partitions back and flushes the writer: a second or two.
STOP_SECONDS = 30  # a clean stop takes about 3 s; a loaded CI machine more
# What a developer's shell might export that would change what the demo runs on.
OUR_VARIABLES = frozenset(
    {"REDIS_URL", "DATABASE_URL", "AUTH_SECRET", "EMBED_ALLOWED_ORIGINS", "HOST", "PORT"}
)


def demo_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in OUR_VARIABLES}
    database = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    return env | {"DATABASE_URL": database, "TICK_SECONDS": "1"} | extra


def as_background_job() -> None:
    """As a shell starts a background job: SIGINT ignored, so only SIGTERM can stop it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def as_foreground_job() -> None:
    """As a terminal runs it: Ctrl-C's SIGINT delivered. A pytest-xdist worker ignores SIGINT
    itself, and a child would inherit that (found when the whole suite ran in two workers)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextmanager
def running_demo(
    tmp_path: Path, port: int, *, background: bool, **env: str
) -> Iterator[subprocess.Popen[str]]:
    """`demo --sessions 3` on `port`, killed on the way out if a test left it running."""
    proc = subprocess.Popen(
        [str(SCRIPT), "demo", "--port", str(port), "--sessions", "3"],
        env=demo_env(tmp_path, **env),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=as_background_job if background else as_foreground_job,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def read_banner(proc: subprocess.Popen[str]) -> list[str]:
    """Its lines up to the one saying how to stop it (printed once it serves)."""
    assert proc.stdout is not None
    lines: list[str] = []
    while not lines or not lines[-1].startswith("Stop it with"):
        line = proc.stdout.readline()
        assert line, f"the demo ended before printing its links: {proc.communicate()[1]}"
        lines.append(line.rstrip("\n"))
    return lines


def line_with(lines: list[str], label: str) -> str:
    found = [line for line in lines if label in line]
    assert len(found) == 1, f"no single line with {label!r} in {lines}"
    return found[0]


def link_of(lines: list[str], label: str) -> str:
    """The address a printed line ends with."""
    return line_with(lines, label).rsplit(" ", 1)[1]


def stop(proc: subprocess.Popen[str], signum: signal.Signals) -> str:
    """Sends `signum`; the rest of its output, once it exited 0 within STOP_SECONDS."""
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=STOP_SECONDS)
    assert proc.returncode == 0, err
    return out


def wait_for_scored_sessions(base: str, analyst_token: str) -> dict[str, Any]:
    """The analysts' API once it lists the three sessions with a score (their rows are written)."""

    def listed() -> dict[str, Any] | None:
        answer = requests.get(
            f"{base}/api/sessions",
            headers={"Authorization": f"Bearer {analyst_token}"},
            timeout=5,
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        scored = [item for item in body["items"] if item["last_score"] is not None]
        return body if len(scored) == 3 else None

    return wait_until(listed, timeout=60, what="three scored sessions in the JSON API")
