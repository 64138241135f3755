"""What one HTTP connection may hold, so idle, slow or half-open clients cannot starve real ones.

uvicorn's h11 protocol, with bounds it does not have:

- A connection cap well below the open-file limit, and a listen backlog small enough that a
  burst accepted in one go cannot reach the limit before the cap applies. Past the cap, the
  connection idle the longest (no request in progress: a new connection still sending its
  request head, a keep-alive connection between requests, or one trickling a body) is closed to
  make room; when every connection is busy with a request, the new one gets 503 with
  `Retry-After` and is closed.
  The server never runs out of file descriptors, so its own index reads never fail for want of one.
- A deadline for a request head (request line and headers) and another for its body, counted
  from their start, not reset by each byte: a client sending one byte every few seconds is cut
  off like a silent one. A head that times out gets 408.
- Keep-alive: an idle connection is closed after `keep_alive_seconds`, and after
  `MAX_REQUESTS_PER_CONNECTION` requests.

Without these, 1,100 half-open connections against a 1,024-file limit left 0 of 10 real
searches answered (scripts/loadtest.py, phase `idle`, measures it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import resource
from dataclasses import dataclass
from typing import ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

MAX_REQUESTS_PER_CONNECTION = 1000
# File descriptors kept for the server's own work (index files, the model, logs) besides
# connections: half of the limit, and at most this many connections by default.
DEFAULT_MAX_CONNECTIONS = 1024


@dataclass(frozen=True)
class ConnectionLimits:
    max_connections: int
    header_timeout: float
    body_timeout: float
    keep_alive: float

    @property
    def backlog(self) -> int:
        """The listen backlog, which is also how many connections asyncio accepts in one go,
        before any of them reaches `connection_made` and the cap: two such batches past the cap
        must still fit under the open-file limit (the cap is half of it)."""
        return max(8, min(128, self.max_connections // 4))


def raise_open_file_limit() -> int:
    """Raise this process's soft open-file limit to its hard limit (as Go's runtime does at
    start) and return the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if wanted > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
    return soft


def connection_cap(configured: int, open_file_limit: int) -> int:
    """`configured` connections, or by default half the open-file limit (at most
    DEFAULT_MAX_CONNECTIONS); never more than the limit allows with room for the server."""
    room = max(1, open_file_limit // 2)
    return min(configured, room) if configured > 0 else min(DEFAULT_MAX_CONNECTIONS, room)


def _raw_response(status: int, reason: str, error: str, description: str, *extra: str) -> bytes:
    body = json.dumps({"error": error, "error_description": description}).encode()
    head = [f"HTTP/1.1 {status} {reason}", "Content-Type: application/json", "Connection: close"]
    head += [*extra, f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class BoundedH11Protocol(H11Protocol):
    """One connection: uvicorn's h11 protocol with the bounds of `limits` (set by `bounded`)."""

    limits: ClassVar[ConnectionLimits]

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._last_activity = self.loop.time()
        self._requests = 0
        self._deadline: asyncio.TimerHandle | None = None
        self._phase = ""
        if len(self.connections) > self.limits.max_connections and not self._make_room():
            log.warning(
                "refusing a connection with 503: all %d connections are busy (max_connections)",
                self.limits.max_connections,
            )
            transport.write(
                _raw_response(
                    503,
                    "Service Unavailable",
                    "server_busy",
                    f"docs-mcp is serving its limit of {self.limits.max_connections} connections, all busy "
                    "with requests; retry in a moment",
                    "Retry-After: 1",
                )
            )
            transport.close()
            return
        self._enter_phase()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._last_activity = self.loop.time()
        super().data_received(data)
        self._enter_phase()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._enter_phase()

    # -- state ---------------------------------------------------------------------------------

    @property
    def idle(self) -> bool:
        """No request in progress: waiting for (or still receiving) a head, or a body."""
        return self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and not self.transport.is_closing()

    def _make_room(self) -> bool:
        """Close the connection idle the longest (not this one); False when none is idle."""
        idle = [
            other
            for other in self.connections
            if other is not self and isinstance(other, BoundedH11Protocol) and other.idle
        ]
        if not idle:
            return False
        oldest = min(idle, key=lambda other: other._last_activity)
        log.info("closing the longest-idle connection to make room (max_connections)")
        oldest._close()
        return True

    def _enter_phase(self) -> None:
        """Arm the deadline of what the connection is waiting for: a head, a body, or nothing
        while the app works on a request (a long ask_docs is not a slow client)."""
        if self.transport.is_closing():
            self._cancel_deadline()
            return
        state = self.conn.their_state
        phase = "head" if state is h11.IDLE else "body" if state is h11.SEND_BODY else "app"
        if phase == self._phase:
            return  # deadlines count from the phase's start, not from the last byte
        if self._phase == "head" and self.cycle is not None:  # a request has begun
            self._requests += 1
            if self._requests >= MAX_REQUESTS_PER_CONNECTION:
                # This connection's last request: its response says `Connection: close`, so the
                # client opens a new one instead of racing the close with its next request.
                self.headers.append((b"connection", b"close"))  # the cycle's request headers
        self._phase = phase
        self._cancel_deadline()
        if phase == "head":
            self._deadline = self.loop.call_later(self.limits.header_timeout, self._head_timed_out)
        elif phase == "body":
            self._deadline = self.loop.call_later(self.limits.body_timeout, self._close)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _head_timed_out(self) -> None:
        if not self.transport.is_closing():
            self.transport.write(
                _raw_response(
                    408,
                    "Request Timeout",
                    "request_timeout",
                    f"no complete request head within {self.limits.header_timeout:g} s",
                )
            )
        self._close()

    def _close(self) -> None:
        self._cancel_deadline()
        if not self.transport.is_closing():
            self.transport.close()


def bounded(limits: ConnectionLimits) -> type[BoundedH11Protocol]:
    """The protocol class uvicorn instantiates per connection, bound to `limits`."""
    return type("BoundedH11Protocol", (BoundedH11Protocol,), {"limits": limits})
