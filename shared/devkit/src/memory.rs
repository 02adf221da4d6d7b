//! An in-memory DynamoDB behind the real SDK: an HTTP client for `aws-sdk-dynamodb` that
//! answers the JSON protocol from maps in memory. The store, projector and reads run their
//! real code (requests built, serialized, conditions checked, answers parsed) with no network
//! and no emulator, fast enough for property tests over tens of thousands of customers.
//!
//! It implements what Customer360 uses and refuses the rest with a `ValidationException`, so
//! code that starts relying on something else fails loudly rather than passing by accident:
//! CreateTable, DescribeTable, UpdateTimeToLive, GetItem, PutItem, DeleteItem, BatchGetItem,
//! BatchWriteItem, TransactWriteItems (Put, Delete, ConditionCheck; all or nothing, with
//! cancellation reasons), Query (table, LSIs and GSIs; `=`, `begins_with`, `BETWEEN` on the
//! sort key; forward and backward; `Limit`, `ExclusiveStartKey`, `LastEvaluatedKey`) and Scan
//! (one page). Conditions: `attribute_not_exists(a)`, `attribute_exists(a)`, `a = :v`.
//! Projection expressions are ignored (whole items come back, a superset).
//!
//! Not modelled: capacity, throttling, item size limits, eventual consistency (every read is
//! strongly consistent), streams.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

type Item = Map<String, Value>;

#[derive(Debug, Clone)]
struct KeySchema {
    hash: String,
    range: Option<String>,
}

#[derive(Debug, Default)]
struct Table {
    schema: Option<KeySchema>,
    indexes: HashMap<String, KeySchema>,
    /// By (hash value, range value or "").
    items: BTreeMap<(String, String), Item>,
}

/// The in-memory DynamoDB. Clones share the same tables.
#[derive(Debug, Clone, Default)]
pub struct MemoryDynamo {
    tables: Arc<Mutex<HashMap<String, Table>>>,
    requests: Arc<Mutex<BTreeMap<String, u64>>>,
}

struct Fail {
    kind: &'static str,
    message: String,
    extra: Option<(String, Value)>,
}

fn fail(kind: &'static str, message: impl Into<String>) -> Fail {
    Fail {
        kind,
        message: message.into(),
        extra: None,
    }
}
fn invalid(message: impl Into<String>) -> Fail {
    fail("ValidationException", message)
}

fn text(v: &Value) -> Option<String> {
    v.get("S")
        .or_else(|| v.get("N"))
        .or_else(|| v.get("B"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn key_of(schema: &KeySchema, item: &Item) -> Result<(String, String), Fail> {
    let hash = item
        .get(&schema.hash)
        .and_then(text)
        .ok_or_else(|| invalid(format!("missing key attribute {}", schema.hash)))?;
    let range = match &schema.range {
        None => String::new(),
        Some(r) => item
            .get(r)
            .and_then(text)
            .ok_or_else(|| invalid(format!("missing key attribute {r}")))?,
    };
    Ok((hash, range))
}

fn key_item(schema: &KeySchema, item: &Item) -> Item {
    let mut k = Map::new();
    for name in std::iter::once(&schema.hash).chain(schema.range.iter()) {
        if let Some(v) = item.get(name) {
            k.insert(name.clone(), v.clone());
        }
    }
    k
}

fn obj(v: &Value, what: &str) -> Result<Item, Fail> {
    v.as_object()
        .cloned()
        .ok_or_else(|| invalid(format!("{what} must be an object")))
}

fn s_field<'a>(v: &'a Value, name: &str) -> Result<&'a str, Fail> {
    v.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("missing {name}")))
}

/// Resolves `#name` and `:value` placeholders.
struct Expr<'a> {
    names: Option<&'a Value>,
    values: Option<&'a Value>,
}

impl Expr<'_> {
    fn name(&self, token: &str) -> String {
        match token.strip_prefix('#') {
            Some(_) => self
                .names
                .and_then(|n| n.get(token))
                .and_then(Value::as_str)
                .unwrap_or(token)
                .to_string(),
            None => token.to_string(),
        }
    }
    fn value(&self, token: &str) -> Result<Value, Fail> {
        self.values
            .and_then(|v| v.get(token))
            .cloned()
            .ok_or_else(|| invalid(format!("no value for {token}")))
    }

    /// `attribute_not_exists(a)`, `attribute_exists(a)` or `a = :v`.
    fn holds(&self, condition: &str, item: Option<&Item>) -> Result<bool, Fail> {
        let c = condition.trim();
        if let Some(inner) = c
            .strip_prefix("attribute_not_exists(")
            .and_then(|r| r.strip_suffix(')'))
        {
            let a = self.name(inner.trim());
            return Ok(item.is_none_or(|i| !i.contains_key(&a)));
        }
        if let Some(inner) = c
            .strip_prefix("attribute_exists(")
            .and_then(|r| r.strip_suffix(')'))
        {
            let a = self.name(inner.trim());
            return Ok(item.is_some_and(|i| i.contains_key(&a)));
        }
        if let Some((a, v)) = c.split_once(" = ") {
            let a = self.name(a.trim());
            let v = self.value(v.trim())?;
            return Ok(item.and_then(|i| i.get(&a)) == Some(&v));
        }
        Err(invalid(format!(
            "the in-memory DynamoDB does not support the condition `{c}`"
        )))
    }
}

impl MemoryDynamo {
    pub fn new() -> Self {
        MemoryDynamo::default()
    }

    /// Requests served so far, by operation.
    pub fn requests(&self) -> BTreeMap<String, u64> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    fn answer(&self, operation: &str, body: &Value) -> Result<Value, Fail> {
        if let Ok(mut r) = self.requests.lock() {
            *r.entry(operation.to_string()).or_default() += 1;
        }
        let mut tables = self
            .tables
            .lock()
            .map_err(|_| fail("InternalServerError", "poisoned"))?;
        match operation {
            "CreateTable" => create_table(&mut tables, body),
            "DescribeTable" => {
                let name = s_field(body, "TableName")?;
                if tables.contains_key(name) {
                    Ok(json!({"Table": {"TableName": name, "TableStatus": "ACTIVE"}}))
                } else {
                    Err(fail(
                        "ResourceNotFoundException",
                        format!("Requested resource not found: Table: {name} not found"),
                    ))
                }
            }
            "UpdateTimeToLive" => {
                table(&mut tables, s_field(body, "TableName")?)?;
                Ok(json!({"TimeToLiveSpecification": body["TimeToLiveSpecification"]}))
            }
            "GetItem" => {
                let t = table(&mut tables, s_field(body, "TableName")?)?;
                let key = key_of(schema(t)?, &obj(&body["Key"], "Key")?)?;
                Ok(match t.items.get(&key) {
                    Some(item) => json!({ "Item": item }),
                    None => json!({}),
                })
            }
            "PutItem" => {
                let t = table(&mut tables, s_field(body, "TableName")?)?;
                let item = obj(&body["Item"], "Item")?;
                let key = key_of(schema(t)?, &item)?;
                check(body, t.items.get(&key))?;
                t.items.insert(key, item);
                Ok(json!({}))
            }
            "DeleteItem" => {
                let t = table(&mut tables, s_field(body, "TableName")?)?;
                let key = key_of(schema(t)?, &obj(&body["Key"], "Key")?)?;
                check(body, t.items.get(&key))?;
                t.items.remove(&key);
                Ok(json!({}))
            }
            "BatchGetItem" => {
                let mut responses = Map::new();
                for (name, request) in obj(&body["RequestItems"], "RequestItems")? {
                    let t = table(&mut tables, &name)?;
                    let sch = schema(t)?.clone();
                    let mut found = Vec::new();
                    for k in request["Keys"].as_array().into_iter().flatten() {
                        if let Some(item) = t.items.get(&key_of(&sch, &obj(k, "Key")?)?) {
                            found.push(Value::Object(item.clone()));
                        }
                    }
                    responses.insert(name, Value::Array(found));
                }
                Ok(json!({"Responses": responses, "UnprocessedKeys": {}}))
            }
            "BatchWriteItem" => {
                for (name, requests) in obj(&body["RequestItems"], "RequestItems")? {
                    let t = table(&mut tables, &name)?;
                    let sch = schema(t)?.clone();
                    for r in requests.as_array().into_iter().flatten() {
                        if let Some(item) = r.pointer("/PutRequest/Item") {
                            let item = obj(item, "Item")?;
                            t.items.insert(key_of(&sch, &item)?, item);
                        } else if let Some(k) = r.pointer("/DeleteRequest/Key") {
                            t.items.remove(&key_of(&sch, &obj(k, "Key")?)?);
                        }
                    }
                }
                Ok(json!({"UnprocessedItems": {}}))
            }
            "TransactWriteItems" => transact(&mut tables, body),
            "Query" => query(&mut tables, body),
            "Scan" => {
                if body.get("FilterExpression").is_some() {
                    return Err(invalid(
                        "the in-memory DynamoDB does not support Scan filters",
                    ));
                }
                let t = table(&mut tables, s_field(body, "TableName")?)?;
                let items: Vec<Value> = t.items.values().cloned().map(Value::Object).collect();
                Ok(json!({"Items": items, "Count": items.len(), "ScannedCount": items.len()}))
            }
            other => Err(invalid(format!(
                "the in-memory DynamoDB does not support {other}"
            ))),
        }
    }
}

fn table<'a>(tables: &'a mut HashMap<String, Table>, name: &str) -> Result<&'a mut Table, Fail> {
    tables.get_mut(name).ok_or_else(|| {
        fail(
            "ResourceNotFoundException",
            format!("Requested resource not found: Table: {name} not found"),
        )
    })
}

fn schema(t: &Table) -> Result<&KeySchema, Fail> {
    t.schema.as_ref().ok_or_else(|| invalid("table has no key"))
}

fn parse_schema(v: &Value) -> KeySchema {
    let mut ks = KeySchema {
        hash: String::new(),
        range: None,
    };
    for k in v.as_array().into_iter().flatten() {
        let name = k["AttributeName"].as_str().unwrap_or_default().to_string();
        if k["KeyType"] == "HASH" {
            ks.hash = name;
        } else {
            ks.range = Some(name);
        }
    }
    ks
}

fn create_table(tables: &mut HashMap<String, Table>, body: &Value) -> Result<Value, Fail> {
    let name = s_field(body, "TableName")?.to_string();
    if tables.contains_key(&name) {
        return Err(fail(
            "ResourceInUseException",
            format!("Table already exists: {name}"),
        ));
    }
    let mut t = Table {
        schema: Some(parse_schema(&body["KeySchema"])),
        ..Table::default()
    };
    for list in ["LocalSecondaryIndexes", "GlobalSecondaryIndexes"] {
        for idx in body[list].as_array().into_iter().flatten() {
            let index = idx["IndexName"].as_str().unwrap_or_default().to_string();
            t.indexes.insert(index, parse_schema(&idx["KeySchema"]));
        }
    }
    tables.insert(name.clone(), t);
    Ok(json!({"TableDescription": {"TableName": name, "TableStatus": "ACTIVE"}}))
}

fn check(request: &Value, current: Option<&Item>) -> Result<(), Fail> {
    let Some(condition) = request.get("ConditionExpression").and_then(Value::as_str) else {
        return Ok(());
    };
    let expr = Expr {
        names: request.get("ExpressionAttributeNames"),
        values: request.get("ExpressionAttributeValues"),
    };
    if expr.holds(condition, current)? {
        Ok(())
    } else {
        Err(fail(
            "ConditionalCheckFailedException",
            "The conditional request failed",
        ))
    }
}

fn transact(tables: &mut HashMap<String, Table>, body: &Value) -> Result<Value, Fail> {
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

enum SortCondition {
    Any,
    BeginsWith(String),
    Between(String, String),
    Equals(String),
}

fn query(tables: &mut HashMap<String, Table>, body: &Value) -> Result<Value, Fail> {
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
            let h = item.get(&index_schema.hash).and_then(text)?;
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
            };
            keep.then(|| (r, k.clone(), item))
        })
        .collect();
    matched.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    if body.get("ScanIndexForward") == Some(&Value::Bool(false)) {
        matched.reverse();
    }
    if let Some(start) = body.get("ExclusiveStartKey").and_then(Value::as_object) {
        let start_key = key_of(&table_schema, start)?;
        if let Some(pos) = matched.iter().position(|m| m.1 == start_key) {
            matched.drain(..=pos);
        }
    }
    let limit = body
        .get("Limit")
        .and_then(Value::as_u64)
        .map(|l| l as usize);
    let more = limit.is_some_and(|l| matched.len() > l);
    if let Some(l) = limit {
        matched.truncate(l);
    }
    let mut out = json!({
        "Items": matched.iter().map(|m| Value::Object(m.2.clone())).collect::<Vec<_>>(),
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

impl HttpConnector for MemoryDynamo {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        // The server side of the JSON protocol: `X-Amz-Target: DynamoDB_20120810.Query`.
        let operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.split('.').nth(1))
            .unwrap_or("")
            .to_string();
        let body: Value = request
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or(Value::Null);
        let (status, answer) = match self.answer(&operation, &body) {
            Ok(v) => (200u16, v),
            Err(f) => {
                let mut e = json!({
                    "__type": format!("com.amazonaws.dynamodb.v20120810#{}", f.kind),
                    "message": f.message,
                });
                if let Some((k, v)) = f.extra {
                    e[k] = v;
                }
                (400u16, e)
            }
        };
        let mut response = aws_smithy_runtime_api::http::Response::new(
            status.try_into().unwrap_or_else(|_| {
                aws_smithy_runtime_api::http::StatusCode::try_from(500u16)
                    .expect("500 is a status code")
            }),
            SdkBody::from(answer.to_string()),
        );
        response
            .headers_mut()
            .insert("content-type", "application/x-amz-json-1.0");
        HttpConnectorFuture::ready(Ok(response))
    }
}

impl HttpClient for MemoryDynamo {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue as Av;

    fn client(memory: &MemoryDynamo) -> aws_sdk_dynamodb::Client {
        let conf = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "memory", "memory", None, None, "memory",
            ))
            .http_client(memory.clone())
            .build();
        aws_sdk_dynamodb::Client::from_conf(conf)
    }

    #[tokio::test]
    async fn conditions_transactions_and_queries_behave_like_dynamodb() {
        let memory = MemoryDynamo::new();
        let c = client(&memory);
        use aws_sdk_dynamodb::types::*;
        let key = |n: &str| {
            KeySchemaElement::builder()
                .attribute_name(n)
                .key_type(if n == "pk" {
                    KeyType::Hash
                } else {
                    KeyType::Range
                })
                .build()
                .expect("key")
        };
        c.create_table()
            .table_name("t")
            .key_schema(key("pk"))
            .key_schema(key("sk"))
            .send()
            .await
            .expect("create");
        let put = |sk: &str, cond: Option<&str>| {
            let mut p = Put::builder()
                .table_name("t")
                .item("pk", Av::S("a".into()))
                .item("sk", Av::S(sk.into()))
                .item("ver", Av::N("1".into()));
            if let Some(c) = cond {
                p = p.condition_expression(c);
            }
            TransactWriteItem::builder()
                .put(p.build().expect("put"))
                .build()
        };
        c.transact_write_items()
            .transact_items(put("x1", Some("attribute_not_exists(pk)")))
            .transact_items(put("x2", None))
            .send()
            .await
            .expect("first write");
        // The same condition again fails the whole transaction, with a reason per item.
        let err = c
            .transact_write_items()
            .transact_items(put("x3", None))
            .transact_items(put("x1", Some("attribute_not_exists(pk)")))
            .send()
            .await
            .expect_err("conflict");
        let Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(tc)) = err.as_service_error() else {
            panic!("{err:?}")
        };
        let codes: Vec<_> = tc
            .cancellation_reasons()
            .iter()
            .filter_map(|r| r.code())
            .collect();
        assert_eq!(codes, ["None", "ConditionalCheckFailed"]);
        let got = c
            .query()
            .table_name("t")
            .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
            .expression_attribute_values(":pk", Av::S("a".into()))
            .expression_attribute_values(":p", Av::S("x".into()))
            .scan_index_forward(false)
            .limit(1)
            .send()
            .await
            .expect("query");
        assert_eq!(got.items().len(), 1);
        assert_eq!(got.items()[0]["sk"], Av::S("x2".into()));
        assert!(
            got.last_evaluated_key().is_some(),
            "x3 was never written; x1 remains"
        );
        let err = c
            .get_item()
            .table_name("missing")
            .key("pk", Av::S("a".into()))
            .send()
            .await
            .expect_err("no table");
        assert!(err
            .as_service_error()
            .is_some_and(|e| e.is_resource_not_found_exception()));
    }
}
