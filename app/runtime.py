"""The long-lived parts one server process holds: database, Redis, collector, push hub."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import anthropic
import redis
from sqlalchemy.engine import Engine

from services.agent.breaker import CircuitBreaker
from services.agent.content import TemplateLibrary
from services.agent.desk import InterventionDesk
from services.agent.model_writer import ModelWriter, WriterSettings
from services.agent.sender import Clock, InterventionSender, utc_now
from services.agent.writing_pool import WritingCounters, WritingPool
from services.alerts.dispatcher import AlertDispatcher
from services.alerts.senders import EmailSender, SmtpSettings, WebhookSender
from services.core.redis_bus import RedisNames, connect_redis
from services.core.settings import Settings
from services.live.collector import EVENT_SETTINGS_SECONDS, HOUSEKEEPING_SECONDS, Collector
from services.live.push_hub import PushHub
from services.live.stores import Stores
from services.storage.database import DatabaseInfo, create_db_engine
from services.storage.metrics_store import MetricsStore
from services.storage.migrate import check_schema, upgrade_schema

log = logging.getLogger(__name__)


def writing_pool(settings: Settings, client: redis.Redis, names: RedisNames) -> WritingPool | None:
    """The language-model writer when ANTHROPIC_API_KEY is set; None keeps to the templates."""
    if not settings.writer_enabled:
        return None
    assert settings.anthropic_api_key is not None
    writer = ModelWriter(
        anthropic.Anthropic(
            api_key=settings.anthropic_api_key.get_secret_value(),
            base_url=settings.anthropic_base_url,
            # The fallback model is the retry; the SDK's own would spend the deadline on one.
            max_retries=0,
        ),
        WriterSettings(
            model=settings.content_model,
            fallback_model=settings.content_fallback_model or None,
            call_timeout_seconds=settings.content_call_timeout_seconds,
            deadline_seconds=settings.content_deadline_seconds,
        ),
        CircuitBreaker(
            settings.content_breaker_failures, settings.content_breaker_cooldown_seconds
        ),
    )
    log.info(
        "interventions are written by %s (fallback %s), templates as the floor",
        settings.content_model,
        settings.content_fallback_model or "none",
    )
    return WritingPool(writer, WritingCounters(client, names))


def alert_dispatcher(
    settings: Settings, client: redis.Redis, names: RedisNames, stores: Stores
) -> AlertDispatcher:
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    smtp = SmtpSettings(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_from,
        username=settings.smtp_username,
        password=password,
        starttls=settings.smtp_starttls,
    )
    return AlertDispatcher(
        client,
        names,
        stores.alerts,
        EmailSender(smtp),
        WebhookSender(allow_private=settings.alert_webhooks_private),
        group_seconds=settings.alert_group_seconds,
    )


@dataclass
class Runtime:
    """The one owner of each shared part: the web tier and the collector get the same stores,
    desk and Redis names."""

    settings: Settings
    database: DatabaseInfo
    redis: redis.Redis
    names: RedisNames
    stores: Stores
    desk: InterventionDesk
    hub: PushHub
    collector: Collector | None = None
    alert_dispatcher: AlertDispatcher | None = None
    _threads: list[threading.Thread] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        settings: Settings,
        with_collector: bool = True,
        *,
        event_settings_every: float = EVENT_SETTINGS_SECONDS,
        housekeeping_every: float = HOUSEKEEPING_SECONDS,
        agent_clock: Clock = utc_now,
        migrate: bool = True,
    ) -> Runtime:
        """`migrate`: bring the schema to the newest revision first; otherwise a database at
        any other revision raises SchemaError (a server that was not told to migrate)."""
        engine = create_db_engine(settings.database_url)
        database = (
            upgrade_schema(engine, settings.storage_policy()) if migrate else check_schema(engine)
        )
        client = connect_redis(settings.redis_url, settings.redis_cluster)
        names = RedisNames(settings.redis_key_prefix)
        stores = Stores.over(engine)
        desk = InterventionDesk(
            InterventionSender(stores.interventions, client, names, clock=agent_clock),
            stores.agent_settings,
            stores.posteriors,
            TemplateLibrary(),
            writer=writing_pool(settings, client, names),
            token_budget=settings.content_token_budget,
        )
        hub = PushHub(lambda: connect_redis(settings.redis_url, settings.redis_cluster), names)
        collector = (
            Collector(
                settings,
                client,
                names,
                stores,
                desk,
                event_settings_every=event_settings_every,
                housekeeping_every=housekeeping_every,
            )
            if with_collector
            else None
        )
        log.info("database backend: %s (schema at %s)", database.backend, database.revision)
        # Alerts go out from every process that collects: claims in Redis share the work.
        dispatcher = alert_dispatcher(settings, client, names, stores) if with_collector else None
        return cls(settings, database, client, names, stores, desk, hub, collector, dispatcher)

    @property
    def engine(self) -> Engine:
        return self.stores.engine

    @property
    def store(self) -> MetricsStore:
        return self.stores.metrics

    @property
    def refresh_ms(self) -> int:
        """How often lists of sessions re-query: about a tick, never hammering faster than 5 s."""
        return int(max(5.0, self.settings.tick_seconds) * 1000)

    def start(self) -> None:
        self._start_thread("push-hub", self.hub.run)
        if self.collector is not None:
            self._start_thread("collector", self.collector.run)
        if self.alert_dispatcher is not None:
            self._start_thread("alert-dispatcher", self.alert_dispatcher.run)

    def _start_thread(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 15.0) -> None:
        if self.collector is not None:
            self.collector.stop()
        if self.alert_dispatcher is not None:
            self.alert_dispatcher.stop()
        self.hub.stop()
        if self.desk.writing.writer is not None:
            self.desk.writing.writer.close()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
        self.engine.dispose()
