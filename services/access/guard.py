"""The one check in front of everything that acts on, or shows, a session the browser names.

A page's config (and any Dash request) comes from the browser, so the session id in it is never
trusted: every producer callback, the live page and the session panels ask `producer_session`,
which answers with the session or with a refusal carrying the text that page shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from services.access.principal import Principal
from services.access.tokens import EmbedResource, PanelKind
from services.core.platform import valid_id
from services.storage.metrics_store import MetricsStore, SessionRecord


class Denial(Enum):
    """Why a session is refused, in the order the guard checks."""

    NOT_PRODUCER = "not a producer (nor holding this panel's pass)"
    INVALID_ID = "not a valid session id"
    UNKNOWN_SESSION = "no such session"
    OTHER_EVENT = "a session of an event the sign-in does not name"


@dataclass(frozen=True, slots=True)
class Refusal:
    denial: Denial
    message: str  # what the page shows


@dataclass(frozen=True, slots=True)
class RefusalTexts:
    """What one page says for each denial."""

    not_producer: str
    invalid_id: str
    unknown_session: str
    other_event: str

    @classmethod
    def one(cls, text: str) -> RefusalTexts:
        """The same text whatever the reason (a page that tells nothing more)."""
        return cls(text, text, text, text)

    def refuse(self, denial: Denial) -> Refusal:
        text = {
            Denial.NOT_PRODUCER: self.not_producer,
            Denial.INVALID_ID: self.invalid_id,
            Denial.UNKNOWN_SESSION: self.unknown_session,
            Denial.OTHER_EVENT: self.other_event,
        }[denial]
        return Refusal(denial, text)


NOT_THIS_SESSION = RefusalTexts.one("Your sign-in does not name this session's event.")


def producer_session(
    metrics: MetricsStore,
    who: Principal,
    session_id: str,
    texts: RefusalTexts = NOT_THIS_SESSION,
    panel: EmbedResource | None = None,
) -> SessionRecord | Refusal:
    """The session if `who` may act on it as a producer of its event or, when the session is
    shown in `panel`, holds that panel's pass (its event was checked when the token was
    redeemed). The role comes first, so a principal that may not act learns nothing of which
    sessions exist."""
    holds_pass = panel is not None and who.holds_pass(panel)
    if not (who.is_producer or holds_pass):
        return texts.refuse(Denial.NOT_PRODUCER)
    if not valid_id(session_id):
        return texts.refuse(Denial.INVALID_ID)
    record = metrics.get_session(session_id)
    if record is None:
        return texts.refuse(Denial.UNKNOWN_SESSION)
    if not (holds_pass or who.may_see(record.event_id)):
        return texts.refuse(Denial.OTHER_EVENT)
    return record


def may_open_event_tile(who: Principal, panel: EmbedResource) -> bool:
    """An event's overview tile: with its pass, or as a producer of that event."""
    if panel.kind is not PanelKind.EVENT:
        return False
    return who.holds_pass(panel) or (who.is_producer and who.may_see(panel.target))
