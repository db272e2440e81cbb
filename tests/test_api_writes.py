"""The JSON API's write routes on real PostgreSQL and Redis: approving publishes the platform
payload once (also when two approvals race), dismissing keeps the reason, launches, modes and
settings change as on the page; other events' producers, analysts and embed tokens get 403 on
every write; bad bodies get 400 naming the field. Every answer here is checked against
/api/openapi.json."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator

from app.factory import create_app
from app.openapi import OPERATIONS
from app.runtime import Runtime
from services.access.tokens import EmbedResource, Role, mint_token
from services.agent.desk import SessionContext
from tests.browser.support import seed_session, stamps_from
from tests.desk_fixtures import Platform
from tests.openapi_check import checked
from tests.waiting import wait_until

SECRET = "w" * 40
SESSION = SessionContext("s-1", "evt-1", engagement=0.3, present_users=120, chat_per_min=4.0)


def auth(role: Role, *events: str, name: str | None = "Ops console") -> dict[str, str]:
    resource = EmbedResource.parse("live/s-1") if role is Role.EMBED else None
    ttl = 60 if role is Role.EMBED else 600
    token = mint_token(SECRET, role, list(events), ttl, resource, name=name)
    return {"Authorization": f"Bearer {token}"}


def producer() -> dict[str, str]:
    """Minted when a test runs: a token minted at import could expire in a long run."""
    return auth(Role.PRODUCER, "evt-1")


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime]) -> Runtime:
    rt = make_runtime(with_collector=False, auth_secret=SECRET)
    now = datetime.now(UTC).replace(microsecond=0)
    seed_session(rt, "s-1", "evt-1", stamps=stamps_from(now - timedelta(seconds=60), 10))
    seed_session(rt, "s-2", "evt-2", stamps=stamps_from(now - timedelta(seconds=60), 10))
    return rt


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    return create_app(runtime).server.test_client()


@pytest.fixture
def platform(runtime: Runtime, redis_client: redis.Redis) -> Iterator[Platform]:
    listener = Platform(redis_client, runtime.names)
    yield listener
    listener.pubsub.close()


def _suggest(runtime: Runtime) -> str:
    record = runtime.desk.propose(SESSION, "SUDDEN_DROP", -0.4, "ep-1", "Chat fell")
    assert record is not None and record.status == "pending"
    return record.intervention_id


# -- the description --------------------------------------------------------------------------


def test_every_api_route_is_described_and_the_description_is_served(
    client: FlaskClient, runtime: Runtime
) -> None:
    served = client.get("/api/openapi.json")
    assert served.status_code == 200
    document = served.get_json()
    assert document["openapi"] == "3.1.0"
    Draft202012Validator.check_schema({"$defs": document["components"]["schemas"]})
    app = create_app(runtime).server
    routes = {
        (method.lower(), rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/") and rule.endpoint != "api.unknown"
        for method in rule.methods or ()
        if method not in {"HEAD", "OPTIONS"}
    }
    routes.discard(("get", "/api/openapi.json"))
    described = {(op.method, "/api" + op.path) for op in OPERATIONS}
    assert routes == described
    for op in OPERATIONS:
        assert op.method in document["paths"][op.openapi_path]


# -- deciding -----------------------------------------------------------------------------------


def test_approve_publishes_the_payload_once_even_when_two_approvals_race(
    client: FlaskClient, runtime: Runtime, platform: Platform
) -> None:
    intervention = _suggest(runtime)
    path = f"/api/interventions/{intervention}/approve"
    answers: list[Any] = []

    def approve() -> None:
        answers.append(client.post(path, headers=producer()))

    threads = [threading.Thread(target=approve) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200, 409]
    done = next(a for a in answers if a.status_code == 200)
    body = checked("POST", path, done)
    assert body["status"] == "executed" and body["approved_by"] == "Ops console"
    refused = checked("POST", path, next(a for a in answers if a.status_code == 409))
    assert "already" in refused["error"] or "same moment" in refused["error"]
    sent = wait_until(platform.drain, what="the agent.interventions message")
    assert [m["intervention_id"] for m in sent] == [intervention]


def test_dismiss_keeps_the_reason_and_a_second_decision_is_a_conflict(
    client: FlaskClient, runtime: Runtime, platform: Platform
) -> None:
    intervention = _suggest(runtime)
    path = f"/api/interventions/{intervention}/dismiss"
    response = client.post(path, headers=producer(), json={"reason": "the speaker is on it"})
    assert response.status_code == 200
    body = checked("POST", path, response)
    assert body["status"] == "dismissed"
    assert body["note"] == "dismissed by Ops console: the speaker is on it"
    again = client.post(f"/api/interventions/{intervention}/approve", headers=producer())
    assert again.status_code == 409
    assert checked("POST", path, again)["error"] == (
        "this suggestion is already dismissed by Ops console"
    )
    assert platform.drain() == []


def test_unknown_and_other_events_interventions_are_404_and_403(
    client: FlaskClient, runtime: Runtime
) -> None:
    intervention = _suggest(runtime)
    missing = client.post("/api/interventions/nope/approve", headers=producer())
    assert missing.status_code == 404
    assert checked("POST", "/api/interventions/nope/approve", missing) == {
        "error": "no such intervention"
    }
    other = client.post(
        f"/api/interventions/{intervention}/approve", headers=auth(Role.PRODUCER, "evt-2")
    )
    assert other.status_code == 403
    assert runtime.desk.store.get(intervention).status == "pending"


WRITES = [
    ("POST", "/api/interventions/{id}/approve", None),
    ("POST", "/api/interventions/{id}/dismiss", {"reason": "x"}),
    ("POST", "/api/sessions/s-1/interventions", {"type": "POLL"}),
    ("PUT", "/api/sessions/s-1/agent-mode", {"mode": "AUTO"}),
    ("PUT", "/api/events/evt-1/agent-settings", {"hourly_cap": 9}),
    ("PUT", "/api/events/evt-1/detector-settings", {"set": {"sensitivity": 2}}),
    ("PUT", "/api/events/evt-1/alerts", {"emails": ["a@example.com"]}),
    ("GET", "/api/events/evt-1/alerts", None),
]


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (lambda: auth(Role.ANALYST, "evt-1"), "only a producer token may change anything"),
        (lambda: auth(Role.PRODUCER, "evt-2"), "does not name"),
        (lambda: auth(Role.EMBED, "evt-1"), "an embed token cannot use the API"),
        (lambda: {}, "send Authorization: Bearer <token>"),
    ],
)
def test_every_write_is_refused_to_anyone_but_the_events_producer(
    client: FlaskClient, runtime: Runtime, headers: Callable[[], dict[str, str]], reason: str
) -> None:
    intervention = _suggest(runtime)
    for method, template, body in WRITES:
        path = template.format(id=intervention)
        response = client.open(path, method=method, headers=headers(), json=body)
        assert response.status_code in (401, 403), (method, path, response.status_code)
        assert reason in checked(method, path, response)["error"], (method, path)
    assert runtime.desk.store.get(intervention).status == "pending"
    assert runtime.desk.settings.for_event("evt-1").hourly_cap == 3
    assert runtime.stores.event_settings.overrides("evt-1") == {}
    assert runtime.desk.settings.session_mode("s-1") is None
    assert runtime.stores.alerts.for_event("evt-1").emails == ()


@pytest.mark.parametrize(
    ("method", "path", "body", "message"),
    [
        ("POST", "/api/sessions/s-1/interventions", {"type": "DANCE"}, "type: Input should be"),
        ("POST", "/api/sessions/s-1/interventions", {}, "type: Field required"),
        (
            "POST",
            "/api/sessions/s-1/interventions",
            {"type": "POLL", "extra": 1},
            "extra: Extra inputs are not permitted",
        ),
        (
            "POST",
            "/api/sessions/s-1/interventions",
            {"type": "CHAT_PROMPT", "content": {"message": "see https://evil.example"}},
            "message contains a link",
        ),
        (
            "POST",
            "/api/sessions/s-1/interventions",
            {"type": "POLL", "content": {"poll": {"question": "q?", "options": ["a"]}}},
            "poll: missing type, duration",
        ),
        ("PUT", "/api/sessions/s-1/agent-mode", {"mode": "SOMETIMES"}, "mode: Input should be"),
        ("PUT", "/api/events/evt-1/agent-settings", {"hourly_cap": 1000}, "hourly_cap"),
        (
            "PUT",
            "/api/events/evt-1/agent-settings",
            {"min_confidence": 0.9, "approve_threshold": 0.5},
            "min_confidence must not be above approve_threshold",
        ),
        ("PUT", "/api/events/evt-1/detector-settings", {"set": {"sensitivity": 50}}, "sensitivity"),
        ("PUT", "/api/events/evt-1/detector-settings", {"set": {"colour": 1}}, "colour"),
        ("POST", "/api/interventions/{id}/dismiss", {"reason": 5}, "reason: Input should be"),
        ("POST", "/api/interventions/{id}/dismiss", ["not", "an", "object"], "a JSON object"),
    ],
)
def test_a_bad_body_is_a_400_naming_the_field(
    client: FlaskClient,
    runtime: Runtime,
    method: str,
    path: str,
    body: Any,
    message: str,
) -> None:
    path = path.format(id=_suggest(runtime))
    response = client.open(path, method=method, headers=producer(), json=body)
    assert response.status_code == 400, response.get_json()
    assert message in checked(method, path, response)["error"]


# -- launching, modes, settings ----------------------------------------------------------------


def test_a_launch_with_the_producers_own_words_reaches_the_platform(
    client: FlaskClient, runtime: Runtime, platform: Platform
) -> None:
    path = "/api/sessions/s-1/interventions"
    words = {"message": "Which part of the planner should we open up next?"}
    response = client.post(path, headers=producer(), json={"type": "CHAT_PROMPT", "content": words})
    assert response.status_code == 201
    body = checked("POST", path, response)
    assert body["status"] == "executed" and body["written_by"] == "Ops console"
    sent = wait_until(platform.drain, what="the broadcast")
    assert sent[0]["message"] == words["message"]
    templated = client.post(path, headers=producer(), json={"type": "NOTIFICATION"})
    # The guards apply as on the page: a second launch within the session's spacing is refused.
    assert templated.status_code == 409
    assert checked("POST", path, templated)["error"].startswith("not sent: ")


def test_the_sessions_mode_is_set_and_given_back_to_the_event(
    client: FlaskClient, runtime: Runtime
) -> None:
    path = "/api/sessions/s-1/agent-mode"
    response = client.put(path, headers=producer(), json={"mode": "AUTO"})
    assert checked("PUT", path, response) == {
        "session_id": "s-1",
        "mode": "AUTO",
        "overridden": True,
    }
    back = client.put(path, headers=producer(), json={"mode": None})
    assert checked("PUT", path, back) == {
        "session_id": "s-1",
        "mode": "MANUAL",
        "overridden": False,
    }


def test_agent_and_detector_settings_are_read_and_changed_like_on_the_page(
    client: FlaskClient, runtime: Runtime
) -> None:
    path = "/api/events/evt-1/agent-settings"
    read = checked("GET", path, client.get(path, headers=auth(Role.ANALYST, "evt-1")))
    assert read["settings"]["hourly_cap"] == 3 and read["warnings"] == []
    changed = client.put(path, headers=producer(), json={"hourly_cap": 9, "allowed_types": []})
    body = checked("PUT", path, changed)
    assert body["settings"]["hourly_cap"] == 9 and body["settings"]["mode"] == "MANUAL"
    assert body["warnings"] and "no intervention type is allowed" in body["warnings"][0]
    assert runtime.desk.settings.for_event("evt-1").hourly_cap == 9

    path = "/api/events/evt-1/detector-settings"
    before = checked("GET", path, client.get(path, headers=producer()))
    assert before["overrides"] == {} and before["settings"]["sensitivity"] == 1
    after = client.put(path, headers=producer(), json={"set": {"sensitivity": 2.5}})
    body = checked("PUT", path, after)
    assert body["overrides"] == {"sensitivity": 2.5} and body["settings"]["sensitivity"] == 2.5
    reset = checked("PUT", path, client.put(path, headers=producer(), json={"reset": True}))
    assert reset["overrides"] == {}


def test_interventions_filter_by_status_and_performance_reads_like_the_panel(
    client: FlaskClient, runtime: Runtime
) -> None:
    intervention = _suggest(runtime)
    path = "/api/sessions/s-1/interventions?status=pending"
    pending = checked("GET", path, client.get(path, headers=producer()))
    assert pending["status"] == "pending"
    assert [item["intervention_id"] for item in pending["items"]] == [intervention]
    path = "/api/sessions/s-1/interventions?status=executed"
    assert checked("GET", path, client.get(path, headers=producer()))["items"] == []
    bad = client.get("/api/sessions/s-1/interventions?status=maybe", headers=producer())
    assert bad.status_code == 400 and "status: Input should be" in bad.get_json()["error"]
    path = "/api/events/evt-1/agent-performance"
    performance = checked("GET", path, client.get(path, headers=auth(Role.ANALYST, "evt-1")))
    assert [row["type"] for row in performance["items"]] == [
        "POLL",
        "CHAT_PROMPT",
        "NOTIFICATION",
        "GAMIFICATION",
    ]
    assert all(row["attempts"] == 0 for row in performance["items"])
    other = client.get("/api/events/evt-2/agent-performance", headers=producer())
    assert other.status_code == 403
    assert json.loads(other.data) == {"error": "your token does not name that event"}


def test_alert_settings_over_the_api_never_show_a_secret(
    client: FlaskClient, runtime: Runtime
) -> None:
    path = "/api/events/evt-1/alerts"
    hook = {"url": "https://hooks.example/ec", "secret": "s" * 20, "slack": True}
    saved = client.put(
        path,
        headers=producer(),
        json={"emails": ["ops@example.com"], "webhooks": [hook], "kinds": ["anomaly_critical"]},
    )
    body = checked("PUT", path, saved)
    assert body["webhooks"] == [{"url": hook["url"], "slack": True, "secret_set": True}]
    assert body["emails"] == ["ops@example.com"] and body["dead_letters"] == []
    assert "s" * 20 not in saved.get_data(as_text=True)
    # The webhook again without its secret keeps it; a bad address is a 400 naming the field.
    kept = client.put(path, headers=producer(), json={"webhooks": [{"url": hook["url"]}]})
    assert checked("PUT", path, kept)["webhooks"][0]["slack"] is False
    assert runtime.stores.alerts.for_event("evt-1").secret_for(hook["url"]) == "s" * 20
    bad = client.put(path, headers=producer(), json={"emails": ["nobody"]})
    assert bad.status_code == 400
    assert checked("PUT", path, bad)["error"] == "emails: 'nobody' is not an e-mail address"
    read = client.get(path, headers=producer())
    assert checked("GET", path, read)["kinds"] == ["anomaly_critical"]
