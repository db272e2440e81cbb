"""A desk on the test's own PostgreSQL database and Redis prefix, and a subscriber standing in
for the event platform: fixtures (registered in tests/conftest.py) and helpers shared by the
desk's tests of decisions, of races and of the follow-up."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
import sqlalchemy as sa

from services.agent.content import TemplateLibrary
from services.agent.desk import InterventionDesk, SessionContext
from services.agent.followup import InterventionFollowUp
from services.agent.reward import RewardRule
from services.agent.sender import InterventionSender
from services.core.redis_bus import RedisNames
from services.core.settings import Settings
from services.live.stores import Stores
from services.storage.database import create_db_engine
from services.storage.migrate import upgrade_schema
from tests.waiting import wait_until

SESSION = SessionContext("sess-1", "evt-1", engagement=0.3, present_users=120, chat_per_min=4.0)


class Platform:
    """A subscriber on agent.interventions standing in for the event platform."""

    def __init__(self, client: redis.Redis, names: RedisNames) -> None:
        self.pubsub = client.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(names.agent_channel)
        wait_until(lambda: client.pubsub_numsub(names.agent_channel)[0][1] == 1, what="subscribe")
        self.received: list[dict[str, Any]] = []

    def drain(self) -> list[dict[str, Any]]:
        while (message := self.pubsub.get_message(timeout=0.05)) is not None:
            self.received.append(json.loads(message["data"]))
        return self.received


def desk_over(engine: sa.Engine, client: redis.Redis, prefix: str) -> InterventionDesk:
    upgrade_schema(engine)
    stores = Stores.over(engine)
    sender = InterventionSender(stores.interventions, client, RedisNames(prefix))
    return InterventionDesk(
        sender, stores.agent_settings, stores.posteriors, TemplateLibrary(), rng=random.Random(7)
    )


@pytest.fixture
def desk(
    make_settings: Callable[..., Settings], redis_client: redis.Redis
) -> Iterator[InterventionDesk]:
    settings = make_settings()
    engine = create_db_engine(settings.database_url)
    yield desk_over(engine, redis_client, settings.redis_key_prefix)
    engine.dispose()


@pytest.fixture
def followup(desk: InterventionDesk) -> InterventionFollowUp:
    return InterventionFollowUp(desk.sender, desk.posteriors, RewardRule.for_delay(60))


@pytest.fixture
def platform(desk: InterventionDesk, redis_client: redis.Redis) -> Iterator[Platform]:
    listener = Platform(redis_client, desk.sender.names)
    yield listener
    listener.pubsub.close()


def propose(desk: InterventionDesk, session: SessionContext = SESSION) -> Any:
    return desk.propose(session, "SUDDEN_DROP", -0.4, "ep-1", "Chat fell from 14/min to 2/min")
