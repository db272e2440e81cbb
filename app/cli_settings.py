"""Settings for a command: loaded from the environment, a clear error instead of a traceback,
and logging set up at their level."""

from __future__ import annotations

import logging

import click

from app.log_format import configure_logging
from services.core.settings import Settings, SettingsError, load_settings


def cli_settings(**overrides: object) -> Settings:
    try:
        settings = load_settings(**overrides)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    configure_logging(settings.log_level, settings.log_format)
    # Alembic says which context it runs in at every start; migrate.py logs what changed.
    logging.getLogger("alembic").setLevel(
        max(logging.WARNING, logging.getLevelName(settings.log_level))
    )
    return settings
