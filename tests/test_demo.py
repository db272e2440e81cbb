"""The README's first command: `engagement-conductor demo` works with no servers at all, with
access control on and its printed links working, and stops cleanly on SIGTERM and Ctrl-C."""

from __future__ import annotations

import json
import re
import signal
import socket
import sqlite3
import subprocess
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests
from click.testing import CliRunner

from app.cli import _demo_links, _demo_settings, main
from services.access.tokens import Role, verify_token
from tests.demo_run import (
    EVENTS,
    OUR_VARIABLES,
    SCRIPT,
    SHOWN,
    demo_env,
    line_with,
    link_of,
    read_banner,
    running_demo,
    stop,
    wait_for_scored_sessions,
)
from tests.http import frame_ancestors_of, get_json
from tests.live_client import connect_live
from tests.redis_server import free_port


def test_a_background_demo_signs_in_with_its_links_frames_panels_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    port = free_port()
    with running_demo(tmp_path, port, background=True) as proc:
        lines = read_banner(proc)
        base = f"http://127.0.0.1:{port}"
        producer_link = lines[0].rsplit(" ", 1)[1]
        assert producer_link.startswith(f"{base}/?token=")
        analyst_link = link_of(lines, "analyst (past sessions):")
        found = re.search(r"Bearer ([^']+)' (\S+)$", line_with(lines, "JSON API"))
        assert found is not None and found.group(2) == f"{base}/api/sessions"
        analyst_token = found.group(1)
        example_link = link_of(lines, "example page:")
        assert "'self'" in line_with(lines, "EMBED_ALLOWED_ORIGINS").split()

        # It serves before it prints its links.
        _, health = get_json(f"{base}/health")
        assert health["database_backend"] == "sqlite"
        body = wait_for_scored_sessions(base, analyst_token)
        assert body["total"] == 3 and {item["event_id"] for item in body["items"]} == EVENTS
        assert requests.get(f"{base}/api/sessions", timeout=5).status_code == 401
        # Access control is on: the bare dashboard asks for a sign-in.
        assert requests.get(f"{base}/", timeout=5).status_code == 401

        producer = requests.Session()
        home = producer.get(producer_link, timeout=5)
        assert home.status_code == 200 and home.url == f"{base}/"
        assert producer.get(f"{base}/live/{SHOWN}", timeout=5).status_code == 200
        layout = producer.get(f"{base}/_dash-layout", timeout=5)
        assert layout.status_code == 200 and "Open access" not in layout.text
        # The live page's feed takes the producer's sign-in and backfills the session's scores.
        feed = connect_live(
            f"ws://127.0.0.1:{port}/ws/live/{SHOWN}",
            headers={"Cookie": f"ec_session={producer.cookies['ec_session']}"},
        )
        try:
            backfill = json.loads(feed.receive(timeout=10))
        finally:
            feed.close()
        assert backfill["kind"] == "backfill" and backfill["sessionId"] == SHOWN
        assert backfill["points"]

        analyst = requests.Session()
        past = analyst.get(analyst_link, timeout=5)
        assert past.status_code == 200 and past.url == f"{base}/sessions"

        viewer = requests.Session()
        example = viewer.get(example_link, timeout=5)
        assert example.status_code == 200 and example.url == f"{base}/demo/embedding"
        assert example.headers["Cache-Control"] == "no-store"
        frames = re.findall(r'<iframe src="([^"]+)"', example.text)
        assert [src.split("/")[2] for src in frames] == [
            "live",
            "anomalies",
            "interventions",
            "event",
        ]
        for src in frames:
            # A browser never signed in, as inside the platform's page: the token alone opens it.
            opened = requests.get(urljoin(base, src), allow_redirects=False, timeout=5)
            assert opened.status_code == 303, opened.text
            cookie = opened.headers["Set-Cookie"]
            assert "SameSite=None" in cookie and "Partitioned" in cookie
            panel = requests.get(
                urljoin(base, opened.headers["Location"]),
                headers={"Cookie": cookie.split(";", 1)[0]},
                timeout=5,
            )
            assert panel.status_code == 200
            # The example page is this server's own page: 'self' lets it frame the panel.
            assert frame_ancestors_of(panel.headers) == "frame-ancestors 'self'"
            again = requests.get(urljoin(base, src), allow_redirects=False, timeout=5)
            assert again.status_code == 401 and "already used" in again.text

        rest = stop(proc, signal.SIGTERM)
    assert "Engagement Conductor demo stopped (SIGTERM)." in rest


def test_a_foreground_demo_keeps_a_configured_secret_and_stops_on_ctrl_c(
    tmp_path: Path,
) -> None:
    secret = "a-secret-the-operator-chose-" + "x" * 20
    port = free_port()
    extra = {"AUTH_SECRET": secret, "EMBED_ALLOWED_ORIGINS": "https://platform.example"}
    with running_demo(tmp_path, port, background=False, **extra) as proc:
        lines = read_banner(proc)
        assert not any(secret in line for line in lines)
        producer_link = lines[0].rsplit(" ", 1)[1]
        grant = verify_token(secret, producer_link.split("?token=", 1)[1])
        assert grant.role is Role.PRODUCER and set(grant.events) == EVENTS
        assert "`engagement-conductor token` mints more links" in "\n".join(lines)
        origins = line_with(lines, "EMBED_ALLOWED_ORIGINS").split()
        assert "'self'" in origins and "https://platform.example" in origins

        producer = requests.Session()
        assert producer.get(producer_link, timeout=5).status_code == 200
        preview = producer.get(f"http://127.0.0.1:{port}/embed/event/evt-keynote", timeout=5)
        assert frame_ancestors_of(preview.headers) == (
            "frame-ancestors 'self' https://platform.example"
        )

        rest = stop(proc, signal.SIGINT)
    assert "Engagement Conductor demo stopped (SIGINT)." in rest


def test_a_sigterm_during_start_up_stops_the_demo_cleanly(tmp_path: Path) -> None:
    with running_demo(tmp_path, free_port(), background=True) as proc:
        assert proc.stderr is not None
        # Logged once the database is ready, before the demo serves anything.
        while "database backend" not in (line := proc.stderr.readline()):
            assert line, "the demo ended before its database was ready"
        rest = stop(proc, signal.SIGTERM)
    assert rest.rstrip().endswith("Engagement Conductor demo stopped (SIGTERM).")


def test_a_busy_port_is_one_line_naming_it_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [str(SCRIPT), "demo", "--port", str(port)],
            env=demo_env(tmp_path),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0
    assert "http://" not in result.stdout + result.stderr
    error = result.stderr.strip().splitlines()
    assert len(error) == 1 and f"port {port} " in error[0] and "--port" in error[0]
    assert not (tmp_path / "demo.sqlite3").exists()


def test_the_demo_secret_is_random_per_run_and_never_printed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    for name in OUR_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    first, generated = _demo_settings(None)
    second, _ = _demo_settings(None)
    assert generated and first.auth_secret is not None and second.auth_secret is not None
    secret = first.auth_secret.get_secret_value()
    assert len(secret) >= 32 and secret != second.auth_secret.get_secret_value()
    assert first.embed_allowed_origins == ("'self'",)
    lines = _demo_links(first, secret, sorted(EVENTS), generated)
    assert not any(secret in line for line in lines)
    assert "these links end with the run" in "\n".join(lines)

    monkeypatch.setenv("AUTH_SECRET", "k" * 40)
    monkeypatch.setenv("EMBED_ALLOWED_ORIGINS", "https://platform.example,'self'")
    kept, generated = _demo_settings(None)
    assert not generated and kept.auth_secret is not None
    assert kept.auth_secret.get_secret_value() == "k" * 40
    assert kept.embed_allowed_origins == ("'self'", "https://platform.example")


def test_a_demo_database_no_release_can_upgrade_is_named_with_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """#16: the demo migrates its own SQLite file; one it cannot upgrade (made by a release
    before schema version 7) gets a message saying to remove it, not a traceback."""
    monkeypatch.chdir(tmp_path)
    for name in OUR_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    old = tmp_path / "old.sqlite3"
    with sqlite3.connect(old) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER, applied_at TEXT)")
        conn.execute("INSERT INTO schema_version VALUES (5, '2026-01-01')")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{old}")
    result = CliRunner().invoke(main, ["demo", "--port", str(free_port())])
    assert result.exit_code != 0
    assert "schema version 5" in result.output and "remove that file" in result.output
    assert "Traceback" not in result.output
