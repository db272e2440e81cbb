"""The compose stack and the image, read (no container runtime runs here) for what makes them
start: a required AUTH_SECRET, the embed allow-list passed through, a pinned TimescaleDB,
migrations before the app, a non-editable install in a multi-stage image (#16)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


def test_the_app_cannot_start_without_an_auth_secret_and_says_how_to_set_one() -> None:
    services = compose()["services"]
    for name in ("migrate", "app", "simulator"):
        secret = services[name]["environment"]["AUTH_SECRET"]
        match = re.fullmatch(r"\$\{AUTH_SECRET:\?(.+)\}", secret)
        assert match, f"{name}: AUTH_SECRET must be required, not {secret!r}"
        assert "README" in match.group(1)
    assert services["app"]["environment"]["EMBED_ALLOWED_ORIGINS"] == "${EMBED_ALLOWED_ORIGINS:-}"
    assert "ALLOW_OPEN_ACCESS" not in services["app"]["environment"]


def test_timescaledb_is_pinned_to_the_version_tested() -> None:
    image = compose()["services"]["timescaledb"]["image"]
    assert re.fullmatch(r"timescale/timescaledb:\d+\.\d+\.\d+-pg\d+", image), image


def test_migrations_run_to_completion_before_the_app() -> None:
    services = compose()["services"]
    assert services["migrate"]["command"] == ["engagement-conductor", "db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"]["timescaledb"]["condition"] == "service_healthy"
    assert services["app"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )


def test_the_image_is_multi_stage_with_a_non_editable_install() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)", dockerfile, re.MULTILINE)
    assert len(stages) >= 2
    installs = re.findall(r"pip install[^\n]*", dockerfile)
    assert installs and not any(" -e " in f" {line} " or "--editable" in line for line in installs)
    assert "COPY --from=build" in dockerfile
    assert re.search(r"^USER\s+\w+", dockerfile, re.MULTILINE)


def test_the_readme_compose_section_is_the_stack_as_it_is() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Compose") :]
    section = section[: section.index("\n## ")]
    assert 'echo "AUTH_SECRET=$(openssl rand -hex 32)" >> .env' in section
    assert "docker compose up --build -d" in section
    assert "docker compose --profile monitoring up --build" in section
    assert "engagement-conductor token" in section
