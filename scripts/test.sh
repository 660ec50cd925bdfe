#!/usr/bin/env bash
# Every check CI runs, from a fresh machine: installs what is missing, then formatting, lints,
# all Rust tests, the C ABI and Python suites (each installs its own tools), and the demo.
# Run from anywhere: ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# Every client the tests build keeps its journal in memory unless a test names a file: runs
# against fresh sandboxes must not find the intents of earlier runs in the user's journal.
export SIGNBRIDGE_JOURNAL=:memory:

step() { printf '\n== %s\n' "$*"; }

step "toolchain"
if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo not found: install Rust (https://rustup.rs) first" >&2
    exit 1
fi
for component in rustfmt clippy; do
    if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
        rustup component add "$component"
    fi
done
cargo --version

step "format"
cargo fmt --all --check
# cargo fmt skips modules declared inside macros; rustfmt on every file does not.
git ls-files -z '*.rs' | xargs -0 rustfmt --check --edition 2024 --config-path rustfmt.toml

step "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
cargo test --workspace --locked

step "C ABI (header and Pascal unit drift, C and Pascal examples, misuse suite under valgrind, install)"
./scripts/test-ffi.sh

step "Python wheel (build, fresh virtualenv, pytest, stubtest)"
./scripts/test-python.sh

step "demo"
demo_out=$(mktemp -d)
trap 'rm -rf "$demo_out"' EXIT
cargo run --quiet --locked -p signbridge-cli -- demo --out-dir "$demo_out"
ls "$demo_out"/*-signed.pdf >/dev/null
