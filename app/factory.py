"""The app factory: one Dash app per runtime, with its routes and callbacks registered on it."""

from __future__ import annotations

from pathlib import Path

import dash

from app.access import install_access_control, open_access
from app.api import api
from app.exports import exports
from app.health import health
from app.live_socket import register_live_socket
from app.runtime import Runtime
from callbacks import register_callbacks
from components.shell import app_shell

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def create_app(runtime: Runtime) -> dash.Dash:
    app = dash.Dash(
        __name__,
        title="Engagement Conductor",
        assets_folder=str(ASSETS),
        suppress_callback_exceptions=True,
        update_title=None,
    )
    # Called per page load, inside the request: the banner follows the signed-in principal.
    app.layout = lambda: app_shell(open_access())
    server = app.server
    server.config["EC_RUNTIME"] = runtime
    secret = runtime.settings.auth_secret
    # First: every later hook (the WebSocket's refusals) relies on the principal it sets.
    install_access_control(
        server, secret.get_secret_value() if secret else None, runtime.settings.secure_cookies
    )
    server.register_blueprint(health)
    server.register_blueprint(api)
    server.register_blueprint(exports)
    register_live_socket(server, runtime)
    register_callbacks(app, runtime)
    return app
