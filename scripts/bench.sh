#!/usr/bin/env bash
# Runs Warden's benchmarks and prints their figures: the core (criterion: decode + correlate + decide per source,
# replay into the embedded ledger) and the DynamoDB ledger against DynamoDB Local (started here).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'scripts/dynamodb-local.sh stop "$work/dynamodb.pid"; rm -rf "$work"' EXIT
WARDEN_TEST_DYNAMODB_ENDPOINT=$(scripts/dynamodb-local.sh start "$work/dynamodb.pid")
export WARDEN_TEST_DYNAMODB_ENDPOINT
cargo bench -p warden-aws --features conformance --bench dynamodb
cargo bench -p warden-core --bench pipeline
