"""agent.interventions messages as the desk sends them, identical simulated rooms, and offline
runs that deliver messages at set times: shared by the tests of the simulated audiences'
response, of the simulated platform's deliveries and of its run loop."""

from __future__ import annotations

from typing import Any

from services.core.platform import PLATFORM_MESSAGE_TYPE
from services.core.vocabulary import INTERVENTION_TYPES, InterventionType
from services.simulation.simulator import Episode, SimEvent, SimSession, Simulator

T0 = 1_700_000_000.0
P, C, N, G = INTERVENTION_TYPES  # POLL, CHAT_PROMPT, NOTIFICATION, GAMIFICATION


def order(
    arm: InterventionType, session_id: str, tag: str = "1", /, **extra: Any
) -> dict[str, Any]:
    """An agent.interventions message as the desk sends it (design §3)."""
    message: dict[str, Any] = {
        "type": PLATFORM_MESSAGE_TYPE[arm],
        "intervention_id": f"iv-{session_id}-{tag}",
        "session_id": session_id,
        "event_id": "evt",
        "timestamp": "2023-11-14T22:13:20Z",
    }
    if arm is P:
        poll = {"question": "What next?", "options": ["Demo", "Q&A"], "type": "MULTIPLE_CHOICE"}
        message["poll"] = poll | {"duration": 60}
    elif arm is C:
        message["message"] = "What would you build with this? Tell us in the chat!"
    elif arm is N:
        content = {"title": "Audio fixed", "body": "Come back!", "priority": "high"}
        message |= {"notification_type": "ORGANIZER_ALERT", "target": "ORGANIZERS"}
        message |= {"escalate": False, "content": content | {"suggested_action": "Rejoin"}}
    else:
        challenge = {"action": "START_CHALLENGE", "template": "CHAT_BLITZ", "name": "Chat blitz"}
        rules = {"description": "Most messages in 3 minutes", "duration_minutes": 3, "rewards": {}}
        message["content"] = challenge | rules
    return message | extra


def rooms(n: int, audience: int, *episodes: Episode, **options: Any) -> list[SimSession]:
    """Identical busy rooms (120 chat messages a minute when full), no scheduled polls."""
    options = {"chat_per_min": 120.0, "poll_every": None} | options
    return [
        SimSession(f"room-{k}", "evt", f"Room {k}", audience=audience, episodes=episodes, **options)
        for k in range(n)
    ]


def run(
    sessions: list[SimSession],
    until: float,
    deliveries: dict[float, list[dict[str, Any]]] | None = None,
    *,
    seed: int = 1,
    step: float = 1.0,
) -> tuple[list[SimEvent], Simulator, list[dict[str, Any]]]:
    """Simulate to `until`, stepping exactly to each delivery time and delivering there."""
    sim = Simulator(sessions, seed=seed, start=T0)
    events: list[SimEvent] = []
    outcomes: list[dict[str, Any]] = []
    stops = sorted({*(deliveries or {}), until})
    t = T0
    for stop in stops:
        while t < stop:
            t = min(t + step, stop)
            events.extend(sim.step(t))
        outcomes += [sim.deliver(message, stop) for message in (deliveries or {}).get(stop, [])]
    return events, sim, outcomes
