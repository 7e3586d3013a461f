"""Who may reach ``oiradar serve``: the address it binds, the token it asks for, the hosts it answers.

- **Loopback by default.** ``127.0.0.1`` unless ``--host`` or ``[serve] host`` says otherwise. Bound
  beyond loopback (``0.0.0.0``, a LAN address, a host name) it refuses to start without a token.
- **The token** comes from ``OIRADAR_TOKEN``, else ``[serve] token`` (``OIRADAR__SERVE__TOKEN``, or
  the config file, which must then be readable only by its owner: :mod:`oiradar.config` refuses
  it otherwise). At least :data:`MIN_TOKEN` characters. When one is set, every request needs it,
  whatever the address: ``Authorization: Bearer <token>``, or ``?token=<token>`` on a page and on
  the event stream (a browser's ``EventSource`` cannot send a header). The bundled static files
  (Plotly and the page's script and style) need none. Tokens are compared in constant time and
  never logged or printed.
- **Loopback answers loopback names only** (``Host: 127.0.0.1``, ``localhost``, ``[::1]``): a web page
  elsewhere cannot reach the dashboard by pointing a name of its own at 127.0.0.1 (DNS rebinding).
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from oiradar.errors import InputError

TOKEN_ENV = "OIRADAR_TOKEN"
MIN_TOKEN = 16
LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")
LOOPBACK_HOSTS = (
    "127.0.0.1",
    "localhost",
    "::1",
    "[::1]",
)  # Host headers a loopback server answers
MAKE_TOKEN = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8050
    token: str | None = field(default=None, repr=False)  # never shown

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"


def is_loopback(host: str) -> bool:
    """``127.0.0.0/8``, ``::1`` and the names of loopback; any other name is not."""
    text = host.strip().strip("[]").lower()
    if text in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def serve_options(
    host: str, port: int, config_token: str | None, environ: MutableMapping[str, str] | None = None
) -> ServeOptions:
    """The checked options: a port in 1..65535, a token of :data:`MIN_TOKEN` characters or more
    when there is one, and one when ``host`` is beyond loopback."""
    if not 0 <= port <= 65_535:
        raise InputError(f"--port must be 1..65535 (or 0: a free one, printed), got {port}")
    if not host.strip():
        raise InputError("--host is empty; give an address such as 127.0.0.1")
    env = os.environ if environ is None else environ
    token = env.get(TOKEN_ENV) or config_token or None
    if token is not None and len(token.strip()) < MIN_TOKEN:
        raise InputError(f"the token ({TOKEN_ENV} or [serve] token) is shorter than {MIN_TOKEN} "
                         f"characters; make a long one: {MAKE_TOKEN}")  # fmt: skip
    if token is None and not is_loopback(host):
        raise InputError(
            f"--host {host} is beyond loopback: anyone who reaches it would read the dashboard, "
            f"so serve refuses to start without a token. Set one in the environment "
            f"({TOKEN_ENV}=$({MAKE_TOKEN})) or as [serve] token in an oiradar.toml readable only "
            "by you (chmod 600), or bind to 127.0.0.1"
        )
    return ServeOptions(host.strip(), port, token.strip() if token else None)


def token_ok(given: str | None, token: str) -> bool:
    """Constant-time comparison (the time taken says nothing of how much of the token matched)."""
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            text = value.decode("latin-1")
            scheme, _, rest = text.partition(" ")
            return rest.strip() if scheme.lower() == "bearer" else None
    return None


def _query_token(scope: Scope) -> str | None:
    got = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
    return got[-1] if got else None


def query_allowed(path: str) -> bool:
    """Pages and the event stream take ``?token=``; the rest of the JSON API wants the header."""
    return not path.startswith("/api/") or path == "/api/events"


class TokenGate:
    """ASGI middleware: a request without the token gets 401 (before routing, whatever the method).
    ``/static/`` (the bundled files only) is open."""

    def __init__(self, app: Asgi, token: str) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        given = _bearer(scope) or (_query_token(scope) if query_allowed(path) else None)
        if token_ok(given, self.token):
            await self.app(scope, receive, send)
            return
        await _unauthorized(send, path)


async def _unauthorized(send: Send, path: str) -> None:
    where = "?token=<token> in the address" if query_allowed(path) else "the header"
    body = (f"401: this dashboard needs its token: send 'Authorization: Bearer <token>' or "
            f"add {where}\n").encode()  # fmt: skip
    await send({"type": "http.response.start", "status": 401, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"), (b"www-authenticate", b"Bearer"),
        (b"cache-control", b"no-store"), (b"content-length", str(len(body)).encode())]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


def host_name(scope: Scope) -> str:
    """The name of the ``Host`` header without its port (``[::1]:8050`` -> ``::1``)."""
    for name, value in scope.get("headers", ()):
        if name == b"host":
            text = value.decode("latin-1").strip().lower()
            if text.startswith("["):
                return text[1:].partition("]")[0]
            return text.partition(":")[0]
    return ""


class LoopbackHosts:
    """ASGI middleware of a loopback server: a request naming another host gets 400 (module doc)."""

    def __init__(self, app: Asgi, allowed: tuple[str, ...] = LOOPBACK_HOSTS) -> None:
        self.app, self.allowed = app, {h.strip("[]").lower() for h in allowed}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or host_name(scope) in self.allowed:
            await self.app(scope, receive, send)
            return
        body = b"400: this dashboard answers only to 127.0.0.1, localhost and [::1]\n"
        await send({"type": "http.response.start", "status": 400, "headers": [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode())]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})


SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",  # a ?token= in the address never leaks in a Referer
    "x-frame-options": "DENY",
    "cache-control": "no-store",
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
}


class SecurityHeaders:
    """ASGI middleware: :data:`SECURITY_HEADERS` on every response (static files may be cached)."""

    def __init__(self, app: Asgi) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()
                         if k.encode() not in have and not (static and k == "cache-control")]  # fmt: skip
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


__all__ = [
    "LOOPBACK_HOSTS",
    "MIN_TOKEN",
    "TOKEN_ENV",
    "LoopbackHosts",
    "SecurityHeaders",
    "ServeOptions",
    "TokenGate",
    "is_loopback",
    "serve_options",
    "token_ok",
]
