#!/usr/bin/env python3
"""Writes every item of a DynamoDB table as JSON lines in DynamoDB's own JSON form ({"pk": {"S": "..."}, ...}),
sorted by key: how the golden DynamoDB ledger (tests/fixtures/golden/dynamodb-layout-1.jsonl) was captured.

    python3 scripts/dump-table.py --endpoint http://127.0.0.1:PORT --table NAME > items.jsonl

Needs boto3 (the emulators' venv, tools/emulators/.venv, has it)."""
import argparse
import base64
import json
import sys

import boto3


def plain(value):
    # Binary values come back as bytes; DynamoDB JSON carries them as base64.
    if "B" in value:
        return {"B": base64.b64encode(value["B"]).decode()}
    return value


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--table", required=True)
    args = parser.parse_args()
    client = boto3.client(
        "dynamodb",
        endpoint_url=args.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    items = []
    for page in client.get_paginator("scan").paginate(TableName=args.table, ConsistentRead=True):
        items.extend({k: plain(v) for k, v in item.items()} for item in page["Items"])
    items.sort(key=lambda i: (i["pk"]["S"], i["sk"]["S"]))
    for item in items:
        sys.stdout.write(json.dumps(item, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
