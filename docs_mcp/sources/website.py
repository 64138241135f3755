"""Remote docs: mirror the Markdown pages an llms.txt, a sitemap or a list of URLs links to.

    docs-mcp index https://docs.example.com/llms.txt
    docs-mcp index https://docs.example.com/sitemap.xml
    docs-mcp index --urls pages.txt

The listing is fetched first, then every page it links to, bounded in size, time
and concurrency and retried on 429, 5xx and connection errors, into a folder
under the cache dir that the ordinary indexer then indexes (so doc ids are the
URL paths):

    <cache>/remote/<host>-<hash of the source>/pages/<url path>.md
    <cache>/remote/<host>-<hash of the source>/manifest.json

The manifest keeps, per URL, the mirrored path, ETag, Last-Modified, sha256 and
fetch time, so a re-run sends If-None-Match / If-Modified-Since and downloads
only what changed. Pages no longer listed are deleted. A listing that cannot be
fetched is an error that changes nothing; a page that cannot be fetched keeps
its previous copy and is reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import fnmatch
import hashlib
import json
import logging
import os
import re
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit
from xml.etree import ElementTree

import httpx

from docs_mcp import __version__
from docs_mcp.collection import index_scope
from docs_mcp.config import Settings
from docs_mcp.errors import ConfigError, RemoteError
from docs_mcp.formats import SOURCE_SUFFIXES, suffix_of
from docs_mcp.sources import Checkout, PublishedVersions, alone_in
from docs_mcp.sources.folder import Skipped
from docs_mcp.sources.spec import SourceSpec

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "docs-mcp-remote-mirror/1"
PAGES_FOLDER = "pages"
MAX_CHILD_SITEMAPS = 100  # read from one sitemap index, each fetched in turn
RETRY_AFTER_CAP_SECONDS = 10.0
BACKOFF_SECONDS = 0.5  # 0.5, 1, 2, ... between attempts, unless the server says Retry-After
USER_AGENT = f"docs-mcp/{__version__}"
FRONT_MATTER_KEY = "source_url"  # the page's URL, written into the mirrored file's front matter
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_RETRY_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadError, httpx.RemoteProtocolError)
# [text](url "title"), a URL may hold one level of parentheses: text, URL and title are each
# scanned only up to the next bracket, so a listing of unclosed `[` or `(` costs one pass.
_LINK = re.compile(r"(?<!!)\[[^\[\]]*\]\(\s*<?((?:[^()\s>]|\([^()\s>]*\))+)>?(?:\s+[\"'][^()]*[\"'])?\s*\)")


@dataclass(frozen=True)
class RemoteLimits:
    max_page_bytes: int
    max_listing_bytes: int
    max_pages: int
    timeout_seconds: float
    concurrency: int
    retries: int
    max_redirects: int
    allowed_hosts: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> RemoteLimits:
        return cls(
            max_page_bytes=settings.remote_max_page_bytes,
            max_listing_bytes=settings.remote_max_listing_bytes,
            max_pages=settings.remote_max_pages,
            timeout_seconds=settings.remote_timeout_seconds,
            concurrency=settings.remote_concurrency,
            retries=settings.remote_retries,
            max_redirects=settings.remote_max_redirects,
            allowed_hosts=settings.remote_allowed_hosts,
        )


@dataclass(frozen=True)
class RemoteSource:
    """What to mirror: a listing URL (llms.txt or sitemap), or the URLs of a local list file."""

    key: str  # the listing URL, or the list file's absolute path: it names the mirror folder
    host: str  # pages must be on this host unless remote_allowed_hosts allows theirs
    listing_url: str | None = None
    urls: tuple[str, ...] = ()


def remote_source(url: str | None = None, urls_file: Path | None = None) -> RemoteSource:
    """A listing URL, or a file with one URL per line (blank lines and # comments ignored)."""
    if url is not None:
        _check_url(url, "the listing URL")
        return RemoteSource(key=url, host=urlsplit(url).hostname or "", listing_url=url)
    if urls_file is None:
        raise ConfigError("pass the URL of an llms.txt or sitemap.xml, or --urls FILE")
    try:
        text = urls_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or "not UTF-8 text"
        raise ConfigError(f"cannot read the URL list {urls_file}: {reason}; pass a text file") from None
    urls = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if line and not line.startswith("#"):
            _check_url(line, f"{urls_file}:{number}")
            urls.append(line)
    if not urls:
        raise ConfigError(f"{urls_file} lists no URLs; write one http(s) URL per line")
    host = urlsplit(urls[0]).hostname or ""
    return RemoteSource(key=str(urls_file.resolve()), host=host, urls=tuple(urls))


def _check_url(url: str, where: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where}: {url!r} is not an http(s) URL; only http and https are fetched")


def mirror_dir(cache_dir: Path, source: RemoteSource) -> Path:
    """<cache>/remote/<host>-<short hash of the source>: one mirror per source."""
    digest = hashlib.sha256(source.key.encode("utf-8")).hexdigest()[:10]
    host = re.sub(r"[^A-Za-z0-9.-]", "_", source.host) or "local"
    return cache_dir / "remote" / f"{host}-{digest}"


def pages_dir(mirror: Path) -> Path:
    return mirror / PAGES_FOLDER


def mirror_lock(mirror: Path) -> contextlib.AbstractContextManager[None]:
    """One run at a time per mirror: a second run fails at once instead of interleaving writes."""
    return alone_in(
        mirror,
        f"another docs-mcp index run is updating the mirror {mirror}; wait for it to finish, or stop it "
        "and run again",
    )


# -- the report ---------------------------------------------------------------------------------


@dataclass
class SyncReport:
    source: str
    mirror: str
    listed: int = 0
    downloaded: list[str] = field(default_factory=list)  # new or changed pages
    unchanged: int = 0  # 304, or 200 with the same bytes
    removed: list[str] = field(default_factory=list)
    failed: list[Skipped] = field(default_factory=list)  # kept their previous copy, if any
    ignored: list[Skipped] = field(default_factory=list)  # links that are not pages to fetch
    warnings: list[str] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "mirror": self.mirror,
            "listed": self.listed,
            "downloaded": len(self.downloaded),
            "unchanged": self.unchanged,
            "removed": len(self.removed),
            "failed": [{"url": s.path, "reason": s.reason} for s in self.failed],
            "ignored": [{"url": s.path, "reason": s.reason} for s in self.ignored],
            "warnings": self.warnings,
            "requests": self.requests,
            "seconds": round(self.seconds, 2),
        }


# -- pure helpers -------------------------------------------------------------------------------


def parse_listing(text: str, base_url: str) -> tuple[str, list[str]]:
    """("llms.txt" | "urlset" | "sitemapindex", the absolute URLs it links to, in order)."""
    head = text.lstrip("\ufeff \t\r\n")[:512].lower()
    if head.startswith("<!doctype html") or head.startswith("<html"):
        raise RemoteError(
            f"{base_url} is an HTML page, not an llms.txt or sitemap.xml; pass the URL of one of those"
        )
    if head.startswith("<"):
        if "<!doctype" in text[:4096].lower() or "<!entity" in text.lower():
            raise RemoteError(f"{base_url}: a sitemap with a DTD or entities is refused")
        try:
            root = ElementTree.fromstring(text)
        except ElementTree.ParseError as error:
            raise RemoteError(f"{base_url} is not a valid sitemap ({error})") from None
        kind = _local_name(root.tag)
        if kind not in ("urlset", "sitemapindex"):
            raise RemoteError(f"{base_url} is XML but not a sitemap (<{kind}>); pass a sitemap.xml")
        # The <loc> of each <url> or <sitemap> entry (not, say, an image sitemap's <image:loc>).
        locs = [
            _joined(base_url, loc.text.strip())
            for entry in root
            for loc in entry
            if _local_name(loc.tag) == "loc" and loc.text and loc.text.strip()
        ]
        return kind, locs
    return "llms.txt", [_joined(base_url, href) for href in _LINK.findall(text)]


def _joined(base_url: str, href: str) -> str:
    """The absolute URL of a link; the link as written when it is not a URL at all
    (`http://[x`), for the page list to report as ignored."""
    try:
        return urljoin(base_url, href)
    except ValueError:
        return href


def _local_name(tag: str) -> str:
    return tag.rpartition("}")[2]


def mirror_path(url: str) -> str:
    """The mirrored file for a page URL, relative to pages/: its path, ending in .md unless it
    already ends in a suffix the indexer reads (.md, .markdown, .mdx, .ipynb). A segment too long
    for a file name keeps its start and gains a hash of itself; a path too long for the file
    system becomes a hash of itself under `~long/`. ValueError for a hidden or relative segment
    (a file the indexer would never read, or one outside the mirror)."""
    path = unquote(urlsplit(url).path)
    if path == "" or path.endswith("/"):
        path += "index.md"
    parts = [p for p in path.split("/") if p]
    if any(p in (".", "..") or p.startswith(".") or "\\" in p or "\x00" in p for p in parts):
        raise ValueError("its path has a hidden or relative segment")
    relative = PurePosixPath(*parts)
    if relative.suffix.lower() in (".html", ".htm", ".txt"):
        relative = relative.with_suffix(".md")
    elif relative.suffix.lower() not in SOURCE_SUFFIXES:  # .mdx, .ipynb too: the indexer converts them
        relative = relative.with_name(relative.name + ".md")
    return _fitted(relative)


# A mirrored file's name stays well below NAME_MAX (255 bytes) with `.NAME.tmp` written beside
# it, and its path below PATH_MAX with the cache folder in front.
MAX_SEGMENT_BYTES = 120
MAX_MIRROR_PATH_BYTES = 1000


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _fitted(relative: PurePosixPath) -> str:
    suffix = suffix_of(relative.name)
    parts = [_fitted_segment(p, "") for p in relative.parts[:-1]] + [_fitted_segment(relative.name, suffix)]
    path = "/".join(parts)
    if len(path.encode("utf-8")) > MAX_MIRROR_PATH_BYTES:
        return f"~long/{_digest(str(relative))}{suffix}"
    return path


def _fitted_segment(segment: str, suffix: str) -> str:
    if len(segment.encode("utf-8")) <= MAX_SEGMENT_BYTES:
        return segment
    stem = segment[: len(segment) - len(suffix)]
    kept = stem.encode("utf-8")[: MAX_SEGMENT_BYTES - 40].decode("utf-8", "ignore")
    return f"{kept}~{_digest(segment)}{suffix}"


class _MirrorClaims:
    """The files and folders the listed pages will occupy, compared without case (a case-blind
    file system would make `Guide.md` and `guide.md` one file): a page whose file is another's
    folder (`/x.md` and `/x.md/`), or whose folder is another's file, is moved aside."""

    def __init__(self) -> None:
        self.files: set[str] = set()
        self.folders: set[str] = set()

    def conflict(self, path: str) -> bool:
        key = path.casefold()
        return key in self.files or key in self.folders or any(f in self.files for f in _folders(key))

    def claim(self, path: str) -> None:
        key = path.casefold()
        self.files.add(key)
        self.folders.update(_folders(key))


def _folders(path: str) -> list[str]:
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _moved_aside(url: str, path: str) -> str:
    """A path for a page whose natural one is taken: under a folder named by the URL's hash."""
    return _fitted(PurePosixPath(f"~{_digest(url)}") / path)


def with_source_url(text: str, url: str) -> str:
    """The page with `source_url: URL` in its front matter, so get_doc shows where it came from."""
    line = f"{FRONT_MATTER_KEY}: {json.dumps(url)}\n"
    if text.startswith("---\n") and re.search(r"^(---|\.\.\.)[ \t]*$", text[4:], flags=re.MULTILINE):
        return "---\n" + line + text[4:]
    return f"---\n{line}---\n\n{text}"


def is_html(content_type: str, body: bytes) -> bool:
    if "html" in content_type.lower():
        return True
    head = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith(b"<!doctype html") or head.startswith(b"<html")


def markdown_alternatives(url: str) -> list[str]:
    """Where a site may serve the Markdown of an HTML page (the llms.txt convention)."""
    parts = urlsplit(url)
    if parts.path == "" or parts.path.endswith("/"):
        base = parts.path or "/"
        return [urlunsplit(parts._replace(path=base + name)) for name in ("index.md", "index.html.md")]
    return [urlunsplit(parts._replace(path=parts.path + ".md"))]


def retry_delay(attempt: int, retry_after: str | None) -> float:
    """Retry-After (seconds or an HTTP date), capped; else exponential backoff from 0.5 s."""
    if retry_after:
        seconds: float | None = None
        with contextlib.suppress(ValueError):
            seconds = float(retry_after)
        if seconds is None:
            with contextlib.suppress(TypeError, ValueError):
                seconds = email.utils.parsedate_to_datetime(retry_after).timestamp() - time.time()
        if seconds is not None:
            return min(max(seconds, 0.0), RETRY_AFTER_CAP_SECONDS)
    return min(BACKOFF_SECONDS * 2**attempt, RETRY_AFTER_CAP_SECONDS)


# -- fetching -----------------------------------------------------------------------------------


class FetchError(Exception):
    """One URL could not be fetched; the message is the reason, for the report."""


@dataclass(frozen=True)
class _Fetched:
    status: int
    url: str
    headers: httpx.Headers
    body: bytes


class _Fetcher:
    def __init__(self, client: httpx.AsyncClient, limits: RemoteLimits, report: SyncReport) -> None:
        self.client = client
        self.limits = limits
        self.report = report

    async def get(self, url: str, max_bytes: int, headers: dict[str, str] | None = None) -> _Fetched:
        """GET with the bounds: total time per attempt, bytes while streaming, retries."""
        attempt = 0
        while True:
            try:
                async with asyncio.timeout(self.limits.timeout_seconds):
                    fetched = await self._once(url, max_bytes, headers or {})
            except (TimeoutError, httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout):
                raise FetchError(f"no complete answer within {self.limits.timeout_seconds:g} s") from None
            except httpx.TooManyRedirects:
                raise FetchError(f"more than {self.limits.max_redirects} redirects") from None
            except _RETRY_ERRORS as error:
                if attempt >= self.limits.retries:
                    raise FetchError(
                        f"connection failed after {attempt + 1} attempts ({type(error).__name__})"
                    ) from None
                delay = retry_delay(attempt, None)
            except httpx.HTTPError as error:
                raise FetchError(f"request failed ({type(error).__name__}: {error})") from None
            else:
                if fetched.status not in _RETRY_STATUSES:
                    return fetched
                if attempt >= self.limits.retries:
                    raise FetchError(f"HTTP {fetched.status} after {attempt + 1} attempts")
                delay = retry_delay(attempt, fetched.headers.get("retry-after"))
            attempt += 1
            await asyncio.sleep(delay)

    async def _once(self, url: str, max_bytes: int, headers: dict[str, str]) -> _Fetched:
        async with self.client.stream("GET", url, headers=headers) as response:
            self.report.requests += 1
            if response.status_code != 200:
                return _Fetched(response.status_code, str(response.url), response.headers, b"")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(f"larger than the limit of {max_bytes:,} bytes ({int(declared):,} bytes)")
            # Wire bytes, decoded here: the limit counts what the page is once decoded, while it
            # is decoded, so a small compressed answer cannot expand to gigabytes in memory.
            decoding = BoundedDecoding(response.headers.get("content-encoding", ""), max_bytes)
            body = bytearray()
            async for raw in response.aiter_raw():
                for piece in decoding.feed(raw):
                    body += piece
            for piece in decoding.finish():
                body += piece
            return _Fetched(200, str(response.url), response.headers, bytes(body))


class BoundedDecoding:
    """A Content-Encoding (gzip, deflate, or several of them) decoded a bounded piece at a time;
    FetchError once any layer has produced more than `limit` bytes. Layers past the first are
    compressed data, smaller than the page, so the same limit bounds every layer's work."""

    PIECE_BYTES = 64 * 1024
    MAX_LAYERS = 3

    def __init__(self, content_encoding: str, limit: int) -> None:
        names = [n.strip().lower() for n in content_encoding.split(",") if n.strip()]
        names = [n for n in names if n != "identity"]
        unknown = [n for n in names if n not in ("gzip", "x-gzip", "deflate")]
        if unknown:
            raise FetchError(f"served with content encoding {unknown[0]!r}, which docs-mcp does not decode")
        if len(names) > self.MAX_LAYERS:
            raise FetchError(f"encoded {len(names)} times over; at most {self.MAX_LAYERS} are decoded")
        self.limit = limit
        # Applied in the order listed, so undone in reverse.
        self.layers = [_Inflater(name) for name in reversed(names)]
        self.produced = [0] * (len(self.layers) + 1)

    def feed(self, data: bytes) -> Iterator[bytes]:
        return self._through(0, data, final=False)

    def finish(self) -> Iterator[bytes]:
        return self._through(0, b"", final=True)

    def _through(self, depth: int, data: bytes, final: bool) -> Iterator[bytes]:
        if depth == len(self.layers):
            pieces: Iterator[bytes] = iter([data] if data else [])
        else:
            pieces = self.layers[depth].feed(data, self.PIECE_BYTES, final)
        for piece in pieces:
            self.produced[depth] += len(piece)
            if self.produced[depth] > self.limit:
                raise FetchError(f"larger than the limit of {self.limit:,} bytes")
            if depth == len(self.layers):
                yield piece
            else:
                yield from self._through(depth + 1, piece, final=False)
        if final and depth < len(self.layers):
            yield from self._through(depth + 1, b"", final=True)


class _Inflater:
    """One gzip or deflate layer. A deflate body is zlib-wrapped or, from some servers, raw."""

    def __init__(self, name: str) -> None:
        self.deflate = name == "deflate"
        self.started = False
        self.engine = zlib.decompressobj(zlib.MAX_WBITS if self.deflate else zlib.MAX_WBITS | 16)

    def feed(self, data: bytes, piece_bytes: int, final: bool) -> Iterator[bytes]:
        try:
            while data and not self.engine.eof:
                if self.deflate and not self.started:
                    try:
                        piece = self.engine.decompress(data, piece_bytes)
                    except zlib.error:  # no zlib header: raw deflate
                        self.engine = zlib.decompressobj(-zlib.MAX_WBITS)
                        piece = self.engine.decompress(data, piece_bytes)
                else:
                    piece = self.engine.decompress(data, piece_bytes)
                self.started = True
                data = self.engine.unconsumed_tail
                if piece:
                    yield piece
            if final and not self.engine.eof:
                rest = self.engine.flush()
                if rest:
                    yield rest
        except zlib.error:
            raise FetchError("its compressed body is corrupt") from None


def _host_allowed(host: str, source: RemoteSource, limits: RemoteLimits) -> bool:
    host = host.lower()
    return host == source.host.lower() or any(
        fnmatch.fnmatchcase(host, pattern.lower()) for pattern in limits.allowed_hosts
    )


# -- the sync -----------------------------------------------------------------------------------


def sync_mirror(source: RemoteSource, mirror: Path, limits: RemoteLimits) -> SyncReport:
    """Bring the mirror up to date with the source; call it inside `mirror_lock(mirror)`."""
    started = time.perf_counter()
    report = SyncReport(source=source.listing_url or source.key, mirror=str(mirror))
    asyncio.run(_sync(source, mirror, limits, report))
    report.seconds = time.perf_counter() - started
    return report


async def _sync(source: RemoteSource, mirror: Path, limits: RemoteLimits, report: SyncReport) -> None:
    async def check_request(request: httpx.Request) -> None:
        # Every request, redirects included, stays on http(s) and on the allowed hosts.
        if request.url.scheme not in ("http", "https"):
            raise FetchError(f"redirected to a {request.url.scheme}: URL; only http and https are fetched")
        if not _host_allowed(request.url.host, source, limits):
            raise FetchError(
                f"leads to host {request.url.host}, not {source.host} (allow it with remote_allowed_hosts)"
            )

    async with httpx.AsyncClient(
        follow_redirects=True,
        max_redirects=limits.max_redirects,
        timeout=httpx.Timeout(limits.timeout_seconds),
        limits=httpx.Limits(max_connections=limits.concurrency),
        # Only what BoundedDecoding decodes (httpx would add br and zstd when their packages exist).
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"},
        event_hooks={"request": [check_request]},
        trust_env=False,
    ) as client:
        fetcher = _Fetcher(client, limits, report)
        pages = await _list_pages(source, limits, fetcher, report)
        manifest = _read_manifest(mirror, source, report)
        folder = pages_dir(mirror)
        if manifest is None:  # unreadable or someone else's: start the mirror again
            with contextlib.suppress(FileNotFoundError):
                _remove_tree(folder)
            manifest = {}
        folder.mkdir(parents=True, exist_ok=True)
        gate = asyncio.Semaphore(limits.concurrency)

        async def one(url: str, path: str) -> tuple[str, dict[str, Any] | None]:
            async with gate:
                previous = manifest.get(url)
                try:
                    return url, await _sync_page(fetcher, url, path, previous, folder, report)
                except Exception as error:  # one page never stops the run
                    return url, _failed_page(url, path, previous, error, report)

        results = await asyncio.gather(*(one(url, path) for url, path in pages.items()))

    entries = {url: entry for url, entry in results if entry is not None}
    kept = {entry["path"] for entry in entries.values()}
    report.removed = sorted(
        entry["path"] for url, entry in manifest.items() if url not in pages and entry.get("path") not in kept
    )
    _prune(folder, kept)
    _write_manifest(mirror, source, entries)


async def _list_pages(
    source: RemoteSource, limits: RemoteLimits, fetcher: _Fetcher, report: SyncReport
) -> dict[str, str]:
    """url -> mirrored path of every page to fetch, in listing order; RemoteError if the listing fails."""
    if source.listing_url is None:
        urls = list(source.urls)
    else:
        kind, urls = await _fetch_listing(fetcher, source.listing_url, limits)
        if kind == "sitemapindex":
            nested: list[str] = []
            if len(urls) > MAX_CHILD_SITEMAPS:
                report.failed.append(
                    Skipped(
                        source.listing_url,
                        f"lists {len(urls):,} sitemaps; only the first {MAX_CHILD_SITEMAPS} were read",
                    )
                )
            for child in urls[:MAX_CHILD_SITEMAPS]:
                if len(nested) > limits.max_pages:
                    break  # enough pages to reach the page limit: the rest would be cut anyway
                child_kind, child_urls = await _fetch_listing(fetcher, child, limits)
                if child_kind != "urlset":
                    raise RemoteError(
                        f"{child} (listed by {source.listing_url}) is not a sitemap of pages; "
                        "a sitemap index is followed one level deep"
                    )
                nested.extend(child_urls)
            urls = nested
    pages: dict[str, str] = {}
    by_path: dict[str, str] = {}
    claims = _MirrorClaims()
    for raw in urls:
        try:
            url = urlunsplit(urlsplit(raw)._replace(fragment=""))
            parts = urlsplit(url)
            parts.port  # noqa: B018 (raises ValueError for a port out of range)
        except ValueError:
            report.ignored.append(Skipped(raw, "not a valid URL"))
            continue
        if url in pages:
            continue
        if parts.scheme not in ("http", "https") or not parts.hostname:
            report.ignored.append(Skipped(url, "not an http(s) URL"))
            continue
        if not _host_allowed(parts.hostname, source, limits):
            report.ignored.append(
                Skipped(
                    url, f"on host {parts.hostname}, not {source.host} (allow it with remote_allowed_hosts)"
                )
            )
            continue
        try:
            path = mirror_path(url)
        except ValueError as error:
            report.ignored.append(Skipped(url, str(error)))
            continue
        if path in by_path:
            report.ignored.append(Skipped(url, f"mirrors to the same file as {by_path[path]}"))
            continue
        if claims.conflict(path):
            path = _moved_aside(url, path)
            if claims.conflict(path):
                report.ignored.append(Skipped(url, "its mirror file is taken by another page"))
                continue
        if len(pages) >= limits.max_pages:
            report.failed.append(
                Skipped(
                    report.source,
                    f"lists more than {limits.max_pages:,} pages; only the first {limits.max_pages:,} "
                    "were fetched (raise remote_max_pages)",
                )
            )
            break
        pages[url] = path
        by_path[path] = url
        claims.claim(path)
    if not pages:
        raise RemoteError(
            f"{report.source} links to no pages on {source.host}; nothing was changed. "
            "An llms.txt links pages as [title](url); a sitemap lists them in <loc>"
        )
    report.listed = len(pages)
    return pages


async def _fetch_listing(fetcher: _Fetcher, url: str, limits: RemoteLimits) -> tuple[str, list[str]]:
    try:
        fetched = await fetcher.get(url, limits.max_listing_bytes)
    except FetchError as error:
        raise RemoteError(f"cannot fetch {url}: {error}; nothing was changed") from None
    if fetched.status != 200:
        raise RemoteError(
            f"cannot fetch {url}: HTTP {fetched.status}; nothing was changed. Check the URL and run again"
        )
    try:
        text = fetched.body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RemoteError(f"{url} is not UTF-8 text; pass an llms.txt or sitemap.xml") from None
    return parse_listing(text, fetched.url)


def _failed_page(
    url: str, path: str, previous: dict[str, Any] | None, error: Exception, report: SyncReport
) -> dict[str, Any] | None:
    """A page whose mirroring raised what nothing expected: reported, its previous entry kept."""
    log.debug("mirroring %s failed", url, exc_info=True)
    kept = previous if previous is not None and previous.get("path") == path else None
    reason = f"could not be mirrored ({type(error).__name__}: {str(error)[:200]})"
    report.failed.append(Skipped(url, reason + ("; kept the previous copy" if kept else "")))
    return kept


async def _sync_page(
    fetcher: _Fetcher,
    url: str,
    path: str,
    previous: dict[str, Any] | None,
    folder: Path,
    report: SyncReport,
) -> dict[str, Any] | None:
    """The page's new manifest entry; its previous one if it failed (None if there was none)."""
    target = folder / path
    if not target.parent.resolve().is_relative_to(folder.resolve()):
        raise FetchError("its mirror file would be outside the mirror (a link in the cache folder)")
    have_copy = previous is not None and previous.get("path") == path and target.is_file()
    kept = previous if have_copy else None
    headers = {}
    if have_copy and previous is not None:
        if previous.get("etag"):
            headers["If-None-Match"] = previous["etag"]
        if previous.get("last_modified"):
            headers["If-Modified-Since"] = previous["last_modified"]
    fetch_url = previous.get("fetched_url", url) if have_copy and previous is not None else url
    try:
        fetched = await fetcher.get(fetch_url, fetcher.limits.max_page_bytes, headers)
        if fetched.status == 304 and have_copy:
            report.unchanged += 1
            return previous
        if fetched.status == 200 and is_html(fetched.headers.get("content-type", ""), fetched.body):
            fetched = await _markdown_instead(fetcher, url)
        if fetched.status != 200:
            raise FetchError(f"HTTP {fetched.status}")
        try:
            text = fetched.body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise FetchError("not UTF-8 text") from None
    except FetchError as error:
        report.failed.append(Skipped(url, str(error) + ("; kept the previous copy" if kept else "")))
        return kept
    digest = hashlib.sha256(fetched.body).hexdigest()
    if have_copy and previous is not None and previous.get("sha256") == digest:
        report.unchanged += 1
    else:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        # A notebook is JSON: front matter would break it, so its URL stays in the manifest only.
        is_notebook = path.lower().endswith(".ipynb")
        _write_atomically(target, text if is_notebook else with_source_url(text, url))
        report.downloaded.append(url)
    return {
        "path": path,
        "fetched_url": fetched.url,
        "etag": fetched.headers.get("etag"),
        "last_modified": fetched.headers.get("last-modified"),
        "sha256": digest,
        "fetched_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


async def _markdown_instead(fetcher: _Fetcher, url: str) -> _Fetched:
    """An HTML page's Markdown twin (URL.md, or index.md for a folder URL), if the site has one."""
    tried = markdown_alternatives(url)
    for candidate in tried:
        fetched = await fetcher.get(candidate, fetcher.limits.max_page_bytes)
        if fetched.status == 200 and not is_html(fetched.headers.get("content-type", ""), fetched.body):
            return fetched
    raise FetchError(f"is an HTML page, and {' / '.join(tried)} serves no Markdown; skipped")


# -- the mirror on disk -------------------------------------------------------------------------


def _read_manifest(mirror: Path, source: RemoteSource, report: SyncReport) -> dict[str, Any] | None:
    """The manifest's pages, {} for a new mirror, None when it is unreadable or not this source's."""
    path = mirror / MANIFEST_NAME
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        problem = None
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            problem = "not a docs-mcp mirror manifest"
        elif data.get("source") != source.key:
            problem = f"it belongs to {data.get('source')!r}"
        elif not isinstance(data.get("pages"), dict) or not all(
            _well_formed(url, entry) for url, entry in data["pages"].items()
        ):
            problem = "its pages are malformed"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        problem = f"unreadable ({type(error).__name__})"
    if problem is not None:
        report.warnings.append(f"{path} was {problem}; the mirror was rebuilt and every page downloaded")
        return None
    pages: dict[str, Any] = data["pages"]
    return pages


def _well_formed(url: str, entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("path"), str)
        and all(isinstance(entry.get(key), str | None) for key in _MANIFEST_TEXT_KEYS)
    )


_MANIFEST_TEXT_KEYS = ("fetched_url", "etag", "last_modified", "sha256", "fetched_at")


def _write_manifest(mirror: Path, source: RemoteSource, entries: dict[str, Any]) -> None:
    data = {"format": MANIFEST_FORMAT, "source": source.key, "pages": entries}
    _write_atomically(mirror / MANIFEST_NAME, json.dumps(data, indent=1, ensure_ascii=False) + "\n")


def _write_atomically(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, target)


def _prune(folder: Path, keep: set[str]) -> None:
    """Delete every file under `folder` that is not a kept page, then the folders left empty."""
    for directory, _, files in os.walk(folder, topdown=False):
        for name in files:
            file = Path(directory) / name
            if file.relative_to(folder).as_posix() not in keep:
                file.unlink()
        if Path(directory) != folder and not any(Path(directory).iterdir()):
            Path(directory).rmdir()


def _remove_tree(folder: Path) -> None:
    _prune(folder, set())
    folder.rmdir()


class WebsiteSource:
    """An llms.txt, a sitemap or a list of URLs: the pages are mirrored, then indexed as a folder."""

    kind = "website"

    def __init__(self, spec: SourceSpec, settings: Settings) -> None:
        self.scope = index_scope(spec.collection, spec.version)
        self.source = remote_source(spec.location, spec.urls_file)
        self.label = self.source.key
        self.mirror = mirror_dir(settings.cache_dir, self.source)
        self.limits = RemoteLimits.from_settings(settings)
        self.notes: list[str] = []

    def checkouts(self, published: PublishedVersions) -> Iterator[Checkout]:
        with mirror_lock(self.mirror):  # held while the pages are indexed
            fetched = sync_mirror(self.source, self.mirror, self.limits)
            yield Checkout(self.scope, self.label, pages_dir(self.mirror), fetched=fetched)

    def plan(self, published: PublishedVersions) -> list[str]:
        return [
            f"{self.scope.label}: would fetch {self.source.listing_url or self.label} and download the "
            "pages that changed since the last run"
        ]
