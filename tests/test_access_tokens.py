"""Signed tokens: what is minted verifies; forged, expired and malformed ones do not."""

from __future__ import annotations

import time
from collections.abc import Callable

import jwt
import pytest
from click.testing import CliRunner

from app.cli import main
from services.access.tokens import (
    EmbedResource,
    PanelKind,
    Role,
    TokenRejected,
    mint_token,
    verify_token,
)

SECRET = "s" * 40


def test_a_minted_token_verifies_with_its_role_and_events() -> None:
    grant = verify_token(SECRET, mint_token(SECRET, Role.ANALYST, ["e2", "e1", "e1"], 60))
    assert grant.role is Role.ANALYST
    assert grant.events == ("e1", "e2")
    assert grant.expires_at - time.time() == pytest.approx(60, abs=2)


def signed(**claims: object) -> str:
    """A token signed with the right secret; `claims` replace well-formed defaults."""
    now = int(time.time())
    body = {
        "sub": "producer",
        "events": ["e1"],
        "iss": "engagement-conductor",
        "jti": "j",
        "iat": now,
        "exp": now + 60,
    } | claims
    return jwt.encode(body, SECRET, algorithm="HS256")


def test_the_well_formed_default_of_these_cases_verifies() -> None:
    assert verify_token(SECRET, signed()).role is Role.PRODUCER


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (lambda: mint_token("x" * 40, Role.PRODUCER, ["e1"], 60), "Signature"),  # another secret
        (lambda: signed(iat=0, exp=1), "expired"),
        (lambda: signed(sub="root"), "root"),  # unknown role
        (lambda: signed(events=[]), "no valid events"),
        (lambda: signed(iss="someone-else"), "issuer"),
        (lambda: signed(name="Ada\n<script>"), "name claim"),
        (lambda: signed(name="x" * 101), "name claim"),
        (lambda: "not.a.token", None),
        (lambda: "", None),
    ],
)
def test_bad_tokens_are_rejected(token: Callable[[], str], reason: str | None) -> None:
    # Signed when the test runs: made at collection, every one would merely have expired.
    with pytest.raises(TokenRejected, match=reason):
        verify_token(SECRET, token())


def test_unsigned_tokens_are_rejected() -> None:
    unsigned = jwt.encode({"sub": "producer", "events": ["e1"]}, key=None, algorithm="none")
    with pytest.raises(TokenRejected):
        verify_token(SECRET, unsigned)


def test_token_command_prints_a_verifiable_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_SECRET", SECRET)
    result = CliRunner().invoke(main, ["token", "--role", "analyst", "--event", "e9"])
    assert result.exit_code == 0, result.output
    grant = verify_token(SECRET, result.output.strip())
    assert grant.events == ("e9",) and grant.resource is None and grant.name is None
    named = CliRunner().invoke(
        main, ["token", "--role", "producer", "--event", "e9", "--name", "Ada Lovelace"]
    )
    assert verify_token(SECRET, named.output.strip()).name == "Ada Lovelace"  # review: dropped
    assert grant.expires_at - time.time() == pytest.approx(3600, abs=5)
    embed = CliRunner().invoke(
        main, ["token", "--role", "embed", "--event", "e9", "--resource", "anomalies/S 1"]
    )
    assert embed.exit_code == 0, embed.output
    grant = verify_token(SECRET, embed.output.strip())
    assert grant.resource == EmbedResource(PanelKind.ANOMALIES, "S 1")
    assert grant.expires_at - time.time() == pytest.approx(60, abs=5)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--role", "embed", "--event", "e9"], "exactly one resource"),
        (["--role", "embed", "--event", "e9", "--resource", "live/s", "--ttl", "61"], "1 to 60"),
        (["--role", "embed", "--event", "e9", "--resource", "chart/s"], "kind one of"),
        (["--role", "embed", "--event", "e9", "--resource", "event/e2"], "one of the token's"),
        (["--role", "producer", "--event", "e9", "--resource", "live/s"], "exactly one"),
    ],
)
def test_token_command_explains_bad_embed_tokens(
    monkeypatch: pytest.MonkeyPatch, args: list[str], says: str
) -> None:
    monkeypatch.setenv("AUTH_SECRET", SECRET)
    result = CliRunner().invoke(main, ["token", *args])
    assert result.exit_code != 0 and says in result.output, result.output


def test_embed_tokens_name_one_resource_and_live_a_minute_at_most() -> None:
    live = EmbedResource.parse("live/s-1")
    grant = verify_token(SECRET, mint_token(SECRET, Role.EMBED, ["e1"], 60, live))
    assert grant.role is Role.EMBED and grant.resource == live
    long_lived = signed(sub="embed", res="live/s-1", exp=int(time.time()) + 61)
    with pytest.raises(TokenRejected, match="at most 60 s"):
        verify_token(SECRET, long_lived)
    with pytest.raises(TokenRejected, match="must name its resource"):
        verify_token(SECRET, signed(sub="embed"))
    with pytest.raises(TokenRejected, match="only embed tokens"):
        verify_token(SECRET, signed(res="live/s-1"))
    for text in ("live", "live/", "event", "nope/x", "/x", "live/ x"):
        with pytest.raises(ValueError, match="kind one of"):
            EmbedResource.parse(text)


def test_token_command_explains_a_missing_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTH_SECRET", raising=False)
    result = CliRunner().invoke(main, ["token", "--role", "analyst", "--event", "e9"])
    assert result.exit_code != 0
    assert "AUTH_SECRET is not set" in result.output
    short = CliRunner().invoke(
        main, ["token", "--role", "analyst", "--event", "e9"], env={"AUTH_SECRET": "short"}
    )
    assert "at least 32 characters" in short.output
