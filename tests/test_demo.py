"""The README's first command: `engagement-conductor demo` works with no servers at all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.http import get_json
from tests.redis_server import free_port
from tests.waiting import wait_until


def test_demo_serves_scored_simulated_sessions_on_the_embedded_default(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}}
    env |= {"DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}", "TICK_SECONDS": "1"}
    script = Path(sys.executable).parent / "engagement-conductor"
    proc = subprocess.Popen(
        [str(script), "demo", "--port", str(port), "--sessions", "3"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As a shell starts a background job: SIGINT ignored, so only SIGTERM can stop it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        url = f"http://127.0.0.1:{port}/"
        assert url in banner
        panel = ""
        while "/embed/event/" not in panel:
            panel = proc.stdout.readline()
            assert panel, "the demo never printed its panel's address"
        panel_url = panel.split(": ", 1)[1].strip()

        def healthy_with_sessions() -> dict[str, Any] | None:
            code, body = get_json(url + "health")
            return body if code == 200 and body["collector"]["live_sessions"] == 3 else None

        body = wait_until(healthy_with_sessions, timeout=60, what="three scored live sessions")
        assert body["database_backend"] == "sqlite"
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.status == 200
            assert "Engagement Conductor" in response.read().decode()
        with urllib.request.urlopen(panel_url, timeout=5) as response:
            # Open access opens panels too; with no allow-list nothing may frame them.
            assert response.status == 200
            assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
