"""Who is signed in, as every part of the web tier sees it: a role, the events it names and, for
embed sign-ins, the panels its cookies open. A plain record, so callbacks and pages take it as an
argument instead of reading it from the request (app/access.py reads it from the cookie)."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.access.tokens import EmbedResource, PanelKind, Role


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    events: frozenset[str] | None  # None: every event (open access)
    subject: str
    # Embed sign-ins: the panels their cookies open (events alone open nothing for them).
    panels: frozenset[EmbedResource] = field(default_factory=frozenset)
    name: str | None = None  # the token's `name` claim
    # When the sign-in ends (epoch seconds); None: it does not (open access).
    expires_at: float | None = None

    @property
    def is_producer(self) -> bool:
        return self.role is Role.PRODUCER

    @property
    def actor(self) -> str:
        """Who this is in the intervention log: the name the platform gave, else the role and
        the sign-in's token id."""
        if self.name:
            return self.name
        if self.events is None:
            return f"{self.role.value} (open access)"
        return f"{self.role.value} {self.subject[:8]}"

    def may_see(self, event_id: str | None) -> bool:
        if self.events is None:
            return True
        return event_id is not None and event_id in self.events

    def holds_pass(self, resource: EmbedResource) -> bool:
        """A redeemed embed token for this panel (its event was checked then)."""
        return resource in self.panels

    def may_embed(self, resource: EmbedResource) -> bool:
        """Whether this principal may view the panel: with its pass, or as a producer
        previewing it (the event is checked where the panel is rendered)."""
        return self.holds_pass(resource) or self.is_producer

    def socket_parts(self, session_id: str) -> frozenset[PanelKind]:
        """Which of its panels' passes cover this session's live socket: each allows only the
        messages its panel shows."""
        return frozenset(
            panel.kind
            for panel in self.panels
            if panel.target == session_id and panel.kind in SOCKET_PANELS
        )


# The panels fed by the live socket.
SOCKET_PANELS = frozenset({PanelKind.LIVE, PanelKind.ANOMALIES, PanelKind.INTERVENTIONS})

OPEN_ACCESS = Principal(Role.PRODUCER, None, "open access (no AUTH_SECRET)")
