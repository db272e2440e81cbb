"""`collect`'s own /metrics: a standalone collector's tick phases, write latency, leases and
episodes, on COLLECT_METRICS_PORT, for the addresses METRICS_ALLOWED_NETWORKS lists. (The
deployment's shared series are on the web server's /metrics.)"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

from app.metrics import allowed_address, process_registry

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """A scrape every 15 s is not news."""


def start_collect_metrics(host: str, port: int, networks: tuple[str, ...]) -> WSGIServer:
    """Serve /metrics on a daemon thread; returns the server (to shut it down)."""
    exposition = make_wsgi_app(process_registry())

    def guarded(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if not allowed_address(environ.get("REMOTE_ADDR"), networks):
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [b"this address may not scrape /metrics (METRICS_ALLOWED_NETWORKS)\n"]
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"only /metrics is served here\n"]
        return exposition(environ, start_response)

    server = make_server(host, port, guarded, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="collect-metrics", daemon=True).start()
    log.info("collector metrics at http://%s:%d/metrics", host, port)
    return server
