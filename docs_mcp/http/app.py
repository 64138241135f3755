"""The HTTP server: the MCP app behind the guard, on sockets bound before anything is printed.

`listen` binds the port first, so a busy port is one line naming the port and the way out
(exit 1) before the model loads or the serving banner appears; `serve_http` then runs uvicorn
on those very sockets (no second bind, no race) with the connection bounds of connections.py.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from docs_mcp.errors import ConfigError
from docs_mcp.http.connections import ConnectionLimits, bounded, connection_cap, raise_open_file_limit
from docs_mcp.http.guard import AllowList, GuardMiddleware, is_loopback

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from docs_mcp.config import Settings
    from docs_mcp.search import DocsService

log = logging.getLogger(__name__)

MAX_REQUEST_BODY_BYTES = 1024 * 1024  # a tools/call is well under 10 KB; 413 above this
BACKLOG = 128  # connections queued before the server accepts them; serve_http sets its own


def check_exposure(settings: Settings) -> None:
    """Refuse to serve HTTP beyond this machine without a token, unless told to on purpose."""
    if is_loopback(settings.host) or settings.token or settings.allow_unauthenticated:
        return
    raise ConfigError(
        f"refusing to serve on non-loopback address {settings.host!r} without a token: anyone who "
        "can reach it could use the server; set --token / DOCS_MCP_TOKEN, bind to 127.0.0.1, or pass "
        "--allow-unauthenticated if something in front of it authenticates"
    )


# -- the port ------------------------------------------------------------------------------------


def listen(host: str, port: int) -> list[socket.socket]:
    """Listening sockets on every address `host` resolves to, or a ConfigError that names the
    port, what holds it when that can be found out, and a free port to use instead."""
    try:
        addresses = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise ConfigError(
            f"cannot serve on host {host!r}: {error.strerror}; pass --host an address of this machine, "
            "such as 127.0.0.1"
        ) from None
    sockets: list[socket.socket] = []
    failure: OSError | None = None
    for family, kind, proto, _, address in dict.fromkeys(addresses):
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(BACKLOG)
        except OSError as error:
            sock.close()
            if error.errno == errno.EADDRNOTAVAIL and failure is None:
                failure = error  # that address family is off here (as asyncio assumes); try the next
                continue
            for bound in sockets:
                bound.close()
            raise ConfigError(_bind_failure(host, port, error)) from None
        sockets.append(sock)
    if not sockets:
        raise ConfigError(_bind_failure(host, port, failure or OSError(errno.EADDRNOTAVAIL, "")))
    return sockets


def _bind_failure(host: str, port: int, error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        holder = port_holder(host, port)
        free = _free_port_near(host, port)
        instead = f"--port {free}" if free else "--port with another port"
        return (
            f"port {port} on {host} is already in use{f' by {holder}' if holder else ''}; stop that, "
            f"or serve on another port: {instead} (or DOCS_MCP_PORT)"
        )
    if error.errno in (errno.EACCES, errno.EPERM):
        return (
            f"no permission to listen on port {port} (ports below 1024 need privileges); pass --port "
            "with a port above 1023, such as 8000"
        )
    if error.errno == errno.EADDRNOTAVAIL:
        return (
            f"{host} is not an address of this machine; pass --host 127.0.0.1 (this machine only) or "
            "0.0.0.0 (every interface, with a token)"
        )
    return f"cannot listen on {host}:{port}: {error.strerror or error}"


def _free_port_near(host: str, port: int) -> int | None:
    for candidate in range(port + 1, min(port + 50, 65535) + 1):
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
            try:
                sock.bind((host, candidate))
            except OSError:
                continue
            return candidate
    return None


def port_holder(host: str, port: int) -> str | None:
    """Who listens on `port`, as far as this machine tells: a docs-mcp server (it answers
    /health), and the process (Linux /proc, readable for one's own processes)."""
    words = [w for w in (_process_listening_on(port), _docs_mcp_answering(host, port)) if w]
    return "; ".join(words) or None


def _docs_mcp_answering(host: str, port: int) -> str | None:
    import http.client

    target = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host
    connection = http.client.HTTPConnection(target, port, timeout=1)
    try:
        connection.request("GET", "/health", headers={"Host": f"127.0.0.1:{port}"})
        response = connection.getresponse()
        facts = json.loads(response.read(65536) or b"{}")
    except (OSError, ValueError, http.client.HTTPException):
        return None
    finally:
        connection.close()
    if isinstance(facts, dict) and facts.get("status") == "ok" and "index_version" in facts:
        return f"another docs-mcp server (serving index version {facts['index_version']})"
    return None


def _process_listening_on(port: int) -> str | None:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text(encoding="utf-8").splitlines()[1:]:
                fields = line.split()
                if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return None
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            fds = Path(f"/proc/{pid}/fd")
            if any(os.readlink(fds / fd) in inodes for fd in os.listdir(fds)):
                raw = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                command = " ".join(part.decode(errors="replace") for part in raw if part)
                return f"process {pid} ({command[:120]})"
    return None


# -- the app -------------------------------------------------------------------------------------


def build_http_app(service: DocsService, settings: Settings) -> ASGIApp:
    from mcp.server.transport_security import TransportSecuritySettings

    from docs_mcp.server import build_server

    # Stateless: any request can go to any process, and a restart drops no session. Answers are
    # one JSON body, not an event stream: a stateless call sends nothing before its result (no
    # progress, no request back to the client), and the stream's machinery cost 0.6 to 0.8 ms a
    # call (p50, Ray). The SDK's Host/Origin check is off: GuardMiddleware applies the one rule
    # to every route.
    app = build_server(service, shared_cache=settings.token is None).streamable_http_app(
        stateless_http=True,
        json_response=True,
        host=settings.host,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        max_request_body_size=MAX_REQUEST_BODY_BYTES,
    )
    allow = AllowList.build(settings.host, settings.allowed_hosts, settings.allowed_origins)
    return GuardMiddleware(app, allow, settings.token)


def connection_limits(settings: Settings) -> ConnectionLimits:
    return ConnectionLimits(
        max_connections=connection_cap(settings.max_connections, raise_open_file_limit()),
        header_timeout=settings.header_timeout_seconds,
        body_timeout=settings.body_timeout_seconds,
        keep_alive=settings.keep_alive_seconds,
    )


class _QuietClientDisconnects(logging.Filter):
    """A client hanging up mid-upload is not a server error: the SDK logs it with a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        from starlette.requests import ClientDisconnect

        return not (record.exc_info and isinstance(record.exc_info[1], ClientDisconnect))


def serve_http(service: DocsService, settings: Settings, sockets: list[socket.socket]) -> None:
    """Serve until SIGINT/SIGTERM on the sockets `listen` bound."""
    import uvicorn

    logging.getLogger("mcp.server.streamable_http").addFilter(_QuietClientDisconnects())
    limits = connection_limits(settings)
    log.info("connection limits: %s", limits)
    config = uvicorn.Config(
        build_http_app(service, settings),
        host=settings.host,
        port=settings.port,
        http=bounded(limits),
        ws="none",
        lifespan="on",
        log_level="warning",
        log_config=None,  # uvicorn's records reach our handler, repeated lines limited (logs.py)
        backlog=limits.backlog,
        timeout_keep_alive=settings.keep_alive_seconds,  # type: ignore[arg-type]  # a float works
    )
    uvicorn.Server(config).run(sockets=sockets)
