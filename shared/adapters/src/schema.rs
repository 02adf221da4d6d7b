//! Table definitions: the service's table and, for local runs and tests, the five source
//! tables with streams. `infra/template.yaml` declares the same tables for AWS.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    LocalSecondaryIndex, Projection, ProjectionType, ScalarAttributeType, StreamSpecification,
    StreamViewType,
};
use aws_sdk_dynamodb::Client;
use c360_domain::SourceKind;

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
fn lsi(name: &str, sort: &str, projection: ProjectionType) -> Result<LocalSecondaryIndex, String> {
    LocalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key(sort, KeyType::Range)?)
        .projection(Projection::builder().projection_type(projection).build())
        .build()
        .map_err(|e| e.to_string())
}

fn gsi(
    name: &str,
    hash: &str,
    sort: &str,
    projection: ProjectionType,
) -> Result<GlobalSecondaryIndex, String> {
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key(hash, KeyType::Hash)?)
        .key_schema(key(sort, KeyType::Range)?)
        .projection(Projection::builder().projection_type(projection).build())
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
    use crate::store::{INDEX_COUNTED, INDEX_KIND, INDEX_SEARCH, INDEX_TIME};
    if exists(client, table).await? {
        return Ok(false);
    }
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .set_attribute_definitions(Some(
            ["pk", "sk", "lt", "lk", "lc", "gp", "gs"]
                .iter()
                .map(|a| attr(a))
                .collect::<Result<_, _>>()?,
        ))
        .local_secondary_indexes(lsi(INDEX_TIME, "lt", ProjectionType::All)?)
        .local_secondary_indexes(lsi(INDEX_KIND, "lk", ProjectionType::All)?)
        .local_secondary_indexes(lsi(INDEX_COUNTED, "lc", ProjectionType::KeysOnly)?)
        .global_secondary_indexes(gsi(INDEX_SEARCH, "gp", "gs", ProjectionType::KeysOnly)?)
        .send()
        .await
        .map_err(|e| failed("CreateTable", table, e))?;
    Ok(true)
}

/// Creates a source table (partition key = its id attribute) with a NEW_AND_OLD_IMAGES stream.
pub async fn create_source_table(
    client: &Client,
    kind: SourceKind,
    table: &str,
) -> Result<bool, String> {
    if exists(client, table).await? {
        return Ok(false);
    }
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(kind.id_attribute(), KeyType::Hash)?)
        .attribute_definitions(attr(kind.id_attribute())?)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .map_err(|e| e.to_string())?,
        )
        .send()
        .await
        .map_err(|e| failed("CreateTable", table, e))?;
    Ok(true)
}

/// Creates the audit table (see [`crate::audit`]) with its caller index and retention TTL.
pub async fn create_audit_table(client: &Client, table: &str) -> Result<bool, String> {
    use crate::audit::INDEX_CALLER;
    if exists(client, table).await? {
        return Ok(false);
    }
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .set_attribute_definitions(Some(
            ["pk", "sk", "by"]
                .iter()
                .map(|a| attr(a))
                .collect::<Result<_, _>>()?,
        ))
        .global_secondary_indexes(gsi(INDEX_CALLER, "by", "sk", ProjectionType::All)?)
        .send()
        .await
        .map_err(|e| failed("CreateTable", table, e))?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            aws_sdk_dynamodb::types::TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name("expires_at")
                .build()
                .map_err(|e| e.to_string())?,
        )
        .send()
        .await
        .map_err(|e| failed("UpdateTimeToLive", table, e))?;
    Ok(true)
}
