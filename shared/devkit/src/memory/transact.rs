//! TransactWriteItems: every condition checked first, then all writes or none.

use super::expr::check;
use super::{invalid, key_of, obj, s_field, schema, table, Fail, Item, Table};
use serde_json::{json, Value};
use std::collections::HashMap;

pub(super) fn transact(tables: &mut HashMap<String, Table>, body: &Value) -> Result<Value, Fail> {
    enum Op {
        Put(String, (String, String), Item),
        Delete(String, (String, String)),
        Check,
    }
    let mut ops = Vec::new();
    let mut reasons = Vec::new();
    let mut failed = false;
    for entry in body["TransactItems"].as_array().into_iter().flatten() {
        let (kind, req) = ["Put", "Delete", "ConditionCheck", "Update"]
            .into_iter()
            .find_map(|k| entry.get(k).map(|r| (k, r)))
            .ok_or_else(|| invalid("empty transaction item"))?;
        let name = s_field(req, "TableName")?.to_string();
        let t = table(tables, &name)?;
        let sch = schema(t)?.clone();
        let (key, op) = match kind {
            "Put" => {
                let item = obj(&req["Item"], "Item")?;
                let key = key_of(&sch, &item)?;
                (key.clone(), Op::Put(name, key, item))
            }
            "Delete" => {
                let key = key_of(&sch, &obj(&req["Key"], "Key")?)?;
                (key.clone(), Op::Delete(name, key))
            }
            "ConditionCheck" => (key_of(&sch, &obj(&req["Key"], "Key")?)?, Op::Check),
            _ => return Err(invalid("the in-memory DynamoDB does not support Update")),
        };
        match check(req, t.items.get(&key)) {
            Ok(()) => reasons.push(json!({"Code": "None"})),
            Err(f) if f.kind == "ConditionalCheckFailedException" => {
                failed = true;
                reasons.push(json!({"Code": "ConditionalCheckFailed", "Message": f.message}));
            }
            Err(f) => return Err(f),
        }
        ops.push(op);
    }
    if failed {
        return Err(Fail {
            kind: "TransactionCanceledException",
            message:
                "Transaction cancelled, please refer cancellation reasons for specific reasons"
                    .into(),
            extra: Some(("CancellationReasons".into(), Value::Array(reasons))),
        });
    }
    for op in ops {
        match op {
            Op::Put(name, key, item) => {
                table(tables, &name)?.items.insert(key, item);
            }
            Op::Delete(name, key) => {
                table(tables, &name)?.items.remove(&key);
            }
            Op::Check => {}
        }
    }
    Ok(json!({}))
}
