//! An in-memory DynamoDB behind the real SDK: an HTTP client for `aws-sdk-dynamodb` that
//! answers the JSON protocol from maps in memory. The store, projector and reads run their
//! real code (requests built, serialized, conditions checked, answers parsed) with no network
//! and no emulator, fast enough for property tests over tens of thousands of customers.
//!
//! It implements what Customer360 uses and refuses the rest with a `ValidationException`, so
//! code that starts relying on something else fails loudly rather than passing by accident:
//! CreateTable, DescribeTable, UpdateTimeToLive, GetItem, PutItem, DeleteItem, BatchGetItem,
//! BatchWriteItem, TransactWriteItems (Put, Delete, ConditionCheck, Update with `ADD`/`SET`; all or nothing, with
//! cancellation reasons), Query (table, LSIs and GSIs; `=`, `begins_with`, `BETWEEN` on the
//! sort key; forward and backward; `Limit`, `ExclusiveStartKey`, `LastEvaluatedKey`) and Scan
//! (`Segment`/`TotalSegments`, `Limit`, `ExclusiveStartKey`, `LastEvaluatedKey`, and a
//! `FilterExpression` applied after `Limit`, as DynamoDB does). Conditions and filters:
//! `attribute_not_exists(a)`, `attribute_exists(a)`, `begins_with(a, :v)`, `a = :v`, joined by
//! `OR`.
//! Projection expressions are ignored (whole items come back, a superset).
//!
//! Not modelled: capacity, throttling, item size limits, eventual consistency (every read is
//! strongly consistent), streams.
//!
//! Files: `expr.rs` (placeholders and condition expressions), `transact.rs`
//! (TransactWriteItems), `query.rs` (Query), this file the tables, the other operations and
//! the HTTP side.

mod expr;
mod query;
#[cfg(test)]
mod tests;
mod transact;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use expr::{check, Expr};
use query::query;
use transact::transact;

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
    text_ref(v).map(str::to_string)
}

/// [`text`] without the copy: a Query on an index looks at every item of the table, so the
/// test runs' time goes into what it allocates per item.
fn text_ref(v: &Value) -> Option<&str> {
    v.get("S")
        .or_else(|| v.get("N"))
        .or_else(|| v.get("B"))
        .and_then(Value::as_str)
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

impl MemoryDynamo {
    pub fn new() -> Self {
        MemoryDynamo::default()
    }

    /// A DynamoDB client of the real SDK whose requests this in-memory DynamoDB answers
    /// (region us-east-1, fixed credentials: requests are signed as against AWS).
    pub fn client(&self) -> aws_sdk_dynamodb::Client {
        let conf = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "memory", "memory", None, None, "memory",
            ))
            .http_client(self.clone())
            .build();
        aws_sdk_dynamodb::Client::from_conf(conf)
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
                let t = table(&mut tables, s_field(body, "TableName")?)?;
                let sch = schema(t)?.clone();
                // A parallel scan's segment holds the partitions whose key hashes to it
                // (FNV-1a: stable across runs), each in key order.
                let segments = body
                    .get("TotalSegments")
                    .and_then(Value::as_u64)
                    .unwrap_or(1)
                    .max(1);
                let segment = body.get("Segment").and_then(Value::as_u64).unwrap_or(0);
                let of_segment = |pk: &str| {
                    let h = pk.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
                    });
                    h % segments == segment
                };
                let after = match body.get("ExclusiveStartKey").and_then(Value::as_object) {
                    Some(k) => Some(key_of(&sch, k)?),
                    None => None,
                };
                let limit = body
                    .get("Limit")
                    .and_then(Value::as_u64)
                    .map(|l| l as usize);
                let mut page: Vec<(&(String, String), &Item)> = t
                    .items
                    .iter()
                    .filter(|(k, _)| of_segment(&k.0) && after.as_ref().is_none_or(|a| *k > a))
                    .collect();
                let more = limit.is_some_and(|l| page.len() > l);
                if let Some(l) = limit {
                    page.truncate(l);
                }
                // As DynamoDB does: the filter applies to the page Limit read, after it.
                let filter = body.get("FilterExpression").and_then(Value::as_str);
                let expr = Expr {
                    names: body.get("ExpressionAttributeNames"),
                    values: body.get("ExpressionAttributeValues"),
                };
                let mut items: Vec<Value> = Vec::with_capacity(page.len());
                for (_, i) in &page {
                    if filter.map_or(Ok(true), |f| expr.holds(f, Some(i)))? {
                        items.push(Value::Object((*i).clone()));
                    }
                }
                let mut out =
                    json!({"Items": items, "Count": items.len(), "ScannedCount": page.len()});
                if more {
                    if let Some((_, last)) = page.last() {
                        out["LastEvaluatedKey"] = Value::Object(key_item(&sch, last));
                    }
                }
                Ok(out)
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
