"""The language-model content writer on the official Anthropic SDK: a capable model first, a fast
one if it fails, both inside one deadline, behind a circuit breaker.

`write` never raises for the service's faults or the model's answers: it returns what happened
(`Written`), content or not, with the model, the tokens, the latency and the reason for a
fallback. The caller keeps the template when there is no content.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anthropic

from services.agent.breaker import CircuitBreaker
from services.agent.content import ContentRequest, InterventionContent
from services.agent.writing import (
    SYSTEM_PROMPT,
    WritingRefused,
    context_message,
    output_schema,
    read_written,
)

log = logging.getLogger(__name__)

# Below this much time left, a call cannot come back in time: fall back instead of trying.
MIN_CALL_SECONDS = 0.25
# Fallback reasons, also the label of the fallback counter: a few fixed words each.
TIMED_OUT = "timed out"
SERVICE_ERROR = "service error"
UNREACHABLE = "unreachable"
BREAKER_OPEN = "breaker open"
REFUSED = "refused by validation"
BUDGET_SPENT = "token budget spent"
BUSY = "writer busy"
LATE = "answered after the decision"


@dataclass(frozen=True, slots=True)
class WriterSettings:
    model: str
    fallback_model: str | None
    call_timeout_seconds: float  # one call to one model
    deadline_seconds: float  # everything, fallback included; the decision waits no longer
    max_tokens: int = 700


@dataclass(frozen=True, slots=True)
class Written:
    """One writing attempt: content when a model's answer passed, else why not."""

    content: InterventionContent | None
    model: str | None = None  # the model whose answer is used (or was refused)
    tokens_in: int = 0
    tokens_out: int = 0
    cache_read: int = 0
    cache_write: int = 0
    latency_ms: float = 0.0
    fallback: str | None = None  # one of the reasons above
    detail: str = ""  # what went wrong, in words without the content (an HTTP status, a rule)
    attempts: tuple[str, ...] = field(default_factory=tuple)  # models called, in order

    @property
    def tokens(self) -> int:
        """What the attempt counts against the event's budget."""
        return self.tokens_in + self.tokens_out + self.cache_read + self.cache_write

    def metadata(self) -> dict[str, Any]:
        """What the intervention row keeps: never the prompt, the chat or the answer."""
        return {
            "model": self.model,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cache_read": self.cache_read,
            "cache_write": self.cache_write,
            "latency_ms": round(self.latency_ms),
            "fallback": self.fallback,
            "detail": self.detail[:300],
            "attempts": list(self.attempts),
        }


def skipped(reason: str, detail: str = "") -> Written:
    return Written(None, fallback=reason, detail=detail)


class ModelWriter:
    def __init__(
        self,
        client: anthropic.Anthropic,
        settings: WriterSettings,
        breaker: CircuitBreaker,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.settings = settings
        self.breaker = breaker
        self._clock = clock

    def write(self, request: ContentRequest) -> Written:
        started = self._clock()
        models = [self.settings.model]
        if self.settings.fallback_model and self.settings.fallback_model != self.settings.model:
            models.append(self.settings.fallback_model)
        usage = _Usage()
        reason, detail = TIMED_OUT, "no time left for a call"
        for model in models:
            left = self.settings.deadline_seconds - (self._clock() - started)
            if left < MIN_CALL_SECONDS:
                reason, detail = TIMED_OUT, f"deadline of {self.settings.deadline_seconds:g} s"
                break
            if not self.breaker.allow():
                reason, detail = BREAKER_OPEN, "the service failed repeatedly; paused"
                break
            usage.attempts.append(model)
            try:
                message = self.client.messages.create(
                    model=model,
                    max_tokens=self.settings.max_tokens,
                    system=[
                        {
                            "type": "text",
                            "text": SYSTEM_PROMPT,
                            "cache_control": {"type": "ephemeral"},
                        }
                    ],
                    messages=[{"role": "user", "content": context_message(request)}],
                    output_config={
                        "format": {
                            "type": "json_schema",
                            "schema": output_schema(request.intervention_type),
                        }
                    },
                    timeout=min(self.settings.call_timeout_seconds, left),
                )
            except anthropic.APITimeoutError:
                self.breaker.failed()
                reason, detail = TIMED_OUT, f"{model} gave no answer in time"
                continue
            except anthropic.APIStatusError as exc:
                self.breaker.failed()
                reason, detail = SERVICE_ERROR, f"{model}: HTTP {exc.status_code}"
                continue
            except anthropic.APIConnectionError as exc:
                self.breaker.failed()
                reason, detail = UNREACHABLE, f"{model}: {type(exc).__name__}"
                continue
            self.breaker.succeeded()
            usage.add(message.usage)
            text = "".join(
                block.text for block in message.content if getattr(block, "type", "") == "text"
            )
            try:
                content = read_written(request.intervention_type, text, request)
            except WritingRefused as exc:
                # Logged without the content: it may hold what the chat tried to inject.
                log.warning(
                    "the %s answer of %s was refused: %s", request.intervention_type, model, exc
                )
                return usage.written(None, model, started, self._clock(), REFUSED, str(exc))
            return usage.written(content, model, started, self._clock(), None, "")
        log.info("content writer fell back to the template: %s (%s)", reason, detail)
        return usage.written(None, None, started, self._clock(), reason, detail)


@dataclass(slots=True)
class _Usage:
    tokens_in: int = 0
    tokens_out: int = 0
    cache_read: int = 0
    cache_write: int = 0
    attempts: list[str] = field(default_factory=list)

    def add(self, usage: Any) -> None:
        self.tokens_in += int(getattr(usage, "input_tokens", 0) or 0)
        self.tokens_out += int(getattr(usage, "output_tokens", 0) or 0)
        self.cache_read += int(getattr(usage, "cache_read_input_tokens", 0) or 0)
        self.cache_write += int(getattr(usage, "cache_creation_input_tokens", 0) or 0)

    def written(
        self,
        content: InterventionContent | None,
        model: str | None,
        started: float,
        ended: float,
        fallback: str | None,
        detail: str,
    ) -> Written:
        return Written(
            content,
            model,
            self.tokens_in,
            self.tokens_out,
            self.cache_read,
            self.cache_write,
            (ended - started) * 1000,
            fallback,
            detail,
            tuple(self.attempts),
        )
