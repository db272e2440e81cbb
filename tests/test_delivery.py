"""Light delivery (app/delivery.py): compressed when the browser asks, versioned files cached for a
year and nothing else, and the vendored plotly.js bundle loaded instead of Dash's full one."""

from __future__ import annotations

import gzip
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import brotli
import dash
import pytest
from flask.testing import FlaskClient
from plotly.offline import get_plotlyjs_version
from werkzeug.test import TestResponse

from app.delivery import Delivery
from app.factory import ASSETS, create_app
from app.runtime import Runtime
from tests.browser.support import seed_session, stamps_from

IMMUTABLE = "immutable"
VENDORED = f"vendor/plotly-basic-{get_plotlyjs_version()}.min.js"


@pytest.fixture
def app(web_runtime: Runtime) -> dash.Dash:
    return create_app(web_runtime)


@pytest.fixture
def client(app: dash.Dash) -> FlaskClient:
    return app.server.test_client()


def scripts(client: FlaskClient) -> list[str]:
    """The script URLs of the page, as Dash writes them into its index."""
    return re.findall(r'<script src="([^"]+)"', client.get("/").get_data(as_text=True))


def script(client: FlaskClient, part: str) -> str:
    return next(url for url in scripts(client) if part in url)


def cache_directives(response: TestResponse) -> set[str]:
    header = response.headers.get("Cache-Control", "")
    return {item.strip() for item in header.split(",") if item.strip()}


def test_a_fingerprinted_dash_bundle_is_gzipped_and_cached_for_a_year(client: FlaskClient) -> None:
    url = script(client, "/_dash-component-suites/dash/dcc/dash_core_components.")
    plain = client.get(url)
    packed = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert plain.headers.get("Content-Encoding") is None
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == plain.data
    assert len(packed.data) < len(plain.data) / 3
    for response in (plain, packed):
        assert cache_directives(response) == {"public", "max-age=31536000", IMMUTABLE}


def test_a_versioned_asset_is_compressed_as_chrome_asks_and_cached_for_a_year(
    client: FlaskClient,
) -> None:
    url = script(client, "/assets/" + VENDORED)
    assert "?m=" in url
    plain = client.get(url)
    packed = client.get(url, headers={"Accept-Encoding": "br"})
    assert packed.status_code == 200
    assert packed.headers["Content-Encoding"] == "br"
    assert brotli.decompress(packed.data) == plain.data == (ASSETS / VENDORED).read_bytes()
    assert cache_directives(packed) == {"public", "max-age=31536000", IMMUTABLE}
    # Without its version the same file may change under the same URL.
    unversioned = client.get("/assets/" + VENDORED, headers={"Accept-Encoding": "br"})
    assert unversioned.headers["Content-Encoding"] == "br"
    assert IMMUTABLE not in cache_directives(unversioned)


def test_an_unfingerprinted_dash_file_keeps_revalidating(client: FlaskClient) -> None:
    # dcc's lazily loaded chunks are requested by their bare names.
    response = client.get("/_dash-component-suites/dash/dcc/async-graph.js")
    assert response.status_code == 200
    assert response.headers.get("ETag")
    assert IMMUTABLE not in cache_directives(response)


def test_pages_and_data_are_compressed_but_never_cached(
    client: FlaskClient, web_runtime: Runtime
) -> None:
    now = datetime.now(UTC)
    seed_session(web_runtime, "s-1", stamps=stamps_from(now - timedelta(minutes=5), 40))
    accept = {"Accept-Encoding": "gzip, deflate, br, zstd"}
    page = client.get("/live/s-1", headers=accept)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert page.headers["Content-Encoding"] == "zstd"
    layout = client.get("/_dash-layout", headers=accept)
    assert layout.headers["Content-Encoding"] == "zstd"
    export = client.get(
        "/export/sessions/s-1/series.csv?bucket=raw", headers={"Accept-Encoding": "gzip"}
    )
    assert export.mimetype == "text/csv"
    assert export.headers["Content-Encoding"] == "gzip"
    rows = gzip.decompress(export.data).decode().splitlines()
    assert len(rows) == 41
    health = client.get("/health", headers=accept)
    for response in (page, layout, export, health):
        assert not cache_directives(response) & {IMMUTABLE, "public"}, response.request.path


def test_nothing_is_compressed_unless_asked(client: FlaskClient) -> None:
    for url in ("/", script(client, "dash_renderer"), script(client, "/assets/live.js")):
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers.get("Content-Encoding") is None
        identity = client.get(url, headers={"Accept-Encoding": "identity"})
        assert identity.headers.get("Content-Encoding") is None


def test_the_vendored_bundle_is_the_plotly_js_that_dash_would_load(client: FlaskClient) -> None:
    bundle = ASSETS / VENDORED
    head = bundle.read_text()[:200]
    assert f"plotly.js (basic - minified) v{get_plotlyjs_version()}" in head
    readme = (ASSETS / "vendor" / "README.md").read_text()
    assert Path(VENDORED).name in readme and "MIT" in readme
    assert any(VENDORED in url for url in scripts(client))
    assert not any("plotly.min.js" in url for url in scripts(client))


def test_the_benchmarks_before_has_neither(web_runtime: Runtime) -> None:
    app = create_app(web_runtime, Delivery(compress=False, partial_plotly=False))
    client = app.server.test_client()
    assert not any("vendor/" in url for url in scripts(client))
    renderer = client.get(script(client, "dash_renderer"), headers={"Accept-Encoding": "gzip"})
    assert renderer.headers.get("Content-Encoding") is None


def test_a_file_dash_does_not_serve_is_a_quiet_404(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Review (#16): any unknown component-suite path, `..%2F..` probes included, answered 500
    and logged a traceback."""
    for path in (
        "/_dash-component-suites/..%2F..%2Fpyproject.toml",
        "/_dash-component-suites/dash/..%2F..%2Fsetup.py",
        "/_dash-component-suites/no_such_package/x.js",
    ):
        answer = client.get(path)
        assert (answer.status_code, answer.data) == (404, b"Not found"), path
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    # What Dash does serve still comes.
    assert client.get("/_dash-component-suites/dash/dcc/dash_core_components.js").status_code == 200
