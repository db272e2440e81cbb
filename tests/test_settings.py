"""Settings: environment names of design §7, clear messages for what cannot run."""

from __future__ import annotations

import pytest

from services.core.settings import SettingsError, load_settings


def test_defaults_are_the_embedded_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "PORT", "TICK_SECONDS", "HOST"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.database_url.startswith("sqlite:///")
    assert settings.embedded_redis
    assert (settings.port, settings.tick_seconds, settings.chart_points) == (8050, 5.0, 60)


def test_environment_is_read_and_postgres_urls_use_psycopg(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db:5432/x")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/3")
    monkeypatch.setenv("TICK_SECONDS", "2.5")
    monkeypatch.setenv("SCORE_CHAT", "0.5")
    settings = load_settings()
    assert settings.database_url == "postgresql+psycopg://u@db:5432/x"
    assert settings.redis_url.endswith("/3")
    assert settings.tick_seconds == 2.5
    assert settings.score.chat == 0.5


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PORT": "99999"}, "PORT"),
        ({"PORT": "eighty"}, "PORT"),
        ({"TICK_SECONDS": "0"}, "TICK_SECONDS"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({"REDIS_KEY_PREFIX": "bad prefix*"}, "REDIS_KEY_PREFIX"),
        ({"TICK_SECONDS": "30", "RATE_WINDOW_SECONDS": "10"}, "RATE_WINDOW_SECONDS"),
        ({"SCORE_CHAT": "2"}, "SCORE_CHAT"),
        ({"EMBED_ALLOWED_ORIGINS": "*"}, "EMBED_ALLOWED_ORIGINS"),
        ({"EMBED_ALLOWED_ORIGINS": "https://ok.example, https://x.example/path"}, "not an origin"),
        ({"EMBED_ALLOWED_ORIGINS": "platform.example"}, "scheme://host"),
        ({"EMBED_ALLOWED_ORIGINS": "https://a.example; script-src *"}, "EMBED_ALLOWED_ORIGINS"),
        ({"EMBED_COOKIE_SECONDS": "10"}, "EMBED_COOKIE_SECONDS"),
    ],
)
def test_invalid_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message):
        load_settings()


def test_a_short_auth_secret_is_refused_at_start_up() -> None:
    with pytest.raises(SettingsError, match="AUTH_SECRET must be at least 32 characters"):
        load_settings(auth_secret="short")


def test_the_embed_allow_list_is_a_comma_separated_list_of_origins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "EMBED_ALLOWED_ORIGINS", " https://platform.example, https://*.events.example:8443 ,'self'"
    )
    assert load_settings().embed_allowed_origins == (
        "https://platform.example",
        "https://*.events.example:8443",
        "'self'",
    )
    monkeypatch.setenv("EMBED_ALLOWED_ORIGINS", "")
    assert load_settings().embed_allowed_origins == ()


def test_the_live_session_limit_follows_the_tick_unless_set() -> None:
    assert load_settings(tick_seconds=5).live_session_limit == 10_000
    assert load_settings(tick_seconds=1).live_session_limit == 2_000
    assert load_settings(tick_seconds=0.2).live_session_limit == 400
    assert load_settings(tick_seconds=1, max_live_sessions=7).live_session_limit == 7


def test_an_empty_variable_is_an_unset_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """#16: compose passes `${PUBLIC_URL:-}` as "", which was refused as a URL."""
    monkeypatch.setenv("PUBLIC_URL", "")
    monkeypatch.setenv("EMBED_ALLOWED_ORIGINS", "")
    monkeypatch.setenv("TICK_SECONDS", "")
    settings = load_settings()
    assert (settings.public_url, settings.embed_allowed_origins) == (None, ())
    assert settings.tick_seconds == 5.0
