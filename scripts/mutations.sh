#!/usr/bin/env bash
# The long mutation campaign: N mutated copies of the bundled events (deleted keys, changed types, huge strings,
# extreme numbers and timestamps, control characters, deep nesting, invalid UTF-8, cut-off documents) through the
# engine and an embedded ledger, in release mode. Prints the count of each outcome; fails on any panic, any entry
# that does not read back, or any ledger that does not verify. The test command runs 1,500 of these as a property
# test (tests/it/inputs.rs).
#   scripts/mutations.sh [N]     (default 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
WARDEN_MUTATIONS="${1:-100000}" cargo test --release --locked -p warden-tests --test it inputs::mutation_campaign \
  -- --ignored --nocapture 2>&1 | grep -E '^mutations:|panicked|test result'
