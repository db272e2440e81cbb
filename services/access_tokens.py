"""Signed access tokens (JWT, HS256 with the secret the platform shares with us)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from enum import StrEnum

import jwt

from services.contracts import valid_id

ISSUER = "engagement-conductor"
ALGORITHM = "HS256"
MIN_SECRET_LENGTH = 32
MAX_TTL_SECONDS = 30 * 24 * 3600


class Role(StrEnum):
    PRODUCER = "producer"
    ANALYST = "analyst"
    EMBED = "embed"


class TokenRejected(ValueError):
    """A token that is malformed, forged, expired or outside its scope."""


@dataclass(frozen=True, slots=True)
class AccessGrant:
    role: Role
    events: tuple[str, ...]
    token_id: str
    expires_at: int


def mint_token(secret: str, role: Role, events: list[str], ttl_seconds: int) -> str:
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(f"AUTH_SECRET must be at least {MIN_SECRET_LENGTH} characters")
    if not events or not all(valid_id(e) for e in events):
        raise ValueError("name at least one event id of 1-255 printable characters")
    if not 1 <= ttl_seconds <= MAX_TTL_SECONDS:
        raise ValueError(f"the lifetime must be 1 to {MAX_TTL_SECONDS} seconds")
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": role.value,
        "events": sorted(set(events)),
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str) -> AccessGrant:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "jti", "iss"]},
        )
        role = Role(claims["sub"])
    except (jwt.InvalidTokenError, ValueError) as exc:
        raise TokenRejected(str(exc)) from None
    events = claims.get("events")
    if not isinstance(events, list) or not events or not all(valid_id(e) for e in events):
        raise TokenRejected("token names no valid events")
    return AccessGrant(role, tuple(events), str(claims["jti"]), int(claims["exp"]))
