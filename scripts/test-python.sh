#!/usr/bin/env bash
# The Python package's checks, from a fresh Debian machine (as root): builds the abi3 wheel
# with maturin, installs it in a fresh virtualenv, runs pytest (python/tests) against the
# sandbox CLI, then mypy's stubtest on the native module and mypy --strict on the package,
# the tests and the examples. Run from anywhere: ./scripts/test-python.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# Clients keep their journal in memory: the suite's sandboxes are fresh every run.
export SIGNBRIDGE_JOURNAL=${SIGNBRIDGE_JOURNAL:-:memory:}
started=$SECONDS

step() { printf '\n== %s\n' "$*"; }

# Pinned so that a run today and a run next month test the same thing.
MATURIN=maturin==1.16.0
TEST_TOOLS=(pytest==9.2.0 pytest-timeout==2.4.0 mypy==2.4.1 cryptography==46.0.3)
export PIP_DISABLE_PIP_VERSION_CHECK=1

step "python"
# Debian ships venv's pip bootstrap apart, in python3-venv: install it if a venv cannot be made.
probe=$(mktemp -d)
if ! python3 -m venv "$probe/venv" >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq python3 python3-venv >/dev/null
fi
rm -rf "$probe"
python3 --version

target=$(cargo metadata --format-version 1 --no-deps --locked |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

step "sandbox CLI and C library"
# The C library too: a test compares the capability JSON of C, the CLI and Python.
cargo build --locked --quiet -p signbridge-cli -p signbridge-ffi
sandbox_bin="$target/debug/signbridge"

step "wheel"
build_venv="$target/py-venv-build"
if ! "$build_venv/bin/python" -m pip --version >/dev/null 2>&1; then
    rm -rf "$build_venv"
    python3 -m venv "$build_venv"
fi
"$build_venv/bin/python" -m pip install --quiet "$MATURIN"
wheels="$target/python-wheels"
rm -rf "$wheels"
# A debug build (quicker on two cores), stripped: the debug info alone is ~100 MB.
"$build_venv/bin/maturin" build --locked --strip -m python/Cargo.toml --out "$wheels"
wheel=$(ls "$wheels"/signbridge-*.whl)

step "fresh virtualenv"
test_venv="$target/py-venv-test"
rm -rf "$test_venv"
python3 -m venv "$test_venv"
"$test_venv/bin/python" -m pip install --quiet "$wheel" "${TEST_TOOLS[@]}"

step "pytest"
# pytest runs from the repository root: only the installed package is importable as
# `signbridge` (the sources are under python/, which is not on sys.path).
SIGNBRIDGE_BIN="$sandbox_bin" "$test_venv/bin/pytest" python/tests

step "stubtest and mypy"
export MYPY_CACHE_DIR="$target/py-mypy-cache"
"$test_venv/bin/python" -m mypy.stubtest signbridge._native
"$test_venv/bin/python" -m mypy --strict -p signbridge
# The tests share the examples' helpers (one PDF builder), so mypy looks there too.
MYPYPATH=examples/python "$test_venv/bin/python" -m mypy --strict python/tests
"$test_venv/bin/python" -m mypy --strict examples/python

step "python checks passed in $((SECONDS - started)) s"
