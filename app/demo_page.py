"""The demo's example of a platform page framing the embedded panels (docs/embedding.md).

It does what the event platform's server does on every load of its page: sign one embed token
per panel (HS256 with AUTH_SECRET, at most 60 s, usable once) and put it in that panel's iframe
URL. The demo serves it from its own server and allows its own origin in EMBED_ALLOWED_ORIGINS,
so these frames show what the platform's would.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, render_template_string

from components.embed_panels import embed_href
from services.access.tokens import EMBED_MAX_TTL_SECONDS, EmbedResource, PanelKind, Role, mint_token
from services.storage.metrics_store import SessionRecord

EXAMPLE_PATH = "/demo/embedding"
# Until the simulated session's first tick, its panels would answer 404.
RETRY_SECONDS = 2

_PANELS = (
    (PanelKind.LIVE, "Live chart"),
    (PanelKind.ANOMALIES, "Anomalies"),
    (PanelKind.INTERVENTIONS, "Interventions"),
    (PanelKind.EVENT, "The event's live sessions"),
)

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Embedding example · Engagement Conductor demo</title>
{% if record is none %}<meta http-equiv="refresh" content="{{ retry }}">{% endif %}
<style>
body { margin: 24px; font-family: system-ui, sans-serif; color: #1d2433; background: #f5f6f8; }
main { max-width: 1320px; margin: 0 auto; }
.panels { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; }
figure { margin: 0; }
figcaption { margin-bottom: 4px; font-weight: 600; }
iframe { width: 100%; height: 320px; border: 1px solid #dde1e8; background: #fff; }
</style>
</head>
<body>
<main>
<h1>Your platform's session page</h1>
<p>This page plays the event platform's part. On every load its server signs one embed token
per panel (valid {{ ttl }} s, usable once) and puts it in the panel's iframe URL; the panels may
be framed here because EMBED_ALLOWED_ORIGINS allows this page's origin. Reload for new tokens.
How to do the same in your own pages: docs/embedding.md.</p>
{% if record is none %}
<p>The simulated session {{ session_id }} has not been scored yet; this page reloads in
{{ retry }} s.</p>
{% else %}
<p>Session <strong>{{ record.title or session_id }}</strong> ({{ session_id }}) of event
{{ event_id }}.</p>
<div class="panels">
{% for title, src in frames %}
<figure><figcaption>{{ title }}</figcaption><iframe src="{{ src }}" title="{{ title }}"></iframe>
</figure>
{% endfor %}
</div>
{% endif %}
</main>
</body>
</html>
"""


def example_page(
    secret: str,
    session_id: str,
    event_id: str,
    find_session: Callable[[str], SessionRecord | None],
) -> Blueprint:
    """The page at EXAMPLE_PATH, framing the panels of `session_id` and of its event."""
    page = Blueprint("demo_page", __name__)

    @page.get(EXAMPLE_PATH)
    def embedding_example() -> Response:
        record = find_session(session_id)
        frames = []
        if record is not None:
            for kind, title in _PANELS:
                resource = EmbedResource(kind, event_id if kind is PanelKind.EVENT else session_id)
                token = mint_token(secret, Role.EMBED, [event_id], EMBED_MAX_TTL_SECONDS, resource)
                frames.append((title, f"{embed_href(resource)}?token={token}"))
        html = render_template_string(
            _PAGE,
            record=record,
            session_id=session_id,
            event_id=event_id,
            frames=frames,
            ttl=EMBED_MAX_TTL_SECONDS,
            retry=RETRY_SECONDS,
        )
        response = Response(html, mimetype="text/html")
        # Its tokens open their panels once: a page shown again from the cache would not.
        response.headers["Cache-Control"] = "no-store"
        return response

    return page
