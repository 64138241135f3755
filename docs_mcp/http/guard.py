"""Who may talk to the HTTP server, and in what shape: one ASGI layer in front of every route.

- Host and Origin are checked against allow-lists (DNS-rebinding protection), on every bind
  address. Names compare as DNS names do: case-insensitively, with a trailing dot ignored
  (`LOCALHOST`, `localhost.` and `localhost` are one host), and a loopback name or an allowed
  `name:*` matches with any port or none (`http://localhost` is `http://localhost:80`).
- With a token, every route but /health needs `Authorization: Bearer <token>`.
- The MCP endpoint takes POST only: anything else gets 405 with `Allow: POST` at once (the
  server is stateless, so there is no event stream to GET), with a body saying what to do.
- Media types are case-insensitive: `Content-Type: APPLICATION/JSON` reaches the SDK as
  `application/json`, which compares them case-sensitively.

The SDK's own Host/Origin check is switched off (see app.py): this is the one rule, for every
route, so the two can never disagree.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

MCP_PATH = "/mcp"
OPEN_PATHS = ("/health",)
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
DEFAULT_PORTS = {"http": 80, "https": 443}
ANY_PORT = -1  # in an allow-list entry: `name:*`


def is_loopback(host: str) -> bool:
    host = _name(host)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def _name(host: str) -> str:
    """A host name as DNS compares it: lower case, without the one trailing dot of a fully
    qualified name (`localhost.`; `localhost..` stays a different, invalid name), IPv6 without
    brackets."""
    name = host.strip().strip("[]").lower()
    return name[:-1] if name.endswith(".") else name


def split_host(value: str) -> tuple[str, int | None] | None:
    """`name[:port]` (IPv6 in brackets) -> (name, port or None); None when it is not one."""
    value = value.strip()
    if value.startswith("["):
        name, bracket, rest = value[1:].partition("]")
        if not bracket:
            return None
        port = rest[1:] if rest.startswith(":") else None
        if rest and port is None:
            return None
    elif value.count(":") == 1:
        name, _, port = value.partition(":")
    elif ":" in value:  # a bare IPv6 address
        name, port = value, None
    else:
        name, port = value, None
    if not name or any(c.isspace() or c in "/@?#" for c in name):
        return None
    if port is None or port == "":
        return _name(name), None
    if port == "*":
        return _name(name), ANY_PORT
    return (_name(name), int(port)) if port.isdigit() and int(port) <= 65535 else None


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str
    port: int  # ANY_PORT in an allow-list entry `scheme://name:*`

    @classmethod
    def parse(cls, value: str) -> Origin | None:
        value = value.strip()
        any_port = value.endswith(":*")
        try:
            parts = urlsplit(value[:-2] if any_port else value)
            port = parts.port
        except ValueError:
            return None
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
            return None
        return cls(scheme, _name(parts.hostname), ANY_PORT if any_port else port or DEFAULT_PORTS[scheme])

    def allows(self, other: Origin) -> bool:
        return (self.scheme, self.host) == (other.scheme, other.host) and self.port in (ANY_PORT, other.port)


@dataclass(frozen=True)
class AllowList:
    """The Host and Origin values a server accepts."""

    hosts: tuple[tuple[str, int | None], ...]
    origins: tuple[Origin, ...]

    @classmethod
    def build(cls, bind_host: str, hosts: Iterable[str] = (), origins: Iterable[str] = ()) -> AllowList:
        """Loopback names with any port (or none), the bind address when it is a specific one,
        and the `--allow-host` / `--allow-origin` entries (`name`, `name:*`, `name:PORT`)."""
        allowed: list[tuple[str, int | None]] = []
        for name in LOOPBACK_NAMES:
            allowed += [(name, ANY_PORT), (name, None)]
        if bind_host not in ("0.0.0.0", "::", "") and not is_loopback(bind_host):
            allowed += [(_name(bind_host), ANY_PORT), (_name(bind_host), None)]
        for entry in hosts:
            parsed = split_host(entry)
            if parsed is not None:
                allowed.append(parsed)
        loopback = [Origin(s, name, ANY_PORT) for s in DEFAULT_PORTS for name in LOOPBACK_NAMES]
        extra = [origin for origin in (Origin.parse(entry) for entry in origins) if origin is not None]
        return cls(tuple(allowed), tuple(loopback + extra))

    def allows_host(self, header: str) -> bool:
        parsed = split_host(header)
        if parsed is None:
            return False
        name, port = parsed
        return any(name == allowed and wanted in (ANY_PORT, port) for allowed, wanted in self.hosts)

    def allows_origin(self, header: str) -> bool:
        origin = Origin.parse(header)
        return origin is not None and any(allowed.allows(origin) for allowed in self.origins)


def _json(
    status: int, error: str, description: str, *headers: tuple[bytes, bytes]
) -> tuple[int, list, bytes]:
    body = json.dumps({"error": error, "error_description": description}).encode()
    return status, [(b"content-type", b"application/json"), *headers], body


class GuardMiddleware:
    """Host/Origin, method, media type and bearer-token checks on every HTTP request."""

    def __init__(self, app: ASGIApp, allow: AllowList, token: str | None) -> None:
        self.app = app
        self.allow = allow
        self.token = token.encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name.lower(): value.decode("latin-1") for name, value in scope["headers"]}
        rejection = self._check(scope, headers)
        if rejection is not None:
            status, response_headers, body = rejection
            response_headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": status, "headers": response_headers})
            await send({"type": "http.response.body", "body": body})
            return
        if b"content-type" in headers:
            scope = {**scope, "headers": _lower_media_type(scope["headers"])}
        await self.app(scope, receive, send)

    def _check(self, scope: Scope, headers: dict[bytes, str]) -> tuple[int, list, bytes] | None:
        host = headers.get(b"host", "")
        if not self.allow.allows_host(host):
            return _json(421, "misdirected_request", "Invalid Host header: add the name with --allow-host")
        origin = headers.get(b"origin")
        if origin is not None and not self.allow.allows_origin(origin):
            return _json(403, "forbidden", "Invalid Origin header: add the origin with --allow-origin")
        if scope["path"].rstrip("/") == MCP_PATH and scope["method"] != "POST":
            return _json(
                405,
                "method_not_allowed",
                "this MCP endpoint takes JSON-RPC messages by POST (streamable HTTP, stateless: there is "
                "no event stream to GET). A stdio-only client reaches it through mcp-proxy: "
                "mcp-proxy --transport streamablehttp URL",
                (b"allow", b"POST"),
            )
        if self.token is not None and scope["path"] not in OPEN_PATHS:
            scheme, _, given = headers.get(b"authorization", "").partition(" ")
            if not (scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self.token)):
                return _json(
                    401,
                    "unauthorized",
                    "send Authorization: Bearer <token>",
                    (b"www-authenticate", b'Bearer realm="docs-mcp"'),
                )
        return None


def _lower_media_type(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Content-Type with its media type in lower case (parameters as sent): RFC 9110 says
    type and subtype are case-insensitive; the SDK compares them as written."""
    lowered = []
    for name, value in headers:
        if name.lower() == b"content-type":
            media_type, semicolon, parameters = value.partition(b";")
            value = media_type.strip().lower() + semicolon + parameters
        lowered.append((name, value))
    return lowered
