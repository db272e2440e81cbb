"""Query parameters as the JSON API and the exports take them: each given once."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from services.storage.analyst_requests import QueryError


def single_params(args: MultiDict[str, str]) -> dict[str, str]:
    """Every parameter's one value; a repeated one is refused rather than silently picking
    one (`page=1&page=2` would otherwise mean whatever a layer chose)."""
    raw: dict[str, str] = {}
    for key in args:
        values = args.getlist(key)
        if len(values) > 1:
            raise QueryError(f"{key}: give it once")
        raw[key] = values[0]
    return raw
