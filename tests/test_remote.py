"""Remote docs: `docs-mcp index URL` against a real HTTP server on 127.0.0.1.

The site below is a stdlib HTTP server in a thread that serves an llms.txt, a
sitemap and Markdown pages with ETag and Last-Modified, answers conditional
requests with 304, and counts every request by path and status, so the tests
can prove what was downloaded and what was not.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
import tracemalloc
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from mcp import Client
from typer.testing import CliRunner

from docs_mcp.cli import EXIT_SKIPPED_FILES, app
from docs_mcp.config import Settings
from docs_mcp.errors import RemoteError
from docs_mcp.search import DocsService
from docs_mcp.server import build_server
from docs_mcp.sources.website import (
    MAX_MIRROR_PATH_BYTES,
    MAX_SEGMENT_BYTES,
    RETRY_AFTER_CAP_SECONDS,
    RemoteLimits,
    mirror_dir,
    mirror_lock,
    mirror_path,
    parse_listing,
    remote_source,
    retry_delay,
    sync_mirror,
    with_source_url,
)
from docs_mcp.store import IndexStore
from tests.conftest import MODEL

runner = CliRunner()

INSTALL = """# Installing Orbit

Install the orbit-cli package with pip and check the version.

## Install with pip

Run `pip install orbit-cli` in a virtual environment.
"""
TELESCOPE = """---
title: Pointing the telescope
---

# Pointing the telescope

The telescope mount slews to a target with `orbit point RA DEC`; calibrate the
mount against three bright stars first.
"""
WEATHER = """# Weather alerts

Orbit closes the dome when the humidity sensor reports condensation or when
wind gusts pass the configured limit.
"""


@dataclass
class Page:
    body: bytes
    content_type: str
    etag: str
    last_modified: str
    content_length: bool = True
    content_encoding: str = ""


class Site:
    """The state of the fake docs site, shared with the handler threads."""

    def __init__(self) -> None:
        self.pages: dict[str, Page] = {}
        self.fail_first: dict[str, list[int]] = {}  # path -> statuses to answer before the page
        self.slow: set[str] = set()  # paths that answer only when `release` is set
        self.redirects: dict[str, str] = {}
        self.held: set[str] = set()  # paths whose answers are held open a moment, to count overlap
        self.in_flight = 0
        self.most_in_flight = 0
        self.overlap = threading.Condition()
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.requests: Counter[tuple[str, int]] = Counter()
        self.url = ""

    def put(self, path: str, text: str, content_type: str = "text/markdown; charset=utf-8") -> None:
        body = text.encode("utf-8")
        self.pages[path] = Page(
            body, content_type, f'"{hashlib.sha1(body).hexdigest()[:12]}"', formatdate(usegmt=True)
        )

    def put_encoded(self, path: str, body: bytes, content_encoding: str) -> None:
        """A page whose body is sent as given, with this Content-Encoding."""
        self.pages[path] = Page(body, "text/markdown", f'"{hashlib.sha1(body).hexdigest()[:12]}"', "")
        self.pages[path].content_encoding = content_encoding

    def count(self, path: str, status: int) -> int:
        with self.lock:
            return self.requests[(path, status)]

    def reset_counts(self) -> None:
        with self.lock:
            self.requests.clear()


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet test output
            pass

        def _answer(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
            path = self.path.split("?")[0]
            with site.lock:
                site.requests[(path, status)] += 1
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if body:
                self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            with site.lock:
                failing = site.fail_first.get(path)
                status = failing.pop(0) if failing else None
            if status is not None:
                self._answer(status, b"try again", {"Retry-After": "0", "Content-Length": "9"})
                return
            if path in site.slow:
                site.release.wait(timeout=30)  # bounded: the test sets it on teardown
            if path in site.held:
                with site.overlap:
                    site.in_flight += 1
                    site.most_in_flight = max(site.most_in_flight, site.in_flight)
                    site.overlap.notify_all()
                    # Held until more requests overlap than allowed, or briefly: a bounded wait.
                    site.overlap.wait_for(lambda: site.in_flight > 2, timeout=0.3)
                    site.in_flight -= 1
            if path in site.redirects:
                self._answer(302, headers={"Location": site.redirects[path], "Content-Length": "0"})
                return
            page = site.pages.get(path)
            if page is None:
                self._answer(404, b"not found", {"Content-Length": "9"})
                return
            validators = {"ETag": page.etag, "Last-Modified": page.last_modified}
            if not page.etag:
                del validators["ETag"]
            if not page.last_modified:
                del validators["Last-Modified"]
            if (page.etag and self.headers.get("If-None-Match") == page.etag) or (
                "If-None-Match" not in self.headers
                and self.headers.get("If-Modified-Since") == page.last_modified
            ):
                self._answer(304, headers=validators)
                return
            headers = {**validators, "Content-Type": page.content_type}
            if page.content_encoding:
                headers["Content-Encoding"] = page.content_encoding
            if page.content_length:
                headers["Content-Length"] = str(len(page.body))
            self._answer(200, page.body, headers)

    return Handler


@pytest.fixture
def site() -> Iterator[Site]:
    state = Site()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.put("/docs/install.md", INSTALL)
    state.put("/docs/telescope.md", TELESCOPE)
    state.put("/docs/weather.md", WEATHER)
    state.put("/llms.txt", llms_txt(state, ["docs/install.md", "docs/telescope.md", "docs/weather.md"]))
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def llms_txt(site: Site, paths: list[str]) -> str:
    links = "\n".join(f"- [{p}]({site.url}/{p}): a page" for p in paths)
    return f"# Orbit\n\n> Docs for Orbit.\n\n## Docs\n\n{links}\n\n## Elsewhere\n\n- [GitHub](https://github.com/x/y)\n"


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "index")


def index(db: str, *args: str, **env: str):
    return runner.invoke(app, ["index", *args, "--db", db, "--json"], env=env or None)


def as_json(result) -> dict:
    assert result.stdout.strip(), result.output
    return json.loads(result.stdout)


def search_ids(db: str, query: str) -> list[str]:
    result = runner.invoke(app, ["search", query, "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    return [hit["doc_id"] for hit in json.loads(result.stdout)["hits"]]


# -- end to end through the CLI ------------------------------------------------------------------


def test_an_llms_txt_is_mirrored_and_indexed_with_url_paths_as_doc_ids(site, db):
    result = index(db, f"{site.url}/llms.txt")
    assert result.exit_code == 0, result.output
    report = as_json(result)
    assert report["remote"]["listed"] == 3 and report["remote"]["downloaded"] == 3
    assert report["added"] == 3 and report["published"]
    assert [i["url"] for i in report["remote"]["ignored"]] == ["https://github.com/x/y"]
    assert search_ids(db, "slew the telescope mount to a target")[0] == "docs/telescope"

    page = runner.invoke(app, ["get", "docs/telescope", "--db", db, "--json"])
    content = json.loads(page.stdout)["content"]
    assert f'source_url: "{site.url}/docs/telescope.md"' in content and "title: Pointing" in content
    mirror = Path(report["remote"]["mirror"])
    manifest = json.loads((mirror / "manifest.json").read_text(encoding="utf-8"))
    entry = manifest["pages"][f"{site.url}/docs/install.md"]
    assert entry["path"] == "docs/install.md" and entry["etag"] == site.pages["/docs/install.md"].etag
    assert entry["sha256"] == hashlib.sha256(INSTALL.encode()).hexdigest()


def test_a_site_index_is_known_by_its_listing_url_and_other_docs_are_refused_into_it(site, db, corpus):
    listing = f"{site.url}/llms.txt"
    assert index(db, listing).exit_code == 0
    assert as_json(index(db, listing))["published"] is False  # the same site: an ordinary re-run
    refused = runner.invoke(app, ["index", str(corpus), "--db", db])
    assert refused.exit_code == 1 and f"holds the docs of {listing}, not {corpus.resolve()}" in refused.stderr


def test_a_reindex_downloads_only_changed_pages_and_drops_unlisted_ones(site, db):
    assert index(db, f"{site.url}/llms.txt").exit_code == 0
    site.put("/docs/install.md", INSTALL + "\n## Upgrading\n\nRun `pip install -U orbit-cli`.\n")
    site.put("/llms.txt", llms_txt(site, ["docs/install.md", "docs/telescope.md"]))  # weather dropped
    site.reset_counts()

    result = index(db, f"{site.url}/llms.txt")
    assert result.exit_code == 0, result.output
    report = as_json(result)
    assert (site.count("/docs/install.md", 200), site.count("/docs/install.md", 304)) == (1, 0)
    assert (site.count("/docs/telescope.md", 200), site.count("/docs/telescope.md", 304)) == (0, 1)
    assert site.count("/docs/weather.md", 200) + site.count("/docs/weather.md", 304) == 0
    assert (report["remote"]["downloaded"], report["remote"]["unchanged"], report["remote"]["removed"]) == (
        1,
        1,
        1,
    )
    assert (report["changed"], report["removed"], report["unchanged"]) == (1, 1, 1)
    assert not (Path(report["remote"]["mirror"]) / "pages" / "docs" / "weather.md").exists()
    assert "docs/weather" not in search_ids(db, "humidity condensation closes the dome")
    listed = runner.invoke(app, ["list", "--db", db, "--json"]).stdout
    assert "docs/weather" not in listed and "docs/install" in listed


def test_mdx_pages_and_notebooks_from_a_site_are_converted_like_local_ones(site, db):
    mdx = (
        "---\ntitle: Focusing\n---\n\nimport Tabs from '@theme/Tabs';\n\n# Focusing\n\n"
        '<Tabs>\n<TabItem value="auto" label="Autofocus">\n\nRun the autofocus routine '
        "before every imaging session.\n\n</TabItem>\n</Tabs>\n"
    )
    notebook = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "language": "python"}},
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# Plate solving\n\nSolve a frame."]},
            {
                "cell_type": "code",
                "metadata": {},
                "execution_count": 1,
                "outputs": [],
                "source": ["solution = orbit.solve_plate('m31.fits')"],
            },
        ],
    }
    site.put("/docs/focus.mdx", mdx, content_type="text/plain; charset=utf-8")
    site.put("/notebooks/solve.ipynb", json.dumps(notebook), content_type="application/json")
    site.put("/llms.txt", llms_txt(site, ["docs/install.md", "docs/focus.mdx", "notebooks/solve.ipynb"]))

    result = index(db, f"{site.url}/llms.txt")

    assert result.exit_code == 0, result.output
    focus = json.loads(runner.invoke(app, ["get", "docs/focus", "--db", db, "--json"]).stdout)
    assert "Run the autofocus routine" in focus["content"]
    assert "<Tabs>" not in focus["content"] and "import Tabs" not in focus["content"]
    assert f'source_url: "{site.url}/docs/focus.mdx"' in focus["content"]
    solve = json.loads(runner.invoke(app, ["get", "notebooks/solve", "--db", db, "--json"]).stdout)
    assert solve["title"] == "Plate solving"
    assert "```python\nsolution = orbit.solve_plate('m31.fits')\n```" in solve["content"]


def test_a_server_without_etags_is_asked_with_if_modified_since(site, db):
    for page in site.pages.values():
        page.etag = ""
    assert index(db, f"{site.url}/llms.txt").exit_code == 0
    site.reset_counts()
    report = as_json(index(db, f"{site.url}/llms.txt"))
    assert (report["remote"]["unchanged"], report["remote"]["downloaded"]) == (3, 0)
    assert site.count("/docs/weather.md", 304) == 1 and site.count("/docs/weather.md", 200) == 0


def test_a_sitemap_index_is_followed_and_html_pages_fall_back_to_their_markdown(site, db):
    site.put(
        "/sitemap.xml",
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{site.url}/sitemap-docs.xml</loc></sitemap></sitemapindex>",
        "application/xml",
    )
    site.put(
        "/sitemap-docs.xml",
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{site.url}/guide/</loc></url><url><loc>{site.url}/docs/weather.md</loc></url>"
        f"<url><loc>{site.url}/about</loc></url></urlset>",
        "application/xml",
    )
    site.put("/guide/", "<!DOCTYPE html><html><body>Guide</body></html>", "text/html")
    site.put("/guide/index.md", TELESCOPE)
    site.put("/about", "<html><body>About us</body></html>", "text/html")

    result = index(db, f"{site.url}/sitemap.xml")
    assert result.exit_code == EXIT_SKIPPED_FILES, (
        result.output
    )  # /about has no Markdown: reported, the rest indexed
    report = as_json(result)
    assert report["remote"]["listed"] == 3 and report["added"] == 2
    [failed] = report["remote"]["failed"]
    assert failed["url"] == f"{site.url}/about" and "HTML page" in failed["reason"]
    assert search_ids(db, "slew the telescope mount")[0] == "guide/index"
    assert site.count("/about.md", 404) == 1


MAX_4000 = {"DOCS_MCP_REMOTE_MAX_PAGE_BYTES": "4000"}


def test_a_page_over_the_size_limit_is_refused_while_streaming(site, db):
    site.put("/docs/huge.md", "# Huge\n\n" + "stars " * 2000)
    site.pages["/docs/huge.md"].content_length = False  # no Content-Length: the stream is counted
    site.put("/llms.txt", llms_txt(site, ["docs/install.md", "docs/huge.md"]))

    result = index(db, f"{site.url}/llms.txt", **MAX_4000)
    assert result.exit_code == EXIT_SKIPPED_FILES, result.output
    report = as_json(result)
    assert report["remote"]["failed"] == [
        {"url": f"{site.url}/docs/huge.md", "reason": "larger than the limit of 4,000 bytes"}
    ]
    assert report["added"] == 1
    human = runner.invoke(app, ["index", f"{site.url}/llms.txt", "--db", db], env=MAX_4000)
    assert human.exit_code == EXIT_SKIPPED_FILES
    assert f"failed {site.url}/docs/huge.md: larger than the limit of 4,000 bytes" in human.stderr
    assert "2 pages listed, 0 downloaded, 1 unchanged, 0 removed, 1 failed" in human.stdout


def test_a_slow_page_times_out_and_the_others_are_indexed(site, db):
    site.slow.add("/docs/weather.md")
    result = index(
        db, f"{site.url}/llms.txt", DOCS_MCP_REMOTE_TIMEOUT_SECONDS="0.5", DOCS_MCP_REMOTE_RETRIES="0"
    )
    assert result.exit_code == EXIT_SKIPPED_FILES, result.output
    report = as_json(result)
    assert [(f["url"], f["reason"]) for f in report["remote"]["failed"]] == [
        (f"{site.url}/docs/weather.md", "no complete answer within 0.5 s")
    ]
    assert report["added"] == 2


def test_downloads_run_in_parallel_up_to_the_concurrency_limit(site, db):
    paths = [f"docs/page-{n}.md" for n in range(6)]
    for n, path in enumerate(paths):
        site.put(f"/{path}", f"# Page {n}\n\nPage number {n} of the overlap test.\n")
        site.held.add(f"/{path}")
    site.put("/llms.txt", llms_txt(site, paths))
    result = index(db, f"{site.url}/llms.txt", DOCS_MCP_REMOTE_CONCURRENCY="2")
    assert result.exit_code == 0, result.output
    assert site.most_in_flight == 2  # parallel, and never more than the limit


def test_a_listing_longer_than_the_page_limit_is_cut_and_reported(site, db):
    result = index(db, f"{site.url}/llms.txt", DOCS_MCP_REMOTE_MAX_PAGES="2")
    assert result.exit_code == EXIT_SKIPPED_FILES, result.output
    report = as_json(result)
    assert report["remote"]["listed"] == 2 and report["added"] == 2
    assert "lists more than 2 pages; only the first 2 were fetched" in report["remote"]["failed"][0]["reason"]
    assert site.count("/docs/weather.md", 200) == 0


def test_a_503_is_retried_after_retry_after_and_then_succeeds(site, db):
    site.fail_first["/docs/install.md"] = [503, 429]
    site.fail_first["/llms.txt"] = [502]
    result = index(db, f"{site.url}/llms.txt")
    assert result.exit_code == 0, result.output
    assert (site.count("/docs/install.md", 503), site.count("/docs/install.md", 429)) == (1, 1)
    assert site.count("/docs/install.md", 200) == 1 and site.count("/llms.txt", 200) == 1
    assert as_json(result)["added"] == 3


def test_a_page_that_keeps_failing_keeps_its_previous_copy(site, db):
    assert index(db, f"{site.url}/llms.txt").exit_code == 0
    site.fail_first["/docs/weather.md"] = [500, 500]
    result = index(db, f"{site.url}/llms.txt", DOCS_MCP_REMOTE_RETRIES="1")
    assert result.exit_code == EXIT_SKIPPED_FILES, result.output
    report = as_json(result)
    assert report["remote"]["failed"][0]["reason"] == "HTTP 500 after 2 attempts; kept the previous copy"
    assert report["removed"] == 0 and report["published"] is False
    assert search_ids(db, "humidity condensation closes the dome")[0] == "docs/weather"


def test_a_listing_that_fails_is_an_error_and_changes_nothing(site, db):
    first = as_json(index(db, f"{site.url}/llms.txt"))
    mirror = Path(first["remote"]["mirror"])
    before = {p: p.read_bytes() for p in mirror.rglob("*") if p.is_file()}
    del site.pages["/llms.txt"]

    result = index(db, f"{site.url}/llms.txt")
    assert result.exit_code == 1
    assert (
        result.stderr.startswith("error: cannot fetch") and "HTTP 404; nothing was changed" in result.stderr
    )
    assert "Traceback" not in result.output
    assert {p: p.read_bytes() for p in mirror.rglob("*") if p.is_file()} == before
    assert search_ids(db, "humidity condensation closes the dome")[0] == "docs/weather"


def test_a_server_that_refuses_connections_is_retried_then_reported(db, free_port):
    result = index(db, f"http://127.0.0.1:{free_port}/llms.txt", DOCS_MCP_REMOTE_RETRIES="1")
    assert result.exit_code == 1
    assert "connection failed after 2 attempts (ConnectError); nothing was changed" in result.stderr


def test_a_listing_that_is_a_web_page_is_refused(site, db):
    site.put("/", "<!doctype html><html><body>Home</body></html>", "text/html")
    result = index(db, site.url + "/")
    assert result.exit_code == 1 and "is an HTML page, not an llms.txt or sitemap.xml" in result.stderr


def test_a_file_of_urls_is_indexed(site, db, tmp_path):
    listing = tmp_path / "pages.txt"
    listing.write_text(
        f"# Orbit pages\n{site.url}/docs/install.md\n\n{site.url}/docs/weather.md\n", encoding="utf-8"
    )
    result = index(db, "--urls", str(listing))
    assert result.exit_code == 0, result.output
    report = as_json(result)
    assert report["remote"]["listed"] == 2 and report["added"] == 2
    assert site.count("/llms.txt", 200) == 0
    assert search_ids(db, "install orbit-cli with pip")[0] == "docs/install"

    listing.write_text("ftp://example.com/a.md\n", encoding="utf-8")
    refused = index(db, "--urls", str(listing))
    assert refused.exit_code == 1 and "is not an http(s) URL" in refused.stderr


def test_a_corrupt_manifest_rebuilds_the_mirror_without_re_embedding(site, db):
    first = as_json(index(db, f"{site.url}/llms.txt"))
    (Path(first["remote"]["mirror"]) / "manifest.json").write_text("{not json", encoding="utf-8")
    site.reset_counts()

    result = index(db, f"{site.url}/llms.txt")
    assert result.exit_code == 0, result.output
    report = as_json(result)
    assert "the mirror was rebuilt" in report["remote"]["warnings"][0]
    assert site.count("/docs/install.md", 200) == 1 and site.count("/docs/install.md", 304) == 0
    assert (report["unchanged"], report["chunks_embedded"]) == (3, 0)  # same text: nothing re-embedded
    again = as_json(index(db, f"{site.url}/llms.txt"))
    assert again["remote"]["unchanged"] == 3 and not again["remote"]["warnings"]


@pytest.mark.parametrize(
    "manifest",
    [
        '{"format": "docs-mcp-remote-mirror/1", "source": "https://elsewhere.org/llms.txt", "pages": {}}',
        '{"format": "docs-mcp-remote-mirror/1", "source": "SOURCE",'
        ' "pages": {"PAGE": {"path": "docs/install.md", "etag": 7}}}',
        "[1, 2, 3]",
        "\u0000\xff",
    ],
    ids=["another source", "wrong types", "not an object", "binary"],
)
def test_a_foreign_or_malformed_manifest_is_rebuilt_never_a_traceback(site, db, manifest):
    mirror = Path(as_json(index(db, f"{site.url}/llms.txt"))["remote"]["mirror"])
    (mirror / "pages" / "stray.md").write_text("# Not listed\n", encoding="utf-8")
    (mirror / "manifest.json").write_text(
        manifest.replace("SOURCE", f"{site.url}/llms.txt").replace("PAGE", f"{site.url}/docs/install.md"),
        encoding="latin-1",
    )
    result = index(db, f"{site.url}/llms.txt")
    assert result.exit_code == 0, result.output
    assert "the mirror was rebuilt" in as_json(result)["remote"]["warnings"][0]
    assert not (mirror / "pages" / "stray.md").exists()
    assert sorted(p.name for p in (mirror / "pages" / "docs").iterdir()) == [
        "install.md",
        "telescope.md",
        "weather.md",
    ]


def test_redirects_stay_on_the_listing_host(site, db):
    port = site.url.rsplit(":", 1)[1]
    site.redirects["/docs/old.md"] = f"http://localhost:{port}/docs/install.md"
    site.put("/llms.txt", llms_txt(site, ["docs/old.md", "docs/weather.md"]))
    result = index(db, f"{site.url}/llms.txt")
    assert result.exit_code == EXIT_SKIPPED_FILES
    [failed] = as_json(result)["remote"]["failed"]
    assert "leads to host localhost, not 127.0.0.1" in failed["reason"]
    allowed = index(db, f"{site.url}/llms.txt", DOCS_MCP_REMOTE_ALLOWED_HOSTS="localhost")
    assert allowed.exit_code == 0, allowed.output


def test_two_runs_on_one_mirror_do_not_interleave(site, db):
    first = as_json(index(db, f"{site.url}/llms.txt"))
    with mirror_lock(Path(first["remote"]["mirror"])):
        # flock is per open file: a second open in this process conflicts like another process.
        result = index(db, f"{site.url}/llms.txt")
    assert result.exit_code == 1 and "another docs-mcp index run is updating the mirror" in result.stderr


def test_watching_a_url_is_refused_with_what_to_do_instead(site, db):
    result = runner.invoke(app, ["index", f"{site.url}/llms.txt", "--watch", "--db", db])
    assert result.exit_code == 1 and "--watch works on a local folder only" in result.stderr
    assert site.count("/llms.txt", 200) == 0


# -- through the MCP client ------------------------------------------------------------------------


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def remote_db(site, db) -> str:
    """The site indexed through the CLI (outside the test's event loop, as a user would run it)."""
    result = index(db, f"{site.url}/llms.txt")
    assert result.exit_code == 0, result.output
    return db


@pytest.mark.anyio
async def test_remote_pages_are_searched_and_opened_over_mcp(site, remote_db, embedder):
    db = remote_db
    server = build_server(DocsService(IndexStore(db), lambda: embedder, model=MODEL))
    async with Client(server) as client:
        found = await client.call_tool("search_docs", {"query": "calibrate the telescope mount"})
        top = found.structured_content["hits"][0]
        assert (top["doc_id"], top["source_path"]) == ("docs/telescope", "docs/telescope.md")
        opened = await client.call_tool("get_doc", {"id": top["doc_id"]})
    assert f"{site.url}/docs/telescope.md" in opened.structured_content["content"]


# -- pure pieces -------------------------------------------------------------------------------------


def test_llms_txt_links_resolve_against_the_listing_url():
    text = '# X\n\n- [A](a.md): first\n- [B](</docs/b.md>)\n- [C](https://other.org/c.md "title")\n'
    kind, urls = parse_listing(text, "https://site.org/en/llms.txt")
    assert kind == "llms.txt"
    assert urls == ["https://site.org/en/a.md", "https://site.org/docs/b.md", "https://other.org/c.md"]


def test_images_in_llms_txt_and_in_image_sitemaps_are_not_pages():
    _, urls = parse_listing("- [A](a.md) ![logo](logo.png)\n", "https://site.org/llms.txt")
    assert urls == ["https://site.org/a.md"]
    sitemap = (
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"><url><loc>https://site.org/a.md</loc>'
        "<image:image><image:loc>https://site.org/a.png</image:loc></image:image></url></urlset>"
    )
    assert parse_listing(sitemap, "https://site.org/sitemap.xml") == ("urlset", ["https://site.org/a.md"])


def test_sitemaps_with_entities_are_refused():
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><urlset><url><loc>&a;</loc></url></urlset>'
    with pytest.raises(RemoteError, match="DTD or entities"):
        parse_listing(bomb, "https://site.org/sitemap.xml")


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("https://s.org/docs/a.md", "docs/a.md"),
        ("https://s.org/docs/", "docs/index.md"),
        ("https://s.org", "index.md"),
        ("https://s.org/docs/page.html", "docs/page.md"),
        ("https://s.org/docs/tabs.mdx", "docs/tabs.mdx"),
        ("https://s.org/notebooks/intro.ipynb", "notebooks/intro.ipynb"),
        ("https://s.org/docs/getting%20started", "docs/getting started.md"),
    ],
)
def test_a_page_url_mirrors_to_its_path(url, path):
    assert mirror_path(url) == path


@pytest.mark.parametrize("url", ["https://s.org/docs/../../etc/passwd", "https://s.org/.git/config"])
def test_a_page_url_cannot_escape_the_mirror_or_hide(url):
    with pytest.raises(ValueError, match="hidden or relative"):
        mirror_path(url)


def test_retry_after_is_honoured_but_capped():
    assert retry_delay(0, "2") == 2.0
    assert retry_delay(0, "3600") == RETRY_AFTER_CAP_SECONDS
    assert (retry_delay(0, None), retry_delay(2, None)) == (0.5, 2.0)


def test_the_source_url_joins_existing_front_matter():
    assert with_source_url("---\ntitle: T\n---\n# T\n", "https://s.org/t.md") == (
        '---\nsource_url: "https://s.org/t.md"\ntitle: T\n---\n# T\n'
    )
    assert with_source_url("# T\n", "https://s.org/t.md").startswith(
        '---\nsource_url: "https://s.org/t.md"\n---\n\n# T'
    )


# -- hostile pages: bounded after decoding, every URL a safe file, one bad page a skipped page ----

BOMB_MIB = 256


@pytest.fixture(scope="module")
def double_gzip_bomb() -> bytes:
    """256 MiB of zeros, gzipped twice: about 3 KB on the wire."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    zeros = bytes(1 << 20)
    inner = b"".join([compressor.compress(zeros) for _ in range(BOMB_MIB)] + [compressor.flush()])
    return gzip.compress(inner, 9)


def test_a_double_gzipped_page_past_the_limit_is_refused_while_decoding(site, db, double_gzip_bomb):
    assert len(double_gzip_bomb) < 10_000
    site.put_encoded("/docs/bomb.md", double_gzip_bomb, "gzip, gzip")
    site.put("/llms.txt", llms_txt(site, ["docs/install.md", "docs/bomb.md", "docs/weather.md"]))

    result = index(db, f"{site.url}/llms.txt")
    assert result.exit_code == EXIT_SKIPPED_FILES, result.output
    report = as_json(result)
    assert report["remote"]["failed"] == [
        {"url": f"{site.url}/docs/bomb.md", "reason": "larger than the limit of 2,097,152 bytes"}
    ]
    assert report["added"] == 2 and report["published"]


def test_decoding_a_compression_bomb_holds_about_the_limit_in_memory(site, tmp_path, double_gzip_bomb):
    site.put_encoded("/docs/bomb.md", double_gzip_bomb, "gzip, gzip")
    site.put("/llms.txt", llms_txt(site, ["docs/bomb.md", "docs/install.md"]))
    source = remote_source(f"{site.url}/llms.txt")
    limits = RemoteLimits.from_settings(Settings.from_env({"DOCS_MCP_REMOTE_MAX_PAGE_BYTES": "1000000"}))
    mirror = mirror_dir(tmp_path, source)
    tracemalloc.start()
    try:
        report = sync_mirror(source, mirror, limits)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [f.reason for f in report.failed] == ["larger than the limit of 1,000,000 bytes"]
    assert peak < 16 * 1024 * 1024, f"{peak:,} bytes traced while refusing a {BOMB_MIB} MiB page"


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send it
        ("gzip, deflate", lambda data: zlib.compress(gzip.compress(data))),
        ("identity", lambda data: data),
    ],
)
def test_a_compressed_page_within_the_limit_is_decoded_and_indexed(site, db, encoding, encode):
    site.put_encoded("/docs/weather.md", encode(WEATHER.encode("utf-8")), encoding)
    result = index(db, f"{site.url}/llms.txt")
    assert result.exit_code == 0, result.output
    assert search_ids(db, "humidity condensation closes the dome")[0] == "docs/weather"


@pytest.mark.parametrize(
    ("encoding", "body", "reason"),
    [
        ("br", b"\x0b\x02\x80hi\x03", "served with content encoding 'br', which docs-mcp does not decode"),
        ("gzip", b"not gzip at all", "its compressed body is corrupt"),
        ("gzip, gzip, gzip, gzip", gzip.compress(b"x"), "encoded 4 times over; at most 3 are decoded"),
    ],
)
def test_a_page_that_cannot_be_decoded_is_a_failed_page(site, db, encoding, body, reason):
    site.put_encoded("/docs/weather.md", body, encoding)
    result = index(db, f"{site.url}/llms.txt")
    assert result.exit_code == EXIT_SKIPPED_FILES, result.output
    report = as_json(result)
    assert report["remote"]["failed"] == [{"url": f"{site.url}/docs/weather.md", "reason": reason}]
    assert report["added"] == 2


def test_pages_that_would_be_a_file_and_a_folder_of_one_name_are_both_mirrored(site, db):
    site.put("/x.md", "# The x file\n\nThe quillbrook page lives at x.md.\n")
    site.put("/x.md/", "# The x folder\n\nThe marzipelt page lives at x.md/.\n")
    site.put("/Guide.md", "# Upper guide\n\nThe snorkelvane guide is upper case.\n")
    site.put("/guide.md", "# Lower guide\n\nThe plumbatine guide is lower case.\n")
    site.put("/llms.txt", llms_txt(site, ["x.md", "x.md/", "Guide.md", "guide.md"]))

    result = index(db, f"{site.url}/llms.txt")
    assert result.exit_code == 0, result.output
    report = as_json(result)
    assert report["added"] == 4
    assert [i["url"] for i in report["remote"]["ignored"]] == ["https://github.com/x/y"]
    pages = json.loads((Path(report["remote"]["mirror"]) / "manifest.json").read_text(encoding="utf-8"))[
        "pages"
    ]
    paths = [pages[f"{site.url}/{p}"]["path"] for p in ("x.md", "x.md/", "Guide.md", "guide.md")]
    assert paths[0] == "x.md" and paths[2] == "Guide.md"
    assert paths[1].startswith("~") and paths[1].endswith("/x.md/index.md")
    assert paths[3].startswith("~") and paths[3].endswith("/guide.md")
    assert len({p.casefold() for p in paths}) == 4
    for word, doc_id in (("quillbrook", "x"), ("snorkelvane", "Guide")):
        assert search_ids(db, f"the {word} page")[0] == doc_id
    assert search_ids(db, "the marzipelt page")[0] == paths[1].removesuffix(".md")


def test_a_path_too_long_for_the_file_system_mirrors_to_a_short_hashed_file(site, db):
    long_segment = "s" * 300
    deep = "/".join(["d" * 100] * 40)
    site.put(f"/docs/{long_segment}.md", "# Long\n\nThe tarnquist segment is three hundred letters.\n")
    site.put(f"/{deep}/page.md", "# Deep\n\nThe velmorrow page is forty folders deep.\n")
    site.put("/llms.txt", llms_txt(site, [f"docs/{long_segment}.md", f"{deep}/page.md", "docs/install.md"]))

    result = index(db, f"{site.url}/llms.txt")
    assert result.exit_code == 0, result.output
    assert as_json(result)["added"] == 3
    assert search_ids(db, "tarnquist segment")[0].startswith("docs/" + "s" * 80)
    assert search_ids(db, "velmorrow page forty folders")[0].startswith("~long/")


def test_a_page_whose_file_cannot_be_written_fails_alone(site, db):
    first = as_json(index(db, f"{site.url}/llms.txt"))
    target = Path(first["remote"]["mirror"]) / "pages" / "docs" / "weather.md"
    target.unlink()
    (target / "in-the-way").mkdir(parents=True)  # a folder where the page's file goes
    site.put("/docs/weather.md", WEATHER + "\nWind gusts are measured every second.\n")
    site.put("/docs/install.md", INSTALL + "\nUpgrade with `pip install -U orbit-cli`.\n")

    result = index(db, f"{site.url}/llms.txt")
    assert result.exit_code == EXIT_SKIPPED_FILES, result.output
    report = as_json(result)
    assert [f["url"] for f in report["remote"]["failed"]] == [f"{site.url}/docs/weather.md"]
    assert report["remote"]["failed"][0]["reason"].startswith("could not be mirrored (")
    assert report["changed"] == 1 and report["published"]


def test_links_that_are_not_urls_are_ignored_not_fatal(site, db):
    listing = llms_txt(site, ["docs/install.md"]) + "\n- [bad](http://[oops) - [port](http://h:99999/x)\n"
    site.put("/llms.txt", listing)
    result = index(db, f"{site.url}/llms.txt")
    assert result.exit_code == 0, result.output
    ignored = {i["url"]: i["reason"] for i in as_json(result)["remote"]["ignored"]}
    assert ignored["http://[oops"] == "not a valid URL" and ignored["http://h:99999/x"] == "not a valid URL"


@pytest.mark.parametrize(
    "url",
    [
        "https://s.org/docs/" + "x" * 300 + ".md",
        "https://s.org/" + "/".join(["é" * 60] * 30) + "/page",
        "https://s.org/" + "%F0%9F%99%82" * 200,
    ],
)
def test_every_mirror_path_fits_a_file_name_and_a_path(url):
    path = mirror_path(url)
    assert len(path.encode("utf-8")) <= MAX_MIRROR_PATH_BYTES
    assert all(len(part.encode("utf-8")) <= MAX_SEGMENT_BYTES for part in path.split("/"))
    assert path.endswith(".md") and mirror_path(url) == path  # stable: the same file every run


def test_a_sitemap_index_is_read_only_up_to_its_first_hundred_sitemaps(site, db):
    namespace = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
    children = "".join(f"<sitemap><loc>{site.url}/s{i}.xml</loc></sitemap>" for i in range(150))
    site.put("/sitemap.xml", f"<sitemapindex {namespace}>{children}</sitemapindex>", "application/xml")
    site.put("/s0.xml", f"<urlset {namespace}><url><loc>{site.url}/docs/install.md</loc></url></urlset>")
    for i in range(1, 150):
        site.put(f"/s{i}.xml", f"<urlset {namespace}></urlset>", "application/xml")

    result = index(db, f"{site.url}/sitemap.xml")
    assert result.exit_code == EXIT_SKIPPED_FILES, result.output
    report = as_json(result)
    assert report["remote"]["failed"] == [
        {"url": f"{site.url}/sitemap.xml", "reason": "lists 150 sitemaps; only the first 100 were read"}
    ]
    assert report["added"] == 1
    assert site.count("/s99.xml", 200) == 1 and site.count("/s100.xml", 200) == 0
