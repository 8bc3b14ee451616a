#!/usr/bin/env python3
"""Replay throughput beside a floor: Python's json.loads merely parsing the same JSON-lines file.

For each event shape and inventory size (10 and 10,000 models) it writes N distinct GuardDuty findings spread over
the models' roles, times `warden replay FILE` (new events, then the same file again: duplicates) into a fresh
embedded ledger whose inventory was imported first, times json.loads over the file's lines, and prints one table.
Two shapes: `compact` (a minimal finding, about 500 bytes) and `published` (AWS's published sample finding,
events/aws/guardduty-sample-finding-iam-recon-maliciousipcaller-custom.json, about 4.4 KB, its sample flag
removed): json.loads' cost grows with the bytes, Warden's mostly with the decisions.

    scripts/replay-bench.py [--events N] [--warden PATH]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


PUBLISHED = os.path.join(ROOT, "events", "aws", "guardduty-sample-finding-iam-recon-maliciousipcaller-custom.json")


def published(n, models, template):
    event = json.loads(template)
    event["id"] = f"bench-{n}"
    event["detail"]["id"] = f"finding-{n:08d}"
    event["detail"]["resource"]["accessKeyDetails"]["userName"] = f"role-{n % models:05d}"
    event["detail"]["resource"]["accessKeyDetails"]["userType"] = "AssumedRole"
    event["detail"]["service"]["additionalInfo"].pop("sample", None)
    return event


def finding(n, models):
    m = n % models
    return {
        "version": "0", "id": f"bench-{n}", "detail-type": "GuardDuty Finding", "source": "aws.guardduty",
        "account": "111122223333", "time": "2026-11-02T09:00:00Z", "region": "us-east-1", "resources": [],
        "detail": {
            "id": f"finding-{n:08d}", "type": "Recon:IAMUser/MaliciousIPCaller", "severity": 2 + (n % 3),
            "updatedAt": "2026-11-02T09:00:00Z",
            "resource": {"resourceType": "AccessKey", "accessKeyDetails": {
                "accessKeyId": "ASIABENCH", "userName": f"role-{m:05d}", "userType": "AssumedRole"}},
            "service": {"count": 1},
        },
    }


def inventory(models):
    return "".join(
        f'[[model]]\nid = "model-{m:05d}"\nrisk = "{["high", "medium", "low"][m % 3]}"\nowner = "team"\n'
        f'endpoints = ["endpoint-{m:05d}"]\nroles = ["arn:aws:iam::111122223333:role/role-{m:05d}"]\n\n'
        for m in range(models)
    )


def timed(command, **kw):
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, **kw)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--warden", default=os.path.join(ROOT, "target", "release", "warden"))
    args = parser.parse_args()
    rows = []
    with open(PUBLISHED) as f:
        template = f.read()
    shapes = {"compact": lambda n, m: finding(n, m), "published": lambda n, m: published(n, m, template)}
    for (shape, make), models in [(s, m) for s in shapes.items() for m in (10, 10_000)]:
        with tempfile.TemporaryDirectory() as work:
            events = os.path.join(work, "events.jsonl")
            with open(events, "w") as out:
                for n in range(args.events):
                    out.write(json.dumps(make(n, models)) + "\n")
            inv = os.path.join(work, "inventory.toml")
            with open(inv, "w") as out:
                out.write(inventory(models))
            ledger = os.path.join(work, "ledger")
            env = dict(os.environ, WARDEN_LEDGER=ledger)
            env.pop("WARDEN_POLICY", None)
            subprocess.run([args.warden, "inventory", "import", inv], check=True, stdout=subprocess.DEVNULL, env=env)
            start = time.perf_counter()
            with open(events) as lines:
                for line in lines:
                    json.loads(line)
            parse = time.perf_counter() - start
            new = timed([args.warden, "replay", events], env=env)
            duplicate = timed([args.warden, "replay", events], env=env)
            rate = lambda seconds: args.events / seconds
            rows.append((shape, models, rate(parse), rate(new), rate(duplicate), rate(new) / rate(parse)))
    print(f"replay of {args.events} distinct GuardDuty findings (JSON lines), release build, embedded ledger")
    print(f"{'shape':>9} | {'models':>7} | {'json.loads/s':>12} | {'new/s':>8} | {'dup/s':>8} | new vs json.loads")
    for shape, models, parse, new, duplicate, share in rows:
        print(f"{shape:>9} | {models:>7} | {parse:>12,.0f} | {new:>8,.0f} | {duplicate:>8,.0f} | {share:.1%}")


if __name__ == "__main__":
    sys.exit(main())
