"""Who may see what: sign-in with a platform-signed token, a session cookie, and the role and
event scope checked on every page, Dash request and WebSocket (the JSON API checks its own
Bearer tokens, app/api.py).

A browser signs in once by opening any page with `?token=<jwt>`: the token is verified, its role
and events go into a signed session cookie, and a redirect drops the token from the URL (and so
from history and Referer). Without AUTH_SECRET there are no tokens to check: the server then runs
in open access (everyone is a producer of every event), which the demo uses and every page
announces in a banner; `serve` refuses it unless ALLOW_OPEN_ACCESS is set.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, g, jsonify, redirect, request, session
from markupsafe import escape

from services.access_tokens import Role, TokenRejected, verify_token

log = logging.getLogger(__name__)

# Static code and styles carry no data; health checks are for load balancers.
PUBLIC_PREFIXES = ("/health/", "/assets/", "/_dash-component-suites/", "/_favicon.ico", "/api/")
PUBLIC_PATHS = ("/health", "/api")
# Dash's own XHR routes: answered with JSON errors, never with an HTML page.
DASH_PREFIX = "/_dash"
COOKIE_NAME = "ec_session"


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    events: frozenset[str] | None  # None: every event (open access)
    subject: str

    def may_see(self, event_id: str | None) -> bool:
        if self.events is None:
            return True
        return event_id is not None and event_id in self.events


OPEN_ACCESS = Principal(Role.PRODUCER, None, "open access (no AUTH_SECRET)")


def current() -> Principal | None:
    """The signed-in principal of this request (set by the before-request check)."""
    return g.get("ec_principal")


def open_access() -> bool:
    found = current()
    return found is not None and found.events is None


def _cookie_key(secret: str) -> bytes:
    # A key of its own, so the cookie's signature says nothing about the token secret.
    return hmac.new(
        secret.encode(), b"engagement-conductor session cookie", hashlib.sha256
    ).digest()


def _from_cookie() -> Principal | None:
    try:
        role = Role(session.get("role"))
        events = session.get("events")
        expires = float(session.get("exp", 0))
    except (TypeError, ValueError):
        return None
    if not isinstance(events, list) or expires <= time.time():
        return None
    return Principal(role, frozenset(str(e) for e in events), str(session.get("sub", "")))


def _refuse(status: int, message: str) -> Response | tuple[Response, int]:
    if request.path.startswith(DASH_PREFIX) or request.method != "GET":
        return jsonify({"error": message}), status
    body = (
        "<!doctype html><title>Engagement Conductor</title>"
        "<main style='font-family:system-ui;max-width:40em;margin:4em auto'>"
        f"<h1>{'Sign in' if status == 401 else 'Not allowed'}</h1><p>{escape(message)}</p></main>"
    )
    return Response(body, status=status, mimetype="text/html")


# Analysts read past sessions; Dash's own routes serve every page, so each producer-only
# callback checks the role itself (`producer_in_scope`).
_ANALYST_PATHS = ("/sessions", "/export/", DASH_PREFIX)


def _may_open(role: Role, path: str) -> bool:
    if role is Role.PRODUCER:
        return True
    if role is Role.ANALYST:
        return path.startswith(_ANALYST_PATHS)
    return False


def is_producer() -> bool:
    found = current()
    return found is not None and found.role is Role.PRODUCER


def _without_token() -> str:
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "token"]
    return request.path + (f"?{urlencode(args)}" if args else "")


def install_access_control(server: Flask, secret: str | None, secure_cookies: bool) -> None:
    """Register the check on `server`; must come before any other before-request hook that
    relies on the principal (the WebSocket refusal)."""
    server.secret_key = _cookie_key(secret) if secret else os.urandom(32)
    server.config.update(
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure_cookies,
    )

    @server.before_request
    def check_access() -> Any:
        if request.path.startswith(PUBLIC_PREFIXES) or request.path in PUBLIC_PATHS:
            return None
        if secret is None:
            g.ec_principal = OPEN_ACCESS
            return None
        token = request.args.get("token")
        if token is not None and not request.path.startswith(DASH_PREFIX):
            try:
                grant = verify_token(secret, token)
            except TokenRejected as exc:
                return _refuse(401, f"This sign-in link is not valid ({exc}). Ask for a new one.")
            if grant.role is Role.EMBED:
                # It opens no page here: signing in with it would only end a real sign-in.
                return _refuse(403, "An embed token is for iframe panels, not for signing in.")
            session.clear()
            session.update(
                role=grant.role.value,
                events=list(grant.events),
                exp=grant.expires_at,
                sub=grant.token_id,
            )
            session.permanent = False
            log.info("signed in: %s for events %s", grant.role.value, ", ".join(grant.events))
            return redirect(_without_token(), code=303)
        found = _from_cookie()
        if found is None:
            return _refuse(
                401,
                "Open this page with the sign-in link (…?token=…) you were given; "
                "`engagement-conductor token` mints one.",
            )
        if not _may_open(found.role, request.path):
            return _refuse(
                403,
                f"A {found.role.value} sign-in cannot open this page. Analysts have the past "
                "sessions (/sessions) and the JSON API (/api/).",
            )
        g.ec_principal = found
        return None

    @server.after_request
    def no_framing(response: Response) -> Response:
        # Only embed routes (not built yet) may be framed, and then by an allow-list.
        response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response
