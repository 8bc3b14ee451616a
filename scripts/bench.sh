#!/usr/bin/env bash
# Runs Warden's benchmarks and prints their figures: the core (criterion: decode + correlate + decide per source,
# replay into the embedded ledger) and the DynamoDB ledger against DynamoDB Local (started here).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'scripts/emulators.sh stop "$work/emulators"; rm -rf "$work"' EXIT
eval "$(scripts/emulators.sh start "$work/emulators")"
cargo bench -p warden-aws --features conformance --bench dynamodb
cargo bench -p warden-core --bench pipeline
