"""`POST /sign-out`: the sign-in's token id is revoked for every worker (until the token would
have expired anyway) and the cookie cleared; the sign-in's live sockets close at once."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, session
from markupsafe import escape

from app import access
from app.runtime import Runtime
from components.shell import SIGN_OUT_PATH
from services.access.revocations import Revocations
from services.access.tokens import Role
from services.core.redis_bus import REDIS_DOWN

sign_out = Blueprint("sign_out", __name__)


def _page(status: int, title: str, message: str) -> Response:
    body = (
        "<!doctype html><title>Engagement Conductor</title>"
        "<main style='font-family:system-ui;max-width:40em;margin:4em auto'>"
        f"<h1>{escape(title)}</h1><p>{escape(message)}</p></main>"
    )
    return Response(body, status=status, mimetype="text/html")


@sign_out.post(SIGN_OUT_PATH)
def sign_out_now() -> Response:
    who = access.current()
    if who is None or who.role is Role.EMBED or who.expires_at is None:
        # Open access, or a panel's pass alone: there is no sign-in to end.
        return _page(400, "Nothing to sign out of", "This browser holds no sign-in.")
    runtime: Runtime = current_app.config["EC_RUNTIME"]
    try:
        Revocations(runtime.redis, runtime.names).revoke(who.subject, who.expires_at)
    except REDIS_DOWN:
        # Clearing the cookie alone would leave it valid wherever a copy of it went.
        return _page(503, "Not signed out yet", "The server cannot reach Redis; try again.")
    session.clear()
    return _page(
        200, "Signed out", "This sign-in no longer opens any page. Open a new link to come back."
    )
