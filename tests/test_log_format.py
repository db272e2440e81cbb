"""LOG_FORMAT=json: one JSON object per line with the request's id, and never a token in any
format (#16; a sign-in link's `?token=` reached the log in werkzeug's request line)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator

import pytest

from app.factory import create_app
from app.log_format import REDACTED, configure_logging, redact
from app.runtime import Runtime
from services.access.tokens import Role, mint_token
from services.core.settings import Settings

SECRET = "l" * 40


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"GET /live?token=abc.def.ghi HTTP/1.1"', f'"GET /live?token={REDACTED} HTTP/1.1"'),
        ("GET /x?a=1&token=zzz&b=2", f"GET /x?a=1&token={REDACTED}&b=2"),
        ("Authorization: Bearer abc.def", f"Authorization: Bearer {REDACTED}"),
        ("jwt eyJhbGciOiJI.eyJzdWIiOiJw.c2lnbmF0dXJl here", f"jwt {REDACTED} here"),
        ("nothing secret: token count 3", "nothing secret: token count 3"),
    ],
)  # fmt: skip
def test_redaction_takes_out_tokens_and_only_them(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_json_lines_carry_the_request_id_and_no_token(
    make_settings: Callable[..., Settings],
    restored_logging: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    runtime = Runtime.build(make_settings(auth_secret=SECRET), with_collector=False)
    client = create_app(runtime).server.test_client()
    configure_logging("INFO", "json")
    token = mint_token(SECRET, Role.PRODUCER, ["evt-1"], 600)
    answer = client.get(f"/?token={token}", headers={"X-Request-ID": "req-42"})
    assert answer.status_code == 303 and answer.headers["X-Request-ID"] == "req-42"
    # What werkzeug's request line says about the same request.
    logging.getLogger("werkzeug").info('127.0.0.1 - - "GET /?token=%s HTTP/1.1" 303 -', token)
    generated = client.get("/health/ready").headers["X-Request-ID"]
    assert len(generated) == 16 and generated != "req-42"
    client.get("/?token=", headers={"X-Request-ID": "not a valid id!"})
    err = capsys.readouterr().err
    assert token not in err and token[:20] not in err
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    signed_in = next(line for line in lines if line["message"].startswith("signed in:"))
    assert signed_in["request_id"] == "req-42"
    assert signed_in["level"] == "INFO" and signed_in["logger"] == "app.access"
    request_line = next(line for line in lines if line["logger"] == "werkzeug")
    assert f"?token={REDACTED}" in request_line["message"]
