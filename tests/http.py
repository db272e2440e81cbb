"""Plain HTTP from tests to servers they started."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


def get_json(url: str) -> tuple[int, dict[str, Any]]:
    """Status and JSON body; (0, {}) while nothing answers yet."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)
    except OSError:
        return 0, {}


def frame_ancestors_of(headers: Any) -> str:
    """The frame-ancestors directive of an answer's Content-Security-Policy."""
    policy = headers["Content-Security-Policy"]
    (directive,) = [d.strip() for d in policy.split(";") if d.strip().startswith("frame-ancestors")]
    return directive
