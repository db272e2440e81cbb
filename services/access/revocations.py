"""Signed-out sign-ins: their token ids, kept in Redis for as long as the token would still be
valid, so every worker refuses the cookie (and the link) and closes its live sockets."""

from __future__ import annotations

import math
import time

import redis

from services.core.redis_bus import RedisNames


class Revocations:
    def __init__(self, client: redis.Redis, names: RedisNames) -> None:
        self.client = client
        self.names = names

    def revoke(self, token_id: str, valid_until: float, now: float | None = None) -> None:
        """Refuse `token_id` from now until `valid_until` (epoch seconds), when it would have
        expired anyway; live sockets of its sign-in hear of it on the revocation channel."""
        seconds = max(1, math.ceil(valid_until - (time.time() if now is None else now)))
        self.client.set(self.names.revoked_token(token_id), 1, ex=seconds)
        self.client.publish(self.names.revocation_channel, token_id)

    def is_revoked(self, token_id: str) -> bool:
        return bool(self.client.exists(self.names.revoked_token(token_id)))
