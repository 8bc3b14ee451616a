#!/usr/bin/env python3
"""Cold start of each Warden function binary: process start to its first Lambda Runtime API poll (the first GET
on the runtime socket), with nothing else in between. Run after `cargo build --release` of the functions:

    python3 scripts/cold-start.py [RUNS]

The binaries need no AWS to reach their first poll (clients connect lazily), so dummy values suffice.
SSL_CERT_FILE is set as the templates set it: without it the SDK opens every file of the certificate directory.
"""
import os
import socket
import statistics
import subprocess
import sys
import time

FUNCTIONS = ["warden-sagemaker", "warden-config", "warden-macie", "warden-guardduty", "warden-drift"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def once(binary: str, name: str, cert_file: bool) -> float:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    env = {
        "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{port}", "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "1", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
        "WARDEN_TABLE_NAME": "warden-ledger", "WARDEN_ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:111122223333:warden-alerts",
        "WARDEN_EVENT_BUS_NAME": "warden-governance",
    }
    if cert_file and os.path.exists(BUNDLE):
        env["SSL_CERT_FILE"] = BUNDLE
    start = time.perf_counter()
    process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    connection, _ = server.accept()
    connection.recv(4096)  # the first GET .../runtime/invocation/next
    elapsed = (time.perf_counter() - start) * 1000
    process.kill()
    process.wait()
    connection.close()
    server.close()
    return elapsed


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    print(f"{'function':18} {'p50 ms':>8} {'max ms':>8}  {'p50 ms, no SSL_CERT_FILE':>26}")
    for name in FUNCTIONS:
        directory = os.environ.get("WARDEN_BENCH_FUNCTIONS_DIR", os.path.join(ROOT, "target", "release"))
        binary = os.path.join(directory, name)
        with_file = [once(binary, name, True) for _ in range(runs)]
        without = [once(binary, name, False) for _ in range(runs)]
        print(f"{name:18} {statistics.median(with_file):8.1f} {max(with_file):8.1f}  {statistics.median(without):26.1f}")


if __name__ == "__main__":
    main()
