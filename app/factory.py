"""The app factory: one Dash app per runtime, with its routes and callbacks registered on it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dash
from dash import html

from app.access import (
    EmbedPolicy,
    SignInPolicy,
    current,
    install_access_control,
    open_access,
)
from app.api import api
from app.api_writes import approve  # noqa: F401 - the write routes join `api` on import
from app.delivery import LIGHT, Delivery, install_delivery
from app.embed_access import frame_ancestors
from app.exports import exports
from app.health import health
from app.live_socket import register_live_socket
from app.metrics import install_request_metrics, metrics
from app.openapi import openapi  # noqa: F401 - and so does the description
from app.request_context import install_request_context
from app.request_origin import install_origin_check
from app.runtime import Runtime
from app.security_headers import install_security_headers
from app.sign_out import sign_out
from callbacks import register_callbacks
from callbacks.boundary import WebDeps
from components.shell import app_shell
from services.access.embed_ledger import EmbedLedger
from services.access.revocations import Revocations
from services.access.tokens import Role
from services.alerts.dispatcher import dead_letters
from services.storage.session_queries import SessionQueries

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def create_app(runtime: Runtime, delivery: Delivery = LIGHT) -> dash.Dash:
    app = dash.Dash(
        __name__,
        title="Engagement Conductor",
        assets_folder=str(ASSETS),
        assets_path_ignore=delivery.assets_path_ignore(),
        suppress_callback_exceptions=True,
        update_title=None,
    )
    app.layout = page_shell
    server = app.server
    server.config["EC_RUNTIME"] = runtime
    secret = runtime.settings.auth_secret
    install_request_context(server)
    install_request_metrics(server)
    install_origin_check(server, runtime.settings.public_url, runtime.settings.secure_cookies)
    # Next: every later hook (the WebSocket's refusals) relies on the principal it sets.
    install_access_control(
        server,
        secret.get_secret_value() if secret else None,
        SignInPolicy(
            secure_cookies=runtime.settings.secure_cookies,
            max_token_seconds=runtime.settings.token_max_ttl_seconds,
            is_revoked=Revocations(runtime.redis, runtime.names).is_revoked,
        ),
        embed_policy(runtime),
    )
    server.register_blueprint(health)
    server.register_blueprint(metrics)
    server.register_blueprint(api)
    server.register_blueprint(exports)
    server.register_blueprint(sign_out)
    register_live_socket(server, runtime)
    install_delivery(app, delivery)
    register_callbacks(app, web_deps(runtime), current)
    install_security_headers(app, frame_ancestors(runtime.settings.embed_allowed_origins))
    return app


def web_deps(runtime: Runtime) -> WebDeps:
    """What the callbacks get of the runtime: its stores and desk, never the runtime itself."""
    settings = runtime.settings
    return WebDeps(
        stores=runtime.stores,
        desk=runtime.desk,
        session_queries=SessionQueries(
            runtime.engine, settings.tick_seconds, runtime.database.has_aggregates
        ),
        clock=lambda: datetime.now(UTC),
        chart_points=settings.chart_points,
        tick_seconds=settings.tick_seconds,
        refresh_ms=runtime.refresh_ms,
        dead_letters=lambda event_id: dead_letters(runtime.redis, runtime.names, event_id),
    )


def page_shell() -> html.Div:
    """Called per page load, inside the request: the banner follows the signed-in principal, an
    analyst's navigation holds only the pages it may open, and an embed sign-in (which opens
    nothing but panels) gets no navigation at all."""
    who = current()
    return app_shell(
        open_access(),
        embedded=who is not None and who.role is Role.EMBED,
        producer=who is None or who.is_producer,
        signed_in=who is not None and who.role is not Role.EMBED and who.expires_at is not None,
    )


def embed_policy(runtime: Runtime) -> EmbedPolicy:
    def event_of_session(session_id: str) -> str | bool | None:
        record = runtime.store.get_session(session_id)
        return False if record is None else record.event_id

    settings = runtime.settings
    return EmbedPolicy(
        allowed_origins=settings.embed_allowed_origins,
        cookie_lifetime_seconds=settings.embed_cookie_seconds,
        event_of_session=event_of_session,
        redeem=EmbedLedger(runtime.engine).redeem,
    )
