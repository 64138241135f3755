"""Docs from git repositories, at the refs people run.

    docs-mcp index git+https://github.com/org/frob.git --path docs
    docs-mcp index git+https://github.com/org/frob.git --refs 'v*' --max-versions 3
    docs-mcp index git+ssh://git@host/org/frob.git --ref v2.0

The remote's refs are listed first (`git ls-remote`, no objects transferred). A
ref whose commit is the one its published version was built from is up to date:
nothing is fetched, checked out or embedded. The others are fetched into one
cache repository per (repository, --path):

    <cache>/git/<host>-<name>-<hash>/repo/    a shallow, blobless partial clone whose
                                             sparse checkout holds only the doc files
                                             (*.md, *.mdx, ...) under --path
    <cache>/git/<host>-<name>-<hash>/.lock    one run at a time

and checked out one after the other; the indexer then embeds only files whose
content changed since that version was published.

It is the user's own `git`, so credential helpers and ssh configuration work as
they do for them. What docs-mcp adds, whatever the user's configuration says:

- only the https, ssh, git and file transports (GIT_ALLOW_PROTOCOL), redirects included;
- no hooks, no submodules, no filters (LFS or any other smudge filter: an LFS
  pointer file is skipped, not downloaded), no gc left running in the background;
- no prompt can wait for an answer: no terminal (its own session, stdin closed),
  GIT_TERMINAL_PROMPT=0, no askpass program, ssh in batch mode, so a repository
  that needs credentials git cannot find fails at once with what to do;
- every git command finishes within `git_timeout_seconds`, and the cache
  repository (objects and checkout) stays under `git_max_bytes`: over either,
  git is stopped and the error names the setting to raise;
- credentials in a URL (git+https://user:token@host/...) are handed to git
  through a credential helper that reads them from its environment and answers
  only for that host; they are never written to the cache repository, never
  on a command line, and never in a message, log, collection name or result.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import logging
import os
import re
import resource
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from docs_mcp.collection import DEFAULT_COLLECTION, Scope, check_name, sort_versions
from docs_mcp.errors import ConfigError, GitSourceError
from docs_mcp.formats import SOURCE_SUFFIXES
from docs_mcp.sources import Checkout, PublishedVersions, alone_in
from docs_mcp.sources.folder import Skipped
from docs_mcp.sources.spec import SourceSpec, redact_urls

if TYPE_CHECKING:
    from docs_mcp.config import Settings

log = logging.getLogger(__name__)

SCHEME_PREFIX = "git+"
TRANSPORTS = ("https", "ssh", "git", "file")
MIN_GIT_VERSION = (2, 25)
DEFAULT_MAX_VERSIONS = 5
# The refs a run fetches are kept under this namespace of the cache repository.
LOCAL_REF_PREFIX = "refs/docs-mcp/"
# An LFS pointer is a small text file that starts with this line (the LFS spec caps it at 1024 bytes).
LFS_POINTER_START = b"version https://git-lfs.github.com/spec/"
LFS_POINTER_MAX_BYTES = 1024
# How often a running git command's time and disk use are checked.
POLL_SECONDS = 0.1
_HEX = re.compile(r"[0-9a-f]{7,40}")
_FULL_HEX = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
# The variables that point git at another repository: `git rev-parse --local-env-vars`, and the
# ones that carry a parent git's `-c` options. A docs-mcp run from inside a git hook or alias
# must not act on the repository that hook runs in.
_REPOSITORY_VARIABLES = (
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_OBJECT_DIRECTORY",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_IMPLICIT_WORK_TREE",
    "GIT_GRAFT_FILE",
    "GIT_INDEX_FILE",
    "GIT_NO_REPLACE_OBJECTS",
    "GIT_REPLACE_REF_BASE",
    "GIT_PREFIX",
    "GIT_INTERNAL_SUPER_PREFIX",
    "GIT_SHALLOW_FILE",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_QUARANTINE_PATH",
)
# Options on every git command: what a repository or the user's configuration could otherwise
# make git run or fetch. Filters are also switched off by the cache repository's info/attributes.
_SAFE_OPTIONS = (
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "core.askPass=",
    "credential.interactive=false",
    "submodule.recurse=false",
    "fetch.recurseSubmodules=false",
    "filter.lfs.smudge=",
    "filter.lfs.process=",
    "filter.lfs.required=false",
    # Housekeeping stays inside the command and its time bound, never a process left behind.
    "gc.autoDetach=false",
    "maintenance.autoDetach=false",
    "advice.detachedHead=false",
    "protocol.version=2",
    "transfer.fsckObjects=true",
    # A file:// repository's upload-pack runs here, with these options: let it filter blobs.
    "uploadpack.allowFilter=true",
)
# Every path in the cache repository: no filter of any kind, no line-ending or encoding change.
_ATTRIBUTES = "* -filter -text -ident -working-tree-encoding\n"


@dataclass(frozen=True)
class GitLimits:
    timeout_seconds: float
    max_bytes: int

    @classmethod
    def from_settings(cls, settings: Any) -> GitLimits:
        return cls(timeout_seconds=settings.git_timeout_seconds, max_bytes=settings.git_max_bytes)


# -- the URL --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GitRemote:
    """A repository URL taken apart: what git fetches, what people see, what stays secret."""

    url: str  # what git is given: no password, no user name except ssh's login name
    shown: str  # for messages, logs and provenance: no user information at all
    name: str  # the repository's name: `frob` for .../frob.git
    host: str  # host[:port], which the URL's credentials are sent to ('' for file://)
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    @property
    def has_credentials(self) -> bool:
        return self.username is not None

    def redact(self, text: str) -> str:
        """`text` with this URL's credentials, and any user:password@ in a URL, removed. git is
        never given them in a URL, so this is a second line of defence; values under 4 characters
        are left alone (replacing every "u" of a message would only garble it)."""
        for secret in (self.password, self.username):
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        return redact_urls(text)


def is_git_url(text: str) -> bool:
    return text.lower().startswith(SCHEME_PREFIX)


def parse_git_url(text: str) -> GitRemote:
    """A `git+https://`, `git+ssh://`, `git+git://` or `git+file://` URL, or a ConfigError."""
    if not is_git_url(text):
        raise ConfigError(f"{redact_urls(text)!r} is not a git URL; write git+https://host/org/repo.git")
    rest = text[len(SCHEME_PREFIX) :]
    parts = urlsplit(rest)
    scheme = parts.scheme.lower()
    shown_guess = redact_urls(text)
    if scheme not in TRANSPORTS or "://" not in rest:
        raise ConfigError(
            f"{shown_guess!r}: docs-mcp fetches git repositories over "
            f"{', '.join(SCHEME_PREFIX + t + '://' for t in TRANSPORTS[:-1])} or "
            f"{SCHEME_PREFIX}{TRANSPORTS[-1]}:// only"
            + ("; for plain http, use https" if scheme == "http" else "")
        )
    if parts.query or parts.fragment:
        raise ConfigError(
            f"{redact_urls(text.split('?')[0].split('#')[0])!r}: a git URL with a ?query or #fragment "
            "is not supported; name the ref with --ref or --refs and the folder with --path"
        )
    try:
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        raise ConfigError(f"{shown_guess!r} has an invalid port") from None
    netloc = host if ":" not in host else f"[{host}]"
    if port is not None:
        netloc += f":{port}"
    if scheme == "file":
        if host not in ("", "localhost"):
            raise ConfigError(f"{shown_guess!r}: a file:// URL names a folder on this machine: file:///path")
        netloc = ""
    elif not host:
        raise ConfigError(f"{shown_guess!r} names no host; write {SCHEME_PREFIX}{scheme}://host/path")
    path = parts.path
    if not path.strip("/"):
        raise ConfigError(
            f"{shown_guess!r} names no repository; write {SCHEME_PREFIX}{scheme}://host/org/repo.git"
        )
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    if scheme in ("git", "file") and (username or password):
        raise ConfigError(f"{shown_guess!r}: {scheme}:// takes no user name or password; remove them")
    if scheme == "ssh" and password is not None:
        raise ConfigError(
            f"{shown_guess!r}: a password in an ssh:// URL is never used: ssh signs in with keys "
            "(ssh-agent, ~/.ssh/config); remove it from the URL"
        )
    shown = f"{scheme}://{netloc}{path}"
    if scheme == "ssh":
        login = f"{parts.username}@" if parts.username else ""
        return GitRemote(f"ssh://{login}{netloc}{path}", shown, _repository_name(path), netloc)
    return GitRemote(shown, shown, _repository_name(path), netloc, username, password)


def _repository_name(path: str) -> str:
    last = PurePosixPath(unquote(path).rstrip("/")).name
    return last[: -len(".git")] if last.lower().endswith(".git") and len(last) > 4 else last


def default_collection(remote: GitRemote) -> str:
    try:
        return check_name(remote.name, "collection")
    except ConfigError:
        raise ConfigError(
            f"the repository name {remote.name!r} is not a valid collection name; pass --collection NAME "
            "(letters, digits, '.', '_' or '-')"
        ) from None


def normalise_path(path: str | None) -> str:
    """--path as a clean relative POSIX folder ('' for the whole repository), or a ConfigError."""
    if path is None:
        return ""
    cleaned = path.replace("\\", "/").strip().strip("/")
    parts = [p for p in cleaned.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts) or cleaned.startswith("/"):
        raise ConfigError(f"--path {path!r} must be a folder inside the repository, like 'docs'")
    if any(p.startswith(".") for p in parts):
        raise ConfigError(f"--path {path!r} is hidden: docs-mcp does not index hidden folders")
    if any(ch in cleaned for ch in "*?[]!\x00\n"):
        raise ConfigError(f"--path {path!r}: name a folder, without wildcards")
    return "/".join(parts)


# -- running git ----------------------------------------------------------------------------------


def git_environment(remote: GitRemote | None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment every git command runs with: the user's, minus anything that could point
    git at another repository or wait for an answer, plus the transports allowed."""
    env = dict(os.environ if base is None else base)
    for name in _REPOSITORY_VARIABLES:
        env.pop(name, None)
    env.pop("SSH_ASKPASS", None)
    env.update(
        GIT_ALLOW_PROTOCOL=":".join(TRANSPORTS),
        GIT_TERMINAL_PROMPT="0",
        GIT_ASKPASS="",  # empty: neither core.askPass nor SSH_ASKPASS is run instead
        SSH_ASKPASS_REQUIRE="never",
        GCM_INTERACTIVE="never",  # Git Credential Manager: fail rather than open a window
        GIT_LFS_SKIP_SMUDGE="1",
        GIT_OPTIONAL_LOCKS="0",
        LC_ALL="C",  # git's messages in English: the error messages below read them
        LANGUAGE="C",
    )
    if "GIT_SSH_COMMAND" not in env and "GIT_SSH" not in env and not _configured_ssh_command(env):
        env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes -o ConnectTimeout=30"
    if remote is not None and remote.has_credentials:
        env["_DOCS_MCP_GIT_HOST"] = remote.host
        env["_DOCS_MCP_GIT_USERNAME"] = remote.username or ""
        env["_DOCS_MCP_GIT_PASSWORD"] = remote.password or ""
    return env


def _credential_options(remote: GitRemote | None) -> list[str]:
    """A credential helper that answers with the URL's credentials, for its host only. The
    helper's text holds no secret: it reads them from the environment git passes it."""
    if remote is None or not remote.has_credentials:
        return []
    helper = (
        '!f() { test "$1" = get || exit 0; h=; while IFS= read -r line; do case "$line" in '
        'host=*) h="${line#host=}";; esac; done; test "$h" = "$_DOCS_MCP_GIT_HOST" || exit 0; '
        'printf "username=%s\\npassword=%s\\n" "$_DOCS_MCP_GIT_USERNAME" "$_DOCS_MCP_GIT_PASSWORD"; }; f'
    )
    # The empty value first clears the user's helpers: the URL's credentials are what was asked for.
    return ["-c", "credential.helper=", "-c", f"credential.helper={helper}"]


def _configured_ssh_command(env: Mapping[str, str]) -> bool:
    """Whether the user's git configuration names an ssh command (core.sshCommand)."""
    try:
        found = subprocess.run(
            ["git", "config", "--get", "core.sshCommand"],
            env={k: v for k, v in env.items() if k not in _REPOSITORY_VARIABLES},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=10,
            cwd="/",
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return bool(found.stdout.strip())


def git_version(env: Mapping[str, str] | None = None) -> tuple[int, ...] | None:
    """The installed git's version, or None when there is no git command."""
    try:
        found = subprocess.run(
            ["git", "--version"],
            capture_output=True,
            text=True,
            timeout=10,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", found.stdout)
    return tuple(int(n) for n in match.groups() if n is not None) if match else None


def require_git() -> None:
    version = git_version()
    if version is None:
        raise GitSourceError(
            "git is not installed (no `git` command on PATH); install git "
            f"{'.'.join(map(str, MIN_GIT_VERSION))} or newer to index git repositories"
        )
    if version < MIN_GIT_VERSION:
        raise GitSourceError(
            f"git {'.'.join(map(str, version))} is too old to index git repositories; install git "
            f"{'.'.join(map(str, MIN_GIT_VERSION))} or newer"
        )


@dataclass
class _Runner:
    remote: GitRemote
    limits: GitLimits
    env: dict[str, str]
    commands: int = 0

    def run(self, args: Sequence[str], cwd: Path, what: str, watch: Path | None = None) -> str:
        """Run one git command, bounded in time and (when `watch` is given) in disk use; its
        stdout, or a GitSourceError that says what went wrong and what to do."""
        command = ["git", *_options(), *_credential_options(self.remote), *args]
        log.debug("git %s (in %s)", " ".join(args), cwd)
        self.commands += 1
        max_bytes = self.limits.max_bytes
        try:
            process = subprocess.Popen(
                command,
                cwd=cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # no controlling terminal: nothing can prompt; killed as a group
            )
        except FileNotFoundError:
            raise GitSourceError("git is not installed (no `git` command on PATH); install git") from None
        _limit_file_size(process.pid, max_bytes)
        deadline = time.monotonic() + self.limits.timeout_seconds
        over_size = False
        while True:
            try:
                stdout, stderr = process.communicate(timeout=POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                pass
            if time.monotonic() > deadline:
                _stop(process)
                raise GitSourceError(
                    f"{what} did not finish within {self.limits.timeout_seconds:g} s (git_timeout_seconds); "
                    f"check that {self.remote.shown} is reachable, or raise git_timeout_seconds "
                    "(DOCS_MCP_GIT_TIMEOUT_SECONDS) for a large repository"
                )
            if watch is not None and folder_bytes(watch) > max_bytes:
                over_size = True
                _stop(process)
                process.communicate()
                break
        message = stderr.decode("utf-8", "replace")
        # A file over the size limit stops git, or the program git ran (index-pack), with SIGXFSZ.
        file_too_large = process.returncode == -signal.SIGXFSZ or bool(
            re.search(rf"signal {int(signal.SIGXFSZ)}\b|File size limit exceeded", message)
        )
        if over_size or file_too_large:
            raise GitSourceError(
                f"{what} stopped: {self.remote.shown} needs more than {max_bytes:,} bytes on disk "
                "(git_max_bytes); raise git_max_bytes (DOCS_MCP_GIT_MAX_BYTES), or index a smaller "
                "folder with --path"
            )
        if process.returncode != 0:
            raise GitSourceError(self.remote.redact(explain_failure(what, self.remote, message)))
        return stdout.decode("utf-8", "replace")


def _limit_file_size(pid: int, max_bytes: int) -> None:
    """No file git (or a process it starts) writes may pass `max_bytes`: a blob that unpacks to
    gigabytes is stopped by the kernel (SIGXFSZ), not found by the next look at the folder. Set
    on the running process (where the platform allows) rather than in a preexec function: that
    would fork the whole process, threads and LanceDB's runtime included."""
    prlimit = getattr(resource, "prlimit", None)
    if prlimit is not None:
        with contextlib.suppress(OSError, ValueError):
            prlimit(pid, resource.RLIMIT_FSIZE, (max_bytes, max_bytes))


def _options() -> list[str]:
    return [arg for option in _SAFE_OPTIONS for arg in ("-c", option)]


def _stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


def folder_bytes(folder: Path) -> int:
    """Bytes in the files under `folder` (not following links); files that vanish are skipped."""
    total = 0
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(Path(entry.path))
                        else:
                            total += entry.stat(follow_symlinks=False).st_size
                    except OSError:
                        continue
        except OSError:
            continue
    return total


_FAILURES: tuple[tuple[str, str], ...] = (
    (
        r"terminal prompts disabled|could not read (Username|Password)|Authentication failed|"
        r"HTTP Basic: Access denied|Permission denied \(publickey|requested URL returned error: 40[13]|"
        r"Invalid username or password",
        "{shown} needs credentials that git could not find (docs-mcp never waits for a password): "
        "configure a git credential helper for {host} (`git config --global credential.helper ...`), "
        "use a git+ssh:// URL with a key your ssh agent holds, or put a token in the URL "
        "(git+https://TOKEN@{host}/...; it is never shown or stored)",
    ),
    (
        r"Host key verification failed",
        "ssh does not know the host key of {host}, and docs-mcp never answers ssh's question: connect "
        "once with `ssh {host}` (or add the key to ~/.ssh/known_hosts), then run again",
    ),
    (
        r"transport '([^']+)' not allowed",
        "git was asked to use the '{match1}' transport for {shown}, which docs-mcp does not allow (only "
        "https, ssh, git and file): check url.*.insteadOf rewrites in your git configuration",
    ),
    (
        r"Could not resolve host|Could not resolve hostname|Name or service not known|"
        r"Temporary failure in name resolution|unable to look up",
        "cannot resolve the host of {shown}: check the URL and your network or DNS",
    ),
    (
        r"Connection refused|Network is unreachable|No route to host|Connection timed out|"
        r"unable to connect to|Failed to connect to|Connection reset|Could not connect",
        "cannot connect to {shown}: the host is unreachable or nothing listens there; check the URL "
        "and your network",
    ),
    (
        r"SSL certificate problem|server certificate verification failed|certificate verify failed",
        "the TLS certificate of {host} is not trusted: install the CA that signed it "
        "(git config http.sslCAInfo FILE) rather than turning verification off",
    ),
    (
        r"Repository not found|does not appear to be a git repository|no such repository|"
        r"not exported|repository '[^']*' not found|returned error: 404|No such file or directory",
        "there is no repository at {shown} (or it is private and these credentials cannot see it); "
        "check the URL",
    ),
)


def explain_failure(what: str, remote: GitRemote, stderr: str) -> str:
    """A failed git command's message for a person: the known causes in our words, else git's."""
    for pattern, message in _FAILURES:
        match = re.search(pattern, stderr, flags=re.IGNORECASE)
        if match:
            extra = {"match1": match.group(1) if match.groups() else ""}
            return f"{what} failed: " + message.format(shown=remote.shown, host=remote.host or "it", **extra)
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    detail = "; ".join(lines[-3:])[:500] if lines else "no message"
    return f"{what} failed ({detail}); check the URL and that `git ls-remote` works for it"


# -- which refs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RemoteRefs:
    head: str | None  # the default branch's name, from the HEAD symref
    branches: dict[str, str]  # name -> commit
    tags: dict[str, str]  # name -> commit (annotated tags peeled)


def parse_ls_remote(text: str) -> RemoteRefs:
    head = None
    branches: dict[str, str] = {}
    tags: dict[str, str] = {}
    peeled: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ref: ") and line.endswith("\tHEAD"):
            target = line[len("ref: ") : -len("\tHEAD")]
            head = target.removeprefix("refs/heads/")
            continue
        oid, _, name = line.partition("\t")
        if name.startswith("refs/heads/"):
            branches[name.removeprefix("refs/heads/")] = oid
        elif name.startswith("refs/tags/") and name.endswith("^{}"):
            peeled[name.removeprefix("refs/tags/").removesuffix("^{}")] = oid
        elif name.startswith("refs/tags/"):
            tags[name.removeprefix("refs/tags/")] = oid
    tags.update({name: oid for name, oid in peeled.items() if name in tags})
    return RemoteRefs(head, branches, tags)


@dataclass(frozen=True)
class Wanted:
    """One ref to index as one version."""

    version: str
    ref: str  # as asked for (tag or branch name, or commit)
    kind: str  # "tag", "branch" or "commit"
    commit: str
    fetch: str  # what `git fetch` is given: a full ref name, or the commit


def select_refs(
    refs: RemoteRefs,
    shown: str,
    ref: str | None = None,
    pattern: str | None = None,
    max_versions: int = DEFAULT_MAX_VERSIONS,
    version: str | None = None,
) -> tuple[list[Wanted], list[str]]:
    """The versions to index, newest first, and notes on matching tags that cannot be versions."""
    if pattern is not None:
        if ref is not None or version is not None:
            raise ConfigError("--refs makes one version per tag: pass it without --ref and --version")
        matching = [name for name in refs.tags if fnmatch.fnmatchcase(name, pattern)]
        notes = []
        valid = []
        for name in matching:
            try:
                valid.append(check_name(name, "version"))
            except ConfigError:
                notes.append(f"tag {name!r} matches {pattern!r} but is not a valid version name; skipped")
        if matching and not valid:
            raise GitSourceError(
                f"the tags of {shown} matching --refs {pattern!r} ({', '.join(sorted(matching)[:8])}) "
                "are not valid version names (letters, digits, '.', '_' or '-'); index one with "
                "--ref TAG --version NAME"
            )
        if not valid:
            some = ", ".join(sort_versions(refs.tags)[-8:]) or "none"
            raise GitSourceError(
                f"no tag of {shown} matches --refs {pattern!r}; its newest tags: {some}. "
                "Quote the pattern so the shell does not expand it ('v*')"
            )
        newest = sort_versions(valid)[::-1][:max_versions]
        return [Wanted(t, t, "tag", refs.tags[t], f"refs/tags/{t}") for t in newest], notes
    wanted = _resolve(refs, shown, ref)
    name = version if version is not None else wanted.version
    try:
        name = check_name(name, "version")
    except ConfigError:
        raise ConfigError(
            f"{wanted.kind} {name!r} is not a valid version name; pass --version NAME "
            "(letters, digits, '.', '_' or '-'), for example --version main"
        ) from None
    return [Wanted(name, wanted.ref, wanted.kind, wanted.commit, wanted.fetch)], []


def _resolve(refs: RemoteRefs, shown: str, ref: str | None) -> Wanted:
    if ref is None:
        if refs.head is None or refs.head not in refs.branches:
            raise GitSourceError(
                f"{shown} has no default branch (an empty repository?); pass --ref BRANCH or --refs 'v*'"
            )
        return Wanted(refs.head, refs.head, "branch", refs.branches[refs.head], f"refs/heads/{refs.head}")
    short = ref.removeprefix("refs/tags/") if ref.startswith("refs/tags/") else None
    if short is not None or ref in refs.tags:
        name = short or ref
        if name in refs.tags:
            return Wanted(name, name, "tag", refs.tags[name], f"refs/tags/{name}")
    branch = ref.removeprefix("refs/heads/")
    if branch in refs.branches:
        return Wanted(branch, branch, "branch", refs.branches[branch], f"refs/heads/{branch}")
    lowered = ref.lower()
    if _HEX.fullmatch(lowered):
        tips = {oid for oid in [*refs.branches.values(), *refs.tags.values()] if oid.startswith(lowered)}
        if len(tips) == 1:
            commit = tips.pop()
            return Wanted(ref, ref, "commit", commit, commit)
        if _FULL_HEX.fullmatch(lowered):
            return Wanted(ref, ref, "commit", lowered, lowered)
        raise ConfigError(f"{ref!r} looks like an abbreviated commit; pass the full 40-character commit hash")
    branches = ", ".join(sorted(refs.branches)[:10]) or "none"
    tags = ", ".join(sort_versions(refs.tags)[-10:]) or "none"
    raise GitSourceError(
        f"{shown} has no branch or tag {ref!r}; its branches: {branches}; newest tags: {tags}"
    )


# -- the cache repository -------------------------------------------------------------------------


def cache_folder(cache_dir: Path, remote: GitRemote, path: str) -> Path:
    """<cache>/git/<host>-<name>-<hash>: one cache repository per (repository, --path)."""
    digest = hashlib.sha256(f"{remote.shown}\0{path}".encode()).hexdigest()[:10]
    host = re.sub(r"[^A-Za-z0-9.-]", "_", remote.host) or "local"
    name = re.sub(r"[^A-Za-z0-9._-]", "_", remote.name)[:40] or "repo"
    return cache_dir / "git" / f"{host}-{name}-{digest}"


def cache_lock(folder: Path) -> contextlib.AbstractContextManager[None]:
    """One run at a time per cache repository."""
    return alone_in(
        folder,
        f"another docs-mcp run is fetching into {folder}; wait for it to finish, or stop it and run again",
    )


def sparse_patterns(path: str) -> str:
    """Non-cone sparse-checkout patterns: the doc files (any case of their suffix) under `path`."""
    base = f"/{path}/**/" if path else ""
    lines = []
    for suffix in SOURCE_SUFFIXES:
        either_case = "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in suffix)
        lines.append(f"{base}*{either_case}")
    return "\n".join(lines) + "\n"


@dataclass
class CacheRepository:
    """The partial clone behind one git source: fetched into, checked out from, never pushed."""

    folder: Path
    remote: GitRemote
    path: str
    runner: _Runner

    @property
    def worktree(self) -> Path:
        return self.folder / "repo"

    @property
    def root(self) -> Path:
        """The folder the indexer reads: --path inside the checkout."""
        return self.worktree / self.path if self.path else self.worktree

    def prepare(self) -> None:
        """Create the repository, or repair one whose settings are not ours (a changed URL)."""
        git_dir = self.worktree / ".git"
        marker = git_dir / "docs-mcp.json"
        expected = {"repository": self.remote.shown, "path": self.path, "url": self.remote.url}
        if marker.is_file():
            try:
                if json.loads(marker.read_text(encoding="utf-8")) == expected:
                    return
            except (OSError, ValueError):
                pass
        if self.worktree.exists():
            log.info("starting the cache repository %s afresh", self.worktree)
            _remove_tree(self.worktree)
        self.worktree.mkdir(parents=True)
        run = self.runner.run
        # --template= : no hooks or other files from the user's init.templateDir.
        run(["init", "--quiet", "--template=", str(self.worktree)], self.folder, "git init")
        for key, value in (
            ("remote.origin.url", self.remote.url),
            ("remote.origin.promisor", "true"),
            ("remote.origin.partialclonefilter", "blob:none"),
            ("remote.origin.tagOpt", "--no-tags"),
            ("core.sparseCheckout", "true"),
            ("core.sparseCheckoutCone", "false"),
            ("core.symlinks", "true"),
        ):
            run(["config", key, value], self.worktree, "git config")
        info = git_dir / "info"
        info.mkdir(exist_ok=True)
        (info / "sparse-checkout").write_text(sparse_patterns(self.path), encoding="utf-8")
        (info / "attributes").write_text(_ATTRIBUTES, encoding="utf-8")
        marker.write_text(json.dumps(expected), encoding="utf-8")

    def fetch(self, wanted: Sequence[Wanted]) -> dict[str, str]:
        """Fetch the commits of `wanted` (one shallow, blobless fetch); version -> commit fetched."""
        refspecs = [f"+{w.fetch}:{LOCAL_REF_PREFIX}{w.version}" for w in wanted]
        # Refs of earlier runs would keep their objects forever: the index, not this cache, knows
        # which versions are current, so only this fetch's refs are kept (gc may drop the rest).
        kept = {f"{LOCAL_REF_PREFIX}{w.version}" for w in wanted}
        listed = self.runner.run(
            ["for-each-ref", "--format=%(refname)", LOCAL_REF_PREFIX], self.worktree, "listing cached refs"
        )
        for name in listed.split():
            if name not in kept:
                self.runner.run(["update-ref", "-d", name], self.worktree, "dropping a cached ref")
        self.runner.run(
            [
                "fetch",
                "--quiet",
                "--depth=1",
                "--filter=blob:none",
                "--no-tags",
                "--no-write-fetch-head",
                "origin",
                *refspecs,
            ],
            self.worktree,
            f"fetching {self.remote.shown}",
            watch=self.folder,
        )
        fetched = {}
        for w in wanted:
            out = self.runner.run(
                ["rev-parse", "--verify", "--quiet", f"{LOCAL_REF_PREFIX}{w.version}^{{commit}}"],
                self.worktree,
                "reading the fetched commit",
            )
            fetched[w.version] = out.strip()
        return fetched

    def has_path(self, commit: str) -> bool:
        if not self.path:
            return True
        out = self.runner.run(
            ["ls-tree", "-d", "--name-only", commit, "--", self.path], self.worktree, "git ls-tree"
        )
        return out.strip() == self.path

    def top_folders(self, commit: str) -> list[str]:
        out = self.runner.run(["ls-tree", "-d", "--name-only", commit], self.worktree, "git ls-tree")
        return [name for name in out.splitlines() if name and not name.startswith(".")]

    def checkout(self, commit: str, what: str) -> list[str]:
        """Check out `commit` (its doc files only); the paths (relative to --path) of LFS pointers,
        which are taken out of the checkout: their content is not in the repository."""
        self.runner.run(
            ["checkout", "--quiet", "--force", "--detach", commit], self.worktree, what, watch=self.folder
        )
        self.runner.run(["clean", "--quiet", "-ffdx"], self.worktree, "cleaning the checkout")
        return self._drop_lfs_pointers()

    def _drop_lfs_pointers(self) -> list[str]:
        pointers = []
        root = self.root
        for folder, subfolders, files in os.walk(root, followlinks=False):
            subfolders[:] = [d for d in subfolders if not d.startswith(".")]
            for name in files:
                file = Path(folder) / name
                try:
                    if file.is_symlink() or file.stat().st_size > LFS_POINTER_MAX_BYTES:
                        continue
                    with file.open("rb") as handle:
                        start = handle.read(len(LFS_POINTER_START))
                except OSError:
                    continue
                if start == LFS_POINTER_START:
                    pointers.append(file.relative_to(root).as_posix())
                    file.unlink()
        return sorted(pointers)


def _remove_tree(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


# -- provenance -----------------------------------------------------------------------------------


def origin_of(remote: GitRemote, wanted: Wanted, commit: str, path: str) -> dict[str, str]:
    """What a published version records about where it came from (see models.Origin)."""
    return {
        "kind": "git",
        "repository": remote.shown,
        "ref": wanted.ref,
        "ref_kind": wanted.kind,
        "commit": commit,
        "path": path,
    }


# -- the source -----------------------------------------------------------------------------------


class GitSource:
    """A git repository at one ref (--ref, default: its default branch) or at the newest tags
    matching a glob (--refs), each ref a version of one collection."""

    kind = "git"

    def __init__(self, spec: SourceSpec, settings: Settings) -> None:
        assert spec.location is not None
        self.remote = parse_git_url(spec.location)
        self.path = normalise_path(spec.path)
        self.collection: str = (
            check_name(spec.collection, "collection") if spec.collection else default_collection(self.remote)
        )
        if self.collection == DEFAULT_COLLECTION:
            raise ConfigError(
                "a git source is indexed as versions of a named collection; pass --collection NAME "
                f"(default: the repository's name, {self.remote.name!r})"
            )
        self.ref = spec.ref
        self.pattern = spec.refs
        self.max_versions = spec.max_versions or DEFAULT_MAX_VERSIONS
        self.version = spec.version
        self.limits = GitLimits.from_settings(settings)
        self.folder = cache_folder(settings.cache_dir, self.remote, self.path)
        self.label = SCHEME_PREFIX + self.remote.shown + (f" --path {self.path}" if self.path else "")
        self.notes: list[str] = []

    def _runner(self) -> _Runner:
        require_git()
        return _Runner(self.remote, self.limits, git_environment(self.remote))

    def _wanted(self, runner: _Runner, published: PublishedVersions) -> list[Wanted]:
        """The versions to index, from the remote's refs; notes on what changed upstream."""
        self.folder.mkdir(parents=True, exist_ok=True)
        listing = runner.run(
            # Branches and tags only: a forge's pull-request refs can number in the hundreds of thousands.
            ["ls-remote", "--symref", self.remote.url, "HEAD", "refs/heads/*", "refs/tags/*"],
            self.folder,
            f"listing the refs of {self.remote.shown}",
        )
        refs = parse_ls_remote(listing)
        wanted, notes = select_refs(
            refs, self.remote.shown, self.ref, self.pattern, self.max_versions, self.version
        )
        self.notes = notes + self._left_behind(refs, wanted, published)
        return wanted

    def _left_behind(self, refs: RemoteRefs, wanted: list[Wanted], published: PublishedVersions) -> list[str]:
        """Versions this source published before that this run does not update: they stay published
        (a deleted tag does not take away docs people run), and the run says so."""
        notes = []
        selected = {w.version for w in wanted}
        for version, origin in sorted(published.origins(self.collection, self.label).items()):
            if version in selected or origin.get("ref_kind") != "tag":
                continue
            commit = origin.get("commit", "")[:12]
            if origin.get("ref") not in refs.tags:
                notes.append(
                    f"{self.collection} {version}: tag {origin.get('ref')!r} no longer exists in "
                    f"{self.remote.shown}; the published version (commit {commit}) is kept and still served"
                )
            elif self.pattern is not None:
                notes.append(
                    f"{self.collection} {version}: no longer among the newest {self.max_versions} tags "
                    f"matching {self.pattern!r}; the published version (commit {commit}) is kept as it is"
                )
        return notes

    def _origin(self, wanted: Wanted, commit: str) -> dict[str, str]:
        return origin_of(self.remote, wanted, commit, self.path)

    def checkouts(self, published: PublishedVersions) -> Iterator[Checkout]:
        runner = self._runner()
        with cache_lock(self.folder):
            wanted = self._wanted(runner, published)
            stale = [
                w
                for w in wanted
                if not published.is_current(self._scope(w), self.label, self._origin(w, w.commit))
            ]
            repository = CacheRepository(self.folder, self.remote, self.path, runner)
            fetched: dict[str, str] = {}
            if stale:
                repository.prepare()
                fetched = repository.fetch(stale)
            for w in wanted:
                scope = self._scope(w)
                if w not in stale:
                    yield Checkout(scope, self.label, None, self._origin(w, w.commit))
                    continue
                commit = fetched[w.version]
                if not repository.has_path(commit):
                    folders = ", ".join(repository.top_folders(commit)[:12]) or "none"
                    yield Checkout(
                        scope,
                        self.label,
                        None,
                        error=f"--path {self.path!r} is not a folder of {self.remote.shown} at {w.ref} "
                        f"(commit {commit[:12]}); its top-level folders: {folders}",
                    )
                    continue
                pointers = repository.checkout(commit, f"checking out {w.ref} of {self.remote.shown}")
                skipped = tuple(
                    Skipped(p, "a Git LFS pointer: docs-mcp does not download LFS content") for p in pointers
                )
                yield Checkout(scope, self.label, repository.root, self._origin(w, commit), skipped)

    def plan(self, published: PublishedVersions) -> list[str]:
        runner = self._runner()
        with cache_lock(self.folder):
            wanted = self._wanted(runner, published)
        lines = []
        for w in wanted:
            scope = self._scope(w)
            origin = self._origin(w, w.commit)
            if published.is_current(scope, self.label, origin):
                lines.append(f"{scope.label}: up to date ({w.kind} {w.ref} at {w.commit[:12]})")
                continue
            before = published.origins(self.collection, self.label).get(w.version, {}).get("commit")
            moved = f"from {before[:12]} to {w.commit[:12]}" if before else f"at {w.commit[:12]}"
            lines.append(f"{scope.label}: would fetch and index {w.kind} {w.ref} {moved}")
        return lines

    def _scope(self, wanted: Wanted) -> Scope:
        return Scope(self.collection, wanted.version)
