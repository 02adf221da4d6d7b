"""Compares two customer360 tables item for item, as the rebuild tests do (docs/adr/0004-rebuild.md):
anchors' `seq` and items' `ver` are left out, and so are rebuild checkpoints, prediction models and
anchors without a state (tombstones of deleted records, records without a customer).

    .venv/bin/python scripts/compare-tables.py ENDPOINT_URL TABLE_A TABLE_B
"""
import json
import sys

import boto3


def dump(client, table):
    items, kw = [], {}
    while True:
        page = client.scan(TableName=table, **kw)
        items += page["Items"]
        if not page.get("LastEvaluatedKey"):
            return items
        kw["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def comparable(items):
    out = []
    for item in items:
        pk = item["pk"]["S"]
        if pk == "REBUILD" or pk.startswith("MODEL#"):
            continue
        if pk.startswith("REC#") and "state" not in item:
            continue
        item = {k: v for k, v in item.items() if k not in ("seq", "ver")}
        out.append(json.dumps(item, sort_keys=True, ensure_ascii=False))
    return sorted(out)


def main():
    url, a, b = sys.argv[1:4]
    client = boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local")
    items_a, items_b = dump(client, a), dump(client, b)
    ca, cb = comparable(items_a), comparable(items_b)
    print(f"{a}: {len(items_a)} items ({len(ca)} compared); {b}: {len(items_b)} items ({len(cb)} compared)")
    only_a, only_b = set(ca) - set(cb), set(cb) - set(ca)
    for line in sorted(only_a)[:5]:
        print("  only in", a, line[:300])
    for line in sorted(only_b)[:5]:
        print("  only in", b, line[:300])
    print("EQUAL" if ca == cb else f"DIFFERENT: {len(only_a)} only in {a}, {len(only_b)} only in {b}")
    sys.exit(0 if ca == cb else 1)


if __name__ == "__main__":
    main()
