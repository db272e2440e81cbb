"""Live-socket limits per process, per sign-in and per session: the reason a socket is refused,
the place a closed one frees, one log line a minute."""

from __future__ import annotations

import pytest

from services.live.socket_quota import SOCKET_REFUSED, SocketQuota


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_each_limit_refuses_with_its_reason_and_a_closed_socket_frees_its_place(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    quota = SocketQuota(per_process=4, per_sign_in=2, per_session=3, clock=clock)
    assert quota.claim("ann", "s1") is None and quota.claim("ann", "s1") is None
    assert quota.claim("ann", "s2") == "this sign-in has 2 live sockets open already"
    assert quota.claim("bob", "s1") is None
    assert quota.claim("cat", "s1") == "this session has 3 live sockets on this server"
    assert quota.claim("cat", "s2") is None and quota.open == 4
    assert quota.claim("dan", "s3") == "this server holds its most live sockets (4)"
    assert quota.refused == 3
    assert caplog.text.count("live socket refused") == 1
    assert (
        "live socket refused: this sign-in has 2 live sockets open already (sign-in ann, "
        "session 's2'; 1 refused so far)" in caplog.text
    )
    clock.now += 60
    quota.release("ann", "s1")
    assert quota.open == 3
    assert quota.claim("dan", "s1") is None  # the session and the process had room again
    assert quota.claim("eve", "s4") == "this server holds its most live sockets (4)"
    assert caplog.text.count("live socket refused") == 2
    for sign_in, session in (("ann", "s1"), ("bob", "s1"), ("cat", "s2"), ("dan", "s1")):
        quota.release(sign_in, session)
    assert quota.open == 0
    assert quota.claim("ann", "s1") is None and quota.claim("ann", "s1") is None


def test_the_close_code_is_an_application_code_saying_too_many() -> None:
    assert 4000 <= SOCKET_REFUSED <= 4999 and SOCKET_REFUSED % 1000 == 429


def test_a_place_freed_is_exactly_one_and_the_log_line_is_short(
    caplog: pytest.LogCaptureFixture,
) -> None:
    quota = SocketQuota(per_process=10, per_sign_in=2, per_session=10)
    assert quota.claim("ann", "s1") is None and quota.claim("ann", "s2") is None
    quota.release("ann", "s1")
    assert quota.claim("ann", "s3") is None  # one place freed, not two
    assert quota.claim("ann", "s4") is not None
    long_sign_in, long_session = "x" * 20, "y" * 100
    both = SocketQuota(per_process=0, per_sign_in=1, per_session=1)
    both.claim(long_sign_in, long_session)
    assert caplog.messages[-1] == (
        "live socket refused: this server holds its most live sockets (0) (sign-in "
        f"{'x' * 12}, session {('y' * 80)!r}; 1 refused so far)"
    )
