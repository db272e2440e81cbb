"""Access control with AUTH_SECRET set: sign-in by link, the cookie, and each role against each
kind of route (page, Dash request, callback scope, WebSocket) for its own and another event.

Callbacks are called directly, with the principal access control derives from the cookie; one
test goes through Dash's wire format to prove the registered callbacks get that principal."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import dash
import jwt
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from dash.exceptions import PreventUpdate
from flask.testing import FlaskClient

from app.access import current
from app.cli import main
from app.factory import create_app, web_deps
from app.runtime import Runtime
from callbacks.agent import NOT_YOURS, launch, render_agent, set_mode
from callbacks.alerts import alerted_memory, poll_alerts
from callbacks.boundary import LiveConfig
from callbacks.pages.live import NOT_YOUR_EVENT
from callbacks.pages.sessions import comparable_choices
from callbacks.routing import route
from components import ids
from services.access.principal import OPEN_ACCESS, Principal
from services.access.tokens import EmbedResource, Role, mint_token
from services.agent.reward import RewardOutcome
from services.core.settings import Settings
from services.core.vocabulary import AgentContext, InterventionType
from services.storage.schema import sessions
from tests.browser.support import T0, seed_session, stamps_from, two_event_runtime
from tests.http import frame_ancestors_of

SECRET = "a" * 40


def link(role: Role, *events: str) -> str:
    return mint_token(SECRET, role, list(events), 600)


@pytest.fixture
def runtime(make_settings: Callable[..., Settings]) -> Iterator[Runtime]:
    yield from two_event_runtime(make_settings(auth_secret=SECRET))


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    return create_app(runtime).server.test_client()


def sign_in(client: FlaskClient, role: Role, *events: str) -> Principal:
    return sign_in_with(client, link(role, *events))


def sign_in_with(client: FlaskClient, token: str) -> Principal:
    response = client.get(f"/?token={token}")
    assert response.status_code == 303
    return principal_of(client)


def principal_of(client: FlaskClient) -> Principal:
    """The principal access control derives from the client's cookies: what callbacks get."""
    with client:
        assert client.get("/_dash-layout").status_code == 200
        who = current()
    assert who is not None
    return who


def page_of(runtime: Runtime, who: Principal, path: str, search: str = "") -> str:
    """What the routing callback renders for `path`, as text to look for markers in."""
    return str(route(web_deps(runtime), who, path, search)[0])


def call_dash(client: FlaskClient, wanted: str, inputs: list[dict], state: list[dict]) -> Any:
    """POST one callback the way the browser does, found by an input id in /_dash-dependencies."""
    deps = client.get("/_dash-dependencies").get_json()
    callback = next(d for d in deps if any(i["id"] == wanted for i in d["inputs"]))
    spec = callback["output"]
    parts = spec[2:-2].split("...") if spec.startswith("..") else [spec]
    outputs = [dict(zip(("id", "property"), part.rsplit(".", 1), strict=True)) for part in parts]
    return client.post(
        "/_dash-update-component",
        json={
            "output": spec,
            "outputs": outputs if spec.startswith("..") else outputs[0],
            "inputs": inputs,
            "state": state,
            "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"],
        },
    )


def config(session_id: str) -> dict[str, Any]:
    return {"id": ids.LIVE_CONFIG, "property": "data", "value": {"sessionId": session_id}}


def test_without_a_sign_in_only_public_routes_answer(client: FlaskClient) -> None:
    assert client.get("/health/ready").status_code in (200, 503)
    assert client.get("/assets/style.css").status_code == 200
    page = client.get("/live/s-1")
    assert page.status_code == 401 and b"sign-in link" in page.data
    assert client.get("/_dash-layout").status_code == 401
    assert client.get("/_dash-layout").get_json()["error"]
    assert client.post("/_dash-update-component", json={}).status_code == 401
    assert client.get("/ws/live/s-1").status_code == 401


def test_a_sign_in_link_sets_the_cookie_and_drops_the_token(client: FlaskClient) -> None:
    response = client.get(f"/live/s-1?token={link(Role.PRODUCER, 'evt-1')}&view=full")
    assert response.status_code == 303
    assert response.headers["Location"] == "/live/s-1?view=full"
    cookie = response.headers["Set-Cookie"]
    assert "ec_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert link(Role.PRODUCER, "evt-1") not in cookie
    assert client.get("/live/s-1").status_code == 200
    layout = client.get("/_dash-layout")
    assert layout.status_code == 200 and b"Open access" not in layout.data
    assert [href for _, href in _find_links(layout.get_json())] == ["/", "/", "/live", "/sessions"]


@pytest.mark.parametrize(
    "bad",
    [
        "not-a-token",
        mint_token("b" * 40, Role.PRODUCER, ["evt-1"], 600),  # forged: another secret
        jwt.encode(
            {
                "iss": "engagement-conductor",
                "sub": "producer",
                "events": ["evt-1"],
                "jti": "j",
                "iat": int(time.time()) - 120,
                "exp": int(time.time()) - 60,
            },
            SECRET,
            algorithm="HS256",
        ),  # expired
    ],
)
def test_bad_links_are_refused_without_a_cookie(client: FlaskClient, bad: str) -> None:
    response = client.get(f"/?token={bad}")
    assert response.status_code == 401 and b"not valid" in response.data
    assert "Set-Cookie" not in response.headers
    assert client.get("/").status_code == 401


def test_analysts_cannot_open_producers_pages(client: FlaskClient) -> None:
    sign_in(client, Role.ANALYST, "evt-1")
    for path in ("/", "/live/s-1"):
        response = client.get(path)
        assert response.status_code == 403
        assert b"An analyst sign-in cannot open this page" in response.data
    # Analysts use Dash's routes for their own pages; each producer callback checks the role
    # itself (tested below).
    layout = client.get("/_dash-layout")
    assert layout.status_code == 200
    # Review: the navigation led analysts to the pages above.
    assert list(_find_links(layout.get_json())) == [
        ("Engagement Conductor", "/sessions"),
        ("Past sessions", "/sessions"),
    ]


def _find_links(node: Any) -> Iterator[tuple[str, str]]:
    """Every dcc.Link in a layout Dash serialised: its text and target."""
    if isinstance(node, list):
        for item in node:
            yield from _find_links(item)
    elif isinstance(node, dict):
        props = node.get("props", {})
        if node.get("type") == "Link":
            yield props["children"], props["href"]
        yield from _find_links(props.get("children"))


def test_an_embed_token_does_not_sign_in_or_end_a_sign_in(client: FlaskClient) -> None:
    sign_in(client, Role.PRODUCER, "evt-1")
    panel = EmbedResource.parse("live/s-1")
    embed = mint_token(SECRET, Role.EMBED, ["evt-1"], 60, panel)
    response = client.get(f"/?token={embed}")
    assert response.status_code == 403 and b"only its own /embed/ panel" in response.data
    assert "Set-Cookie" not in response.headers
    assert client.get("/live/s-1").status_code == 200  # the producer is still signed in


def test_near_miss_paths_are_not_public(client: FlaskClient) -> None:
    for path in ("/healthz", "/healthanything", "/api-docs"):
        assert client.get(path).status_code == 401, path
    # The API checks its own Bearer tokens: any path under it, `/api` itself included (review:
    # it was Dash's HTML page), is the API's JSON 404 with or without a sign-in cookie.
    for signed_in in (False, True):
        if signed_in:
            sign_in(client, Role.ANALYST, "evt-1")
        for path in ("/api", "/api/", "/api/nothing"):
            missing = client.get(path)
            assert missing.status_code == 404 and missing.get_json()["error"], path


@pytest.mark.parametrize("role", [None, Role.ANALYST, Role.PRODUCER])
def test_the_browsers_favicon_request_gets_the_icon(client: FlaskClient, role: Role | None) -> None:
    # Review: a signed-in analyst's got a 403, a producer's the app's HTML.
    if role is not None:
        sign_in(client, role, "evt-1")
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response.headers["Location"] == "/_favicon.ico"
    icon = client.get(response.headers["Location"])
    assert icon.status_code == 200 and icon.mimetype == "image/x-icon"


def test_dash_requests_reach_the_callbacks_as_the_cookies_principal(
    client: FlaskClient, runtime: Runtime
) -> None:
    """Over the wire: the registered callbacks get the signed-in principal, not the browser's
    word (its config can name any session)."""
    sign_in(client, Role.PRODUCER, "evt-1")

    def routed(path: str) -> Any:
        inputs = [
            {"id": ids.URL, "property": "pathname", "value": path},
            {"id": ids.URL, "property": "search", "value": ""},
        ]
        return call_dash(client, ids.URL, inputs, []).get_json()

    own = routed("/live/s-1")
    assert own["response"][ids.LIVE_CONFIG]["data"]["sessionId"] == "s-1"
    other = routed("/live/s-2")
    assert NOT_YOUR_EVENT in json.dumps(other)
    assert other["response"][ids.LIVE_CONFIG]["data"] is None
    mode = {"id": ids.AGENT_MODE, "property": "value", "value": "AUTO"}
    forged = call_dash(client, ids.AGENT_MODE, [mode], [config("s-2")]).get_json()
    assert NOT_YOURS in json.dumps(forged)
    assert runtime.desk.settings.session_mode("s-2") is None
    allowed = call_dash(client, ids.AGENT_MODE, [mode], [config("s-1")]).get_json()
    assert "AUTO (set for this session)" in json.dumps(allowed)


def test_pages_show_only_the_signed_in_events(client: FlaskClient, runtime: Runtime) -> None:
    who = sign_in(client, Role.PRODUCER, "evt-1")
    deps = web_deps(runtime)
    _, own, _ = route(deps, who, "/live/s-1", "")
    assert own is not None and own["sessionId"] == "s-1"
    other, config, _ = route(deps, who, "/live/s-2", "")
    assert NOT_YOUR_EVENT in str(other) and config is None
    home = page_of(runtime, who, "/")
    assert "s-1" in home and "s-2" not in home and "evt-2" not in home


def test_callbacks_check_the_session_they_are_given(client: FlaskClient, runtime: Runtime) -> None:
    """The page's config comes from the browser: a forged session id must not act."""
    who = sign_in(client, Role.PRODUCER, "evt-1")
    deps = web_deps(runtime)
    note, forged = set_mode(deps, who, "AUTO", LiveConfig("s-2"))
    assert note is dash.no_update and NOT_YOURS in str(forged)
    assert runtime.desk.settings.session_mode("s-2") is None
    note, _ = set_mode(deps, who, "AUTO", LiveConfig("s-1"))
    assert "AUTO (set for this session)" in str(note)
    assert runtime.desk.settings.session_mode("s-1") is not None
    # Nothing rendered for another event's session; for its own, the log and the panels.
    with pytest.raises(PreventUpdate):
        render_agent(deps, who, LiveConfig("s-2"), "all")
    pending, log, performance = render_agent(deps, who, LiveConfig("s-1"), "all")
    assert "No suggestion is waiting" in str(pending)
    assert "No interventions" in str(log) and "Measured across your 1 event(s)" in str(performance)
    assert ids.AGENT_LESSONS not in str(performance)  # nothing learnt, nothing said
    context = AgentContext.of("SUDDEN_DROP", 0.3, 20, -0.3)
    for success in (True, True, False):
        outcome = RewardOutcome(0.3, 0.4, 0.1, 0.5, success)
        runtime.stores.posteriors.learn(context, InterventionType.CHAT_PROMPT, outcome)
    _, _, learnt = render_agent(deps, who, LiveConfig("s-1"), "all")
    assert (
        "In rooms of 10-49 people after a sudden drop, chat prompts worked 2 of 3 times "
        "(engagement +0.10 on average)."
    ) in str(learnt)


@pytest.mark.parametrize(
    ("session_id", "headers", "status"),
    [
        ("s-1", {}, 426),  # signed in, own event: refused only for not being an upgrade
        ("s-2", {}, 403),
        ("s-1", {"Origin": "https://evil.example"}, 403),
        ("nope", {}, 404),
    ],
)
def test_the_socket_checks_sign_in_scope_and_origin_before_upgrading(
    client: FlaskClient, session_id: str, headers: dict[str, str], status: int
) -> None:
    sign_in(client, Role.PRODUCER, "evt-1")
    response = client.get(f"/ws/live/{session_id}", headers=headers)
    assert response.status_code == status, response.get_json()


def test_pages_may_not_be_framed(client: FlaskClient) -> None:
    assert frame_ancestors_of(client.get("/").headers) == "frame-ancestors 'none'"
    sign_in(client, Role.PRODUCER, "evt-1")
    assert frame_ancestors_of(client.get("/live/s-1").headers) == "frame-ancestors 'none'"


def test_serve_refuses_to_run_open_unless_told_to(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTH_SECRET", raising=False)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code != 0 and "needs AUTH_SECRET" in result.output


def test_analysts_get_past_sessions_of_their_events_only(
    client: FlaskClient, runtime: Runtime
) -> None:
    who = sign_in(client, Role.ANALYST, "evt-1")
    assert client.get("/sessions").status_code == 200

    def page(path: str, query: str = "") -> str:
        return page_of(runtime, who, path, query)

    listing = page("/sessions", "?sort=session_id&order=asc")
    assert "s-1" in listing and "s-2" not in listing
    assert "cannot be used" in page("/sessions", "?from=yesterday")
    assert "does not name that event" in page("/sessions", "?event=evt-2")
    assert "session-graph" in page("/sessions/s-1", "?bucket=1m")
    assert "does not name" in page("/sessions/s-2")
    assert "Live pages are for producers" in page("/live/s-1")
    # Producer-only callbacks refuse an analyst even within their event.
    _, refused = set_mode(web_deps(runtime), who, "AUTO", LiveConfig("s-1"))
    assert NOT_YOURS in str(refused)
    assert runtime.desk.settings.session_mode("s-1") is None
    assert client.get("/ws/live/s-1").status_code == 403


def test_exports_match_the_database_and_the_scope(client: FlaskClient, runtime: Runtime) -> None:
    sign_in(client, Role.ANALYST, "evt-1")
    table = client.get("/export/sessions.csv?sort=session_id&order=asc")
    assert table.status_code == 200 and table.mimetype == "text/csv"
    lines = table.data.decode().splitlines()
    assert lines[0].startswith("session_id,event_id,title,status")
    assert [line.split(",")[0] for line in lines[1:]] == ["s-1"]
    as_json = client.get("/export/sessions.json").get_json()
    assert [item["session_id"] for item in as_json["items"]] == ["s-1"]
    series = client.get("/export/sessions/s-1/series.csv?bucket=raw")
    rows = series.data.decode().splitlines()
    stored = [point.score for point in runtime.store.recent_points("s-1", 10)]
    assert [float(r.split(",")[1]) for r in rows[1:]] == stored
    assert client.get("/export/sessions/s-2/series.csv").status_code == 403
    assert client.get("/export/sessions/s-1/series.csv?bucket=2m").status_code == 400
    assert client.get("/export/sessions.xml").status_code == 404


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/export/sessions.csv?page=1&page=2", "page: give it once"),
        ("/export/sessions.json?from=2026-13-01", "month value is outside"),
        ("/export/sessions.csv?events=evt-2", "events: not a parameter of this export"),
        ("/export/sessions/s-1/series.csv?bucket=raw&bucket=1m", "bucket: give it once"),
        ("/export/sessions/s-1/series.csv?from=2026-01-01", "from: not a parameter"),
    ],
)
def test_exports_refuse_what_the_api_refuses(
    client: FlaskClient, runtime: Runtime, path: str, message: str
) -> None:
    """#16: exports took `page=1&page=2` (one of them, silently) and unknown parameters."""
    sign_in(client, Role.ANALYST, "evt-1")
    answer = client.get(path)
    assert answer.status_code == 400
    assert message in answer.get_json()["error"]


def test_an_exports_file_name_keeps_no_slash(client: FlaskClient, runtime: Runtime) -> None:
    """#16: `filename*` kept the slashes of a session id, a path to the browser."""
    seed_session(runtime, "a/b/../c", "evt-1", stamps=stamps_from(T0, 3))
    sign_in(client, Role.ANALYST, "evt-1")
    export = client.get("/export/sessions/a%2Fb%2F..%2Fc/series.csv?bucket=raw")
    assert export.status_code == 200
    disposition = export.headers["Content-Disposition"]
    assert "filename*=UTF-8''a%2Fb%2F..%2Fc-raw.csv" in disposition
    assert "/" not in disposition


def test_a_comparison_only_overlays_sessions_of_the_principals_events(
    client: FlaskClient, runtime: Runtime
) -> None:
    who = sign_in(client, Role.ANALYST, "evt-1")
    answer = page_of(runtime, who, "/sessions/s-1", "?compare=s-2")
    assert "no session" in answer and "among your events" in answer
    assert "at most 4" in page_of(runtime, who, "/sessions/s-1", "?compare=a,b,c,d,e")
    # The picker offers only the principal's sessions, never the one on screen.
    assert comparable_choices(web_deps(runtime), who, "s-1") == []
    everyone = comparable_choices(web_deps(runtime), OPEN_ACCESS, "s-1")
    assert [sid for sid, _ in everyone] == ["s-2"]


def test_review_regressions_of_the_analyst_pages(client: FlaskClient, runtime: Runtime) -> None:
    """Review: a malformed alert store from the browser gave a 500; a quote in a session id
    broke the export's header; a long session's default bucket exceeded the point limit."""
    who = sign_in(client, Role.PRODUCER, "evt-1")
    for forged in ([1, 2], "x", 5, {"ep": True}):
        shown, remembered = poll_alerts(
            web_deps(runtime), who, LiveConfig("s-1"), alerted_memory(forged)
        )
        assert shown == [] and remembered == {}
    quoted = 'q"\u00e9'
    seed_session(runtime, quoted, "evt-1", stamps=stamps_from(T0, 3))
    export = client.get("/export/sessions/q%22%C3%A9/series.csv?bucket=raw")
    disposition = export.headers["Content-Disposition"]
    assert export.status_code == 200 and 'filename="q__-raw.csv"' in disposition
    assert "filename*=UTF-8''q%22%C3%A9-raw.csv" in disposition
    long_start = T0 - timedelta(days=10)
    seed_session(runtime, "s-long", "evt-1", stamps=[long_start, T0])
    with runtime.engine.begin() as conn:
        conn.execute(
            sa.update(sessions)
            .where(sessions.c.session_id == "s-long")
            .values(first_seen=long_start)
        )
    page = page_of(runtime, who, "/sessions/s-long")
    assert "session-graph" in page and "Cannot show that" not in page
    assert client.get("/export/sessions/s-long/series.csv").status_code == 200


def test_the_intervention_log_names_who_launched(client: FlaskClient, runtime: Runtime) -> None:
    def launched_by(token: str) -> str | None:
        who = sign_in_with(client, token)
        launch(web_deps(runtime), who, InterventionType.POLL, LiveConfig("s-1"), 0)
        return runtime.desk.store.for_session("s-1", 1)[0].approved_by

    named = mint_token(SECRET, Role.PRODUCER, ["evt-1"], 600, name="Ada Lovelace")
    assert launched_by(named) == "Ada Lovelace"
    unnamed = link(Role.PRODUCER, "evt-1")
    token_id = jwt.decode(unnamed, SECRET, algorithms=["HS256"], issuer="engagement-conductor")
    assert launched_by(unnamed) == f"producer {token_id['jti'][:8]}"
