"""Iframe panels with AUTH_SECRET set: an embed token is redeemed once, at its own panel, for a
partitioned cookie that opens that panel (its Dash requests and live socket) and nothing else;
only panels may be framed, by the allow-list. Callbacks are called directly with the principal
the cookies give; one test goes through Dash's wire format."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
import sqlalchemy as sa
from dash.exceptions import PreventUpdate
from flask.testing import FlaskClient

from app.embed_access import MAX_PANEL_COOKIES, PanelCookies
from app.factory import create_app, web_deps
from app.live_socket import allowed_kinds, backfill_message, outgoing
from app.runtime import Runtime
from callbacks.agent import NOT_YOURS, set_mode
from callbacks.boundary import LiveConfig
from callbacks.embed import refresh_panel
from callbacks.pages.embed import NOT_ALLOWED
from callbacks.pages.router import PANELS_ONLY
from callbacks.routing import route
from components import ids
from components.embed_panels import embed_href, panel_of_url
from services.access.tokens import EmbedResource, PanelKind, Role, mint_token
from services.core.settings import Settings
from services.storage.schema import embed_token_uses
from tests.browser.support import T0, seed_session, stamps_from, two_event_runtime
from tests.http import frame_ancestors_of
from tests.test_access_control import call_dash, principal_of

SECRET = "e" * 40
PLATFORM = "https://platform.example"


def embed_link(resource: str, events: tuple[str, ...] = ("evt-1",), ttl: int = 60) -> str:
    return mint_token(SECRET, Role.EMBED, list(events), ttl, EmbedResource.parse(resource))


def signed(**claims: object) -> str:
    """An embed token for live/s-1 signed with the right secret; `claims` replace defaults."""
    now = int(time.time())
    body = {
        "iss": "engagement-conductor",
        "sub": "embed",
        "events": ["evt-1"],
        "res": "live/s-1",
        "jti": f"j-{time.monotonic_ns()}",
        "iat": now,
        "exp": now + 60,
    } | claims
    return jwt.encode({k: v for k, v in body.items() if v is not None}, SECRET, "HS256")


@pytest.fixture
def runtime(make_settings: Callable[..., Settings]) -> Iterator[Runtime]:
    yield from two_event_runtime(make_settings(auth_secret=SECRET, embed_allowed_origins=PLATFORM))


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    return create_app(runtime).server.test_client()


def open_panel(client: FlaskClient, resource: str) -> None:
    response = client.get(f"/embed/{resource}?token={embed_link(resource)}")
    assert response.status_code == 303, response.data


def panel_cookie_names(client: FlaskClient) -> set[str]:
    return {cookie.key for cookie in client._cookies.values()}


def test_an_embed_token_opens_its_panel_once(client: FlaskClient, runtime: Runtime) -> None:
    token = embed_link("live/s-1")
    response = client.get(f"/embed/live/s-1?token={token}&theme=dark")
    assert response.status_code == 303
    assert response.headers["Location"] == "/embed/live/s-1?theme=dark"
    cookie = response.headers["Set-Cookie"]
    name = PanelCookies.name(EmbedResource.parse("live/s-1"))
    assert cookie.startswith(name + "=") and token not in cookie
    for attribute in ("Secure", "HttpOnly", "SameSite=None", "Partitioned", "Path=/"):
        assert attribute in cookie, attribute
    page = client.get("/embed/live/s-1")
    assert page.status_code == 200
    assert frame_ancestors_of(page.headers) == f"frame-ancestors {PLATFORM}"
    with runtime.engine.connect() as conn:
        spent = conn.execute(sa.select(sa.func.count()).select_from(embed_token_uses)).scalar()
    assert spent == 1
    # The same link again, from anywhere, opens nothing.
    replay = create_app(runtime).server.test_client().get(f"/embed/live/s-1?token={token}")
    assert replay.status_code == 401 and b"already used" in replay.data
    assert "Set-Cookie" not in replay.headers


@pytest.mark.parametrize(
    ("path", "token", "status", "says"),
    [
        (
            "live/s-1",
            lambda: mint_token(
                "x" * 40, Role.EMBED, ["evt-1"], 60, EmbedResource.parse("live/s-1")
            ),
            401,
            b"not valid",
        ),
        (
            "live/s-1",
            lambda: signed(iat=int(time.time()) - 200, exp=int(time.time()) - 140),
            401,
            b"expired",
        ),
        ("live/s-1", lambda: signed(exp=int(time.time()) + 3600), 401, b"at most 60 s"),
        (
            "live/s-1",
            lambda: signed(iat=int(time.time()) + 600, exp=int(time.time()) + 630),
            401,
            b"not yet valid",
        ),
        ("live/s-1", lambda: signed(res=None), 401, b"must name its resource"),
        ("live/s-1", lambda: signed(res="video/s-1"), 401, b"kind one of"),
        ("live/s-2", lambda: signed(), 403, b"opens live/s-1, not live/s-2"),
        ("anomalies/s-1", lambda: signed(), 403, b"opens live/s-1, not anomalies/s-1"),
        ("live/s-2", lambda: signed(res="live/s-2"), 403, b"does not name"),
        ("live/nope", lambda: signed(res="live/nope"), 404, b"No session"),
        ("event/evt-2", lambda: signed(res="event/evt-2"), 403, b"does not name"),
    ],
    ids=[
        "forged",
        "expired",
        "too-long",
        "future",
        "no-resource",
        "bad-resource",
        "other-session",
        "other-kind",
        "other-event",
        "unknown-session",
        "other-event-tile",
    ],
)
def test_bad_embed_tokens_are_refused_without_a_cookie(
    client: FlaskClient, path: str, token: Callable[[], str], status: int, says: bytes
) -> None:
    # Signed now, not at collection: a minute later every token would just be expired.
    response = client.get(f"/embed/{path}?token={token()}")
    assert response.status_code == status and says in response.data, response.data
    assert "Set-Cookie" not in response.headers
    assert client.get(f"/embed/{path}").status_code == 401


def routed(runtime: Runtime, client: FlaskClient, path: str) -> tuple[str, dict[str, Any] | None]:
    """The page the routing callback renders for the client's cookies, as text, and its config."""
    page, config, _ = route(web_deps(runtime), principal_of(client), path, "")
    return str(page), config


def test_an_embed_cookie_reaches_the_callbacks_through_dash(client: FlaskClient) -> None:
    open_panel(client, "live/s-1")

    def over_the_wire(path: str) -> dict[str, Any]:
        inputs = [
            {"id": ids.URL, "property": "pathname", "value": path},
            {"id": ids.URL, "property": "search", "value": ""},
        ]
        return call_dash(client, ids.URL, inputs, []).get_json()["response"]

    own = over_the_wire("/embed/live/s-1")
    assert own[ids.LIVE_CONFIG]["data"]["sessionId"] == "s-1"
    other = over_the_wire("/embed/live/s-2")
    assert NOT_ALLOWED in json.dumps(other) and other[ids.LIVE_CONFIG]["data"] is None


def test_an_embed_sign_in_opens_its_panel_and_nothing_else(
    client: FlaskClient, runtime: Runtime
) -> None:
    open_panel(client, "live/s-1")
    for path in ("/embed/live/s-2", "/embed/anomalies/s-1", "/", "/live/s-1", "/sessions"):
        answer = client.get(path)
        assert answer.status_code == 403 and b"only the panels" in answer.data, path
    assert client.get("/export/sessions.csv").status_code == 403
    assert client.get("/api/sessions").status_code == 401  # the API takes Bearer tokens only
    layout = client.get("/_dash-layout")
    assert layout.status_code == 200 and "shell-embed" in layout.text
    assert "Past sessions" not in layout.text  # no navigation inside the frame
    # The routing callback renders only the granted panel.
    _, own = routed(runtime, client, "/embed/live/s-1")
    assert own is not None and own["sessionId"] == "s-1"
    assert own["ids"]["anomalies"] is None
    other, config = routed(runtime, client, "/embed/live/s-2")
    assert NOT_ALLOWED in other and config is None
    for path in ("/live/s-1", "/sessions", "/sessions/s-1", "/"):
        page, _ = routed(runtime, client, path)
        assert PANELS_ONLY in page and "s-1" not in page.replace("/s-1", ""), path
    # Producer callbacks refuse it even for its own session.
    _, refused = set_mode(web_deps(runtime), principal_of(client), "AUTO", LiveConfig("s-1"))
    assert NOT_YOURS in str(refused)
    assert runtime.desk.settings.session_mode("s-1") is None
    # The live socket: its own session up to the upgrade, nothing else, never cross-origin.
    assert client.get("/ws/live/s-1").status_code == 426
    assert client.get("/ws/live/s-2").status_code == 403
    assert client.get("/ws/live/s-1", headers={"Origin": PLATFORM}).status_code == 403


def test_panels_render_and_refresh_only_within_their_grant(
    client: FlaskClient, runtime: Runtime
) -> None:
    seed_session(runtime, "s-3", "evt-1", stamps=stamps_from(T0, 3))
    open_panel(client, "interventions/s-1")
    open_panel(client, "event/evt-1")
    tile, _ = routed(runtime, client, "/embed/event/evt-1")
    assert "s-1" in tile and "s-3" in tile and "s-2" not in tile
    # Rows link to the live page, in a new tab rather than inside the platform's frame.
    assert "href='/live/s-1'" in tile and "target='_blank'" in tile and "rel='noopener'" in tile
    _, log_panel = routed(runtime, client, "/embed/interventions/s-1")
    assert log_panel is not None and log_panel["ids"]["agentSignal"] == ids.EMBED_SIGNAL
    assert log_panel["ids"]["graph"] is None

    who = principal_of(client)

    def refresh(path: str) -> str:
        return str(refresh_panel(web_deps(runtime), who, panel_of_url(path)))

    assert "No interventions" in refresh("/embed/interventions/s-1")
    assert "s-3" in refresh("/embed/event/evt-1")
    # Paths the sign-in holds no pass for render nothing.
    for path in ("/embed/interventions/s-3", "/embed/event/evt-2", "/embed/live/s-1"):
        with pytest.raises(PreventUpdate):
            refresh(path)
    assert client.get("/ws/live/s-1").status_code == 426  # the log follows pushes


def test_panel_cookies_stay_few(client: FlaskClient, runtime: Runtime) -> None:
    resources = [
        f"{kind}/s-{n}" for n in range(1, 5) for kind in ("live", "anomalies", "interventions")
    ]
    for n in range(2, 5):
        seed_session(runtime, f"s-{n}", "evt-1", stamps=stamps_from(T0, 3))
    resources.append("event/evt-1")
    for resource in resources:
        open_panel(client, resource)
    held = panel_cookie_names(client)
    names = [PanelCookies.name(EmbedResource.parse(r)) for r in resources]
    assert len(held & set(names)) == MAX_PANEL_COOKIES
    assert names[0] not in held and names[-1] in held


def test_only_panels_may_be_framed(client: FlaskClient) -> None:
    assert frame_ancestors_of(client.get("/").headers) == "frame-ancestors 'none'"
    refused = client.get("/embed/live/s-1")
    assert refused.status_code == 401
    assert frame_ancestors_of(refused.headers) == f"frame-ancestors {PLATFORM}"


def test_without_an_allow_list_no_page_may_be_framed(
    make_settings: Callable[..., Settings],
) -> None:
    rt = Runtime.build(make_settings(), with_collector=False)
    try:
        seed_session(rt, "s-1", "evt-1", stamps=stamps_from(T0, 3))
        client = create_app(rt).server.test_client()
        panel = client.get("/embed/live/s-1")  # open access: no token needed
        assert panel.status_code == 200
        assert frame_ancestors_of(panel.headers) == "frame-ancestors 'none'"
    finally:
        rt.engine.dispose()


def test_ids_with_url_characters_come_back_to_their_panel(
    client: FlaskClient, runtime: Runtime
) -> None:
    """Review: the redirect put the decoded id in Location, so `?`, `#` and `%` in an id sent
    the browser elsewhere after the token was spent."""
    for odd in ("x?y", "p#q", "a%41", "with space", "a/b"):
        seed_session(runtime, odd, "evt-1", stamps=stamps_from(T0, 3))
        resource = EmbedResource.parse(f"live/{odd}")
        href = embed_href(resource)
        token = mint_token(SECRET, Role.EMBED, ["evt-1"], 60, resource)
        answer = client.get(f"{href}?token={token}")
        assert answer.status_code == 303, (odd, answer.data)
        location = answer.headers["Location"]
        assert client.get(location).status_code == 200, (odd, location)
        _, config = routed(runtime, client, location)
        assert config is not None and config["sessionId"] == odd


def test_a_product_sign_in_keeps_its_panels(client: FlaskClient, runtime: Runtime) -> None:
    """Review: on a platform of the same site the product's own Lax cookie comes along, and it
    hid the panel's pass (403 after the token was spent)."""
    token = mint_token(SECRET, Role.ANALYST, ["evt-9"], 600)
    assert client.get(f"/?token={token}").status_code == 303
    open_panel(client, "live/s-1")
    assert client.get("/embed/live/s-1").status_code == 200
    _, config = routed(runtime, client, "/embed/live/s-1")
    assert config is not None and config["sessionId"] == "s-1"
    assert client.get("/ws/live/s-1").status_code == 426
    # The analyst's own role and scope are unchanged.
    assert client.get("/sessions").status_code == 200
    assert client.get("/live/s-1").status_code == 403
    assert client.get("/embed/live/s-2").status_code == 403


def test_each_panel_pass_gets_only_its_panels_messages(runtime: Runtime) -> None:
    """Review: any session panel's pass got the session's whole feed over the socket."""
    assert allowed_kinds(None) is None
    anomalies_only = allowed_kinds(frozenset({PanelKind.ANOMALIES}))
    assert anomalies_only is not None and "tick" not in anomalies_only
    backfill = json.loads(backfill_message(runtime, "s-1", anomalies_only))
    assert backfill["points"] == [] and backfill["kind"] == "backfill"
    log_only = allowed_kinds(frozenset({PanelKind.INTERVENTIONS}))
    tick = json.dumps({"kind": "tick", "score": 0.5})
    assert outgoing(tick, log_only) == [] and outgoing(tick, anomalies_only) == []
    intervention = json.dumps({"kind": "intervention"})
    assert outgoing(intervention, log_only) == [intervention]
    assert outgoing(tick, allowed_kinds(frozenset({PanelKind.LIVE}))) == [tick]
    full = json.loads(backfill_message(runtime, "s-1"))
    assert len(full["points"]) == 3
