"""The wheel, as users get it: built with `python -m build`, installed with pip into a fresh venv;
and `uv pip install .` from the source tree.

Slow (about 30 s: the fresh venv installs every dependency, from pip's cache after the first
run), but it is the only test that catches a file missing from the wheel or a dependency
missing from pyproject.toml.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from mcp.client.stdio import StdioServerParameters

from docs_mcp import __version__
from tests.test_transports import SAMPLE_CORPUS, run_all_tools

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[1]
INSTALL_SECONDS = 600


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv with only the built wheel (and its dependencies) installed; returns its bin dir."""
    dist = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(PROJECT)],
        capture_output=True,
        text=True,
        timeout=INSTALL_SECONDS,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = dist.glob("docs_mcp-*.whl")
    target = tmp_path_factory.mktemp("fresh-venv")
    venv.create(target, with_pip=True)
    installed = subprocess.run(
        [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
        capture_output=True,
        text=True,
        timeout=INSTALL_SECONDS,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    return target / "bin"


def run_in(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # cwd is outside the checkout, so nothing can be imported from the source tree by accident.
    return subprocess.run(
        args,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONNOUSERSITE": "1"},
    )


def test_the_installed_wheel_has_the_console_script_and_python_dash_m(
    fresh_venv: Path, tmp_path: Path
) -> None:
    assert run_in(tmp_path, str(fresh_venv / "docs-mcp"), "--version").stdout.strip() == (
        f"docs-mcp {__version__}"
    )
    module = run_in(tmp_path, str(fresh_venv / "python"), "-m", "docs_mcp", "--version")
    assert module.stdout.strip() == f"docs-mcp {__version__}", module.stderr


def test_the_installed_wheel_ships_its_own_docs_outside_the_checkout(
    fresh_venv: Path, tmp_path: Path
) -> None:
    code = "from docs_mcp.config import bundled_corpus; print(bundled_corpus())"
    corpus = Path(run_in(tmp_path, str(fresh_venv / "python"), "-c", code).stdout.strip())
    assert "site-packages" in corpus.parts and (corpus / "reference" / "configuration.md").is_file()


def test_the_installed_wheel_indexes_searches_and_serves(fresh_venv: Path, tmp_path: Path) -> None:
    docs_mcp = str(fresh_venv / "docs-mcp")
    db = str(tmp_path / "index")
    indexed = run_in(tmp_path, docs_mcp, "index", str(SAMPLE_CORPUS), "--db", db)
    assert indexed.returncode == 0, indexed.stderr
    found = run_in(tmp_path, docs_mcp, "search", "install with pip", "--db", db, "--json")
    assert json.loads(found.stdout)["hits"][0]["doc_id"] == "guides/installation", found.stderr
    run_all_tools(StdioServerParameters(command=docs_mcp, args=["serve", "--db", db], env=dict(os.environ)))


# -- uv -------------------------------------------------------------------------------------------

UV_VERSION = "0.13.9"
UV_VENV = PROJECT / ".tools" / f"uv-{UV_VERSION}-venv"


@pytest.fixture(scope="session")
def uv() -> Path:
    """uv, installed once with pip into its own venv under .tools/."""
    command = UV_VENV / "bin" / "uv"
    if command.exists():
        return command
    venv.create(UV_VENV, with_pip=True, clear=True)
    installed = subprocess.run(
        [str(UV_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", f"uv=={UV_VERSION}"],
        capture_output=True,
        text=True,
        timeout=INSTALL_SECONDS,
    )
    if installed.returncode != 0:
        pytest.skip(f"could not install uv=={UV_VERSION} (no package registry?): {installed.stderr[-1000:]}")
    return command


def test_uv_pip_install_of_the_source_tree_gives_a_working_docs_mcp(uv: Path, tmp_path: Path) -> None:
    target = tmp_path / "uv-venv"
    for args in (
        ["venv", "--quiet", str(target)],
        ["pip", "install", "--quiet", "--python", str(target), str(PROJECT)],
    ):
        done = subprocess.run([str(uv), *args], capture_output=True, text=True, timeout=INSTALL_SECONDS)
        assert done.returncode == 0, done.stderr[-3000:]
    version = run_in(tmp_path, str(target / "bin" / "docs-mcp"), "--version")
    assert version.stdout.strip() == f"docs-mcp {__version__}", version.stderr
    module = run_in(tmp_path, str(target / "bin" / "python"), "-m", "docs_mcp", "doctor", "--json")
    checks = {check["name"]: check["status"] for check in json.loads(module.stdout)}
    assert checks["packages"] == checks["model"] == checks["corpus"] == "ok", module.stdout
