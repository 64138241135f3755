"""`make run` from a fresh checkout: the environment it builds, repairs, and says it is building.

scripts/make-venv.sh is what `make .venv/.installed` runs. Its `--check` mode says what it would
do without installing anything (a real install takes a minute and the network), so the cases
below build environments by hand: made by a Python that is too old, half made, complete.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "make-venv.sh"

pytestmark = pytest.mark.skipif(
    not shutil.which("bash") or not shutil.which("make"), reason="needs bash, make"
)


def fake_python(folder: Path, version: str) -> Path:
    """An interpreter that reports `version` the way the script asks (and fails if it is < 3.11)."""
    folder.mkdir(parents=True, exist_ok=True)
    python = folder / "python3"
    major, minor = (int(part) for part in version.split(".")[:2])
    python.write_text(
        f'#!/bin/sh\necho "{version}"\nexit {1 if (major, minor) < (3, 11) else 0}\n', encoding="utf-8"
    )
    python.chmod(0o755)
    return python


def real_python(folder: Path) -> Path:
    """This interpreter (3.11+, with pip), as a venv's bin/python would be."""
    folder.mkdir(parents=True, exist_ok=True)
    python = folder / "python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n', encoding="utf-8")
    python.chmod(0o755)
    return python


def check(python: Path | str, venv: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), "--check", str(python), str(venv)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_unsupported_python_is_refused_before_anything_is_created(tmp_path):
    venv = tmp_path / ".venv"
    old = fake_python(tmp_path / "old", "3.10.13")
    result = subprocess.run(
        ["make", "-C", str(REPO), f"{venv}/.installed", f"VENV={venv}", f"PYTHON={old}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and not venv.exists()
    assert f"PYTHON={old} is Python 3.10.13; docs-mcp needs Python 3.11 or newer" in result.stderr
    assert "PYTHON=python3.11 (or newer)" in result.stderr


def test_a_python_that_is_not_there_is_named():
    result = check("no-such-python3", Path("/nonexistent/venv"))
    assert result.returncode == 1 and "PYTHON=no-such-python3 was not found" in result.stderr


def test_a_venv_made_by_an_unsupported_python_is_rebuilt(tmp_path):
    venv = tmp_path / ".venv"
    fake_python(venv / "bin", "3.10.13").rename(venv / "bin" / "python")
    result = check(sys.executable, venv)
    assert result.returncode == 0
    assert (
        result.stdout.strip()
        == f"rebuild: {venv} was made by Python 3.10.13, and docs-mcp needs 3.11 or newer"
    )


@pytest.mark.parametrize(
    ("make_venv", "expected"),
    [
        (lambda venv: venv.mkdir(), "has no bin/python (a half-made environment)"),
        (
            lambda venv: (
                (venv / "bin").mkdir(parents=True) or (venv / "bin" / "python").symlink_to("/gone/python3")
            ),
            "has no bin/python",
        ),
    ],
    ids=["empty", "dangling-interpreter"],
)
def test_a_half_made_venv_is_rebuilt(tmp_path, make_venv, expected):
    venv = tmp_path / ".venv"
    make_venv(venv)
    result = check(sys.executable, venv)
    assert result.stdout.startswith("rebuild: ") and expected in result.stdout


def test_a_venv_whose_pip_does_not_run_is_rebuilt(tmp_path):
    venv = tmp_path / ".venv"
    python = venv / "bin" / "python"
    python.parent.mkdir(parents=True)
    # Python runs (3.11+), but `-m pip` fails: what an interrupted `python -m venv` leaves.
    python.write_text(
        f'#!/bin/sh\ncase "$*" in *"-m pip"*) exit 1 ;; esac\nexec "{sys.executable}" "$@"\n',
        encoding="utf-8",
    )
    python.chmod(0o755)
    assert (
        check(sys.executable, venv).stdout.strip()
        == f"rebuild: {venv} has no working pip (a half-made environment)"
    )


def test_a_good_venv_is_installed_into_until_its_stamp_says_it_is_ready(tmp_path):
    venv = tmp_path / ".venv"
    real_python(venv / "bin")
    assert check(sys.executable, venv).stdout.strip() == "install"  # an install that did not finish
    (venv / ".installed").touch()
    os.utime(venv / ".installed", (REPO.joinpath("pyproject.toml").stat().st_mtime + 10,) * 2)
    assert check(sys.executable, venv).stdout.strip() == "ready"


def test_make_run_indexes_and_serves_a_demo_index_of_its_own_and_says_where_docs_mcp_is():
    result = subprocess.run(
        ["make", "-C", str(REPO), "-n", "run", "VENV=.venv"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "MAKEFLAGS": ""},
    )
    plan = result.stdout
    assert ".venv/bin/docs-mcp index --db .docs-mcp/demo-index" in plan
    assert ".venv/bin/docs-mcp serve --transport http --db .docs-mcp/demo-index" in plan
    assert f"docs-mcp is {REPO}/.venv/bin/docs-mcp (not on your PATH" in plan
    assert "source .venv/bin/activate" in plan
