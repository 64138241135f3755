"""Shared fixtures: an isolated environment, a small real corpus, the real model, a real index.

Every test runs with DOCS_MCP_* and XDG variables pointing into its own temp
folders, so nothing reads or writes the user's real index. The model directory
is assembled once per session (from the installed packages, as in production)
and shared.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from docs_mcp.embed import FastEmbedder
from docs_mcp.indexer import index_corpus
from docs_mcp.store import IndexStore

MODEL = "all-MiniLM-L6-v2-int8"


def initialize_request(client_name: str, request_id: int = 1) -> dict[str, object]:
    """The JSON-RPC `initialize` a client sends first, for tests that speak the raw wire."""
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": client_name, "version": "0"},
        },
    }


SAMPLE_CORPUS = Path(__file__).parent / "data" / "sample-docs"


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, model_cache: Path) -> None:
    for name in list(os.environ):
        if name.startswith("DOCS_MCP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("DOCS_MCP_CACHE_DIR", str(model_cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def embedder(model_cache: Path) -> FastEmbedder:
    return FastEmbedder(MODEL, model_cache)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A writable copy of the sample docs, for tests that change files."""
    target = tmp_path / "docs"
    shutil.copytree(SAMPLE_CORPUS, target)
    return target


@pytest.fixture(scope="session")
def shared_db(tmp_path_factory: pytest.TempPathFactory, embedder: FastEmbedder) -> str:
    """The sample docs indexed once with the real model; tests must not modify it."""
    db = str(tmp_path_factory.mktemp("shared-index") / "index")
    index_corpus(SAMPLE_CORPUS, IndexStore(db), embedder)
    return db


class HashingEmbedder:
    """Deterministic bag-of-words vectors: fast, and enough for ranking-logic tests."""

    name = "test-hashing"
    dim = 64
    max_tokens = 256

    def __init__(self) -> None:
        self.documents_embedded = 0

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(re.findall(r"\w+|[^\w\s]", text)) for text in texts]

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dim, dtype=np.float32)
        for word in re.findall(r"\w+", text.lower()):
            vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector + 1.0 / np.sqrt(self.dim)

    def embed_documents(self, texts: Sequence[str], progress: object = None) -> np.ndarray:
        self.documents_embedded += len(texts)
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts])

    def first_tokens(self, text: str, count: int) -> str:
        return " ".join(text.split()[:count])


@pytest.fixture
def fake_embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def free_port() -> Iterator[int]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    yield port


def wait_for(condition, seconds: float, what: str):
    """Poll `condition` until it returns something truthy; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    pytest.fail(f"timed out after {seconds} s waiting for {what}")
