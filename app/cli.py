"""The `engagement-conductor` console script (design §7)."""

from __future__ import annotations

import errno
import itertools
import logging
import os
import secrets
import signal
import socket
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING

import click

from app.cli_settings import cli_settings
from services.core.settings import Settings

if TYPE_CHECKING:
    from flask import Blueprint

    from app.runtime import Runtime

log = logging.getLogger("engagement_conductor")


def _on_sigterm(stop: Callable[[], None]) -> None:
    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop()

    signal.signal(signal.SIGTERM, handler)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Engagement Conductor: live audience-engagement monitor.

    Settings come from the environment (and a .env file): DATABASE_URL, REDIS_URL, HOST, PORT,
    TICK_SECONDS and more (see README).
    """


@main.command()
@click.option(
    "--sessions",
    default=6,
    show_default=True,
    type=click.IntRange(1, 200),
    help="How many simulated live sessions.",
)
@click.option("--seed", default=7, show_default=True, type=int, help="Simulator seed.")
@click.option("--port", type=click.IntRange(1, 65535), help="Overrides PORT.")
def demo(sessions: int, seed: int, port: int | None) -> None:
    """Everything in one process on the embedded default: no servers needed.

    Web server, collector and a simulated event platform share an in-process Redis; scores go to
    the SQLite file of DATABASE_URL. Access control is on, with a random AUTH_SECRET for the run
    unless one is set: the demo prints sign-in links for a producer and an analyst, and a page
    of its own that frames the embedded panels. SIGTERM or Ctrl-C stops it.
    """
    from app.demo_page import example_page
    from app.runtime import Runtime
    from services.simulation.simulator import Simulator, demo_sessions
    from services.storage.migrate import SchemaError

    # First: a signal during start-up waits until the demo can stop cleanly.
    signals = _StopSignals()
    settings, generated = _demo_settings(port)
    listener = _listen(settings.host, settings.port)
    try:
        runtime = Runtime.build(settings)
    except SchemaError as exc:
        listener.close()
        raise click.ClickException(
            f"{exc}\nThe demo keeps its scores in {settings.database_url}: remove that file to "
            "start afresh, or point DATABASE_URL elsewhere."
        ) from None
    simulated = demo_sessions(sessions, seed)
    events = sorted({s.event_id for s in simulated})
    assert settings.auth_secret is not None
    secret = settings.auth_secret.get_secret_value()
    lines = [
        *_demo_links(settings, secret, events, generated),
        *_demo_agent_settings(runtime, events),
        "Stop it with Ctrl-C or SIGTERM.",
    ]
    shown = simulated[0]
    page = example_page(secret, shown.session_id, shown.event_id, runtime.store.get_session)
    platform = Simulator(simulated, seed=seed)
    stop = threading.Event()
    sim = threading.Thread(
        target=platform.run,
        args=(runtime.redis, runtime.names, stop),
        name="simulator",
        daemon=True,
    )
    sim.start()
    try:
        received = _serve_demo(runtime, listener, page, lines, signals)
    finally:
        stop.set()
        runtime.stop()
    click.echo(f"Engagement Conductor demo stopped ({received.name}).")


@main.command()
@click.option("--no-collector", is_flag=True, help="Serve pages only; another process collects.")
@click.option("--workers", type=click.IntRange(1, 64), help="Overrides WEB_WORKERS.")
@click.option("--migrate", is_flag=True, help="Upgrade an older schema first (MIGRATE_ON_START).")
def serve(no_collector: bool, workers: int | None, migrate: bool) -> None:
    """The web server (gunicorn, gevent workers), each worker with a collector thread.

    One collector at a time leads (a Redis lease); the others stand by.
    """
    from app.db_cli import prepare_schema
    from app.production_server import ProductionServer, ensure_metrics_dir

    overrides: dict[str, object] = {}
    if no_collector:
        overrides["collector_enabled"] = False
    if workers is not None:
        overrides["web_workers"] = workers
    settings = cli_settings(**overrides)
    if settings.embedded_redis:
        raise click.ClickException(
            "serve runs several processes and needs REDIS_URL; `demo` runs on the embedded one"
        )
    if settings.auth_secret is None and not settings.allow_open_access:
        raise click.ClickException(
            "serve needs AUTH_SECRET (it signs and checks everyone's access); set "
            "ALLOW_OPEN_ACCESS=true to run without access control"
        )
    prepare_schema(settings, migrate)
    ensure_metrics_dir()
    # Workers read the settings from the environment after the fork.
    os.environ["COLLECTOR_ENABLED"] = str(settings.collector_enabled).lower()
    click.echo(f"Engagement Conductor: dashboard at http://{settings.host}:{settings.port}/")
    sys.stdout.flush()
    ProductionServer(settings).run()


# One event per mode, so the demo shows every way the agent works; hourly caps high enough to
# watch it learn. Only events still on the defaults get these: a producer's edits stay.
_DEMO_MODES = ("SEMI_AUTO", "MANUAL", "AUTO")


def _demo_agent_settings(runtime: Runtime, event_ids: list[str]) -> list[str]:
    """Set each demo event's agent mode (once); returns what each event runs, to print."""
    from services.storage.agent_settings import DEFAULTS

    store = runtime.desk.settings
    said = []
    for event_id, mode in zip(event_ids, itertools.cycle(_DEMO_MODES), strict=False):
        if store.for_event(event_id) == DEFAULTS:
            store.update(event_id, {"mode": mode, "hourly_cap": 60})
        settings = store.for_event(event_id)
        said.append(f"  event {event_id}: intervention agent in {settings.mode.value} mode")
    return said


# 32 random bytes: 43 characters, above the 32 AUTH_SECRET needs.
_DEMO_SECRET_BYTES = 32
_SELF = "'self'"


def _demo_settings(port: int | None) -> tuple[Settings, bool]:
    """The demo's settings, and whether its AUTH_SECRET was generated for this run.

    Access control is on, as in production: a secret set in the environment is kept (then
    `token` can mint more links), else a random one lives as long as the run. The demo's own
    pages may frame panels, the example page among them, besides what EMBED_ALLOWED_ORIGINS
    lists: 'self' matches whatever name the browser reached the demo by."""
    overrides: dict[str, object] = {"redis_url": "embedded"}
    if port is not None:
        overrides["port"] = port
    configured = cli_settings(**overrides)
    generated = configured.auth_secret is None
    if generated:
        overrides["auth_secret"] = secrets.token_urlsafe(_DEMO_SECRET_BYTES)
    origins = (_SELF, *configured.embed_allowed_origins)
    overrides["embed_allowed_origins"] = tuple(dict.fromkeys(origins))
    return cli_settings(**overrides), generated


def _demo_links(settings: Settings, secret: str, events: list[str], generated: bool) -> list[str]:
    """What the demo prints first: the producer's sign-in link (the one to open), the analyst's
    and the JSON API with that analyst's token, and the example page framing the panels."""
    from app.demo_page import EXAMPLE_PATH
    from services.access.tokens import Role, mint_token

    # As long as the server accepts (TOKEN_MAX_TTL_SECONDS): a demo runs for an afternoon.
    longest = settings.token_max_ttl_seconds
    producer = mint_token(secret, Role.PRODUCER, events, longest, name="Demo producer")
    analyst = mint_token(secret, Role.ANALYST, events, longest, name="Demo analyst")
    base = f"http://{settings.host}:{settings.port}"
    secret_note = (
        "a random AUTH_SECRET for this run (not shown), so these links end with the run"
        if generated
        else "your AUTH_SECRET; `engagement-conductor token` mints more links"
    )
    origins = " ".join(settings.embed_allowed_origins)
    api = f"curl -H 'Authorization: Bearer {analyst}' {base}/api/sessions"
    title = "Engagement Conductor demo (embedded Redis, simulated audiences)"
    return [
        f"{title}: {base}/?token={producer}",
        "  That link signs you in as a producer of every demo event. Access control is on, with",
        f"  {secret_note}.",
        f"  analyst (past sessions):  {base}/sessions?token={analyst}",
        f"  JSON API as that analyst: {api}",
        f"  embedded panels, framed by an example page: {base}{EXAMPLE_PATH}?token={producer}",
        f"  EMBED_ALLOWED_ORIGINS: {origins} (this server's own pages, such as the example page)",
    ]


def _listen(host: str, port: int) -> socket.socket:
    """The demo's listening socket, bound before anything starts or prints: a busy port is one
    line naming it and what to do, not a traceback after the URL."""
    from werkzeug.serving import get_sockaddr, select_address_family

    family = select_address_family(host, port)
    listener = socket.socket(family, socket.SOCK_STREAM)
    # As werkzeug's own server: a demo started again at once must not wait out TIME_WAIT.
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(get_sockaddr(host, port, family))
        listener.listen(socket.SOMAXCONN)
    except OSError as exc:
        listener.close()
        if exc.errno == errno.EADDRINUSE:
            raise click.ClickException(
                f"port {port} on {host} is in use (another demo?): stop what holds it, "
                "or choose another port with --port"
            ) from None
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return listener


class _StopSignals:
    """SIGTERM, and SIGINT unless it is ignored (a shell starts background jobs so: Ctrl-C in
    their terminal is not meant for them), end the demo.

    The handlers do nothing themselves: Python writes each signal's number to a socket that
    `wait` reads. A signal is therefore never lost, not even one during start-up, and never
    interrupts the main thread half-way through starting or stopping. A second signal of the
    same kind ends the process at once."""

    def __init__(self) -> None:
        # Both ends stay open as long as this object: Python writes to the one it was given.
        self._reader, self._writer = socket.socketpair()
        self._writer.setblocking(False)
        signal.set_wakeup_fd(self._writer.fileno())
        for signum in (signal.SIGTERM, signal.SIGINT):
            if signal.getsignal(signum) is not signal.SIG_IGN:
                signal.signal(signum, self._noted)

    @staticmethod
    def _noted(signum: int, _frame: FrameType | None) -> None:
        # The first one is already on the socket; a second means "now", even mid-shutdown.
        signal.signal(signum, signal.SIG_DFL)

    def wait(self) -> signal.Signals:
        """The first stop signal, as soon as there is one (at once if it came earlier)."""
        return signal.Signals(self._reader.recv(1)[0])


def _serve_demo(
    runtime: Runtime,
    listener: socket.socket,
    page: Blueprint,
    lines: list[str],
    signals: _StopSignals,
) -> signal.Signals:
    """Serves until a stop signal, which it returns: Flask's threaded server in a thread of its
    own (the embedded Redis lives in this one process), the main thread waiting."""
    from werkzeug.serving import make_server

    from app.factory import create_app

    app = create_app(runtime)
    app.server.register_blueprint(page)
    settings = runtime.settings
    with listener:
        server = make_server(
            settings.host, settings.port, app.server, threaded=True, fd=listener.fileno()
        )
    # A line per request would bury the collector's log; the demo is a single-user tool. Its
    # one collector takes every partition at start and hands them back at the end: a line each
    # would bury the links.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("services.live.partition_share").setLevel(logging.WARNING)
    runtime.start()
    web = threading.Thread(target=server.serve_forever, name="demo-web", daemon=True)
    web.start()
    try:
        for line in lines:
            click.echo(line)
        sys.stdout.flush()
        return signals.wait()
    finally:
        server.shutdown()


@main.command()
@click.option("--migrate", is_flag=True, help="Upgrade an older schema first (MIGRATE_ON_START).")
def collect(migrate: bool) -> None:
    """The collector alone: read the streams, score every tick, write and publish."""
    from app.db_cli import prepare_schema
    from app.runtime import Runtime

    settings = cli_settings()
    if settings.embedded_redis:
        raise click.ClickException("collect needs REDIS_URL: an embedded Redis has no platform")
    prepare_schema(settings, migrate)
    runtime = Runtime.build(settings, migrate=False)
    collector = runtime.collector
    assert collector is not None
    metrics_server = None
    if settings.collect_metrics_port is not None:
        from app.collect_metrics import start_collect_metrics

        metrics_server = start_collect_metrics(
            settings.host, settings.collect_metrics_port, settings.metrics_allowed_networks
        )
    _on_sigterm(collector.stop)
    try:
        collector.run()
    except KeyboardInterrupt:
        collector.stop()
    finally:
        if metrics_server is not None:
            metrics_server.shutdown()
        runtime.engine.dispose()


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per partition.")
def partitions(as_json: bool) -> None:
    """Who owns each partition, its backlog, and its last handover."""
    import json
    from datetime import UTC, datetime

    from services.core.redis_bus import REDIS_DOWN, RedisNames, connect_redis
    from services.live.partition_map import read_partition_map

    settings = cli_settings()
    if settings.embedded_redis:
        raise click.ClickException(
            "partitions needs REDIS_URL: an embedded Redis lives inside the server's process"
        )
    client = connect_redis(settings.redis_url, settings.redis_cluster)
    try:
        infos = read_partition_map(
            client, RedisNames(settings.redis_key_prefix), settings.partitions
        )
    except REDIS_DOWN as exc:
        raise click.ClickException(f"Redis unreachable at {settings.redis_url}: {exc}") from None
    if as_json:
        for info in infos:
            click.echo(json.dumps(info.as_json()))
        return
    click.echo(f"{'partition':>9}  {'owner':<32} {'lag':>6} {'pending':>7}  last handover")
    for info in infos:
        handover = info.last_handover or {}
        when = handover.get("at")
        stamp = (
            datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%d %H:%M:%S")
            if isinstance(when, int | float)
            else ""
        )
        what = handover.get("kind") or ("released" if handover.get("released_by") else "")
        click.echo(
            f"{info.partition:>9}  {info.owner or '(none)':<32} "
            f"{'' if info.lag is None else info.lag:>6} "
            f"{'' if info.pending is None else info.pending:>7}  {stamp} {what}".rstrip()
        )
    owners = {info.owner for info in infos if info.owner}
    unowned = sum(1 for info in infos if info.owner is None)
    plural = "" if len(owners) == 1 else "s"
    click.echo(f"{len(infos)} partitions, {len(owners)} owner{plural}, {unowned} unowned")


@main.command()
@click.option("--sessions", default=6, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--seed", default=7, show_default=True, type=int)
def simulate(sessions: int, seed: int) -> None:
    """A simulated event platform writing to REDIS_URL's streams."""
    from services.core.redis_bus import RedisNames, connect_redis
    from services.simulation.simulator import Simulator, demo_sessions

    settings = cli_settings()
    if settings.embedded_redis:
        raise click.ClickException("simulate needs REDIS_URL: nothing else could read it")
    platform = Simulator(demo_sessions(sessions, seed), seed=seed)
    stop = threading.Event()
    _on_sigterm(stop.set)
    click.echo(f"simulating {sessions} sessions into {settings.redis_url}")
    try:
        platform.run(
            connect_redis(settings.redis_url, settings.redis_cluster),
            RedisNames(settings.redis_key_prefix),
            stop,
        )
    except KeyboardInterrupt:
        stop.set()


@main.command()
@click.option("--role", required=True, type=click.Choice(["producer", "analyst", "embed"]))
@click.option(
    "--event",
    "events",
    required=True,
    multiple=True,
    help="An event the token may see; repeat for several.",
)
@click.option(
    "--resource",
    default=None,
    help="Embed tokens only: the one panel it opens, live/<session>, anomalies/<session>, "
    "interventions/<session> or event/<event>.",
)
@click.option(
    "--name",
    default=None,
    help="Producers and analysts: who holds the token, as the intervention log names them.",
)
@click.option(
    "--ttl",
    default=None,
    type=click.IntRange(1),
    help="Lifetime in seconds: default 3600 (at most TOKEN_MAX_TTL_SECONDS, 12 h by default); "
    "embed tokens 60 (at most 60).",
)
def token(
    role: str, events: tuple[str, ...], resource: str | None, name: str | None, ttl: int | None
) -> None:
    """Print one signed access token (needs AUTH_SECRET)."""
    # Imported here: `serve` must reach gunicorn's gevent patching before anything loads ssl.
    from services.access.tokens import EMBED_MAX_TTL_SECONDS, EmbedResource, Role, mint_token

    settings = cli_settings()
    if settings.auth_secret is None:
        raise click.ClickException("AUTH_SECRET is not set: it signs the tokens")
    chosen = Role(role)
    if ttl is None:
        ttl = EMBED_MAX_TTL_SECONDS if chosen is Role.EMBED else 3600
    if chosen is not Role.EMBED and ttl > settings.token_max_ttl_seconds:
        raise click.ClickException(
            f"--ttl {ttl}: the server accepts tokens of at most "
            f"{settings.token_max_ttl_seconds} s (TOKEN_MAX_TTL_SECONDS)"
        )
    try:
        panel = EmbedResource.parse(resource) if resource is not None else None
        secret = settings.auth_secret.get_secret_value()
        text = mint_token(secret, chosen, list(events), ttl, panel, name)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(text)


@main.command("detector-settings")
@click.argument("event_id")
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override one threshold for this event; repeat for several.",
)
@click.option("--reset", is_flag=True, help="Drop this event's overrides first.")
def detector_settings(event_id: str, assignments: tuple[str, ...], reset: bool) -> None:
    """Show or change an event's anomaly-detection thresholds (stored in DATABASE_URL).

    Running collectors pick a change up within 15 s. Tunable: sensitivity (0.1-10, default 1;
    higher flags more), cooldown_seconds, mass_exit_share, mass_exit_critical_share,
    mass_exit_min_users, mass_exit_min_audience, drop_ratio, decline_ratio, low_ratio,
    low_seconds, low_score, low_score_seconds, critical_ratio, recover_ratio,
    max_episode_seconds. Prints the event's overrides and the resulting settings as JSON.
    """
    import dataclasses
    import json

    from services.core.platform import valid_id
    from services.detection.detector import DetectorSettings
    from services.detection.event_settings import (
        TUNABLE,
        EventSettingsError,
        EventSettingsStore,
        effective,
    )
    from services.storage.database import create_db_engine
    from services.storage.migrate import SchemaError, check_schema

    if not valid_id(event_id):
        raise click.ClickException("EVENT_ID must be 1-255 printable characters")
    changes: dict[str, str] = {}
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        if not sep:
            raise click.ClickException(f"--set takes NAME=VALUE, got {assignment!r}")
        changes[name.strip()] = value.strip()
    settings = cli_settings()
    engine = create_db_engine(settings.database_url)
    try:
        try:
            check_schema(engine)
        except SchemaError as exc:
            raise click.ClickException(str(exc)) from None
        store = EventSettingsStore(engine)
        try:
            overrides = (
                store.update(event_id, changes, reset=reset)
                if changes or reset
                else store.overrides(event_id)
            )
        except EventSettingsError as exc:
            raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    resulting = effective(DetectorSettings(tick_seconds=settings.tick_seconds), overrides)
    values = dataclasses.asdict(resulting)
    click.echo(
        json.dumps(
            {
                "event_id": event_id,
                "overrides": overrides,
                "settings": {name: values[name] for name in TUNABLE},
            },
            indent=2,
        )
    )


from app.db_cli import db  # noqa: E402 - registered once `main` exists

main.add_command(db)

if __name__ == "__main__":
    main()
