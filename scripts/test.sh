#!/usr/bin/env bash
# Runs every Warden test: formatting, lints, the infrastructure checks, then the whole workspace's tests against
# Amazon DynamoDB Local and moto server (installed on first use and started on 127.0.0.1 here, stopped on exit),
# and prints one total line.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (warnings are errors): the full build, and the CLI's quick local build (no AWS)"
cargo clippy --workspace --all-targets --locked --features warden/aws -- -D warnings
cargo clippy -p warden --all-targets --locked -- -D warnings

work=$(mktemp -d)
trap 'scripts/emulators.sh stop "$work/emulators"; rm -rf "$work"' EXIT
echo "== infrastructure: SAM and CDK stacks (sam validate --lint, cdk synth + cdk-nag, jest, cfn-lint, checkov)"
scripts/infra-check.sh "$work/infra"
export WARDEN_TEST_INFRA_DIR="$work/infra"

echo "== emulators: DynamoDB Local, moto server"
eval "$(scripts/emulators.sh start "$work/emulators")"
echo "DynamoDB Local on $WARDEN_TEST_DYNAMODB_ENDPOINT, moto on $WARDEN_TEST_MOTO_ENDPOINT"

echo "== Lambda function binaries (run under cargo lambda's Runtime API emulator by the tests)"
# One build of every binary and test target: the same package selection and dev-dependency features as `cargo test
# --workspace`, so the tests reuse it instead of compiling the AWS SDKs a second time with other features.
# The CLI with its AWS commands (`--table`, break-glass): the tests drive them against the emulators.
cargo build --workspace --bins --tests --locked --features warden/aws
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
export WARDEN_TEST_FUNCTIONS_DIR="$target_dir/debug"

echo "== cargo test"
cargo test --workspace --locked --features warden/aws 2>&1 | tee "$work/test.log"

# One closing line over every test binary: "N passed, N failed".
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "total: %d passed, %d failed\n", p, f }' "$work/test.log"
