"""Each request's id, for its log lines and its answer (`X-Request-ID`): the one a proxy sent,
if it is a plain short token, else a new one."""

from __future__ import annotations

import re
import uuid

from flask import Flask, Response, g, request

from services.core import log_context

_GIVEN = re.compile(r"[A-Za-z0-9._-]{1,64}")


def install_request_context(server: Flask) -> None:
    @server.before_request
    def name_request() -> None:
        given = request.headers.get("X-Request-ID", "")
        rid = given if _GIVEN.fullmatch(given) else uuid.uuid4().hex[:16]
        g.ec_request_id = rid
        g.ec_request_token = log_context.request_id.set(rid)

    @server.after_request
    def tell_request_id(response: Response) -> Response:
        rid = g.get("ec_request_id")
        if rid is not None:
            response.headers.setdefault("X-Request-ID", rid)
        return response

    @server.teardown_request
    def forget_request(_exc: BaseException | None) -> None:
        token = g.pop("ec_request_token", None)
        if token is not None:
            log_context.request_id.reset(token)
