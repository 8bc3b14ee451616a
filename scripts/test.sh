#!/usr/bin/env bash
# Runs every Warden test: formatting, lints, then the whole workspace's tests against Amazon DynamoDB Local
# (installed on first use and started on 127.0.0.1 here, stopped on exit), and prints one total line.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

work=$(mktemp -d)
trap 'scripts/dynamodb-local.sh stop "$work/dynamodb.pid"; rm -rf "$work"' EXIT
echo "== DynamoDB Local"
WARDEN_TEST_DYNAMODB_ENDPOINT=$(scripts/dynamodb-local.sh start "$work/dynamodb.pid")
export WARDEN_TEST_DYNAMODB_ENDPOINT
echo "listening on $WARDEN_TEST_DYNAMODB_ENDPOINT"

echo "== cargo test"
cargo test --workspace --locked 2>&1 | tee "$work/test.log"

# One closing line over every test binary: "N passed, N failed".
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "total: %d passed, %d failed\n", p, f }' "$work/test.log"
