//! Table definitions: the service's table, the audit table and, for local runs and tests, the
//! five source tables with streams. Each is one [`TableSpec`], from which both the
//! `CreateTable` request and the CloudFormation properties that `infra/template.yaml` must
//! declare are made (`c360-dev schema` prints the latter; `scripts/check-infra` compares them).

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    LocalSecondaryIndex, Projection, ProjectionType, ScalarAttributeType, StreamSpecification,
    StreamViewType,
};
use aws_sdk_dynamodb::Client;
use c360_domain::SourceKind;
use serde_json::{json, Value};

/// What an index carries besides the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carries {
    /// Every attribute (`ALL`).
    All,
    /// The table's and the index's keys only (`KEYS_ONLY`).
    KeysOnly,
}

/// A secondary index: a local one shares the table's partition key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    pub name: &'static str,
    pub hash: &'static str,
    pub range: &'static str,
    pub carries: Carries,
}

/// A table as the code uses it. Every key attribute is a string (`S`); billing is on demand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    pub hash: &'static str,
    pub range: Option<&'static str>,
    pub local: Vec<IndexSpec>,
    pub global: Vec<IndexSpec>,
    /// A `NEW_AND_OLD_IMAGES` stream (the source tables).
    pub stream: bool,
    /// The TTL attribute, if items expire.
    pub ttl: Option<&'static str>,
}

/// The customer360 table (`docs/adr/0001-table-design.md`).
pub fn service_table() -> TableSpec {
    use crate::keys::{
        CLUSTER_ATTR, INDEX_CLUSTER, INDEX_COUNTED, INDEX_FIND, INDEX_KIND, INDEX_ROSTER,
        INDEX_SEARCH, INDEX_TIME,
    };
    let local = |name, range, carries| IndexSpec {
        name,
        hash: "pk",
        range,
        carries,
    };
    TableSpec {
        hash: "pk",
        range: Some("sk"),
        local: vec![
            local(INDEX_TIME, "lt", Carries::All),
            local(INDEX_KIND, "lk", Carries::All),
            local(INDEX_COUNTED, "lc", Carries::KeysOnly),
        ],
        global: vec![
            IndexSpec {
                name: INDEX_SEARCH,
                hash: "gp",
                range: "gs",
                carries: Carries::KeysOnly,
            },
            IndexSpec {
                name: INDEX_FIND,
                hash: "sp",
                range: "ss",
                carries: Carries::KeysOnly,
            },
            IndexSpec {
                name: INDEX_ROSTER,
                hash: "rp",
                range: "rs",
                carries: Carries::All,
            },
            IndexSpec {
                name: INDEX_CLUSTER,
                hash: CLUSTER_ATTR,
                range: "lt",
                carries: Carries::All,
            },
        ],
        stream: false,
        ttl: None,
    }
}

/// The query audit table (written by `c360_api::audit`) with its caller index and retention TTL.
pub fn audit_table() -> TableSpec {
    TableSpec {
        hash: "pk",
        range: Some("sk"),
        local: Vec::new(),
        global: vec![IndexSpec {
            name: crate::keys::INDEX_CALLER,
            hash: "by",
            range: "sk",
            carries: Carries::All,
        }],
        stream: false,
        ttl: Some("expires_at"),
    }
}

/// A source table as `docs/spec/sources.md` describes it: partition key = its id attribute,
/// a `NEW_AND_OLD_IMAGES` stream. (The sources' own retention TTLs are theirs, not ours.)
pub fn source_table(kind: SourceKind) -> TableSpec {
    TableSpec {
        hash: kind.id_attribute(),
        range: None,
        local: Vec::new(),
        global: Vec::new(),
        stream: true,
        ttl: None,
    }
}

/// Every table by the suffix of its name (`{stack}-{suffix}` in AWS, `{prefix}_{suffix}` in
/// tests): `customer360`, `audit` and each source table's name.
pub fn all_tables() -> Vec<(&'static str, TableSpec)> {
    let mut tables = vec![("customer360", service_table()), ("audit", audit_table())];
    tables.extend(SourceKind::ALL.map(|k| (k.table(), source_table(k))));
    tables
}

impl TableSpec {
    /// Every attribute a key of the table or of an index names, sorted, each once.
    pub fn key_attributes(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = std::iter::once(self.hash)
            .chain(self.range)
            .chain(
                self.local
                    .iter()
                    .chain(&self.global)
                    .flat_map(|i| [i.hash, i.range]),
            )
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The table's definition in CloudFormation's `AWS::DynamoDB::Table` property names
    /// (`BillingMode`, `AttributeDefinitions`, `KeySchema`, `LocalSecondaryIndexes`,
    /// `GlobalSecondaryIndexes`, `StreamSpecification`, `TimeToLiveSpecification`; absent
    /// when empty), lists sorted by name.
    pub fn cloudformation(&self) -> Value {
        fn keys(hash: &str, range: Option<&str>) -> Value {
            let mut k = vec![json!({"AttributeName": hash, "KeyType": "HASH"})];
            if let Some(r) = range {
                k.push(json!({"AttributeName": r, "KeyType": "RANGE"}));
            }
            Value::Array(k)
        }
        fn indexes(list: &[IndexSpec]) -> Value {
            let mut list: Vec<&IndexSpec> = list.iter().collect();
            list.sort_by_key(|i| i.name);
            Value::Array(
                list.into_iter()
                    .map(|i| {
                        json!({
                            "IndexName": i.name,
                            "KeySchema": keys(i.hash, Some(i.range)),
                            "Projection": {"ProjectionType": match i.carries {
                                Carries::All => "ALL",
                                Carries::KeysOnly => "KEYS_ONLY",
                            }},
                        })
                    })
                    .collect(),
            )
        }
        let mut t = json!({
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": self
                .key_attributes()
                .into_iter()
                .map(|a| json!({"AttributeName": a, "AttributeType": "S"}))
                .collect::<Vec<_>>(),
            "KeySchema": keys(self.hash, self.range),
        });
        if !self.local.is_empty() {
            t["LocalSecondaryIndexes"] = indexes(&self.local);
        }
        if !self.global.is_empty() {
            t["GlobalSecondaryIndexes"] = indexes(&self.global);
        }
        if self.stream {
            t["StreamSpecification"] = json!({"StreamViewType": "NEW_AND_OLD_IMAGES"});
        }
        if let Some(ttl) = self.ttl {
            t["TimeToLiveSpecification"] = json!({"AttributeName": ttl, "Enabled": true});
        }
        t
    }

    /// Creates `table` with this definition if it does not exist (and turns its TTL on).
    /// `Ok(false)` when it existed; errors name the operation and the table.
    pub async fn create(&self, client: &Client, table: &str) -> Result<bool, String> {
        if exists(client, table).await? {
            return Ok(false);
        }
        let mut create = client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(self.hash, KeyType::Hash)?)
            .set_attribute_definitions(Some(
                self.key_attributes()
                    .into_iter()
                    .map(attr)
                    .collect::<Result<_, _>>()?,
            ));
        if let Some(range) = self.range {
            create = create.key_schema(key(range, KeyType::Range)?);
        }
        for i in &self.local {
            create = create.local_secondary_indexes(lsi(i)?);
        }
        for i in &self.global {
            create = create.global_secondary_indexes(gsi(i)?);
        }
        if self.stream {
            create = create.stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .build()
                    .map_err(|e| e.to_string())?,
            );
        }
        create
            .send()
            .await
            .map_err(|e| failed("CreateTable", table, e))?;
        if let Some(ttl) = self.ttl {
            client
                .update_time_to_live()
                .table_name(table)
                .time_to_live_specification(
                    aws_sdk_dynamodb::types::TimeToLiveSpecification::builder()
                        .enabled(true)
                        .attribute_name(ttl)
                        .build()
                        .map_err(|e| e.to_string())?,
                )
                .send()
                .await
                .map_err(|e| failed("UpdateTimeToLive", table, e))?;
        }
        Ok(true)
    }
}

fn attr(name: &str) -> Result<AttributeDefinition, String> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| e.to_string())
}
fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement, String> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(|e| e.to_string())
}
fn projection(carries: Carries) -> Projection {
    Projection::builder()
        .projection_type(match carries {
            Carries::All => ProjectionType::All,
            Carries::KeysOnly => ProjectionType::KeysOnly,
        })
        .build()
}
fn lsi(i: &IndexSpec) -> Result<LocalSecondaryIndex, String> {
    LocalSecondaryIndex::builder()
        .index_name(i.name)
        .key_schema(key(i.hash, KeyType::Hash)?)
        .key_schema(key(i.range, KeyType::Range)?)
        .projection(projection(i.carries))
        .build()
        .map_err(|e| e.to_string())
}
fn gsi(i: &IndexSpec) -> Result<GlobalSecondaryIndex, String> {
    GlobalSecondaryIndex::builder()
        .index_name(i.name)
        .key_schema(key(i.hash, KeyType::Hash)?)
        .key_schema(key(i.range, KeyType::Range)?)
        .projection(projection(i.carries))
        .build()
        .map_err(|e| e.to_string())
}

fn failed(operation: &str, table: &str, e: impl std::error::Error) -> String {
    format!(
        "{operation} {table}: {}",
        aws_sdk_dynamodb::error::DisplayErrorContext(e)
    )
}

async fn exists(client: &Client, table: &str) -> Result<bool, String> {
    match client.describe_table().table_name(table).send().await {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(failed("DescribeTable", table, e)),
    }
}

/// Creates the customer360 table if it does not exist.
pub async fn create_service_table(client: &Client, table: &str) -> Result<bool, String> {
    service_table().create(client, table).await
}

/// Creates a source table (partition key = its id attribute) with a NEW_AND_OLD_IMAGES stream.
pub async fn create_source_table(
    client: &Client,
    kind: SourceKind,
    table: &str,
) -> Result<bool, String> {
    source_table(kind).create(client, table).await
}

/// Creates the audit table (written by `c360_api::audit`) with its caller index and retention TTL.
pub async fn create_audit_table(client: &Client, table: &str) -> Result<bool, String> {
    audit_table().create(client, table).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_table_declares_each_key_attribute_once_and_its_seven_indexes() {
        let t = service_table();
        assert_eq!(
            t.key_attributes(),
            ["cg", "gp", "gs", "lc", "lk", "lt", "pk", "rp", "rs", "sk", "sp", "ss"]
        );
        let cf = t.cloudformation();
        let names: Vec<&str> = cf["LocalSecondaryIndexes"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(
                cf["GlobalSecondaryIndexes"]
                    .as_array()
                    .into_iter()
                    .flatten(),
            )
            .filter_map(|i| i["IndexName"].as_str())
            .collect();
        assert_eq!(
            names,
            [
                "lsi_counted",
                "lsi_kind",
                "lsi_time",
                "gsi_cluster",
                "gsi_find",
                "gsi_roster",
                "gsi_search"
            ]
        );
        assert_eq!(
            cf["LocalSecondaryIndexes"][0]["Projection"]["ProjectionType"],
            "KEYS_ONLY"
        );
        assert!(cf.get("StreamSpecification").is_none());
    }

    #[test]
    fn every_table_is_named_once_and_sources_stream_both_images() {
        let tables = all_tables();
        assert_eq!(tables.len(), 7);
        let mut names: Vec<&str> = tables.iter().map(|(n, _)| *n).collect();
        names.dedup();
        assert_eq!(names.len(), 7);
        let orders = source_table(SourceKind::Orders).cloudformation();
        assert_eq!(
            orders["KeySchema"],
            json!([{"AttributeName": "order_id", "KeyType": "HASH"}])
        );
        assert_eq!(
            orders["StreamSpecification"]["StreamViewType"],
            "NEW_AND_OLD_IMAGES"
        );
        assert_eq!(
            audit_table().cloudformation()["TimeToLiveSpecification"]["AttributeName"],
            "expires_at"
        );
    }
}
