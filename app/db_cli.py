"""`engagement-conductor db`: the schema's migrations (services/storage/migrate.py)."""

from __future__ import annotations

import click

from app.cli_settings import cli_settings
from services.core.settings import Settings
from services.storage.database import create_db_engine
from services.storage.migrate import (
    SchemaError,
    check_schema,
    current_revision,
    downgrade_schema,
    head_revision,
    history,
    upgrade_schema,
    upgrade_sql,
)


def prepare_schema(settings: Settings, migrate: bool) -> None:
    """Before a server starts: upgrade when told to (`--migrate`, MIGRATE_ON_START), otherwise
    refuse a database at any revision but the newest, saying what to run."""
    engine = create_db_engine(settings.database_url)
    try:
        if migrate or settings.migrate_on_start:
            info = upgrade_schema(engine, settings.storage_policy())
            click.echo(f"database schema at {info.revision} ({info.backend})")
        else:
            check_schema(engine)
    except SchemaError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()


@click.group()
def db() -> None:
    """The database schema: upgrade, downgrade, see where it is (DATABASE_URL)."""


@db.command()
@click.argument("revision", default="head")
@click.option("--sql", is_flag=True, help="Print the SQL it would run; change nothing.")
def upgrade(revision: str, sql: bool) -> None:
    """Upgrade the schema to REVISION (the newest by default)."""
    settings = cli_settings()
    engine = create_db_engine(settings.database_url)
    try:
        if sql:
            click.echo(upgrade_sql(engine, settings.database_url, revision), nl=False)
            return
        info = upgrade_schema(engine, settings.storage_policy(), revision)
        click.echo(f"database schema at {info.revision} ({info.backend})")
    except SchemaError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()


@db.command()
@click.argument("revision")
def downgrade(revision: str) -> None:
    """Downgrade the schema to REVISION (`base`: nothing left). Data in what goes is lost."""
    settings = cli_settings()
    engine = create_db_engine(settings.database_url)
    try:
        click.echo(f"database schema at {downgrade_schema(engine, revision)}")
    finally:
        engine.dispose()


@db.command()
def current() -> None:
    """The revision the database is at, and whether it is the newest."""
    settings = cli_settings()
    engine = create_db_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            revision = current_revision(conn)
    finally:
        engine.dispose()
    head = head_revision()
    if revision is None:
        click.echo(f"none (newest: {head})")
    else:
        click.echo(f"{revision}{' (newest)' if revision == head else f' (newest: {head})'}")


@db.command("history")
def show_history() -> None:
    """Every revision, oldest first."""
    for entry in history():
        click.echo(f"{entry.down_revision or 'base'} -> {entry.revision}: {entry.title}")
