"""Log lines as text or, with LOG_FORMAT=json, one JSON object each (python-json-logger), with
the request id and live session of the work being logged; never a token, whichever format
(a sign-in link's `?token=` would otherwise reach the log in the request line)."""

from __future__ import annotations

import logging
import re
import sys
from typing import Literal

from pythonjsonlogger.json import JsonFormatter

from services.core import log_context

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REDACTED = "[redacted]"
# A token in a URL, an Authorization header, or any JWT on its own.
_SECRETS = re.compile(
    r"(?P<param>[?&](?:token|access_token)=)[^&\s\"']+"
    r"|(?P<bearer>Bearer\s+)\S+"
    r"|eyJ[\w-]{5,}\.eyJ[\w-]{5,}\.[\w-]+",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    return _SECRETS.sub(
        lambda match: (match.group("param") or match.group("bearer") or "") + REDACTED, text
    )


class ContextAndRedaction(logging.Filter):
    """Adds request_id and session_id to each record and takes tokens out of its message."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = log_context.request_id.get()
        record.session_id = log_context.session_id.get()
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def configure_logging(level: str, form: Literal["text", "json"]) -> None:
    """The root logger's one handler, on stderr. Filters sit on the handler, so the records
    of every library's logger pass them."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextAndRedaction())
    if form == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(session_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
