"""What a log line is about, beyond its message: the request or live session being served.
Set by the web tier for the span of a request or a socket; read by the log format."""

from __future__ import annotations

from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
session_id: ContextVar[str | None] = ContextVar("session_id", default=None)
