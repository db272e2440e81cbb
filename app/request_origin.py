"""Whose page a request comes from: the Origin of state-changing requests and of WebSocket
handshakes must be this server's own, scheme included (a cookie goes with a cross-site POST;
SameSite=Lax and the JSON content type are all that stopped one before)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, jsonify, request

# Safe methods change nothing; the JSON API authenticates with Bearer tokens, not cookies.
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_EXEMPT_PREFIXES = ("/api/",)


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of a URL, lower-cased; None for anything else (`null` too)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def own_origins(host: str, scheme: str, public_url: str | None, secure: bool) -> frozenset[str]:
    """The origins this server's pages have: the one it was asked at; behind a proxy that ends
    TLS, the https one (SECURE_COOKIES says the site is https) and PUBLIC_URL's."""
    found = {f"{scheme}://{host}".lower()}
    if secure:
        found.add(f"https://{host}".lower())
    public = origin_of(public_url) if public_url else None
    if public is not None:
        found.add(public)
    return frozenset(found)


def foreign_origin(public_url: str | None, secure: bool) -> bool:
    """This request names an Origin that is not one of this server's (browsers always send
    one with a WebSocket handshake and a POST; a request without one is no browser's)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    own = own_origins(request.host, request.scheme, public_url, secure)
    return origin_of(origin) not in own


def install_origin_check(server: Flask, public_url: str | None, secure: bool) -> None:
    @server.before_request
    def refuse_foreign_writes() -> tuple[Response, int] | None:
        if request.method not in _UNSAFE or request.path.startswith(_EXEMPT_PREFIXES):
            return None
        if foreign_origin(public_url, secure):
            return jsonify({"error": "this server takes changes from its own pages only"}), 403
        return None
