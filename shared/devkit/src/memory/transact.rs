//! TransactWriteItems: every condition checked first, then all writes or none.

use super::expr::check;
use super::{invalid, key_of, obj, s_field, schema, table, Fail, Item, Table};
use serde_json::{json, Value};
use std::collections::HashMap;

pub(super) fn transact(tables: &mut HashMap<String, Table>, body: &Value) -> Result<Value, Fail> {
    enum Op {
        Put(String, (String, String), Item),
        Update(String, (String, String), Item, Vec<Action>),
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
            _ => {
                let key_attrs = obj(&req["Key"], "Key")?;
                let key = key_of(&sch, &key_attrs)?;
                let actions = update_actions(req)?;
                (key.clone(), Op::Update(name, key, key_attrs, actions))
            }
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
            Op::Update(name, key, key_attrs, actions) => {
                let items = &mut table(tables, &name)?.items;
                let mut item = items.get(&key).cloned().unwrap_or(key_attrs);
                for action in actions {
                    action.apply(&mut item)?;
                }
                items.insert(key, item);
            }
            Op::Check => {}
        }
    }
    Ok(json!({}))
}

/// One clause of the update expressions the service sends: `ADD attr :number` and
/// `SET attr = :value` (each possibly several, comma-separated). Anything else is refused.
enum Action {
    Add(String, f64),
    Set(String, Value),
}

impl Action {
    fn apply(self, item: &mut Item) -> Result<(), Fail> {
        match self {
            Action::Set(attr, v) => {
                item.insert(attr, v);
            }
            Action::Add(attr, delta) => {
                let old = match item.get(&attr) {
                    None => 0.0,
                    Some(v) => v
                        .get("N")
                        .and_then(Value::as_str)
                        .and_then(|n| n.parse::<f64>().ok())
                        .ok_or_else(|| invalid(format!("ADD to non-number attribute {attr}")))?,
                };
                let sum = old + delta;
                let text = if sum.fract() == 0.0 {
                    format!("{}", sum as i64)
                } else {
                    sum.to_string()
                };
                item.insert(attr, json!({ "N": text }));
            }
        }
        Ok(())
    }
}

fn update_actions(req: &Value) -> Result<Vec<Action>, Fail> {
    let expr = s_field(req, "UpdateExpression")?;
    let values = &req["ExpressionAttributeValues"];
    let names = &req["ExpressionAttributeNames"];
    let name = |n: &str| -> String {
        names
            .get(n)
            .and_then(Value::as_str)
            .map_or_else(|| n.to_string(), str::to_string)
    };
    let value = |v: &str| -> Result<Value, Fail> {
        values
            .get(v)
            .cloned()
            .ok_or_else(|| invalid(format!("{v} is not in ExpressionAttributeValues")))
    };
    let mut out = Vec::new();
    let mut rest = expr.trim();
    while !rest.is_empty() {
        let (verb, after) = rest
            .split_once(char::is_whitespace)
            .ok_or_else(|| invalid(format!("unsupported update expression `{expr}`")))?;
        let end = after
            .find(" ADD ")
            .or_else(|| after.find(" SET "))
            .unwrap_or(after.len());
        let (clauses, next) = after.split_at(end);
        for clause in clauses.split(',') {
            let clause = clause.trim();
            match verb {
                "ADD" => {
                    let (attr, v) = clause
                        .split_once(char::is_whitespace)
                        .ok_or_else(|| invalid(format!("unsupported ADD clause `{clause}`")))?;
                    let n = value(v.trim())?
                        .get("N")
                        .and_then(Value::as_str)
                        .and_then(|n| n.parse::<f64>().ok())
                        .ok_or_else(|| invalid("ADD takes a number"))?;
                    out.push(Action::Add(name(attr.trim()), n));
                }
                "SET" => {
                    let (attr, v) = clause
                        .split_once('=')
                        .ok_or_else(|| invalid(format!("unsupported SET clause `{clause}`")))?;
                    out.push(Action::Set(name(attr.trim()), value(v.trim())?));
                }
                _ => {
                    return Err(invalid(format!(
                        "the in-memory DynamoDB supports ADD and SET updates only, not `{expr}`"
                    )))
                }
            }
        }
        rest = next.trim();
    }
    Ok(out)
}
