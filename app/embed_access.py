"""Iframe panels' access: an embed token redeemed once for a partitioned cookie, and the
frame-ancestors allow-list.

The platform puts `/embed/<kind>/<id>?token=<embed jwt>` in an iframe. The token is checked
(signature, at most 60 s old, its one resource is this path's, its events hold the resource) and
redeemed in the database ledger, so a copied URL opens nothing. The answer is a cookie for that
resource alone and a 303 to the same path without the token, which keeps the token out of
history and Referer. The iframe is cross-site, so the cookie is `SameSite=None; Secure;
Partitioned`: it goes only to this server, and only inside pages of the platform's site.

Each resource has its own cookie, so panels loading side by side never overwrite each other's
grant; at most MAX_PANEL_COOKIES are kept per partition so request headers stay small. Panel
paths are parsed in components/embed_panels.py.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Response, redirect
from itsdangerous import BadSignature, URLSafeTimedSerializer

from services.access.tokens import AccessGrant, EmbedResource, PanelKind

log = logging.getLogger(__name__)

COOKIE_PREFIX = "ec_embed_"
MAX_PANEL_COOKIES = 12


@dataclass(frozen=True, slots=True)
class PanelPass:
    """One redeemed embed token, as its cookie carries it: the panel (its event was checked at
    the redemption), when, and under which cookie name."""

    resource: EmbedResource
    issued_at: float
    cookie: str


class EmbedRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class PanelCookies:
    """Signs, reads and sets the per-panel cookies."""

    def __init__(self, secret: str, lifetime_seconds: int) -> None:
        key = hmac.new(secret.encode(), b"engagement-conductor embed cookie", hashlib.sha256)
        self._signer = URLSafeTimedSerializer(key.hexdigest(), salt="ec-embed-panel")
        self._lifetime = lifetime_seconds
        self.lifetime_seconds = lifetime_seconds

    @staticmethod
    def name(resource: EmbedResource) -> str:
        return COOKIE_PREFIX + hashlib.sha256(str(resource).encode()).hexdigest()[:16]

    def read(self, cookies: Mapping[str, str]) -> list[PanelPass]:
        """The valid passes among the request's cookies, oldest first."""
        passes = []
        for name, value in cookies.items():
            if not name.startswith(COOKIE_PREFIX):
                continue
            try:
                body, signed_at = self._signer.loads(
                    value, max_age=self._lifetime, return_timestamp=True
                )
                resource = EmbedResource.parse(str(body["res"]))
            except (BadSignature, KeyError, TypeError, ValueError):
                continue
            if name != self.name(resource):
                continue  # a valid value under another panel's name is not that panel's
            passes.append(PanelPass(resource, signed_at.timestamp(), name))
        return sorted(passes, key=lambda found: found.issued_at)

    def grant(self, response: Response, grant: AccessGrant, existing: list[PanelPass]) -> None:
        assert grant.resource is not None
        name = self.name(grant.resource)
        others = [found for found in existing if found.cookie != name]
        for stale in others[: max(0, len(others) - (MAX_PANEL_COOKIES - 1))]:
            self._set(response, stale.cookie, "", max_age=0)
        value = self._signer.dumps({"res": str(grant.resource)})
        self._set(response, name, value, max_age=self._lifetime)

    @staticmethod
    def _set(response: Response, name: str, value: str, max_age: int) -> None:
        # Secure is required by SameSite=None and by Partitioned (browsers treat localhost as
        # secure, so this works in development over plain HTTP too).
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            secure=True,
            httponly=True,
            samesite="None",
            partitioned=True,
        )


def redeem_embed_token(
    grant: AccessGrant,
    path_resource: EmbedResource | None,
    event_of_session: Callable[[str], str | bool | None],
    redeem: Callable[[str, datetime], bool],
) -> None:
    """Checks an embed token at its panel's URL; raises EmbedRefused, else the token is spent.

    `event_of_session` gives a session's event id, or False for an unknown session."""
    resource = grant.resource
    if resource is None or path_resource is None:
        raise EmbedRefused(403, "An embed token opens only its own /embed/ panel.")
    if resource != path_resource:
        raise EmbedRefused(403, f"This embed token opens {resource}, not {path_resource}.")
    if resource.kind is PanelKind.EVENT:
        owner: str | bool | None = resource.target
    else:
        owner = event_of_session(resource.target)
        if owner is False:
            raise EmbedRefused(404, f"No session “{resource.target}” is known.")
    if owner not in grant.events:
        raise EmbedRefused(403, "This panel belongs to an event the embed token does not name.")
    if not redeem(grant.token_id, datetime.fromtimestamp(grant.expires_at, UTC)):
        raise EmbedRefused(401, "This embed link was already used; embed links work once.")


def exchange_response(
    target: str, cookies: PanelCookies, grant: AccessGrant, existing: list[PanelPass]
) -> Response:
    response = redirect(target, code=303)
    cookies.grant(response, grant, existing)
    log.info("embed panel opened: %s (token %s)", grant.resource, grant.token_id)
    return response


def frame_ancestors(allowed: tuple[str, ...]) -> str:
    return "frame-ancestors " + (" ".join(allowed) if allowed else "'none'")
