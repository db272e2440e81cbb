"""Requests to the template library and every variant it renders for one: shared by the tests of
the library's texts and of the payload gate, which checks payloads the library made."""

from __future__ import annotations

import json
import random

from services.agent import templates as texts
from services.agent.content import ContentRequest, InterventionContent, TemplateLibrary
from services.core.vocabulary import InterventionType

ANOMALIES = (None, "SUDDEN_DROP", "GRADUAL_DECLINE", "MASS_EXIT", "LOW_ENGAGEMENT")
TYPES = tuple(InterventionType)
TABLES = {
    InterventionType.POLL: texts.POLLS,
    InterventionType.CHAT_PROMPT: texts.CHAT_PROMPTS,
    InterventionType.NOTIFICATION: texts.NOTIFICATIONS,
    InterventionType.GAMIFICATION: texts.CHALLENGES,
}
LIBRARY = TemplateLibrary()
POLL, CHAT = InterventionType.POLL, InterventionType.CHAT_PROMPT
NOTE, GAME = InterventionType.NOTIFICATION, InterventionType.GAMIFICATION


def request(
    kind: InterventionType = InterventionType.POLL,
    anomaly: str | None = "SUDDEN_DROP",
    *,
    title: str | None = "Scaling Postgres",
    users: int = 37,
    chat: float = 4.5,
    engagement: float = 0.27,
) -> ContentRequest:
    return ContentRequest(kind, anomaly, "sess-1", "evt-1", title, users, chat, engagement)


def every_variant(req: ContentRequest) -> dict[str, InterventionContent]:
    """One content per variant the library has for `req`, found by trying seeds."""
    wanted = set(LIBRARY.variant_ids(req.intervention_type, req.anomaly_type))
    found: dict[str, InterventionContent] = {}
    for seed in range(500):
        content = LIBRARY.generate(req, random.Random(seed))
        found.setdefault(content.variant, content)
        if set(found) == wanted:
            return found
    raise AssertionError(f"seeds 0..499 reached only {sorted(found)} of {sorted(wanted)}")


def all_text(content: InterventionContent) -> str:
    return json.dumps(content.payload, ensure_ascii=False) + "\n" + content.preview


def raw_template(variant: str) -> str:
    """The unrendered texts behind a variant id, to see which fields it uses."""
    kind, key, number = variant.split("/")
    template = TABLES[InterventionType(kind.upper())][key][int(number) - 1]
    return repr(template)
