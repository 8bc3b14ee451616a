#!/usr/bin/env bash
# Runs Warden's benchmarks and prints their figures: the core (criterion: decode + correlate + decide per source,
# replay into the embedded ledger), the DynamoDB ledger (cost per event kind; flat in models; a 16-writer burst and
# its hottest partition), and each Lambda function (cold start, warm and
# in-process duration, binary size, peak RSS), break-glass time to act and to done, against DynamoDB Local and moto
# started here, and replay throughput beside Python's json.loads.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'scripts/emulators.sh stop "$work/emulators"; rm -rf "$work"' EXIT
eval "$(scripts/emulators.sh start "$work/emulators")"
cargo build --release --locked $(for crate in functions/*/; do printf -- '-p %s ' "$(basename "$crate")"; done)
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
export WARDEN_BENCH_FUNCTIONS_DIR="$target_dir/release"
python3 scripts/cold-start.py 20
cargo bench --locked -p warden-tests --bench functions
cargo bench --locked -p warden-tests --bench breakglass
cargo bench --locked -p warden-aws --features conformance --bench dynamodb
cargo bench --locked -p warden-tests --bench scale
cargo bench --locked -p warden-core --bench pipeline
# Replay beside json.loads over the same file, with 10 and 10,000 models (the release CLI, embedded ledger).
cargo build --release --locked -p warden
python3 scripts/replay-bench.py --events 20000 --warden "$target_dir/release/warden"
