#!/usr/bin/env bash
# A long fuzz run: the bounded one `cargo test` makes (core/tests/behavior/fuzz.rs: every
# provider's reply parsers through the hostile proxy, the envelope JSON, the handle parser, the
# error JSON) with many more cases. cargo-fuzz would need a nightly toolchain; this needs none.
# Usage: ./scripts/fuzz.sh [CASES]   (default 20000 per target; a failure prints its input)
set -euo pipefail
cd "$(dirname "$0")/.."
export SIGNBRIDGE_JOURNAL=:memory:
export PROPTEST_CASES=${1:-20000}
cargo test --locked --release -p signbridge --test behavior fuzz:: -- --nocapture
