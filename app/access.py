"""Who may see what: sign-in with a platform-signed token, a session cookie, and the role and
event scope checked on every page, Dash request and WebSocket (the JSON API checks its own
Bearer tokens, app/api.py).

A browser signs in once by opening any page with `?token=<jwt>`: the token is verified, its role
and events go into a signed session cookie, and a redirect drops the token from the URL (and so
from history and Referer). Iframe panels (`/embed/...`) redeem single-use embed tokens for
per-panel cookies instead (app/embed_access.py); only they may be framed, by the
EMBED_ALLOWED_ORIGINS allow-list.

Without AUTH_SECRET there are no tokens to check: the server then runs
in open access (everyone is a producer of every event), which every page (not the embedded
panels) announces in a banner; `serve` refuses it unless ALLOW_OPEN_ACCESS is set.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from flask import Flask, Response, g, jsonify, redirect, request, session
from markupsafe import escape
from sqlalchemy.exc import SQLAlchemyError

from app.embed_access import (
    EmbedRefused,
    PanelCookies,
    PanelPass,
    exchange_response,
    redeem_embed_token,
)
from components.embed_panels import EMBED_PREFIX, panel_of_path
from components.shell import SIGN_OUT_PATH
from services.access.principal import OPEN_ACCESS, Principal
from services.access.tokens import Role, TokenRejected, verify_token
from services.core.redis_bus import REDIS_DOWN

log = logging.getLogger(__name__)

# Static code and styles carry no data; health checks are for load balancers; the JSON API
# checks its own Bearer tokens (app/api.py), so a cookie's absence must not answer it in HTML;
# /metrics admits only the networks METRICS_ALLOWED_NETWORKS lists (app/metrics.py).
DASH_FAVICON = "/_favicon.ico"
PUBLIC_PREFIXES = ("/health/", "/assets/", "/_dash-component-suites/", DASH_FAVICON, "/api/")
PUBLIC_PATHS = ("/health", "/api", "/metrics")
# Browsers ask for it on pages that name no icon (the refusals, JSON); Dash serves its icon at
# DASH_FAVICON, and its catch-all would answer this path with the app's HTML.
BROWSER_FAVICON = "/favicon.ico"
# Dash's own XHR routes: answered with JSON errors, never with an HTML page.
DASH_PREFIX = "/_dash"
COOKIE_NAME = "ec_session"


class _OutageNote:
    """A warning, at most once a minute, that sign-outs cannot be checked."""

    def __init__(self) -> None:
        self._last = 0.0

    def note(self, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._last >= 60:
            self._last = now
            log.warning("cannot check sign-outs, Redis unavailable (%s); pages are served", exc)


revocation_outage = _OutageNote()


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
    name = session.get("name")
    return Principal(
        role,
        frozenset(str(e) for e in events),
        str(session.get("sub", "")),
        name=str(name) if name else None,
        expires_at=expires,
    )


def with_article(noun: str) -> str:
    """`noun` after "a" or "an", by its first letter (enough for the role names)."""
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


_TITLES = {401: "Sign in", 403: "Not allowed", 404: "Not found"}


def _refuse(status: int, message: str) -> Response | tuple[Response, int]:
    if request.path.startswith(DASH_PREFIX) or request.method != "GET":
        return jsonify({"error": message}), status
    body = (
        "<!doctype html><title>Engagement Conductor</title>"
        "<main style='font-family:system-ui;max-width:40em;margin:4em auto'>"
        f"<h1>{_TITLES.get(status, 'Unavailable')}</h1><p>{escape(message)}</p></main>"
    )
    return Response(body, status=status, mimetype="text/html")


# Analysts read past sessions; Dash's own routes serve every page, so each producer-only
# callback checks the role itself (services/access/guard.py).
_ANALYST_PATHS = ("/sessions", "/export/", DASH_PREFIX)
# Embed panels run Dash and the live socket; the socket checks the session itself.
_EMBED_PATHS = (DASH_PREFIX, "/ws/live/")


def _may_open(who: Principal, path: str) -> bool:
    panel = panel_of_path(path)
    if panel is not None:
        return who.may_embed(panel)
    if who.is_producer:
        return True
    if who.panels and path.startswith(_EMBED_PATHS):
        return True
    return who.role is Role.ANALYST and path.startswith(_ANALYST_PATHS)


def _with_passes(
    found: Principal | None, passes: list[PanelPass], lifetime: int
) -> Principal | None:
    """The principal with the panels its embed cookies hold. A browser signed in to the product
    itself can frame panels too (the platform on the same site): its panels then come on top
    of its own role, never instead of it."""
    if not passes:
        return found
    panels = frozenset(item.resource for item in passes)
    if found is not None:
        return dataclasses.replace(found, panels=panels)
    subject = "embed " + ", ".join(sorted(str(panel) for panel in panels))
    # No events: a pass opens its panel, never an event's other sessions. It ends with the
    # first of its cookies (a socket then closes; the panel's next page load says why).
    ends = min(item.issued_at for item in passes) + lifetime
    return Principal(Role.EMBED, frozenset(), subject, panels, expires_at=ends)


@dataclass(frozen=True, slots=True)
class EmbedPolicy:
    """What embedding needs from the rest of the app."""

    allowed_origins: tuple[str, ...]
    cookie_lifetime_seconds: int
    # A session's event id, or False for an unknown session.
    event_of_session: Callable[[str], str | bool | None]
    # Spends a token id (True) or finds it spent (False).
    redeem: Callable[[str, datetime], bool]


def is_producer() -> bool:
    found = current()
    return found is not None and found.is_producer


def _without_token() -> str:
    """This URL without its token. `request.path` is decoded, so it is encoded again: an id
    holding `?`, `#` or `%` must come back to the same path."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "token"]
    return quote(request.path, safe="/") + (f"?{urlencode(args)}" if args else "")


@dataclass(frozen=True, slots=True)
class SignInPolicy:
    """What signing in needs beyond the secret."""

    secure_cookies: bool
    max_token_seconds: int  # TOKEN_MAX_TTL_SECONDS
    # Whether a sign-in's token id was signed out (services/access/revocations.py).
    is_revoked: Callable[[str], bool]


def install_access_control(
    server: Flask, secret: str | None, policy: SignInPolicy, embed: EmbedPolicy
) -> None:
    """Register the check on `server`; must come before any other before-request hook that
    relies on the principal (the WebSocket refusal)."""
    server.secret_key = _cookie_key(secret) if secret else os.urandom(32)
    panel_cookies = PanelCookies(secret, embed.cookie_lifetime_seconds) if secret else None
    server.config.update(
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=policy.secure_cookies,
    )

    @server.before_request
    def check_access() -> Any:
        if request.path == BROWSER_FAVICON:
            return redirect(DASH_FAVICON, code=301)
        if request.path.startswith(PUBLIC_PREFIXES) or request.path in PUBLIC_PATHS:
            return None
        if secret is None:
            g.ec_principal = OPEN_ACCESS
            return None
        token = request.args.get("token")
        if token is not None and not request.path.startswith(DASH_PREFIX):
            try:
                grant = verify_token(secret, token, policy.max_token_seconds)
            except TokenRejected as exc:
                kind = "embed" if request.path.startswith(EMBED_PREFIX) else "sign-in"
                return _refuse(401, f"This {kind} link is not valid ({exc}). Ask for a new one.")
            if grant.role is Role.EMBED:
                return _open_panel(grant)
            if _revoked(grant.token_id):
                return _refuse(401, "This sign-in link was signed out. Ask for a new one.")
            session.clear()
            session.update(
                role=grant.role.value,
                events=list(grant.events),
                exp=grant.expires_at,
                sub=grant.token_id,
                name=grant.name,
            )
            session.permanent = False
            log.info("signed in: %s for events %s", grant.role.value, ", ".join(grant.events))
            return redirect(_without_token(), code=303)
        found = _from_cookie()
        if found is not None and _revoked(found.subject):
            session.clear()
            return _refuse(401, "You signed out. Open a new sign-in link to come back.")
        if panel_cookies is not None:
            found = _with_passes(
                found, panel_cookies.read(request.cookies), panel_cookies.lifetime_seconds
            )
        if found is None:
            if request.path.startswith(EMBED_PREFIX):
                return _refuse(401, "This panel needs a fresh embed link from the platform.")
            return _refuse(
                401,
                "Open this page with the sign-in link (…?token=…) you were given; "
                "`engagement-conductor token` mints one.",
            )
        if request.path == SIGN_OUT_PATH:
            g.ec_principal = found
            return None  # anyone signed in may sign out
        if not _may_open(found, request.path):
            if found.role is Role.EMBED:
                return _refuse(403, "An embed sign-in opens only the panels it was given.")
            return _refuse(
                403,
                f"{with_article(found.role.value).capitalize()} sign-in cannot open this page. "
                "Analysts have the past sessions (/sessions) and the JSON API (/api/).",
            )
        g.ec_principal = found
        return None

    def _revoked(token_id: str) -> bool:
        try:
            return policy.is_revoked(token_id)
        except REDIS_DOWN as exc:
            # Without Redis there is no live feed either; refusing every page would hide why.
            revocation_outage.note(exc)
            return False

    def _open_panel(grant: Any) -> Any:
        assert panel_cookies is not None
        try:
            redeem_embed_token(
                grant, panel_of_path(request.path), embed.event_of_session, embed.redeem
            )
        except EmbedRefused as refused:
            log.info("embed token %s refused: %s", grant.token_id, refused.message)
            return _refuse(refused.status, refused.message)
        except SQLAlchemyError:
            log.warning("redeeming embed token %s failed on the database", grant.token_id)
            return _refuse(503, "The database cannot be reached; reload the panel in a moment.")
        existing = panel_cookies.read(request.cookies)
        return exchange_response(_without_token(), panel_cookies, grant, existing)
