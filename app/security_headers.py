"""Headers every answer carries: a Content-Security-Policy that lets the page run only this
server's scripts (and Dash's inline ones, by hash), framing only for panels and only by the
platform, no Referer to other sites, and no cache keeping what a sign-in saw."""

from __future__ import annotations

from collections.abc import Sequence

import dash
from flask import Response, g, request

from components.embed_panels import EMBED_PREFIX

# Answers that hold no one's data and name their version: caches may keep them.
_SHARED_PREFIXES = ("/assets/", "/_dash-component-suites/", "/_favicon.ico")


def content_security_policy(frame_ancestors: str, host: str, script_hashes: Sequence[str]) -> str:
    """`frame-ancestors` as the page may be framed (a full directive); `host` the request's, for
    the live socket (`'self'` does not match ws: in every browser)."""
    directives = (
        "default-src 'self'",
        # Dash's renderer start-up and clientside callbacks are inline: allowed by their hashes.
        "script-src 'self' " + " ".join(script_hashes),
        # Plotly and Dash set styles on elements and inject <style> blocks.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        f"connect-src 'self' ws://{host} wss://{host}",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        frame_ancestors,
    )
    return "; ".join(part.strip() for part in directives)


def install_security_headers(app: dash.Dash, panel_ancestors: str) -> None:
    """After every callback is registered (the hashes cover their inline code)."""
    hashes = tuple(app.csp_hashes())

    @app.server.after_request
    def security_headers(response: Response) -> Response:
        # Only panels may be framed, and only by the platform's origins.
        framing = (
            panel_ancestors if request.path.startswith(EMBED_PREFIX) else "frame-ancestors 'none'"
        )
        response.headers.setdefault(
            "Content-Security-Policy", content_security_policy(framing, request.host, hashes)
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        # Sign-in and panel URLs carry tokens until they are exchanged: no address of ours goes
        # to another site in a Referer.
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if g.get("ec_principal") is not None and not request.path.startswith(_SHARED_PREFIXES):
            # What a sign-in saw (pages, Dash's answers): never kept by a cache.
            response.headers.setdefault("Cache-Control", "no-store")
        return response
