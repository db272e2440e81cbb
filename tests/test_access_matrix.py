"""The authorisation matrix: every role against every kind of route (page, export, panel, socket,
Dash callback) for a session of its own event and one of another event. Callbacks are called
directly, with the principal each role's cookies give."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask.testing import FlaskClient

from app.factory import create_app, web_deps
from app.runtime import Runtime
from callbacks.agent import NOT_YOURS, set_mode
from callbacks.boundary import LiveConfig
from callbacks.pages.embed import NOT_ALLOWED
from callbacks.pages.live import NOT_YOUR_EVENT, PRODUCERS_ONLY
from callbacks.pages.router import PANELS_ONLY
from services.access.tokens import EmbedResource, Role, mint_token
from services.core.settings import Settings
from tests.browser.support import two_event_runtime
from tests.test_access_control import page_of, principal_of

SECRET = "m" * 40
ROLES = ("producer", "analyst", "embed", "nobody")
SESSION = {"own": "s-1", "other": "s-2"}

# (route, own event, other event) -> status per role, in ROLES' order.
HTTP: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "/": ((200, 403, 403, 401), (200, 403, 403, 401)),
    "/live/{s}": ((200, 403, 403, 401), (200, 403, 403, 401)),
    "/sessions": ((200, 200, 403, 401), (200, 200, 403, 401)),
    "/export/sessions/{s}/series.csv": ((200, 200, 403, 401), (403, 403, 403, 401)),
    "/embed/live/{s}": ((200, 403, 200, 401), (200, 403, 403, 401)),
    "/ws/live/{s}": ((426, 403, 426, 401), (403, 403, 403, 401)),
}
# What the routing callback renders for a path: a marker of the page, or of the refusal.
PAGES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "/live/{s}": (
        ("live-graph", PRODUCERS_ONLY, PANELS_ONLY),
        (NOT_YOUR_EVENT, PRODUCERS_ONLY, PANELS_ONLY),
    ),
    "/sessions/{s}": (
        ("session-graph", "session-graph", PANELS_ONLY),
        ("does not name", "does not name", PANELS_ONLY),
    ),
    "/embed/live/{s}": (
        ("embed-live", NOT_ALLOWED, "embed-live"),
        (NOT_ALLOWED, NOT_ALLOWED, NOT_ALLOWED),
    ),
}


@pytest.fixture
def runtime(make_settings: Callable[..., Settings]) -> Iterator[Runtime]:
    yield from two_event_runtime(make_settings(auth_secret=SECRET))


def signed_in(runtime: Runtime, role: str) -> FlaskClient:
    client = create_app(runtime).server.test_client()
    if role in ("producer", "analyst"):
        token = mint_token(SECRET, Role(role), ["evt-1"], 600)
        assert client.get(f"/?token={token}").status_code == 303
    elif role == "embed":
        panel = EmbedResource.parse("live/s-1")
        token = mint_token(SECRET, Role.EMBED, ["evt-1"], 60, panel)
        assert client.get(f"/embed/live/s-1?token={token}").status_code == 303
    return client


@pytest.mark.parametrize("role", ROLES)
def test_http_routes(runtime: Runtime, role: str) -> None:
    client = signed_in(runtime, role)
    for route, expected in HTTP.items():
        for scope, statuses in zip(("own", "other"), expected, strict=True):
            path = route.format(s=SESSION[scope])
            status = client.get(path).status_code
            assert status == statuses[ROLES.index(role)], (role, path, status)


@pytest.mark.parametrize("role", ROLES[:3])
def test_dash_callbacks(runtime: Runtime, role: str) -> None:
    who = principal_of(signed_in(runtime, role))
    for route, expected in PAGES.items():
        for scope, markers in zip(("own", "other"), expected, strict=True):
            path = route.format(s=SESSION[scope])
            page = page_of(runtime, who, path)
            assert markers[ROLES.index(role)] in page, (role, path)
    # A producer action, on its own event's session and on another's.
    for scope in ("own", "other"):
        session_id = SESSION[scope]
        answer = str(set_mode(web_deps(runtime), who, "AUTO", LiveConfig(session_id)))
        allowed = role == "producer" and scope == "own"
        assert (NOT_YOURS not in answer) is allowed, (role, scope)
        assert (runtime.desk.settings.session_mode(session_id) is not None) is allowed
        if allowed:
            runtime.desk.settings.set_session_mode(session_id, None)


def test_nobody_reaches_dash_at_all(runtime: Runtime) -> None:
    client = signed_in(runtime, "nobody")
    assert client.get("/_dash-layout").status_code == 401
    assert client.post("/_dash-update-component", json={}).status_code == 401
