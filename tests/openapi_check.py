"""Answers checked against /api/openapi.json: the tests' responses validate against the
description the server serves (app/openapi.py)."""

from __future__ import annotations

import re
from typing import Any

from jsonschema import Draft202012Validator

from app.openapi import OPERATIONS, openapi_document


def _operation(method: str, path: str) -> dict[str, Any]:
    document = openapi_document()
    for op in OPERATIONS:
        if op.method == method.lower() and _matches(op.openapi_path, path):
            return document["paths"][op.openapi_path][op.method]
    raise AssertionError(f"{method} {path} is not described")


def _matches(template: str, path: str) -> bool:
    """Whether `path` (its query aside) is an instance of the described `template`."""
    parts = re.split(r"(\{\w+\})", template)
    # The tests' ids hold no slash, so a parameter is one path segment here.
    pattern = "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts)
    return re.fullmatch(pattern, path.split("?")[0]) is not None


def checked(method: str, path: str, response: Any) -> Any:
    """The answer's JSON, after validating it against the operation's described answer."""
    operation = _operation(method, path)
    answer = operation["responses"].get(str(response.status_code))
    assert answer is not None, f"{response.status_code} is not described for {method} {path}"
    schema = answer["content"]["application/json"]["schema"]
    document = {**schema, "components": openapi_document()["components"]}
    Draft202012Validator(document).validate(response.get_json())
    return response.get_json()
