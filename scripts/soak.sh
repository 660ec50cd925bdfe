#!/usr/bin/env bash
# The long runs of the exactly-once tests (minutes, not part of scripts/test.sh):
# - the crash loop: the CLI killed with SIGKILL at random points of 1,000 sends, each rerun
#   ending with exactly one document (SIGNBRIDGE_CRASH_SEED=<n> replays a printed run).
# Usage: scripts/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export SIGNBRIDGE_JOURNAL=:memory:
SIGNBRIDGE_CRASH_ITERATIONS="${SIGNBRIDGE_CRASH_ITERATIONS:-1000}" \
    cargo test --locked -p signbridge-cli --test exactly_once -- --nocapture a_send_killed
