//! The demo data's [`load`] into the emulator's tables.

use std::collections::HashMap;

use c360_devkit::demo::{generate, load, DemoConfig, SOURCES};
use c360_devkit::testing::MotoServer;
use chrono::DateTime;

/// The data set of the demo's unit tests (`src/demo/tests.rs`).
fn config() -> DemoConfig {
    DemoConfig::new(
        42,
        DateTime::parse_from_rfc3339("2026-02-20T17:00:00+08:00").unwrap(),
    )
}

/// The key attribute of each source table, in the order of [`SOURCES`].
const ID_KEYS: [&str; 5] = [
    "order_id",
    "reservation_id",
    "transaction_id",
    "member_id",
    "log_id",
];

async fn load_into_moto(config: &DemoConfig) -> anyhow::Result<()> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let Some(moto) = MotoServer::start()? else {
        return Ok(());
    };
    let client = moto.clients().0;
    let data = generate(config);
    let mut names: HashMap<&str, String> = HashMap::new();
    for (i, source) in SOURCES.iter().enumerate() {
        let table = format!("c360-demo-{source}");
        client
            .create_table()
            .table_name(&table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(ID_KEYS[i])
                    .attribute_type(ScalarAttributeType::S)
                    .build()?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(ID_KEYS[i])
                    .key_type(KeyType::Hash)
                    .build()?,
            )
            .send()
            .await?;
        names.insert(source, table);
    }
    let started = std::time::Instant::now();
    let written = load(&client, &names, &data).await?;
    println!(
        "loaded {written} items into moto in {:?}",
        started.elapsed()
    );
    assert_eq!(written, data.len());
    for (i, (source, items)) in data.tables().into_iter().enumerate() {
        let mut count = 0;
        let mut pages = client
            .scan()
            .table_name(&names[source])
            .select(aws_sdk_dynamodb::types::Select::Count)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            count += page?.count() as usize;
        }
        assert_eq!(count, items.len(), "{source}");
        let first = &items[0];
        let got = client
            .get_item()
            .table_name(&names[source])
            .key(ID_KEYS[i], first[ID_KEYS[i]].clone())
            .send()
            .await?;
        assert_eq!(got.item(), Some(first), "{source} round trip");
    }
    // A source without a table name is refused before anything is written.
    names.remove("audit_log");
    let err = load(&client, &names, &data).await.unwrap_err();
    assert!(err.to_string().contains("audit_log"), "{err}");
    Ok(())
}

#[tokio::test]
async fn load_writes_every_item_to_moto() -> anyhow::Result<()> {
    let mut config = config();
    config.customers = 40;
    load_into_moto(&config).await
}

/// The default volume, timed:
/// `cargo test -p c360-devkit --test moto load_default_volume -- --ignored --nocapture`.
#[tokio::test]
#[ignore]
async fn load_default_volume_to_moto() -> anyhow::Result<()> {
    load_into_moto(&config()).await
}
