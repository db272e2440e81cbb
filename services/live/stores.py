"""Every store over one database, built once per process and shared by its collector, its agent
and its web tier (the stores hold no state of their own beyond the engine)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from services.agent.posteriors import DatabasePosteriors
from services.detection.event_settings import EventSettingsStore
from services.storage.agent_settings import AgentSettingsStore
from services.storage.alert_settings import AlertSettingsStore
from services.storage.interventions import InterventionStore
from services.storage.metrics_store import MetricsStore
from services.storage.overview import OverviewQueries


@dataclass(frozen=True, slots=True)
class Stores:
    engine: Engine
    metrics: MetricsStore
    interventions: InterventionStore
    agent_settings: AgentSettingsStore
    event_settings: EventSettingsStore
    posteriors: DatabasePosteriors
    overview: OverviewQueries
    alerts: AlertSettingsStore

    @classmethod
    def over(cls, engine: Engine) -> Stores:
        agent_settings = AgentSettingsStore(engine)
        return cls(
            engine=engine,
            metrics=MetricsStore(engine),
            interventions=InterventionStore(engine),
            agent_settings=agent_settings,
            event_settings=EventSettingsStore(engine),
            posteriors=DatabasePosteriors(engine),
            overview=OverviewQueries(agent_settings),
            alerts=AlertSettingsStore(engine),
        )
