"""The platform's intervention outcomes (design §2, `platform.agent.intervention-outcomes.v1`):
read with the collector's consumer group, validated, handed to the desk, acknowledged."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import redis

from services.core.platform import CONSUMER_GROUP, valid_id
from services.core.redis_bus import RedisNames
from services.ingest.contracts import PayloadRejected, decode_entry
from services.ingest.stream_reader import dead_letter

log = logging.getLogger(__name__)

MAX_TEXT = 500
MAX_RESULT_BYTES = 4096


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    intervention_id: str
    success: bool
    detail: dict[str, Any]  # what the platform said: result or error, and its timestamp


def parse_outcome(payload: dict[str, Any]) -> DeliveryOutcome:
    success = payload.get("success")
    if not isinstance(success, bool):
        raise PayloadRejected("success: must be true or false")
    intervention_id = payload.get("intervention_id")
    if not valid_id(intervention_id):
        raise PayloadRejected("intervention_id: missing or not a valid id")
    assert isinstance(intervention_id, str)
    for key in ("session_id", "event_id"):
        value = payload.get(key)
        if value is not None and not valid_id(value):
            raise PayloadRejected(f"{key}: not a valid id")
    detail: dict[str, Any] = {}
    for key in ("error", "timestamp"):
        value = payload.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise PayloadRejected(f"{key}: must be text")
        # Control characters (a NUL above all) cannot be stored as text by PostgreSQL.
        detail[key] = "".join(ch for ch in value if ch.isprintable())[:MAX_TEXT]
    result = payload.get("result")
    if result is not None:
        encoded = orjson.dumps(result)
        if len(encoded) > MAX_RESULT_BYTES:
            raise PayloadRejected(f"result: larger than {MAX_RESULT_BYTES} bytes")
        if b"\\u0000" in encoded:
            raise PayloadRejected("result: holds a NUL character")
        detail["result"] = result
    for key in ("session_id", "event_id"):
        if payload.get(key) is not None:
            detail[key] = payload[key]
    return DeliveryOutcome(intervention_id, success, detail)


# Returns None when applied, or why the outcome was not (it names no intervention we know...).
HandleOutcome = Callable[[DeliveryOutcome], str | None]


class OutcomeReader:
    def __init__(
        self, client: redis.Redis, names: RedisNames, consumer: str, dead_letter_maxlen: int
    ) -> None:
        self.client = client
        self.names = names
        self.consumer = consumer
        self.dead_letter_maxlen = dead_letter_maxlen
        self.accepted = 0
        self.rejected = 0

    def ensure_group(self, start_id: str = "$") -> None:
        try:
            self.client.xgroup_create(
                self.names.outcome_stream, CONSUMER_GROUP, id=start_id, mkstream=True
            )
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def read(self, handle: HandleOutcome, count: int = 200, reclaim_idle_ms: int = 60_000) -> int:
        """Handle what is waiting: entries a dead consumer left unacknowledged, this consumer's
        own unacknowledged ones, then new ones."""
        stream = self.names.outcome_stream
        handled = 0
        try:
            _, claimed, *_ = self.client.xautoclaim(
                stream, CONSUMER_GROUP, self.consumer, reclaim_idle_ms, "0-0", count=count
            )
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            claimed = []
        if claimed:
            handled += self._handle(claimed, handle)
        for start in ("0", ">"):
            try:
                reply = self.client.xreadgroup(
                    CONSUMER_GROUP, self.consumer, {stream: start}, count=count
                )
            except redis.ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                self.ensure_group(start_id="0")
                return handled
            for _, entries in reply or []:
                handled += self._handle(entries, handle)
        return handled

    def _handle(self, entries: list[Any], handle: HandleOutcome) -> int:
        pipe = self.client.pipeline(transaction=True)
        stream = self.names.outcome_stream
        for entry_id, fields in entries:
            if fields:
                reason = None
                try:
                    outcome = parse_outcome(decode_entry(fields))
                    reason = handle(outcome)
                    if reason is None:
                        self.accepted += 1
                except PayloadRejected as exc:
                    reason = str(exc)
                except Exception as exc:
                    # Whatever this entry does to the handler must not hold back the others:
                    # it is kept with the error for inspection, and acknowledged.
                    log.exception("applying intervention outcome %r failed", entry_id)
                    reason = f"could not be applied: {exc.__class__.__name__}"
                if reason is not None:
                    self.rejected += 1
                    dead_letter(
                        pipe,
                        self.names,
                        self.dead_letter_maxlen,
                        self.names.contract_stream(stream),
                        entry_id,
                        fields,
                        reason,
                    )
            pipe.xack(stream, CONSUMER_GROUP, entry_id)
        if entries:
            pipe.execute()
        return len(entries)
