#!/usr/bin/env bash
# The long runs of the exactly-once tests (minutes, not part of scripts/test.sh):
# - the fault soak: 10,000 flows over TAE, ArqSign and iDocs with 10 % of writes hit by a
#   fault (5xx before or after the write, a reset after the commit, 429 with Retry-After, a
#   reply slower than the timeout, and token expiry), retried as an ERP would; prints documents
#   per reference (1), drafts unaccounted (0) and requests per flow
#   (SIGNBRIDGE_SOAK_SEED=<n> picks another chaos seed);
# - the crash loop: the CLI killed with SIGKILL at random points of 1,000 sends, each rerun
#   ending with exactly one document (SIGNBRIDGE_CRASH_SEED=<n> replays a printed run);
# - chaos delivery: 10,000 webhook deliveries (20 % duplicates, shuffled) to `signbridge serve`
#   killed with SIGKILL twice and restarted on its journal, every distinct event acked exactly
#   once (SIGNBRIDGE_CHAOS_DELIVERIES=<n> sets the size, SIGNBRIDGE_CHAOS_SEED=<n> replays a
#   printed shuffle; the test command runs 2,000);
# - the SBIS change feed: 600 documents (outgoing and incoming) followed by `signbridge serve`
#   killed with SIGKILL twice mid-batch, `signbridge events --follow` acking, every change in
#   the stream exactly once (SIGNBRIDGE_FEED_DOCUMENTS=<n>; the test command runs 30).
# The test command runs them at a tenth of this or less. Usage: scripts/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export SIGNBRIDGE_JOURNAL=:memory:
SIGNBRIDGE_SOAK_FLOWS="${SIGNBRIDGE_SOAK_FLOWS:-10000}" \
    cargo test --locked -p signbridge --test exactly_once -- --nocapture fault_soak
SIGNBRIDGE_CRASH_ITERATIONS="${SIGNBRIDGE_CRASH_ITERATIONS:-1000}" \
    cargo test --locked -p signbridge-cli --test exactly_once -- --nocapture a_send_killed
SIGNBRIDGE_CHAOS_DELIVERIES="${SIGNBRIDGE_CHAOS_DELIVERIES:-10000}" \
SIGNBRIDGE_FEED_DOCUMENTS="${SIGNBRIDGE_FEED_DOCUMENTS:-600}" \
    cargo test --locked -p signbridge-cli --test serve_chaos -- --nocapture
