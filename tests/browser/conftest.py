"""A real Runtime (the test's own PostgreSQL database and Redis prefix) behind a real app.

The push hub runs; the collector does not: tests write rows and publish push messages
themselves, so every point on screen is one the test put there. Each app is served on a free
port: dash numbers its servers from one fixed port per process, so two test processes (pytest-xdist
workers) would otherwise meet on the same port, and one's browser could talk to the other's app.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import dash
import pytest
from dash.testing.application_runners import ThreadedRunner
from dash.testing.wait import until

from app.factory import create_app
from app.runtime import Runtime
from services.core.settings import Settings
from tests.browser.support import started_runtime, wait_for_request_threads
from tests.redis_server import free_port


@pytest.fixture
def runtime(make_settings: Callable[..., Settings]) -> Iterator[Runtime]:
    yield from started_runtime(make_settings(tick_seconds=1), with_collector=False)


@pytest.fixture
def live_app(runtime: Runtime) -> dash.Dash:
    return create_app(runtime)


@pytest.fixture
def server_url(
    runtime: Runtime, live_app: dash.Dash, dash_thread_server: ThreadedRunner
) -> Iterator[str]:
    """The app served without a browser, for plain HTTP and WebSocket clients."""
    dash_thread_server.start(live_app, port=free_port())
    yield dash_thread_server.url.rstrip("/")
    until(lambda: runtime.hub.socket_count == 0, timeout=10, msg="sockets stayed open")
    wait_for_request_threads()


@pytest.fixture
def served(runtime: Runtime, live_app: dash.Dash, dash_duo: Any) -> Iterator[Any]:
    """dash_duo with the app running; requested after `runtime`, so the browser and server
    are gone before the runtime stops."""
    dash_duo.start_server(live_app, port=free_port())
    yield dash_duo
    # Let open sockets end on their own: dash_duo stops its server by raising SystemExit in
    # every thread it started, which would interrupt socket handlers mid-loop.
    dash_duo.driver.get("about:blank")
    until(lambda: runtime.hub.socket_count == 0, timeout=10, msg="sockets stayed open")
    wait_for_request_threads()
