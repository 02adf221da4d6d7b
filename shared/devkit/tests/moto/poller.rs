//! The stream poller against the emulator's DynamoDB Streams.

use std::sync::atomic::{AtomicU32, Ordering as AtomicOrdering};
use std::sync::Mutex;
use std::{cmp::Ordering, collections::HashSet, fs, path::PathBuf, sync::Arc, time::Duration};

use anyhow::{anyhow, Context};
use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use aws_sdk_dynamodbstreams::error::DisplayErrorContext;

use c360_devkit::poller::{
    batch_handler, batch_item_failures, cmp_sequence_numbers, read_dead_letters, BatchHandler,
    Poller, PollerConfig, StartingPosition, StreamSource,
};
use c360_devkit::testing::MotoServer;

fn temp_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    std::env::temp_dir().join(format!("c360-poller-{name}-{}-{nanos}", std::process::id()))
}

async fn create_stream_table(ddb: &aws_sdk_dynamodb::Client, table: &str) -> anyhow::Result<()> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        StreamSpecification, StreamViewType,
    };
    ddb.create_table()
        .table_name(table)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("order_id")
                .key_type(KeyType::Hash)
                .build()?,
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("order_id")
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        )
        .billing_mode(BillingMode::PayPerRequest)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()?,
        )
        .send()
        .await
        .map_err(|e| anyhow!("CreateTable {table}: {}", DisplayErrorContext(&e)))?;
    Ok(())
}

async fn put_order(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    id: &str,
    amount: u32,
) -> anyhow::Result<()> {
    use aws_sdk_dynamodb::types::AttributeValue;
    ddb.put_item()
        .table_name(table)
        .item("order_id", AttributeValue::S(id.into()))
        .item("amount", AttributeValue::N(amount.to_string()))
        .item("status", AttributeValue::S("NEW".into()))
        .send()
        .await
        .map_err(|e| anyhow!("PutItem: {}", DisplayErrorContext(&e)))?;
    Ok(())
}

/// 5 inserts (o1..o5), a MODIFY of o2 and a REMOVE of o4: 7 stream records.
async fn write_orders(ddb: &aws_sdk_dynamodb::Client) -> anyhow::Result<()> {
    use aws_sdk_dynamodb::types::AttributeValue;
    for i in 1..=5 {
        put_order(ddb, "orders", &format!("o{i}"), i * 10).await?;
    }
    ddb.update_item()
        .table_name("orders")
        .key("order_id", AttributeValue::S("o2".into()))
        .update_expression("SET #s = :s")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(":s", AttributeValue::S("PAID".into()))
        .send()
        .await
        .map_err(|e| anyhow!("UpdateItem: {}", DisplayErrorContext(&e)))?;
    ddb.delete_item()
        .table_name("orders")
        .key("order_id", AttributeValue::S("o4".into()))
        .send()
        .await
        .map_err(|e| anyhow!("DeleteItem: {}", DisplayErrorContext(&e)))?;
    Ok(())
}

/// What a handler saw: one entry per invocation, each the Lambda JSON of its records.
type Seen = Arc<Mutex<Vec<Vec<serde_json::Value>>>>;

fn record_json(event: &Event) -> Vec<serde_json::Value> {
    // Serialize the whole event so the check covers the `Records` envelope too.
    serde_json::to_value(event)
        .ok()
        .and_then(|v| v.get("Records").and_then(|r| r.as_array()).cloned())
        .unwrap_or_default()
}

fn seen_lock(seen: &Seen) -> std::sync::MutexGuard<'_, Vec<Vec<serde_json::Value>>> {
    seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A handler that records every invocation and reports as failed the records for which
/// `fail` is true.
fn recording_handler(
    seen: Seen,
    fail: impl Fn(&serde_json::Value) -> bool + Send + Sync + 'static,
) -> BatchHandler {
    let fail = Arc::new(fail);
    batch_handler(move |event: Event| {
        let records = record_json(&event);
        let failures: Vec<String> = records
            .iter()
            .filter(|r| fail(r))
            .filter_map(|r| r["dynamodb"]["SequenceNumber"].as_str().map(String::from))
            .collect();
        seen_lock(&seen).push(records);
        async move { Ok(batch_item_failures(failures)) }
    })
}

fn summary(record: &serde_json::Value) -> String {
    format!(
        "{} {}",
        record["eventName"].as_str().unwrap_or("?"),
        record["dynamodb"]["Keys"]["order_id"]["S"]
            .as_str()
            .unwrap_or("?")
    )
}

fn seq_of(record: &serde_json::Value) -> String {
    record["dynamodb"]["SequenceNumber"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn test_config(name: &str) -> PollerConfig {
    PollerConfig {
        dead_letter_dir: temp_dir(name),
        poll_interval: Duration::from_millis(20),
        ..PollerConfig::default()
    }
}

const EXPECTED: [&str; 7] = [
    "INSERT o1",
    "INSERT o2",
    "INSERT o3",
    "INSERT o4",
    "INSERT o5",
    "MODIFY o2",
    "REMOVE o4",
];

#[tokio::test]
async fn moto_delivers_every_record_in_order() -> anyhow::Result<()> {
    let Some(moto) = MotoServer::start()? else {
        return Ok(());
    };
    let (ddb, streams) = moto.clients();
    create_stream_table(&ddb, "orders").await?;
    write_orders(&ddb).await?;
    let stream_arn = ddb
        .describe_table()
        .table_name("orders")
        .send()
        .await
        .map_err(|e| anyhow!("{}", DisplayErrorContext(&e)))?
        .table
        .and_then(|t| t.latest_stream_arn)
        .context("no stream")?;

    let seen: Seen = Arc::default();
    let config = PollerConfig {
        batch_size: 3,
        ..test_config("in-order")
    };
    let dlq_dir = config.dead_letter_dir.clone();
    let mut poller = Poller::new(
        ddb.clone(),
        streams,
        vec![StreamSource::new(
            "orders",
            recording_handler(seen.clone(), |_| false),
        )],
        config,
    );
    let stats = poller.drain().await?;
    assert_eq!(stats.records_delivered, 7);
    assert_eq!(stats.invocations, 3);
    assert_eq!(
        (stats.retries, stats.dead_lettered, stats.function_errors),
        (0, 0, 0)
    );

    let invocations = seen_lock(&seen).clone();
    assert_eq!(
        invocations.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![3, 3, 1]
    );
    let records: Vec<serde_json::Value> = invocations.into_iter().flatten().collect();
    assert_eq!(records.iter().map(summary).collect::<Vec<_>>(), EXPECTED);
    let sequence_numbers: Vec<String> = records.iter().map(seq_of).collect();
    assert!(sequence_numbers
        .windows(2)
        .all(|w| cmp_sequence_numbers(&w[0], &w[1]) == Ordering::Less));
    for r in &records {
        assert_eq!(r["eventSourceARN"], stream_arn.as_str());
        assert_eq!(r["eventSource"], "aws:dynamodb");
        assert_eq!(r["eventVersion"], "1.1");
        assert_eq!(r["awsRegion"], "us-east-1");
        assert_eq!(r["dynamodb"]["StreamViewType"], "NEW_AND_OLD_IMAGES");
        assert!(r["dynamodb"]["ApproximateCreationDateTime"].is_number());
        assert!(r["dynamodb"]["SizeBytes"].as_i64().is_some_and(|n| n > 0));
    }
    // Images.
    assert_eq!(records[0]["dynamodb"]["NewImage"]["amount"]["N"], "10");
    assert!(records[0]["dynamodb"]
        .get("OldImage")
        .is_none_or(|o| o.as_object().is_some_and(|o| o.is_empty())));
    assert_eq!(records[5]["dynamodb"]["OldImage"]["status"]["S"], "NEW");
    assert_eq!(records[5]["dynamodb"]["NewImage"]["status"]["S"], "PAID");
    assert_eq!(records[5]["dynamodb"]["NewImage"]["amount"]["N"], "20");
    assert_eq!(records[6]["dynamodb"]["OldImage"]["order_id"]["S"], "o4");
    assert_eq!(records[6]["dynamodb"]["OldImage"]["amount"]["N"], "40");
    assert!(records[6]["dynamodb"]
        .get("NewImage")
        .is_none_or(|o| o.as_object().is_some_and(|o| o.is_empty())));

    // Checkpointed: nothing more to deliver...
    assert_eq!(poller.drain().await?.invocations, 0);
    let checkpoints = poller.checkpoints();
    assert_eq!(checkpoints.len(), 1);
    assert_eq!(
        checkpoints[0].sequence_number.as_deref(),
        sequence_numbers.last().map(String::as_str)
    );
    // ...until new writes arrive, and only those are delivered.
    put_order(&ddb, "orders", "o6", 60).await?;
    let stats = poller.drain().await?;
    assert_eq!((stats.invocations, stats.records_delivered), (1, 1));
    let last = seen_lock(&seen).last().cloned().unwrap_or_default();
    assert_eq!(last.iter().map(summary).collect::<Vec<_>>(), ["INSERT o6"]);
    assert_eq!(poller.stats().records_delivered, 8);
    assert!(!dlq_dir.exists());

    // A kept iterator the server no longer knows (expired on AWS; moto restarted) is
    // replaced by a fresh one from the checkpoint: no error, no redelivery, no gap.
    poller.replace_shard_iterators(&format!("{stream_arn}|1|unknown"));
    put_order(&ddb, "orders", "o7", 70).await?;
    let stats = poller.drain().await?;
    assert_eq!((stats.invocations, stats.records_delivered), (1, 1));
    let last = seen_lock(&seen).last().cloned().unwrap_or_default();
    assert_eq!(last.iter().map(summary).collect::<Vec<_>>(), ["INSERT o7"]);
    Ok(())
}

#[tokio::test]
async fn moto_failed_record_is_retried_redelivered_and_dead_lettered() -> anyhow::Result<()> {
    let Some(moto) = MotoServer::start()? else {
        return Ok(());
    };
    let (ddb, streams) = moto.clients();
    create_stream_table(&ddb, "orders").await?;
    write_orders(&ddb).await?;

    let seen: Seen = Arc::default();
    let config = test_config("dead-letter");
    let dlq_dir = config.dead_letter_dir.clone();
    let max_retries = config.max_retry_attempts;
    // The 3rd record (INSERT o3) always fails.
    let handler = recording_handler(seen.clone(), |r| summary(r) == "INSERT o3");
    let mut poller = Poller::new(
        ddb,
        streams,
        vec![StreamSource::new("orders", handler)],
        config,
    );
    let stats = poller.drain().await?;
    assert_eq!(stats.retries, u64::from(max_retries));
    assert_eq!(stats.dead_lettered, 1);
    assert_eq!(stats.records_delivered, 6);
    assert_eq!(stats.function_errors, 0);
    // First delivery + retries fail at o3; then everything after it once more.
    assert_eq!(stats.invocations, u64::from(max_retries) + 2);
    assert_eq!(poller.stats(), &stats);

    let invocations = seen_lock(&seen).clone();
    let summaries: Vec<Vec<String>> = invocations
        .iter()
        .map(|inv| inv.iter().map(summary).collect())
        .collect();
    assert_eq!(summaries[0], EXPECTED);
    for retry in &summaries[1..=max_retries as usize] {
        assert_eq!(retry, &EXPECTED[2..]);
    }
    assert_eq!(summaries[max_retries as usize + 1], &EXPECTED[3..]);
    // Everything except the dead-lettered record was delivered at least once after it
    // failed for good, and everything was delivered at least once overall.
    let all: HashSet<String> = invocations.iter().flatten().map(seq_of).collect();
    assert_eq!(all.len(), 7);

    let dead = read_dead_letters(&poller.dead_letter_path("orders"))?;
    assert_eq!(dead.len(), 1);
    let letter = &dead[0];
    let failed = &invocations[0][2];
    assert_eq!(letter.table, "orders");
    assert_eq!(letter.sequence_number, seq_of(failed));
    assert_eq!(
        Some(letter.stream_arn.as_str()),
        failed["eventSourceARN"].as_str()
    );
    assert_eq!(letter.shard_id, poller.checkpoints()[0].shard_id);
    assert!(!letter.reason.is_empty());
    // The full record, exactly as delivered, so it can be replayed.
    assert_eq!(&serde_json::to_value(&letter.record)?, failed);
    let raw = fs::read_to_string(poller.dead_letter_path("orders"))?;
    let line: serde_json::Value = serde_json::from_str(raw.trim())?;
    assert_eq!(
        line["record"]["dynamodb"]["NewImage"]["order_id"]["S"],
        "o3"
    );
    for field in [
        "table",
        "stream_arn",
        "shard_id",
        "sequence_number",
        "reason",
    ] {
        assert!(line[field].is_string(), "{field} missing in {line}");
    }
    let _ = fs::remove_dir_all(&dlq_dir);
    Ok(())
}

#[tokio::test]
async fn moto_function_error_once_then_everything_is_delivered() -> anyhow::Result<()> {
    let Some(moto) = MotoServer::start()? else {
        return Ok(());
    };
    let (ddb, streams) = moto.clients();
    create_stream_table(&ddb, "orders").await?;
    write_orders(&ddb).await?;

    let seen: Seen = Arc::default();
    let calls = Arc::new(AtomicU32::new(0));
    let handler = {
        let (seen, calls) = (seen.clone(), calls.clone());
        batch_handler(move |event: Event| {
            let first = calls.fetch_add(1, AtomicOrdering::SeqCst) == 0;
            seen_lock(&seen).push(record_json(&event));
            async move {
                if first {
                    Err("database unavailable".to_string())
                } else {
                    Ok(DynamoDbEventResponse::default())
                }
            }
        })
    };
    let config = test_config("function-error");
    let dlq_dir = config.dead_letter_dir.clone();
    let mut poller = Poller::new(
        ddb,
        streams,
        vec![StreamSource::new("orders", handler)],
        config,
    );
    let stats = poller.drain().await?;
    assert_eq!(stats.function_errors, 1);
    assert_eq!(stats.retries, 1);
    assert_eq!(stats.invocations, 2);
    assert_eq!(stats.records_delivered, 7);
    assert_eq!(stats.dead_lettered, 0);
    let invocations = seen_lock(&seen).clone();
    assert_eq!(invocations.len(), 2);
    assert_eq!(invocations[0], invocations[1]);
    assert_eq!(
        invocations[1].iter().map(summary).collect::<Vec<_>>(),
        EXPECTED
    );
    assert!(!dlq_dir.exists());
    Ok(())
}

#[tokio::test]
async fn moto_tables_sharing_a_shard_id_and_latest_start() -> anyhow::Result<()> {
    let Some(moto) = MotoServer::start()? else {
        return Ok(());
    };
    let (ddb, streams) = moto.clients();
    create_stream_table(&ddb, "orders").await?;
    create_stream_table(&ddb, "archive").await?;
    put_order(&ddb, "orders", "before-start", 1).await?;
    put_order(&ddb, "archive", "a1", 1).await?;

    let orders: Seen = Arc::default();
    let archive: Seen = Arc::default();
    let config = PollerConfig {
        starting_position: StartingPosition::Latest,
        ..test_config("latest")
    };
    let mut poller = Poller::new(
        ddb.clone(),
        streams,
        vec![
            StreamSource::new("orders", recording_handler(orders.clone(), |_| false)),
            StreamSource::new("archive", recording_handler(archive.clone(), |_| false)),
        ],
        config,
    );
    // Establishes the LATEST positions: nothing written so far is delivered.
    assert_eq!(poller.poll_once().await?.invocations, 0);
    put_order(&ddb, "orders", "o1", 1).await?;
    put_order(&ddb, "orders", "o2", 2).await?;
    put_order(&ddb, "archive", "a2", 2).await?;
    let stats = poller.drain().await?;
    assert_eq!(stats.records_delivered, 3);

    let got =
        |seen: &Seen| -> Vec<String> { seen_lock(seen).iter().flatten().map(summary).collect() };
    assert_eq!(got(&orders), ["INSERT o1", "INSERT o2"]);
    assert_eq!(got(&archive), ["INSERT a2"]);
    // moto gives every table the same shard id; checkpoints are per stream.
    let checkpoints = poller.checkpoints();
    assert_eq!(checkpoints.len(), 2);
    assert_ne!(checkpoints[0].stream_arn, checkpoints[1].stream_arn);
    Ok(())
}

#[tokio::test]
async fn moto_run_keeps_going_past_a_failing_source_and_stops_on_shutdown() -> anyhow::Result<()> {
    let Some(moto) = MotoServer::start()? else {
        return Ok(());
    };
    let (ddb, streams) = moto.clients();
    create_stream_table(&ddb, "orders").await?;
    let seen: Seen = Arc::default();
    let poller = Poller::new(
        ddb.clone(),
        streams,
        vec![
            // A failing source (no such table) must not hold up the others.
            StreamSource::new("missing", recording_handler(seen.clone(), |_| false)),
            StreamSource::new("orders", recording_handler(seen.clone(), |_| false)),
        ],
        test_config("run"),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(poller.run(async {
        let _ = stopped.await;
    }));
    put_order(&ddb, "orders", "o1", 1).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while seen_lock(&seen).is_empty() {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "run() delivered nothing"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), task).await???;
    let mut poller = Poller::new(
        ddb.clone(),
        moto.clients().1,
        vec![StreamSource::new(
            "missing",
            recording_handler(seen.clone(), |_| false),
        )],
        test_config("run-missing"),
    );
    let err = poller.poll_once().await.err().map(|e| format!("{e:#}"));
    assert!(err.is_some_and(|e| e.contains("missing") && e.contains("DescribeTable")));
    let got: Vec<String> = seen_lock(&seen).iter().flatten().map(summary).collect();
    assert_eq!(got, ["INSERT o1"]);
    Ok(())
}
