"""`serve`: gunicorn with gevent workers, each importing `app.wsgi` after the fork.

WebSockets hold a connection each: gevent workers hold hundreds per process where threaded
workers starve page requests; waitress cannot serve them at all.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.workers.base import Worker

from services.core.settings import Settings

METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"
CONNECTION_RESERVE = 200
GRACEFUL_SECONDS = 30
# Set when `serve` made the directory itself, so that it also removes it on the way out.
_OWN_METRICS_DIR = "EC_OWN_METRICS_DIR"


def ensure_metrics_dir() -> None:
    """Every worker writes its instruments to PROMETHEUS_MULTIPROC_DIR and /metrics adds them
    up. prometheus_client reads the variable when it is imported, so it must be in the
    environment before the process starts: without one, `serve` starts itself again with a
    fresh directory. One given is emptied: values of an earlier run would be added in."""
    given = os.environ.get(METRICS_DIR)
    if given:
        for stale in Path(given).glob("*.db"):
            stale.unlink(missing_ok=True)
        return
    directory = tempfile.mkdtemp(prefix="engagement-conductor-metrics-")
    environment = os.environ | {METRICS_DIR: directory, _OWN_METRICS_DIR: directory}
    os.execve(sys.executable, [sys.executable, "-m", "app.cli", *sys.argv[1:]], environment)


def _worker_exited(_server: Arbiter, worker: Worker) -> None:
    from prometheus_client import multiprocess

    # Its open-socket count leaves the sum; its counters and histograms stay in.
    multiprocess.mark_process_dead(worker.pid)


def _server_exited(_server: Arbiter) -> None:
    owned = os.environ.get(_OWN_METRICS_DIR)
    if owned and owned == os.environ.get(METRICS_DIR):
        shutil.rmtree(owned, ignore_errors=True)


class ProductionServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings) -> None:
        self._options = {
            "bind": f"{settings.host}:{settings.port}",
            "workers": settings.web_workers,
            "worker_class": "gevent",
            # Sockets are refused past their limit; the rest is kept for pages and probes.
            "worker_connections": settings.sockets_per_process + CONNECTION_RESERVE,
            # A stopping worker's collector flushes for up to 10 s, and a write may block on a
            # lock for 5 more: 30 s leaves it room to log and count what it could not write.
            "graceful_timeout": GRACEFUL_SECONDS,
            "timeout": 60,
            "accesslog": None,
            "loglevel": settings.log_level.lower(),
            "preload_app": False,
            "child_exit": _worker_exited,
            "on_exit": _server_exited,
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from app.wsgi import server

        return server
