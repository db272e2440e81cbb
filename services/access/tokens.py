"""Signed access tokens (JWT, HS256 with the secret the platform shares with us).

Producer and analyst tokens sign a browser in or authorise API calls and may live for days.
Embed tokens open one iframe panel: they name exactly one resource, live at most
EMBED_MAX_TTL_SECONDS, and are redeemed once (app/embed_access.py keeps the ledger).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from enum import StrEnum

import jwt

from services.core.platform import valid_id

ISSUER = "engagement-conductor"
ALGORITHM = "HS256"
MIN_SECRET_LENGTH = 32
MAX_TTL_SECONDS = 30 * 24 * 3600
EMBED_MAX_TTL_SECONDS = 60
MAX_NAME_LENGTH = 100
# Clocks of the platform and this server may disagree by this much.
CLOCK_LEEWAY_SECONDS = 5


class Role(StrEnum):
    PRODUCER = "producer"
    ANALYST = "analyst"
    EMBED = "embed"


class PanelKind(StrEnum):
    """What an embed token opens: a session's live chart, anomaly list or intervention log, or
    an event's overview tile."""

    LIVE = "live"
    ANOMALIES = "anomalies"
    INTERVENTIONS = "interventions"
    EVENT = "event"

    @property
    def of_session(self) -> bool:
        return self is not PanelKind.EVENT


class TokenRejected(ValueError):
    """A token that is malformed, forged, expired or outside its scope."""


@dataclass(frozen=True, slots=True)
class EmbedResource:
    kind: PanelKind
    target: str  # a session id, or an event id for PanelKind.EVENT

    @classmethod
    def parse(cls, text: str) -> EmbedResource:
        """`live/S-1`, `anomalies/S-1`, `interventions/S-1` or `event/EVT-1`."""
        kind, sep, target = text.partition("/")
        try:
            panel = PanelKind(kind)
        except ValueError:
            panel = None
        if not sep or panel is None or not valid_id(target):
            kinds = ", ".join(k.value for k in PanelKind)
            raise ValueError(f"a resource is <kind>/<id> with kind one of {kinds}; got {text!r}")
        return cls(panel, target)

    def __str__(self) -> str:
        return f"{self.kind.value}/{self.target}"


@dataclass(frozen=True, slots=True)
class AccessGrant:
    role: Role
    events: tuple[str, ...]
    token_id: str
    expires_at: int
    resource: EmbedResource | None = None  # set exactly for embed tokens
    name: str | None = None  # who holds it, as the intervention log shows them


def valid_name(name: object) -> bool:
    return isinstance(name, str) and 0 < len(name) <= MAX_NAME_LENGTH and name.isprintable()


def mint_token(
    secret: str,
    role: Role,
    events: list[str],
    ttl_seconds: int,
    resource: EmbedResource | None = None,
    name: str | None = None,
) -> str:
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(f"AUTH_SECRET must be at least {MIN_SECRET_LENGTH} characters")
    if not events or not all(valid_id(e) for e in events):
        raise ValueError("name at least one event id of 1-255 printable characters")
    longest = EMBED_MAX_TTL_SECONDS if role is Role.EMBED else MAX_TTL_SECONDS
    if not 1 <= ttl_seconds <= longest:
        raise ValueError(f"a {role.value} token's lifetime must be 1 to {longest} seconds")
    if (role is Role.EMBED) != (resource is not None):
        raise ValueError("an embed token names exactly one resource; other tokens name none")
    if resource is not None and resource.kind is PanelKind.EVENT and resource.target not in events:
        raise ValueError("an event panel's event must be one of the token's events")
    if name is not None and not valid_name(name):
        raise ValueError(f"a name is 1-{MAX_NAME_LENGTH} printable characters")
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": ISSUER,
        "sub": role.value,
        "events": sorted(set(events)),
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if resource is not None:
        claims["res"] = str(resource)
    if name is not None:
        claims["name"] = name
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str, max_ttl_seconds: int = MAX_TTL_SECONDS) -> AccessGrant:
    """The grant a signed token carries; TokenRejected for anything else, a producer's or an
    analyst's token signed to live longer than `max_ttl_seconds` included (the signer picks
    the lifetime, the server caps what it honours)."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            leeway=CLOCK_LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "sub", "jti", "iss"]},
        )
        role = Role(claims["sub"])
        issued, expires = int(claims["iat"]), int(claims["exp"])
    except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
        raise TokenRejected(str(exc)) from None
    events = claims.get("events")
    if not isinstance(events, list) or not events or not all(valid_id(e) for e in events):
        raise TokenRejected("token names no valid events")
    if role is not Role.EMBED and expires - issued > max_ttl_seconds:
        raise TokenRejected(
            f"this server accepts tokens that live at most {_span(max_ttl_seconds)}; this one "
            f"was signed to live {_span(expires - issued)}"
        )
    resource = _embed_resource(role, claims.get("res"), issued, expires)
    name = claims.get("name")
    if name is not None and not valid_name(name):
        raise TokenRejected(f"the name claim must be 1-{MAX_NAME_LENGTH} printable characters")
    return AccessGrant(role, tuple(events), str(claims["jti"]), expires, resource, name)


def _span(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{seconds} s"


def _embed_resource(role: Role, claim: object, issued: int, expires: int) -> EmbedResource | None:
    if role is not Role.EMBED:
        if claim is not None:
            raise TokenRejected("only embed tokens name a resource")
        return None
    if not isinstance(claim, str):
        raise TokenRejected("an embed token must name its resource")
    try:
        resource = EmbedResource.parse(claim)
    except ValueError as exc:
        raise TokenRejected(str(exc)) from None
    # The signer picks the lifetime; a longer one than this is not an embed token we honour.
    if expires - issued > EMBED_MAX_TTL_SECONDS:
        raise TokenRejected(f"an embed token lives at most {EMBED_MAX_TTL_SECONDS} s")
    return resource
