"""Dash callbacks, thin, registered by the app factory on each app it builds."""

from __future__ import annotations

import dash

from app.runtime import Runtime
from callbacks.agent import register_agent
from callbacks.alerts import register_alerts
from callbacks.embed import register_embed
from callbacks.event_settings import register_event_settings
from callbacks.live import register_live
from callbacks.routing import register_routing
from callbacks.sessions import register_sessions


def register_callbacks(app: dash.Dash, runtime: Runtime) -> None:
    """Every callback of the web tier, bound to `app` (never module-level `@dash.callback`)."""
    register_routing(app, runtime)
    register_live(app, runtime)
    register_agent(app, runtime)
    register_event_settings(app, runtime)
    register_sessions(app, runtime)
    register_alerts(app, runtime)
    register_embed(app, runtime)
