"""Checks that infra/template.yaml declares every table as the code creates it: keys, attribute
definitions, local and global secondary indexes (names, keys, projections), streams, billing,
and the TTL of the tables the service owns. The code's side is `c360-dev schema` (built from
shared/dynamodb/src/schema.rs, the definitions the emulator's tables are created from).

    .venv/bin/python scripts/check-tables.py TEMPLATE SCHEMA_JSON

Prints one line per difference and exits 1, or prints a summary and exits 0.
"""
import json
import sys

from cfnlint.decode import decode

COMPARED = ["BillingMode", "AttributeDefinitions", "KeySchema", "LocalSecondaryIndexes",
            "GlobalSecondaryIndexes", "StreamSpecification"]
# The sources' own retention (the demo audit_log's TTL) is theirs; the service's tables' TTL
# is ours.
OWNED = {"customer360", "audit"}


def normalized(props, keys):
    out = {}
    for k in keys:
        v = props.get(k)
        if v is None or v == []:
            continue
        if k == "AttributeDefinitions":
            v = sorted(v, key=lambda a: a["AttributeName"])
        elif k in ("LocalSecondaryIndexes", "GlobalSecondaryIndexes"):
            v = sorted(({"IndexName": i["IndexName"], "KeySchema": i["KeySchema"],
                         "Projection": i.get("Projection", {})} for i in v),
                       key=lambda i: i["IndexName"])
        elif k == "StreamSpecification":
            v = {"StreamViewType": v.get("StreamViewType")}
        elif k == "TimeToLiveSpecification":
            v = {"AttributeName": v.get("AttributeName"), "Enabled": v.get("Enabled")}
        out[k] = v
    return out


def template_tables(path):
    template, matches = decode(path)
    if matches:
        sys.exit("cannot read %s: %s" % (path, matches))
    tables = {}
    for logical, r in template["Resources"].items():
        if r["Type"] != "AWS::DynamoDB::Table":
            continue
        name = r["Properties"].get("TableName")
        sub = name.get("Fn::Sub") if isinstance(name, dict) else None
        prefix = "${AWS::StackName}-"
        if not isinstance(sub, str) or not sub.startswith(prefix):
            sys.exit(f"{logical}: TableName must be !Sub '{prefix}<name>', not {name!r}")
        suffix = sub[len(prefix):]
        if suffix in tables:
            sys.exit(f"{logical} and {tables[suffix][0]} are both named `{prefix}{suffix}`")
        tables[suffix] = (logical, r["Properties"])
    return tables


def main(template_path, schema_path):
    with open(schema_path) as f:
        code = json.load(f)
    declared = template_tables(template_path)
    problems = []
    for suffix in sorted(set(code) - set(declared)):
        problems.append(f"the code creates table `{suffix}`; {template_path} declares none")
    for suffix in sorted(set(declared) - set(code)):
        problems.append(f"{declared[suffix][0]} (`{suffix}`) is a table the code does not know")
    for suffix in sorted(set(code) & set(declared)):
        logical, props = declared[suffix]
        keys = COMPARED + (["TimeToLiveSpecification"] if suffix in OWNED else [])
        want, have = normalized(code[suffix], keys), normalized(props, keys)
        for k in keys:
            if k in ("LocalSecondaryIndexes", "GlobalSecondaryIndexes"):
                names = [i["IndexName"] for i in have.get(k, [])]
                for n in sorted({n for n in names if names.count(n) > 1}):
                    problems.append(f"{logical}.{k}: `{n}` is declared more than once")
            if k in ("LocalSecondaryIndexes", "GlobalSecondaryIndexes") and want.get(k) != have.get(k):
                w = {i["IndexName"]: i for i in want.get(k, [])}
                h = {i["IndexName"]: i for i in have.get(k, [])}
                for n in sorted(set(w) - set(h)):
                    problems.append(f"{logical}.{k}: the code uses `{n}`, the template has no such index")
                for n in sorted(set(h) - set(w)):
                    problems.append(f"{logical}.{k}: the template has `{n}`, which the code does not create")
                for n in sorted(set(w) & set(h)):
                    if w[n] != h[n]:
                        problems.append(f"{logical}.{k}: `{n}` differs: template {json.dumps(h[n])}, code {json.dumps(w[n])}")
            elif want.get(k) != have.get(k):
                problems.append(f"{logical}.{k} differs from the code's (`c360-dev schema`):\n"
                                f"    template: {json.dumps(have.get(k), ensure_ascii=False)}\n"
                                f"    code:     {json.dumps(want.get(k), ensure_ascii=False)}")
    if problems:
        print("\n".join(problems))
        return 1
    print(f"{len(code)} tables: keys, indexes, streams and TTLs as the code creates them")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
