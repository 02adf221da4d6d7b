//! Query: a key condition on a table or an index, in index order, a page at a time.

use super::expr::Expr;
use super::{invalid, key_item, key_of, s_field, schema, table, text, text_ref, Fail, Item, Table};
use serde_json::{json, Value};
use std::collections::HashMap;

enum SortCondition {
    Any,
    BeginsWith(String),
    Between(String, String),
    Equals(String),
    /// `>`, `>=`, `<`, `<=` on the sort key.
    Compare(&'static str, String),
}

pub(super) fn query(tables: &mut HashMap<String, Table>, body: &Value) -> Result<Value, Fail> {
    if body.get("FilterExpression").is_some() {
        return Err(invalid(
            "the in-memory DynamoDB does not support Query filters",
        ));
    }
    let t = table(tables, s_field(body, "TableName")?)?;
    let table_schema = schema(t)?.clone();
    let index_schema = match body.get("IndexName").and_then(Value::as_str) {
        None => table_schema.clone(),
        Some(i) => t
            .indexes
            .get(i)
            .cloned()
            .ok_or_else(|| invalid(format!("no index {i}")))?,
    };
    let expr = Expr {
        names: body.get("ExpressionAttributeNames"),
        values: body.get("ExpressionAttributeValues"),
    };
    let condition = s_field(body, "KeyConditionExpression")?;
    let (hash_part, sort_part) = match condition.split_once(" AND ") {
        Some((h, rest)) if !h.contains("BETWEEN") => (h, Some(rest)),
        _ => (condition, None),
    };
    let (hash_attr, hash_value) = hash_part
        .split_once(" = ")
        .ok_or_else(|| invalid(format!("unsupported key condition `{condition}`")))?;
    let hash_attr = expr.name(hash_attr.trim());
    let hash_value = expr
        .value(hash_value.trim())
        .map(|v| text(&v).unwrap_or_default())?;
    if hash_attr != index_schema.hash {
        return Err(invalid(format!("{hash_attr} is not the hash key")));
    }
    let sort = match sort_part.map(str::trim) {
        None => SortCondition::Any,
        Some(p) => {
            if let Some(inner) = p
                .strip_prefix("begins_with(")
                .and_then(|r| r.strip_suffix(')'))
            {
                let (_, v) = inner
                    .split_once(',')
                    .ok_or_else(|| invalid("begins_with needs two arguments"))?;
                SortCondition::BeginsWith(text(&expr.value(v.trim())?).unwrap_or_default())
            } else if let Some((_, range)) = p.split_once(" BETWEEN ") {
                let (lo, hi) = range
                    .split_once(" AND ")
                    .ok_or_else(|| invalid("BETWEEN needs AND"))?;
                SortCondition::Between(
                    text(&expr.value(lo.trim())?).unwrap_or_default(),
                    text(&expr.value(hi.trim())?).unwrap_or_default(),
                )
            } else if let Some((_, v)) = p.split_once(" = ") {
                SortCondition::Equals(text(&expr.value(v.trim())?).unwrap_or_default())
            } else if let Some((op, v)) = [" >= ", " <= ", " > ", " < "]
                .iter()
                .find_map(|op| p.split_once(op).map(|(_, v)| (op.trim(), v)))
            {
                SortCondition::Compare(op, text(&expr.value(v.trim())?).unwrap_or_default())
            } else {
                return Err(invalid(format!("unsupported key condition `{condition}`")));
            }
        }
    };
    let sort_attr = index_schema.range.clone();
    // Items in the index (sparse: only those with its keys), in index order.
    // The table and its LSIs share the partition key: read just that partition.
    let candidates: Box<dyn Iterator<Item = (&(String, String), &Item)>> =
        if index_schema.hash == table_schema.hash {
            Box::new(
                t.items
                    .range((hash_value.clone(), String::new())..)
                    .take_while(|(k, _)| k.0 == hash_value),
            )
        } else {
            Box::new(t.items.iter())
        };
    let mut matched: Vec<(String, (String, String), &Item)> = candidates
        .filter_map(|(k, item)| {
            let h = item.get(&index_schema.hash).and_then(text_ref)?;
            if h != hash_value {
                return None;
            }
            let r = match &sort_attr {
                None => String::new(),
                Some(a) => item.get(a).and_then(text)?,
            };
            let keep = match &sort {
                SortCondition::Any => true,
                SortCondition::BeginsWith(p) => r.starts_with(p.as_str()),
                SortCondition::Between(lo, hi) => lo <= &r && &r <= hi,
                SortCondition::Equals(v) => &r == v,
                SortCondition::Compare(op, v) => match *op {
                    ">=" => &r >= v,
                    "<=" => &r <= v,
                    ">" => &r > v,
                    _ => &r < v,
                },
            };
            keep.then(|| (r, k.clone(), item))
        })
        .collect();
    matched.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    if body.get("ScanIndexForward") == Some(&Value::Bool(false)) {
        matched.reverse();
    }
    if let Some(start) = body.get("ExclusiveStartKey").and_then(Value::as_object) {
        // Like DynamoDB: on after the start key's place in the index, even if its item
        // is gone meanwhile.
        let start_key = key_of(&table_schema, start)?;
        let start_sort = sort_attr
            .as_ref()
            .and_then(|a| start.get(a))
            .and_then(text)
            .unwrap_or_default();
        let pivot = (start_sort, start_key);
        let forward = body.get("ScanIndexForward") != Some(&Value::Bool(false));
        matched.retain(|m| {
            let here = (m.0.clone(), m.1.clone());
            if forward {
                here > pivot
            } else {
                here < pivot
            }
        });
    }
    let limit = body
        .get("Limit")
        .and_then(Value::as_u64)
        .map(|l| l as usize);
    let more = limit.is_some_and(|l| matched.len() > l);
    if let Some(l) = limit {
        matched.truncate(l);
    }
    let keep = projection(body)?;
    let mut out = json!({
        "Items": matched
            .iter()
            .map(|m| Value::Object(project(m.2, keep.as_deref())))
            .collect::<Vec<_>>(),
        "Count": matched.len(),
        "ScannedCount": matched.len(),
    });
    if more {
        if let Some(last) = matched.last() {
            let mut k = key_item(&table_schema, last.2);
            k.extend(key_item(&index_schema, last.2));
            out["LastEvaluatedKey"] = Value::Object(k);
        }
    }
    Ok(out)
}

/// The attributes a `ProjectionExpression` keeps (top-level names, `#placeholders` resolved
/// through `ExpressionAttributeNames`), or `None` for whole items. Nested paths are refused
/// rather than answered wrongly.
fn projection(body: &Value) -> Result<Option<Vec<String>>, Fail> {
    let Some(expr) = body.get("ProjectionExpression").and_then(Value::as_str) else {
        return Ok(None);
    };
    expr.split(',')
        .map(|name| {
            let name = name.trim();
            if name.is_empty() || name.contains(['.', '[']) {
                return Err(invalid(format!(
                    "the in-memory DynamoDB projects top-level attributes only, got `{name}`"
                )));
            }
            match name.strip_prefix('#') {
                None => Ok(name.to_string()),
                Some(_) => body["ExpressionAttributeNames"][name]
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| invalid(format!("undefined attribute name {name}"))),
            }
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn project(item: &Item, keep: Option<&[String]>) -> Item {
    match keep {
        None => item.clone(),
        Some(names) => item
            .iter()
            .filter(|(k, _)| names.iter().any(|n| n == *k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}
