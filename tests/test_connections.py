"""What idle, slow and half-open clients can hold, with real sockets: the connection protocol of
docs_mcp/http/connections.py in a real uvicorn server (an app that can be made to block, so a
connection can be busy on purpose), and a real `docs-mcp serve` under a small open-file limit
answering real searches while more half-open connections are held than it has descriptors.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
import uvicorn
from mcp import Client

from docs_mcp.http.connections import ConnectionLimits, bounded, connection_cap, raise_open_file_limit
from docs_mcp.logs import RepeatLimiter
from tests.conftest import wait_for
from tests.test_transports import (
    pick_free_port,
    server_env,
    start_http_server,
    stop_process,
    tail,
    wait_for_health,
)

LIMITS = ConnectionLimits(max_connections=3, header_timeout=1.0, body_timeout=1.0, keep_alive=1.0)


class Blocking:
    """An ASGI app that answers 200 at once, or on /block only once `release` is set."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.in_app = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        while (await receive()).get("more_body"):
            pass
        if scope["path"] == "/block":
            self.in_app += 1
            while not self.release.is_set():
                await asyncio.sleep(0.01)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})


@contextmanager
def bounded_server(limits: ConnectionLimits) -> Iterator[tuple[int, Blocking, uvicorn.Server]]:
    app = Blocking()
    config = uvicorn.Config(app, http=bounded(limits), ws="none", lifespan="off", log_config=None)
    config.timeout_keep_alive = limits.keep_alive  # type: ignore[assignment]
    server = uvicorn.Server(config)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 10, "the test server to start")
    try:
        yield sock.getsockname()[1], app, server
    finally:
        app.release.set()
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def connect(port: int, data: bytes = b"") -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", port), timeout=5)
    if data:
        connection.sendall(data)
    return connection


def request(path: str = "/", body: bytes = b"") -> bytes:
    return b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n%s" % (
        path.encode(),
        len(body),
        body,
    )


def response(connection: socket.socket) -> bytes:
    """One whole response of the test app (its body is `ok`)."""
    connection.settimeout(5)
    received = b""
    while not (received.endswith(b"\r\n\r\nok") or received.startswith(b"HTTP/1.1 5")):
        chunk = connection.recv(4096)
        if not chunk:
            break
        received += chunk
    return received


def closed_within(connection: socket.socket, seconds: float) -> bytes | None:
    """Everything the server sent before closing, if it closed within `seconds`; else None."""
    connection.settimeout(seconds)
    received = b""
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            chunk = connection.recv(4096)
            if not chunk:
                return received
            received += chunk
    except TimeoutError:
        return None
    except ConnectionResetError:
        return received
    return None


def test_past_the_cap_the_connection_idle_the_longest_makes_room_for_a_new_one() -> None:
    with bounded_server(LIMITS) as (port, _, server):
        idle = [connect(port) for _ in range(3)]
        wait_for(lambda: len(server.server_state.connections) == 3, 5, "3 connections")
        fresh = connect(port, request())
        assert response(fresh).startswith(b"HTTP/1.1 200")
        assert closed_within(idle[0], 3) == b"", "the oldest idle connection was not closed"
        for connection in (*idle, fresh):
            connection.close()


def test_a_new_connection_gets_its_answer_while_the_cap_is_held_by_idle_ones() -> None:
    with bounded_server(LIMITS) as (port, _, server):
        idle = [connect(port, b"POST /mcp HTTP/1.1\r\nHost: x\r\n") for _ in range(3)]
        wait_for(lambda: len(server.server_state.connections) == 3, 5, "3 connections")
        fresh = connect(port, request())
        assert response(fresh).startswith(b"HTTP/1.1 200"), "a real client was not served"
        for connection in (*idle, fresh):
            connection.close()


def test_when_every_connection_is_busy_a_new_one_gets_503_with_retry_after() -> None:
    with bounded_server(LIMITS) as (port, app, _):
        busy = [connect(port, request("/block")) for _ in range(3)]
        wait_for(lambda: app.in_app == 3, 5, "3 requests in the app")
        refused = closed_within(connect(port), 5)
        assert refused is not None and refused.startswith(b"HTTP/1.1 503"), refused
        assert b"Retry-After: 1" in refused and b"server_busy" in refused
        app.release.set()
        for connection in busy:
            assert response(connection).startswith(b"HTTP/1.1 200")
            connection.close()


def test_a_request_head_sent_a_byte_at_a_time_is_cut_off_at_its_timeout_with_408() -> None:
    with bounded_server(LIMITS) as (port, _, _):
        slow = connect(port, b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        answer = b""
        with pytest.raises(OSError):  # the server closes while we keep trickling
            while time.monotonic() - started < 5:
                slow.sendall(b"X")  # a header that never ends, one byte every 0.1 s
                time.sleep(0.1)
                slow.setblocking(False)
                try:
                    chunk = slow.recv(4096)
                    answer += chunk
                    if not chunk:
                        raise ConnectionResetError
                except BlockingIOError:
                    pass
                slow.setblocking(True)
        assert time.monotonic() - started < LIMITS.header_timeout + 1.5
        assert answer.startswith(b"HTTP/1.1 408"), answer
        slow.close()


def test_a_body_slower_than_its_timeout_is_cut_off() -> None:
    with bounded_server(LIMITS) as (port, _, _):
        started = time.monotonic()
        slow = connect(port, b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n0123456789")
        assert closed_within(slow, 5) is not None
        assert LIMITS.body_timeout - 0.2 < time.monotonic() - started < LIMITS.body_timeout + 1.5
        slow.close()


def test_an_idle_keep_alive_connection_is_closed_after_keep_alive_seconds() -> None:
    with bounded_server(LIMITS) as (port, _, _):
        kept = connect(port, request())
        assert response(kept).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        assert closed_within(kept, 5) == b""
        assert time.monotonic() - started < LIMITS.keep_alive + 1.5
        kept.close()


def test_a_connection_serves_a_bounded_number_of_requests_and_says_close_on_the_last(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from docs_mcp.http import connections

    monkeypatch.setattr(connections, "MAX_REQUESTS_PER_CONNECTION", 3)
    with bounded_server(LIMITS) as (port, _, _):
        kept = connect(port)
        answers = []
        for _ in range(3):
            kept.sendall(request())
            answers.append(response(kept))
        assert all(answer.startswith(b"HTTP/1.1 200") for answer in answers)
        assert b"connection: close" not in answers[1].lower()
        assert b"connection: close" in answers[2].lower()
        assert closed_within(kept, 2) == b""
        kept.close()


def test_the_cap_leaves_half_the_open_file_limit_to_the_server() -> None:
    assert connection_cap(0, 1024) == 512
    assert connection_cap(0, 1_048_576) == 1024  # the default ceiling
    assert connection_cap(5000, 1024) == 512  # a setting never exceeds the room there is
    assert connection_cap(100, 1024) == 100
    # What asyncio accepts in one go, twice over, still fits beside the cap.
    for open_files in (256, 1024, 20_000):
        limits = ConnectionLimits(connection_cap(0, open_files), 1, 1, 1)
        assert limits.max_connections + 2 * limits.backlog < open_files - 20, open_files
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert raise_open_file_limit() == resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= soft


def test_repeated_log_records_are_limited_and_the_next_one_counts_the_dropped() -> None:
    now = [0.0]
    limiter = RepeatLimiter(burst=3, window=60, clock=lambda: now[0])

    def record(message: str, *args: Any) -> logging.LogRecord:
        return logging.LogRecord("asyncio", logging.ERROR, __file__, 1, message, args, None)

    passed = [limiter.filter(record("socket.accept() out of system resource")) for _ in range(1000)]
    assert passed.count(True) == 3
    assert limiter.filter(record("another message %s", 1))  # other kinds are not held back
    now[0] = 61.0
    late = record("socket.accept() out of system resource")
    assert limiter.filter(late)
    assert late.getMessage().endswith("[997 more like this in 60 s]")


# -- a real server under a small open-file limit --------------------------------------------------

SERVER_OPEN_FILES = 256
HALF_OPEN = 400  # more than the server has file descriptors


@pytest.mark.slow
def test_real_searches_succeed_while_more_half_open_connections_are_held_than_the_server_has_files(
    shared_db: str, model_cache: Path, tmp_path: Path
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < HALF_OPEN + 100:
        pytest.skip(f"this test holds {HALF_OPEN} sockets; the hard open-file limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, HALF_OPEN + 100), hard))
    port = pick_free_port()
    log = tmp_path / "server.log"

    def small_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (SERVER_OPEN_FILES, SERVER_OPEN_FILES))

    env = {**server_env(model_cache, tmp_path), "DOCS_MCP_HEADER_TIMEOUT_SECONDS": "30"}
    process = start_http_server(shared_db, port, env, log, preexec_fn=small_limit)
    held: list[socket.socket] = []
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_for_health(base_url, process, log)
        for _ in range(HALF_OPEN):
            with_head_begun = connect(port, b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            held.append(with_head_begun)

        async def searches() -> list[Any]:
            results = []
            for _ in range(10):  # each from a new client: a new connection
                with anyio.fail_after(30):
                    async with Client(f"{base_url}/mcp", cache=None) as client:
                        results.append(await client.call_tool("search_docs", {"query": "install with pip"}))
            return results

        results = anyio.run(searches)
        assert process.poll() is None, tail(log)
    finally:
        for connection in held:
            connection.close()
        stop_process(process)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert all(not result.is_error for result in results), [r.content for r in results if r.is_error]
    assert all(r.structured_content["hits"][0]["doc_id"] == "guides/installation" for r in results)
    text = log.read_text(errors="replace")
    assert "Too many open files" not in text, tail(log)
    assert len(text.splitlines()) < 100, tail(log)  # the limited warnings, not a flood
