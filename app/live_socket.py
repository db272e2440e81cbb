"""`/ws/live/<session_id>`: the live chart's WebSocket push (flask-sock).

flask-sock completes the WebSocket handshake before the route runs, so every refusal (bad id,
unknown session, not an upgrade) happens in a `before_request` hook as a plain HTTP answer.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import socket
import time
from dataclasses import dataclass
from datetime import datetime

from flask import Flask, Response, g, jsonify, request
from flask_sock import Sock
from simple_websocket import ConnectionClosed, Server
from sqlalchemy.exc import SQLAlchemyError

from app import access
from app.request_origin import foreign_origin
from app.runtime import Runtime
from services.access.tokens import PanelKind
from services.core import instruments, log_context
from services.core.platform import valid_id
from services.core.push import (
    CLIENT_PING,
    BackfillMessage,
    ErrorMessage,
    FeedState,
    InterventionMessage,
    MarkMessage,
    PongMessage,
    PushKind,
    PushProtocolError,
    decode,
    encode,
    peek_kind,
    tick_computed_at,
)
from services.core.push_objects import BackfillPoint, ChartMark, Episode, Intervention, TickSignals
from services.live.push_hub import RESYNC, REVOKED, Subscription
from services.live.socket_quota import SOCKET_REFUSED, SocketQuota

log = logging.getLogger(__name__)

SOCKET_PREFIX = "/ws/live/"
MAX_CLIENT_MESSAGE_BYTES = 4096
# Hard limit at which the socket library closes the connection; between the two the client
# gets an error reply and the socket stays open.
_FRAME_LIMIT_BYTES = 64 * 1024
# How long the loop waits for a hub message before it looks at the client's messages: the
# delay of a pong (the page pings every 25 s and waits 65), never of a point (a point wakes the
# loop at once). Every wake-up costs the worker: at 0.2 s, 5,000 idle sockets took a core.
_POLL_SECONDS = 2.0
# Server-side pings find browsers that vanished without closing.
_PING_SECONDS = 25
# RFC 6455 "try again later": the client reconnects and gets a fresh backfill.
_CLOSE_OVERFLOW = 1013
_CLOSE_INTERNAL = 1011
_CLOSE_NORMAL = 1000
_CLOSE_WAIT_SECONDS = 2.0
# The sign-in ended (expired or signed out): the page stops reconnecting and says so.
SIGN_IN_ENDED = 4401
# The chart's window is minutes long: more interventions than this in it would be refused by the
# agent's hourly caps long before.
_MARKED_INTERVENTIONS = 50

PONG = encode(PongMessage())


def error_message(reason: str) -> str:
    return encode(ErrorMessage(error=reason))


def reply_to_client(raw: str | bytes) -> str:
    """The answer to one client frame: a pong, or an error that says what was wrong."""
    if isinstance(raw, bytes):
        return error_message("binary frames are not accepted; send JSON text")
    if len(raw) > MAX_CLIENT_MESSAGE_BYTES or len(raw.encode()) > MAX_CLIENT_MESSAGE_BYTES:
        return error_message(f"message is larger than {MAX_CLIENT_MESSAGE_BYTES} bytes")
    try:
        message = json.loads(raw)
    except ValueError:
        return error_message("message is not valid JSON")
    if not isinstance(message, dict):
        return error_message('message must be a JSON object like {"type": "ping"}')
    kind = message.get("type")
    if kind == CLIENT_PING:
        return PONG
    if kind is None:
        return error_message('message has no "type"; the only type accepted is "ping"')
    shown = str(kind)[:40]
    return error_message(f'unknown message type "{shown}"; the only type accepted is "ping"')


def _refusal(status: int, reason: str) -> tuple[Response, int]:
    return jsonify({"error": reason}), status


def _is_upgrade() -> bool:
    connection = request.headers.get("Connection", "").lower()
    return request.headers.get("Upgrade", "").lower() == "websocket" and "upgrade" in connection


def check_socket_request(runtime: Runtime) -> tuple[Response, int] | None:
    """None to let the upgrade go ahead, or the HTTP refusal."""
    session_id = request.path[len(SOCKET_PREFIX) :]
    if not valid_id(session_id):
        return _refusal(400, "invalid session id: 1-255 printable characters, no edge spaces")
    who = access.current()
    if who is None:
        return _refusal(401, "sign in first")
    parts = who.socket_parts(session_id)
    if not (access.is_producer() or parts):
        return _refusal(403, "the live feed is for producers and for panels of this session")
    settings = runtime.settings
    if foreign_origin(settings.public_url, settings.secure_cookies):
        return _refusal(403, "this socket only serves pages of this server")
    try:
        record = runtime.store.get_session(session_id)
    except SQLAlchemyError:
        log.warning("socket check for %r failed on the database", session_id, exc_info=True)
        return _refusal(503, "the database is unreachable; retry shortly")
    if record is None:
        return _refusal(404, f"unknown session {session_id!r}")
    full = access.is_producer() and who.may_see(record.event_id)
    if not (full or parts):
        return _refusal(403, "your sign-in does not name this session's event")
    # A panel's pass gets only what its panel shows (the route reads this).
    g.ec_socket_parts = None if full else parts
    if not _is_upgrade():
        response, status = _refusal(426, "this endpoint only accepts WebSocket upgrades")
        response.headers["Upgrade"] = "websocket"
        return response, status
    # Decline permessage-deflate (the socket library accepts whatever is offered): its zlib
    # state held for the socket's life cost most of a socket's memory (bench/sockets.py),
    # for frames of a few hundred bytes.
    request.environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
    return None


# What each panel's pass may receive, by message kind; `None` parts: everything (a producer).
_KINDS_OF_PANEL: dict[PanelKind, frozenset[PushKind]] = {
    PanelKind.LIVE: frozenset({PushKind.TICK, PushKind.ANOMALY}),
    PanelKind.ANOMALIES: frozenset({PushKind.ANOMALY}),
    PanelKind.INTERVENTIONS: frozenset({PushKind.INTERVENTION}),
}
_ALWAYS = frozenset({PushKind.BACKFILL, PushKind.ENDED, PushKind.HUB_DOWN})


def allowed_kinds(parts: frozenset[PanelKind] | None) -> frozenset[PushKind] | None:
    if parts is None:
        return None
    return _ALWAYS.union(*(_KINDS_OF_PANEL[part] for part in parts))


def backfill_message(
    runtime: Runtime, session_id: str, kinds: frozenset[PushKind] | None = None
) -> str:
    """The window the chart starts from; with `kinds`, only the parts they allow (points with
    ticks, episodes with anomalies)."""
    store = runtime.store
    points = store.recent_points(session_id, runtime.settings.chart_points)
    anomalies = store.session_episodes(session_id)
    record = store.get_session(session_id)
    chart = [BackfillPoint(p.time.isoformat(), p.score, TickSignals(**p.signals)) for p in points]
    with_chart = _wants(kinds, PushKind.TICK)
    message = BackfillMessage(
        sessionId=session_id,
        status=record.status if record is not None else None,
        # Without the hub's Redis feed no ticks follow this backfill; the page says so.
        feed=FeedState.UP if runtime.hub.connected else FeedState.DOWN,
        points=tuple(chart) if with_chart else (),
        anomalies=tuple(Episode(**e) for e in anomalies) if _wants(kinds, PushKind.ANOMALY) else (),
        marks=chart_marks(runtime, session_id, points[0].time if points else None)
        if with_chart
        else (),
    )
    return encode(message)


def chart_marks(runtime: Runtime, session_id: str, since: datetime | None) -> tuple[ChartMark, ...]:
    """The marks of the interventions that went out within the chart's window, oldest first."""
    if since is None:
        return ()
    recent = runtime.stores.interventions.for_session(session_id, _MARKED_INTERVENTIONS)
    marks = [ChartMark.of(Intervention.from_row(record)) for record in reversed(recent)]
    return tuple(
        mark for mark in marks if mark is not None and datetime.fromisoformat(mark.time) >= since
    )


def outgoing(text: str, kinds: frozenset[PushKind] | None) -> list[str]:
    """What a socket sends for one message of the hub: the message, if its panels may have it,
    and after an intervention's the chart's mark of it, if the socket has the chart (a live
    panel's pass gets the mark and not the intervention's content)."""
    try:
        kind = peek_kind(text)
    except PushProtocolError:
        return []
    sent = [text] if kinds is None or kind in kinds else []
    if kind is PushKind.INTERVENTION and _wants(kinds, PushKind.TICK):
        try:
            message = decode(text)
        except PushProtocolError:
            return sent
        assert isinstance(message, InterventionMessage)
        mark = ChartMark.of(message.intervention)
        if mark is not None:
            sent.append(encode(MarkMessage(sessionId=message.sessionId, mark=mark)))
    return sent


def _wants(kinds: frozenset[PushKind] | None, kind: PushKind) -> bool:
    return kinds is None or kind in kinds


def _answer_client(ws: Server) -> None:
    while (incoming := ws.receive(timeout=0)) is not None:
        ws.send(reply_to_client(incoming))


def _finish(ws: Server, reason: int, message: str) -> None:
    """Close from our side and end the TCP stream ourselves.

    Under werkzeug, flask-sock's response writes an HTTP status line into the socket after the
    route returns; if that reaches the browser mid close-handshake it reports "Invalid frame
    header". So: wait for the browser's close reply, then shut the socket so nothing follows.
    """
    if ws.connected:
        with contextlib.suppress(ConnectionClosed):
            ws.close(reason=reason, message=message)
    ws.thread.join(_CLOSE_WAIT_SECONDS)
    with contextlib.suppress(OSError):
        ws.sock.shutdown(socket.SHUT_RDWR)


def stream_session(
    ws: Server,
    runtime: Runtime,
    session_id: str,
    parts: frozenset[PanelKind] | None = None,
    sign_in: SocketSignIn | None = None,
) -> None:
    """Backfill, then every push of the session until either side closes or the sign-in ends;
    `parts`: the panels whose messages this socket may carry (None: all of them)."""
    hub = runtime.hub
    kinds = allowed_kinds(parts)
    close_code, close_message = _CLOSE_NORMAL, ""
    # Subscribe before reading the database: a tick published meanwhile is then either in the
    # backfill or in the queue (or both; the browser drops duplicates), never in neither.
    sub = hub.subscribe(session_id, sign_in.token_id if sign_in is not None else None)
    try:
        ws.send(backfill_message(runtime, session_id, kinds))
        while ws.connected:
            ended = _sign_in_ended(sub, sign_in)
            if ended is not None:
                close_code, close_message = SIGN_IN_ENDED, ended
                break
            if sub.overflowed:
                # Points were dropped for this socket: better a reconnect with a fresh
                # backfill than a chart with silent holes.
                close_code, close_message = _CLOSE_OVERFLOW, "fell behind; reconnect"
                break
            try:
                text = sub.messages.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                text = None
            if text == REVOKED:
                continue  # the check at the top of the loop closes the socket
            if text == RESYNC:
                ws.send(backfill_message(runtime, session_id, kinds))
            elif text is not None:
                frames = outgoing(text, kinds)
                for out in frames:
                    ws.send(out)
                if frames and (computed_at := tick_computed_at(text)) is not None:
                    instruments.push_latency_seconds.observe(max(0.0, time.time() - computed_at))
            _answer_client(ws)
    except SQLAlchemyError:
        log.warning("live socket for %r lost the database", session_id, exc_info=True)
        close_code, close_message = _CLOSE_INTERNAL, "database unavailable; reconnect"
    except ConnectionClosed:
        pass
    finally:
        hub.unsubscribe(sub)
        _finish(ws, close_code, close_message)


@dataclass(frozen=True, slots=True)
class SocketSignIn:
    """The sign-in a socket serves: it ends with it."""

    token_id: str | None
    expires_at: float | None


def _sign_in_ended(sub: Subscription, sign_in: SocketSignIn | None) -> str | None:
    if sub.revoked:
        return "signed out: open a new sign-in link"
    expires_at = sign_in.expires_at if sign_in is not None else None
    if expires_at is not None and time.time() >= expires_at:
        return "your sign-in expired: open a new sign-in link"
    return None


def register_live_socket(server: Flask, runtime: Runtime) -> None:
    server.config.setdefault(
        "SOCK_SERVER_OPTIONS",
        {"ping_interval": _PING_SECONDS, "max_message_size": _FRAME_LIMIT_BYTES},
    )
    sock = Sock(server)
    settings = runtime.settings
    quota = SocketQuota(
        settings.sockets_per_process, settings.sockets_per_sign_in, settings.sockets_per_session
    )
    server.config["EC_SOCKET_QUOTA"] = quota

    @server.before_request
    def refuse_bad_sockets() -> tuple[Response, int] | None:
        if not request.path.startswith(SOCKET_PREFIX):
            return None
        return check_socket_request(runtime)

    @sock.route(SOCKET_PREFIX + "<path:session_id>")
    def live_socket(ws: Server, session_id: str) -> None:
        who = access.current()
        sign_in = who.subject if who is not None else ""
        refused = quota.claim(sign_in, session_id)
        if refused is not None:
            _finish(ws, SOCKET_REFUSED, refused)
            return
        instruments.open_sockets.inc()
        ends = SocketSignIn(who.subject, who.expires_at) if who is not None else None
        about = log_context.session_id.set(session_id)
        try:
            stream_session(ws, runtime, session_id, g.get("ec_socket_parts"), ends)
        finally:
            log_context.session_id.reset(about)
            instruments.open_sockets.dec()
            quota.release(sign_in, session_id)
