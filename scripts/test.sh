#!/usr/bin/env bash
# Runs every Warden test: formatting, lints, then the whole workspace's tests.
# Needs only the Rust toolchain; later stages (DynamoDB Local, moto) are installed and started from here.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
cargo test --workspace --locked
