"""Real git servers on 127.0.0.1 for the git-source tests, and the repositories they serve.

- `git daemon` over a folder of bare repositories (git://);
- smart HTTP over TLS: `git http-backend` run as a CGI program behind a small threaded
  HTTPS server, with HTTP Basic authentication on repositories under `private/`;
- a TCP server that accepts connections and never answers (for time bounds).

`make_frob` builds the repository most tests use: docs under `docs/` that differ
between the tags v1.0, v1.1 and v2.0, and a large file outside `docs/` that a
`--path docs` fetch never needs.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

AUTHOR = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
}

V1_GUIDE = """# Sailing guide

Frob 1.0 steers the boat with the legacy tiller protocol: run `frob steer --tiller`
to hand the helm to the autopilot, and `frob anchor` to drop the anchor.

## Weather

The barometer plugin warns about storms an hour ahead.
"""
V11_GUIDE = V1_GUIDE.replace("an hour ahead", "two hours ahead")
V2_GUIDE = """# Sailing guide

Frob 2.0 steers the boat with the gyroscopic rudder engine: run `frob steer --gyro`
and the rudder holds its course in any swell.

## Weather

The barometer plugin warns about storms three hours ahead.
"""
V2_ONLY = """# Submarine mode

Frob 2.0 can dive: `frob dive --depth 30` floods the ballast tanks and the periscope
rises on the quantum hydrophone mast.
"""
INDEX = """# Frob

Frob is a sailing assistant. Read the sailing guide to steer, anchor and watch the weather.
"""


def git(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run git for a test fixture (plain git, none of docs-mcp's restrictions)."""
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **AUTHOR, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr}")
    return result.stdout


class Repository:
    """A working repository and the bare repository it pushes to (what the servers serve)."""

    def __init__(self, served_root: Path, name: str, work_root: Path) -> None:
        self.bare = served_root / f"{name}.git"
        self.work = work_root / name
        self.work.mkdir(parents=True)
        git("init", "--quiet", "--initial-branch=main", str(self.work), cwd=work_root)
        git("init", "--quiet", "--bare", "--initial-branch=main", str(self.bare), cwd=work_root)
        git("config", "uploadpack.allowFilter", "true", cwd=self.bare)
        git("config", "uploadpack.allowAnySHA1InWant", "true", cwd=self.bare)
        git("config", "http.receivepack", "false", cwd=self.bare)
        git("remote", "add", "origin", str(self.bare), cwd=self.work)

    def write(self, files: dict[str, str | bytes | None]) -> None:
        """Write (str/bytes) or delete (None) files in the working repository."""
        for relative, content in files.items():
            target = self.work / relative
            if content is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")

    def commit(self, message: str, files: dict[str, str | bytes | None] | None = None) -> str:
        self.write(files or {})
        git("add", "--all", cwd=self.work)
        git("commit", "--quiet", "--allow-empty", "-m", message, cwd=self.work)
        return git("rev-parse", "HEAD", cwd=self.work).strip()

    def tag(self, name: str, annotated: bool = True) -> None:
        git("tag", *(["-a", "-m", name] if annotated else []), name, cwd=self.work)

    def push(self, *refs: str, force: bool = False) -> None:
        git(
            "push", "--quiet", *(["--force"] if force else []), "origin", *(refs or ("--all",)), cwd=self.work
        )
        if not refs:
            git("push", "--quiet", "--force", "origin", "--tags", cwd=self.work)

    def delete_remote_tag(self, name: str) -> None:
        git("push", "--quiet", "origin", f":refs/tags/{name}", cwd=self.work)


def make_frob(served_root: Path, work_root: Path, name: str = "frob") -> Repository:
    """Tags v1.0, v1.1 and v2.0 whose docs differ; main at v2.0."""
    repo = Repository(served_root, name, work_root)
    repo.commit(
        "Frob 1.0",
        {
            "README.md": "# Frob\n\nThe repository's README, outside docs/.\n",
            "docs/index.md": INDEX,
            "docs/guide.md": V1_GUIDE,
            "src/frob.py": "print('frob')\n",
            "assets/big.bin": os.urandom(256 * 1024),
        },
    )
    repo.tag("v1.0")
    repo.commit("Frob 1.1", {"docs/guide.md": V11_GUIDE})
    repo.tag("v1.1", annotated=False)
    repo.commit("Frob 2.0", {"docs/guide.md": V2_GUIDE, "docs/submarine.md": V2_ONLY})
    repo.tag("v2.0")
    repo.push()
    return repo


def _wait_for_port(port: int, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {seconds} s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class GitDaemon:
    """`git daemon` serving every repository under `root` on git://127.0.0.1:PORT/."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, name: str) -> str:
        return f"git+git://127.0.0.1:{self.port}/{name}.git"

    def __enter__(self) -> GitDaemon:
        self.process = subprocess.Popen(
            [
                "git",
                "daemon",
                f"--base-path={self.root}",
                "--export-all",
                "--reuseaddr",
                "--informative-errors",
                "--listen=127.0.0.1",
                f"--port={self.port}",
                str(self.root),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # `git daemon` runs git-daemon as a child: stop the whole group
        )
        _wait_for_port(self.port)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


def make_certificate(folder: Path) -> tuple[Path, Path] | None:
    """A self-signed certificate for 127.0.0.1 (cert, key), or None without openssl."""
    if shutil.which("openssl") is None:
        return None
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key


def _http_backend() -> str:
    exec_path = subprocess.run(["git", "--exec-path"], capture_output=True, text=True, check=True).stdout
    return str(Path(exec_path.strip()) / "git-http-backend")


class SmartHttpServer:
    """Git's smart HTTP protocol over TLS: `git http-backend` behind a threaded HTTPS server.

    Repositories under `private/` need HTTP Basic credentials (`user`/`password`); every request's
    path and Authorization header is recorded."""

    def __init__(self, root: Path, cert: Path, key: Path, user: str, password: str) -> None:
        self.root = root
        self.user = user
        self.password = password
        self.requests: list[tuple[str, str | None]] = []
        backend = _http_backend()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                self._cgi()

            def do_POST(self) -> None:
                self._cgi()

            def _cgi(self) -> None:
                path, _, query = self.path.partition("?")
                authorization = self.headers.get("Authorization")
                server.requests.append((self.path, authorization))
                expected = "Basic " + base64.b64encode(f"{server.user}:{server.password}".encode()).decode()
                remote_user = ""
                if path.startswith("/private/"):
                    if authorization != expected:
                        self.send_response(401)
                        self.send_header("WWW-Authenticate", 'Basic realm="private"')
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    remote_user = server.user
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                env = {
                    "PATH": os.environ.get("PATH", ""),
                    "GIT_PROJECT_ROOT": str(server.root),
                    "GIT_HTTP_EXPORT_ALL": "1",
                    "PATH_INFO": path,
                    "QUERY_STRING": query,
                    "REQUEST_METHOD": self.command,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                    "CONTENT_LENGTH": str(len(body)),
                    "REMOTE_USER": remote_user,
                    "REMOTE_ADDR": "127.0.0.1",
                    "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                    "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                }
                result = subprocess.run([backend], input=body, env=env, capture_output=True, timeout=60)
                head, _, payload = result.stdout.partition(b"\r\n\r\n")
                status = 200
                headers = []
                for line in head.decode("latin-1").split("\r\n"):
                    name, _, value = line.partition(":")
                    if name.lower() == "status":
                        status = int(value.strip().split()[0])
                    elif name:
                        headers.append((name, value.strip()))
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]

    def url(self, name: str, credentials: str = "") -> str:
        return f"git+https://{credentials}127.0.0.1:{self.port}/{name}.git"

    def __enter__(self) -> SmartHttpServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never sends a byte."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections: list[socket.socket] = []
        self._stop = threading.Event()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                connection, _ = self.sock.accept()
            except OSError:
                continue
            self.connections.append(connection)

    def __enter__(self) -> SilentServer:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for connection in self.connections:
            connection.close()
        self.sock.close()


def cache_repositories(cache_dir: Path) -> Iterator[Path]:
    """The cache repositories docs-mcp made under a cache folder."""
    yield from sorted((cache_dir / "git").glob("*/repo"))
