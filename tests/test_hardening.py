"""Hardening against a hostile client (#16): token lifetimes the server caps, sign-out that
revokes, sockets that end with their sign-in, Origin checks with the scheme, the CSP and the
caching headers. Each test failed on the code before it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from flask.testing import FlaskClient

from app.access import COOKIE_NAME
from app.factory import create_app
from app.runtime import Runtime
from services.access.tokens import Role, TokenRejected, mint_token, verify_token
from services.core.settings import Settings
from tests.browser.support import two_event_runtime

SECRET = "h" * 40
DAY = 24 * 3600


@pytest.fixture
def runtime(make_settings: Callable[..., Settings]) -> Iterator[Runtime]:
    yield from two_event_runtime(make_settings(auth_secret=SECRET))


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    return create_app(runtime).server.test_client()


def test_a_token_signed_to_live_past_the_servers_cap_is_refused() -> None:
    forty_days = mint_token(SECRET, Role.PRODUCER, ["evt-1"], 30 * DAY)
    with pytest.raises(TokenRejected, match="at most 12 h; this one was signed to live 720 h"):
        verify_token(SECRET, forty_days, 12 * 3600)
    assert verify_token(SECRET, mint_token(SECRET, Role.ANALYST, ["e"], 12 * 3600), 12 * 3600)


def test_sign_in_and_api_refuse_a_token_longer_than_token_max_ttl(
    client: FlaskClient, runtime: Runtime
) -> None:
    assert runtime.settings.token_max_ttl_seconds == 12 * 3600  # the default
    long_lived = mint_token(SECRET, Role.PRODUCER, ["evt-1"], 2 * DAY)
    refused = client.get(f"/?token={long_lived}")
    assert refused.status_code == 401 and b"at most 12 h" in refused.data
    api = client.get("/api/sessions", headers={"Authorization": f"Bearer {long_lived}"})
    assert api.status_code == 401 and "at most 12 h" in api.get_json()["error"]
    fine = mint_token(SECRET, Role.PRODUCER, ["evt-1"], 3600)
    assert client.get(f"/?token={fine}").status_code == 303


def _cookie(client: FlaskClient) -> str:
    found = client.get_cookie(COOKIE_NAME)
    assert found is not None
    return found.value


def test_sign_out_revokes_the_sign_in_for_every_worker_and_every_copy_of_the_cookie(
    client: FlaskClient, runtime: Runtime
) -> None:
    link = mint_token(SECRET, Role.PRODUCER, ["evt-1"], 3600)
    assert client.get(f"/?token={link}").status_code == 303
    copied = _cookie(client)
    # Another worker: its own app over the same Redis and database.
    other = create_app(Runtime.build(runtime.settings, with_collector=False)).server.test_client()
    other.set_cookie(COOKIE_NAME, copied)
    assert other.get("/").status_code == 200
    signed_out = client.post("/sign-out")
    assert signed_out.status_code == 200 and b"Signed out" in signed_out.data
    assert client.get("/").status_code == 401
    refused = other.get("/")
    assert refused.status_code == 401 and b"You signed out" in refused.data
    again = client.get(f"/?token={link}")
    assert again.status_code == 401 and b"signed out" in again.data
    # Revoked only as long as the token would have lived.
    ttl = runtime.redis.ttl(runtime.names.revoked_token(principal_of_link(link)))
    assert 3500 <= ttl <= 3600


def principal_of_link(link: str) -> str:
    return verify_token(SECRET, link).token_id


def test_there_is_nothing_to_sign_out_of_without_a_sign_in(client: FlaskClient) -> None:
    assert client.post("/sign-out").status_code == 401  # no cookie: the sign-in page's answer


def test_the_sign_out_button_is_there_for_a_sign_in_only(
    client: FlaskClient, make_settings: Callable[..., Settings]
) -> None:
    client.get(f"/?token={mint_token(SECRET, Role.ANALYST, ['evt-1'], 600)}")
    assert '"action": "/sign-out"' in json.dumps(client.get("/_dash-layout").get_json())
    open_runtime = Runtime.build(make_settings(), with_collector=False)
    open_client = create_app(open_runtime).server.test_client()
    assert "/sign-out" not in json.dumps(open_client.get("/_dash-layout").get_json())


def _mode_change() -> dict[str, object]:
    """A Dash callback request as a page sends it (the agent-mode toggle's shape does not
    matter here: the refusal comes before any callback runs)."""
    return {"output": "x.children", "outputs": {"id": "x", "property": "children"}, "inputs": []}


@pytest.mark.parametrize(
    "origin", ["http://evil.example", "https://localhost", "ftp://localhost", "null"]
)
def test_a_cookie_bearing_post_from_another_origin_is_refused(
    client: FlaskClient, origin: str
) -> None:
    """#16: a JSON POST from `Origin: http://evil.example` with a producer's cookie changed an
    event's mode; the socket's check compared host:port only (https:// and ftp:// passed)."""
    client.get(f"/?token={mint_token(SECRET, Role.PRODUCER, ['evt-1'], 600)}")
    foreign = {"Origin": origin}
    refused = client.post("/_dash-update-component", json=_mode_change(), headers=foreign)
    assert refused.status_code == 403
    assert refused.get_json() == {"error": "this server takes changes from its own pages only"}
    assert client.post("/sign-out", headers={"Origin": origin}).status_code == 403
    assert client.get("/").status_code == 200  # still signed in: the sign-out was refused
    own = client.post("/sign-out", headers={"Origin": "http://localhost"})
    assert own.status_code == 200


def test_behind_a_tls_proxy_the_https_origin_is_the_servers_own(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(auth_secret=SECRET, secure_cookies=True)
    proxied = create_app(Runtime.build(settings, with_collector=False)).server.test_client()
    proxied.get(f"/?token={mint_token(SECRET, Role.PRODUCER, ['evt-1'], 600)}")
    answer = proxied.post("/sign-out", headers={"Origin": "https://localhost"})
    assert answer.status_code == 200


def test_every_page_gets_a_policy_that_runs_only_our_scripts(client: FlaskClient) -> None:
    client.get(f"/?token={mint_token(SECRET, Role.PRODUCER, ['evt-1'], 600)}")
    page = client.get("/live/s-1")
    policy = {}
    for part in page.headers["Content-Security-Policy"].split(";"):
        name, _, value = part.strip().partition(" ")
        policy[name] = value
    assert policy["default-src"] == "'self'"
    sources = policy["script-src"].split()
    assert sources[0] == "'self'" and all(s.startswith("'sha256-") for s in sources[1:])
    assert "'unsafe-eval'" not in policy["script-src"]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert page.headers["Referrer-Policy"] == "same-origin"
    # What a sign-in saw is never cached; Dash's versioned files still are.
    assert page.headers["Cache-Control"] == "no-store"
    assert client.get("/_dash-layout").headers["Cache-Control"] == "no-store"
    assert client.get("/_dash-dependencies").headers["Cache-Control"] == "no-store"
    assert client.get("/assets/style.css").headers.get("Cache-Control") != "no-store"
