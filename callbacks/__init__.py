"""Dash callbacks, thin: module-level functions taking their dependencies, the signed-in
principal and typed inputs; the app factory registers them on each app it builds (never
module-level `@dash.callback`). Nothing here imports app/."""

from __future__ import annotations

import dash

from callbacks.agent import register_agent
from callbacks.alerts import register_alerts
from callbacks.boundary import SignedIn, WebDeps
from callbacks.embed import register_embed
from callbacks.event_settings import register_event_settings
from callbacks.live import register_live
from callbacks.routing import register_routing
from callbacks.sessions import register_sessions


def register_callbacks(app: dash.Dash, deps: WebDeps, signed_in: SignedIn) -> None:
    """Every callback of the web tier, bound to `app`; `signed_in` gives the principal of the
    request being answered."""
    register_routing(app, deps, signed_in)
    register_live(app, deps, signed_in)
    register_agent(app, deps, signed_in)
    register_event_settings(app, deps, signed_in)
    register_sessions(app)
    register_alerts(app, deps, signed_in)
    register_embed(app, deps, signed_in)
