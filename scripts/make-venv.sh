#!/usr/bin/env bash
# Create, repair or update the virtual environment `make` uses, saying what it does.
#
#   scripts/make-venv.sh PYTHON VENV            make it ready (what `make .venv/.installed` runs)
#   scripts/make-venv.sh --check PYTHON VENV    only say what it would do: "ready", "install",
#                                               "rebuild: WHY" or "error: WHY" (exit 1)
#
# A venv made by a Python older than 3.11 (say `make run PYTHON=python3.10`, which then fails to
# install), or one whose interpreter or pip no longer runs (a half-made one, an upgraded system
# Python), is removed and made again: reusing it would fail the same way every time.
set -euo pipefail

check_only=false
if [[ ${1:-} == --check ]]; then
    check_only=true
    shift
fi
python=${1:?usage: make-venv.sh [--check] PYTHON VENV}
venv=${2:?usage: make-venv.sh [--check] PYTHON VENV}
stamp="$venv/.installed"
minimum="3.11"
# Prints the interpreter's version; exits 0 only for a supported one.
probe='import sys; print("%d.%d.%d" % sys.version_info[:3]); sys.exit(sys.version_info < (3, 11))'

fail() {
    echo "error: $1" >&2
    exit 1
}

# What to do, and why: sets $action (install, rebuild, ready) and $why.
diagnose() {
    if ! command -v "$python" >/dev/null 2>&1; then
        fail "PYTHON=$python was not found; install Python $minimum or newer, or run make with PYTHON=/path/to/python3.11 (or newer)"
    fi
    local version
    if ! version=$("$python" -c "$probe" 2>/dev/null); then
        if [[ -z $version ]]; then
            fail "PYTHON=$python does not run as Python 3; run make with PYTHON=/path/to/python3.11 (or newer)"
        fi
        fail "PYTHON=$python is Python $version; docs-mcp needs Python $minimum or newer: run make with PYTHON=python3.11 (or newer)"
    fi
    python_version=$version
    action=install
    why=""
    if [[ ! -e $venv ]]; then
        return
    fi
    local venv_version
    if [[ ! -x $venv/bin/python ]]; then
        action=rebuild why="$venv has no bin/python (a half-made environment)"
    elif ! venv_version=$("$venv/bin/python" -c "$probe" 2>/dev/null); then
        if [[ -n $venv_version ]]; then
            action=rebuild why="$venv was made by Python $venv_version, and docs-mcp needs $minimum or newer"
        else
            action=rebuild why="the Python of $venv no longer runs (it was made by an interpreter that has moved or gone)"
        fi
    elif ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
        action=rebuild why="$venv has no working pip (a half-made environment)"
    elif [[ -e $stamp && ! pyproject.toml -nt $stamp ]]; then
        action=ready
    fi
}

diagnose
if $check_only; then
    echo "$action${why:+: $why}"
    exit 0
fi

if [[ $action == rebuild ]]; then
    echo "Rebuilding $venv: $why."
    rm -rf "$venv"
fi
if [[ ! -e $venv ]]; then
    echo "Creating $venv with $python (Python $python_version)..."
    "$python" -m venv "$venv" || fail "creating $venv failed (see above); run \`make clean\`, then try again"
fi
started=$SECONDS
echo "Installing docs-mcp and its dependencies into $venv (about 1 GB with the test tools;" \
    "a minute or two the first time)..."
"$venv/bin/python" -m pip install --quiet --upgrade pip ||
    fail "upgrading pip in $venv failed (see above); check the network, or run \`make clean\` and try again"
# pip's own output is long: show one line per package as it is fetched, so the wait is visible.
if ! "$venv/bin/python" -m pip install --progress-bar off -e ".[dev]" 2>&1 |
    while IFS= read -r line; do
        case $line in
            Collecting*) echo "  ${line%% (from*}" ;;
            ERROR* | error* | *"requires a different Python"*) echo "  $line" ;;
        esac
    done; then
    fail "installing into $venv failed (see above); check the network, or run \`make clean\` and try again"
fi
touch "$stamp"
echo "Installed in $((SECONDS - started)) s. The docs-mcp command is $venv/bin/docs-mcp: it is not on" \
    "your PATH, so run it by that path or \`source $venv/bin/activate\` first."
