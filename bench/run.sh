#!/usr/bin/env bash
# Benchmarks, release build: prints figures (see bench/README.md for recorded results).
#   ./bench/run.sh                          every bench (arqsign-send with its defaults, intake)
#   ./bench/run.sh arqsign-send [--files 5 --mb 20]
#   ./bench/run.sh intake [--connections 64 --deliveries 40000]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p signbridge-sandbox -p signbridge-bench
arqsign_send() { target/release/arqsign-send --sandbox target/release/signbridge-sandbox "$@"; }
case "${1:-}" in
    arqsign-send) shift; arqsign_send "$@" ;;
    intake) shift; target/release/intake "$@" ;;
    "") arqsign_send; target/release/intake ;;
    # Flags alone are arqsign-send's, as before the intake bench existed.
    *) arqsign_send "$@" ;;
esac
