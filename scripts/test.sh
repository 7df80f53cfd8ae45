#!/usr/bin/env bash
# scripts/test.sh — omnistorage's one test command (what CI runs via .ci/run).
#
# Works on a fresh Debian machine as root, and just as well on one where
# everything is already installed:
#   1. creates the virtualenv (.venv, or $VENV) if it is missing and installs
#      the project into it: pip install -e '.[dev]'
#   2. installs and starts the loopback test servers (scripts/servers.sh) and
#      exports their OMNI_TEST_* settings
#   3. runs the gates in order: the generated sync modules match their async
#      sources (scripts/unasync.py --check), ruff check, ruff format --check,
#      mypy --strict omnistorage, pytest (extra arguments go to pytest) in
#      parallel workers: OMNI_TEST_WORKERS of them (default 4; most tests wait
#      on servers and subprocesses, so a 2-core machine keeps 4 busy), or
#      OMNI_TEST_WORKERS=0 for one process
#   4. on exit, stops the servers this run started (servers that were already
#      up are left running; OMNI_KEEP_SERVERS=1 keeps all of them)
#
# Every gate runs even if an earlier one failed; the exit status is that of
# the first failing gate (0 if all pass). With CI set, OMNI_REQUIRE_SERVERS=1
# makes tests fail instead of skipping when a server is missing.
#
#   scripts/test.sh                       # everything
#   scripts/test.sh -k sftp -x            # pytest arguments pass through
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="${VENV:-.venv}"
export VENV
SERVERS="scripts/servers.sh"

say() { printf '\n==> %s\n' "$*"; }

# ------------------------------------------------------------ virtualenv --
# Debian's python3 has no venv/ensurepip without the python3-venv package.
if [[ ! -x "$VENV/bin/python" ]]; then
    if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
        say "apt-get install python3-venv"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            python3 python3-venv >/dev/null
    fi
    say "python3 -m venv $VENV"
    python3 -m venv "$VENV"
fi

# Whatever state the venv is in (made here, by the README's first command, or
# by hand): the pip bundled with Python 3.11 (23.x) may give up resolving the
# extras, so bring pip up to what they need before installing.
MIN_PIP=24.0
if ! "$VENV/bin/python" - "$MIN_PIP" <<'PY'
import sys
from importlib.metadata import version
have = tuple(int(p) for p in version("pip").split(".")[:2] if p.isdigit())
need = tuple(int(p) for p in sys.argv[1].split("."))
sys.exit(0 if have >= need else 1)
PY
then
    say "pip install --upgrade pip (older than $MIN_PIP)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
fi

say "pip install -e '.[dev]'"
# Quiet on success; pip still prints warnings and errors.
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[dev]'

# --------------------------------------------------------------- servers --
say "servers: install"
bash "$SERVERS" install

# Remember what was already up, so that only what this run starts is stopped.
already_up=" $(bash "$SERVERS" running | tr '\n' ' ') "

# shellcheck disable=SC2317  # invoked by the EXIT trap
stop_servers() {
    local rc=$? name to_stop=()
    trap - EXIT
    if [[ "${OMNI_KEEP_SERVERS:-}" != 1 ]]; then
        for name in s3 azure gcs sftp pg http; do
            [[ "$already_up" == *" $name "* ]] || to_stop+=("$name")
        done
        if ((${#to_stop[@]})); then
            say "servers: stop ${to_stop[*]}"
            bash "$SERVERS" stop "${to_stop[@]}" || true
        fi
    fi
    exit "$rc"
}
trap stop_servers EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "servers: start"
bash "$SERVERS" start
eval "$(bash "$SERVERS" env)"

if [[ -n "${CI:-}" && "${CI:-}" != "false" && "${CI:-}" != "0" ]]; then
    export OMNI_REQUIRE_SERVERS=1
fi

# ----------------------------------------------------------------- gates --
first_failure=0
failed=()

# gate NAME CMD…: run one gate; remember the first failing exit status.
gate() {
    local name="$1" rc=0
    shift
    say "$name: $*"
    "$@" || rc=$?
    if ((rc != 0)); then
        printf '!!! %s failed (exit %d)\n' "$name" "$rc"
        failed+=("$name")
        ((first_failure != 0)) || first_failure=$rc
    fi
}

gate "unasync" "$VENV/bin/python" scripts/unasync.py --check
gate "ruff check" "$VENV/bin/ruff" check .
gate "ruff format" "$VENV/bin/ruff" format --check .
gate "mypy" "$VENV/bin/mypy" --strict omnistorage
workers="${OMNI_TEST_WORKERS:-4}"
if [[ "$workers" == 0 ]]; then
    gate "pytest" "$VENV/bin/python" -m pytest "$@"
else
    # loadscope keeps a module's (or class's) tests on one worker, so module- and
    # class-scoped fixtures are made once; tests/conftest.py collects the long
    # tests first.
    gate "pytest" "$VENV/bin/python" -m pytest -n "$workers" --dist loadscope "$@"
fi

# A failed run shows the end of each server's log: a server that died or
# stopped answering says why there, and CI keeps nothing else.
if [[ " ${failed[*]} " == *" pytest "* ]]; then
    for log in "${OMNI_SERVERS_DIR:-$ROOT/.servers}"/logs/*.log; do
        [[ -f "$log" ]] || continue
        say "last lines of $log"
        tail -n 15 "$log" | cut -c1-300
    done
fi

if ((first_failure != 0)); then
    say "FAILED: ${failed[*]}"
else
    say "all gates passed"
fi
exit "$first_failure"
