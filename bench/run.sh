#!/usr/bin/env bash
# Benchmarks, release build: prints figures (see bench/README.md for recorded results).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p signbridge-sandbox -p signbridge-bench
target/release/arqsign-send --sandbox target/release/signbridge-sandbox "$@"
