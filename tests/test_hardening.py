"""Hardening against a hostile client (#16): token lifetimes the server caps, sign-out that
revokes, sockets that end with their sign-in, Origin checks with the scheme, the CSP and the
caching headers. Each test failed on the code before it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask.testing import FlaskClient

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
