"""Who owns which partition: one lease key per partition, and the set of running collectors.

Leases are plain keys with a time to live, renewed by their holder; a holder that dies stops
renewing and its partitions fall free within `LEASE_SECONDS`. Each collector takes free
partitions up to its even share and hands back what it holds beyond it, so the collectors
balance without a coordinator.
"""

from __future__ import annotations

import redis
from redis.commands.core import Script

from services.core.redis_bus import RedisNames

# Renew a lease we hold; take it back if Redis lost it (a restart without persistence), since
# nobody else can have scored the partition meanwhile. Anyone else's lease is left alone.
_RENEW = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
elseif not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class PartitionLeases:
    def __init__(
        self,
        client: redis.Redis,
        names: RedisNames,
        me: str,
        partitions: int,
        lease_seconds: float,
    ) -> None:
        self.client = client
        self.names = names
        self.me = me
        self.partitions = partitions
        self.lease_seconds = lease_seconds
        self._ttl_ms = int(lease_seconds * 1000)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def members(self, now: float) -> list[str]:
        """Sign this collector in and return every collector seen alive within a lease."""
        key = self.names.collectors
        pipe = self.client.pipeline(transaction=False)
        pipe.zadd(key, {self.me: now})
        pipe.zremrangebyscore(key, "-inf", now - self.lease_seconds)
        pipe.zrange(key, 0, -1)
        names = pipe.execute()[-1]
        return sorted(n.decode() if isinstance(n, bytes) else n for n in names)

    def leave(self) -> None:
        self.client.zrem(self.names.collectors, self.me)

    def owners(self) -> list[str | None]:
        """The holder of every partition's lease (None where free)."""
        pipe = self.client.pipeline(transaction=False)
        for partition in range(self.partitions):
            pipe.get(self.names.partition_owner(partition))
        return [v.decode() if isinstance(v, bytes) else v for v in pipe.execute()]

    def take(self, partition: int) -> bool:
        key = self.names.partition_owner(partition)
        return bool(self.client.set(key, self.me, nx=True, px=self._ttl_ms))

    def renew(self, partitions: list[int]) -> set[int]:
        """Renew these leases; the ones still ours."""
        kept = self._each(self._renew, partitions, [self.me, self._ttl_ms])
        return {p for p, ok in zip(partitions, kept, strict=True) if ok}

    def release(self, partitions: list[int]) -> None:
        self._each(self._release, partitions, [self.me])

    def _each(self, script: Script, partitions: list[int], args: list[object]) -> list[object]:
        keys = [self.names.partition_owner(p) for p in partitions]
        if isinstance(self.client, redis.RedisCluster):
            # A cluster client refuses scripts in a pipeline: one call per key, each on its node.
            return [script(keys=[key], args=args) for key in keys]
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            script(keys=[key], args=args, client=pipe)
        return pipe.execute()
