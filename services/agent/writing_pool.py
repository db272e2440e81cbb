"""The content writer off the caller's thread: a few workers, a bounded queue, shared counters.

The agent's turn must not wait on a language model longer than it chooses to, and a burst of
anomalies must not queue calls that would answer long after they matter: past `max_waiting`
jobs, a request falls back to the template at once ("writer busy"). Every outcome is counted
in Redis, so `/metrics` says the same from every process.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor

import redis

from services.agent.content import ContentRequest
from services.agent.model_writer import BUSY, ModelWriter, Written, skipped
from services.core.redis_bus import REDIS_DOWN, RedisNames

log = logging.getLogger(__name__)


class WritingCounters:
    """Counters in one Redis hash: `generations:<model>`, `fallbacks:<reason>`, `tokens:<kind>`."""

    def __init__(self, client: redis.Redis, names: RedisNames) -> None:
        self.client = client
        self.key = names.writing_counters

    def count(self, written: Written) -> None:
        fields: dict[str, int] = {}
        if written.content is not None and written.model is not None:
            fields[f"generations:{written.model}"] = 1
        if written.fallback is not None:
            fields[f"fallbacks:{written.fallback}"] = 1
        for kind, value in (
            ("in", written.tokens_in),
            ("out", written.tokens_out),
            ("cache_read", written.cache_read),
            ("cache_write", written.cache_write),
        ):
            if value:
                fields[f"tokens:{kind}"] = value
        if not fields:
            return
        try:
            pipe = self.client.pipeline(transaction=False)
            for name, amount in fields.items():
                pipe.hincrby(self.key, name, amount)
            pipe.execute()
        except REDIS_DOWN as exc:
            # A lost count must not cost the room its content.
            log.warning("content writer counters not updated, Redis unavailable (%s)", exc)

    def read(self) -> dict[str, int]:
        raw = self.client.hgetall(self.key)
        return {_text(name): int(value) for name, value in raw.items()}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class WritingPool:
    def __init__(
        self,
        writer: ModelWriter,
        counters: WritingCounters | None = None,
        workers: int = 2,
        max_waiting: int = 8,
    ) -> None:
        self.writer = writer
        self.counters = counters
        self._limit = workers + max_waiting
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="writer")
        self._lock = threading.Lock()
        self._in_flight = 0

    @property
    def deadline_seconds(self) -> float:
        return self.writer.settings.deadline_seconds

    def submit(self, request: ContentRequest) -> Future[Written]:
        with self._lock:
            if self._in_flight >= self._limit:
                return self.skip(BUSY, f"{self._in_flight} requests already waiting")
            self._in_flight += 1
        future = self._executor.submit(self.writer.write, request)
        future.add_done_callback(self._finished)
        return future

    def skip(self, reason: str, detail: str = "") -> Future[Written]:
        """A request not sent, as a finished attempt: counted like any other fallback."""
        future: Future[Written] = Future()
        written = skipped(reason, detail)
        self._count(written)
        future.set_result(written)
        return future

    def _finished(self, future: Future[Written]) -> None:
        with self._lock:
            self._in_flight -= 1
        if future.exception() is None:
            self._count(future.result())

    def _count(self, written: Written) -> None:
        if self.counters is not None:
            self.counters.count(written)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
