"""How the app's files and pages travel to the browser (issue #14, light delivery).

- Compressed by flask-compress in the best encoding the browser accepts (zstd, brotli, gzip;
  files under assets/, sent as streams, in zstd, brotli or deflate), except the WebSocket
  handshake.
- Files whose URL names their version (Dash's `_dash-component-suites/` fingerprints, `?m=` on
  `assets/`) are cached for a year without revalidation: a new version is a new URL. Pages, the
  API and callbacks get no such header.
- plotly.js: `assets/vendor/` holds plotly.js's `basic` partial bundle (scatter, bar, pie: every
  chart here is a scatter trace). Dash loads assets as plain scripts before its renderer starts,
  so `window.Plotly` exists when dcc.Graph looks for it, and Dash's full bundle (plotly.min.js,
  4.8 MB) is never fetched.
"""

from __future__ import annotations

from dataclasses import dataclass

import dash
from dash.exceptions import DependencyException
from dash.fingerprint import check_fingerprint
from flask import Flask, Request, Response, request
from flask_compress import Compress

VENDOR_FOLDER = "vendor"
ONE_YEAR_SECONDS = 365 * 24 * 3600


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the app does to lighten its pages; bench/delivery.py turns both off to measure what
    they save."""

    compress: bool = True
    # False: assets/vendor/ is not loaded, so dcc.Graph falls back to Dash's full plotly.js.
    partial_plotly: bool = True

    def assets_path_ignore(self) -> list[str]:
        return [] if self.partial_plotly else [f"^{VENDOR_FOLDER}$"]


LIGHT = Delivery()


def install_delivery(app: dash.Dash, delivery: Delivery) -> None:
    """Registers the response hooks on `app.server`; `app` must have been made with
    `assets_path_ignore=delivery.assets_path_ignore()`."""
    install_cache_headers(app)
    install_unknown_files(app)
    if delivery.compress:
        install_compression(app)


def install_cache_headers(app: dash.Dash) -> None:
    prefix = app.config.routes_pathname_prefix
    suites = f"{prefix}_dash-component-suites/"
    assets = f"{prefix}{app.config.assets_url_path.strip('/')}/"

    def versioned(req: Request) -> bool:
        if req.path.startswith(suites):
            return check_fingerprint(req.path)[1]
        return req.path.startswith(assets) and "m" in req.args

    @app.server.after_request
    def cache_versioned_files(response: Response) -> Response:
        if response.status_code in (200, 304) and versioned(request):
            cache = response.cache_control
            cache.public = True
            cache.max_age = ONE_YEAR_SECONDS
            cache.immutable = True
            # Flask's file sending asks for revalidation on every use: not for a versioned URL.
            cache.no_cache = None
            response.expires = None
        return response


def install_unknown_files(app: dash.Dash) -> None:
    """A component-suite URL for a package or file Dash has not registered (a typo, a stale
    fingerprint, a probe like `..%2F..`) is a 404; Dash raises for it, which answered 500 with a
    traceback in the log for anyone who asked."""

    @app.server.errorhandler(DependencyException)
    def not_a_served_file(_exc: DependencyException) -> tuple[str, int]:
        return "Not found", 404


def install_compression(app: dash.Dash) -> None:
    server: Flask = app.server
    server.config.update(
        # Registered below, behind the WebSocket check.
        COMPRESS_REGISTER=False,
        # What this app serves that compresses well; exports are whole CSV documents, often
        # large and very repetitive.
        COMPRESS_MIMETYPES=[
            "text/html",
            "text/css",
            "text/plain",
            "text/csv",
            "text/javascript",
            "application/javascript",
            "application/json",
        ],
    )
    compress = Compress(server)

    @server.after_request
    def compress_response(response: Response) -> Response:
        # flask-sock has taken the connection over by now; the response it returns only ends
        # the request (under gunicorn by raising) and must reach the server as it was made.
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return response
        return compress.after_request(response)
