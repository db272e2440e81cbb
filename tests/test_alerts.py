"""The critical alerts' rules: shown once for a while, dismissible for good, only on app pages."""

from __future__ import annotations

from app.factory import web_deps
from app.runtime import Runtime
from callbacks.alerts import alerted_memory, dismiss, on_app_page, poll_alerts
from callbacks.boundary import LiveConfig
from services.access.principal import Principal
from services.access.tokens import Role
from tests.browser.support import open_episode, recent

PRODUCER = Principal(Role.PRODUCER, None, "producer")


def _shown(items: list) -> list[str]:
    if not items:
        return []
    [box] = items
    return [child.to_plotly_json()["props"]["data-episode"] for child in box.children[1:]]


def test_a_dismissed_alert_stays_away_and_others_still_show(web_runtime: Runtime) -> None:
    for sid, episode in (("s-1", "ep-1"), ("s-2", "ep-2")):
        recent(web_runtime, sid, 0.3)
        open_episode(web_runtime, sid, episode, "CRITICAL")
    deps = web_deps(web_runtime)
    shown, memory = poll_alerts(deps, PRODUCER, None, {})
    assert sorted(_shown(shown)) == ["ep-1", "ep-2"]
    assert "2 critical alerts in other sessions" in str(shown[0].children[0].children)
    memory = dismiss(memory, "ep-1", deps.clock().timestamp())
    shown, memory = poll_alerts(deps, PRODUCER, None, alerted_memory(memory))
    assert _shown(shown) == ["ep-2"]
    assert memory["ep-1"] < 0  # remembered as dismissed, through the browser's store
    again, _ = poll_alerts(deps, PRODUCER, LiveConfig("s-2"), alerted_memory(memory))
    assert again == []  # looking at s-2: its own alert is not news, ep-1 was dismissed


def test_alerts_belong_on_the_producers_pages_only(web_runtime: Runtime) -> None:
    recent(web_runtime, "s-1", 0.3)
    open_episode(web_runtime, "s-1", "ep-1", "CRITICAL")
    deps = web_deps(web_runtime)
    assert _shown(poll_alerts(deps, PRODUCER, None, {}, "/sessions")[0]) == ["ep-1"]
    assert poll_alerts(deps, PRODUCER, None, {}, "/no-such-page")[0] == []
    assert [on_app_page(p) for p in ("/", "/live/x", "/sessions", "/livex", "/embed/x")] == [
        True,
        True,
        True,
        False,
        False,
    ]
