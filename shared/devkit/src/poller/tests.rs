//! Unit tests: sequence order, the retry rules, shard order, record conversion, dead letters.

use std::{cmp::Ordering, fs, path::PathBuf};

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use aws_sdk_dynamodbstreams::types::{Record as SdkRecord, StreamViewType as SdkStreamViewType};

use super::dead_letters::{
    append_dead_letters, read_dead_letters, replay_dead_letters, DeadLetter, ReplayStats,
};
use super::mapping::Poller;
use super::records::{drop_delivered, to_lambda_record};
use super::retries::{cmp_sequence_numbers, decide_batch, BatchDecision, RetryState};
use super::shards::{shard_processing_order, ShardInfo};
use super::{batch_handler, batch_item_failures, PollerConfig};

fn seqs(values: &[&str]) -> Vec<String> {
    values.iter().map(|s| s.to_string()).collect()
}

fn ok() -> Result<DynamoDbEventResponse, String> {
    Ok(DynamoDbEventResponse::default())
}

fn failed(ids: &[&str]) -> Result<DynamoDbEventResponse, String> {
    Ok(batch_item_failures(ids.iter().copied()))
}

fn temp_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    std::env::temp_dir().join(format!("c360-poller-{name}-{}-{nanos}", std::process::id()))
}

// ---------------------------------------------------------------- sequence numbers

#[test]
fn sequence_numbers_compare_as_integers() {
    assert_eq!(cmp_sequence_numbers("9", "10"), Ordering::Less);
    assert_eq!(cmp_sequence_numbers("100", "99"), Ordering::Greater);
    assert_eq!(cmp_sequence_numbers("123", "123"), Ordering::Equal);
    assert_eq!(cmp_sequence_numbers("124", "123"), Ordering::Greater);
    assert_eq!(cmp_sequence_numbers("0099", "100"), Ordering::Less);
    assert_eq!(
        cmp_sequence_numbers("1100000000017454423009", "999999999999999999999"),
        Ordering::Greater
    );
    assert_eq!(
        cmp_sequence_numbers(
            "400000000000000000000000001",
            "1100000000017454423009000000"
        ),
        Ordering::Less
    );
}

// ---------------------------------------------------------------- decide_batch

#[test]
fn success_checkpoints_the_last_record() {
    let batch = seqs(&["1", "2", "3"]);
    let d = decide_batch(&batch, &ok(), None, 3);
    assert_eq!(d.succeeded, 3);
    assert_eq!(d.checkpoint.as_deref(), Some("3"));
    assert!(d.retry.is_none() && d.dead_letter.is_empty() && !d.function_error);
}

#[test]
fn empty_batch_changes_nothing() {
    assert_eq!(decide_batch(&[], &ok(), None, 3), BatchDecision::default());
}

#[test]
fn partial_failure_checkpoints_before_the_lowest_failure_and_retries_from_it() {
    let batch = seqs(&["98", "99", "100", "101", "102"]);
    // Reported out of order and with different lengths: "99" is the lowest.
    let d = decide_batch(&batch, &failed(&["101", "99"]), None, 3);
    assert_eq!(d.succeeded, 1);
    assert_eq!(d.checkpoint.as_deref(), Some("98"));
    assert_eq!(
        d.retry,
        Some(RetryState {
            sequence_number: "99".into(),
            failures: 1
        })
    );
    assert!(d.dead_letter.is_empty());
    assert!(!d.function_error);
}

#[test]
fn failure_of_the_first_record_keeps_the_checkpoint() {
    let batch = seqs(&["5", "6"]);
    let d = decide_batch(&batch, &failed(&["5"]), None, 3);
    assert_eq!(d.succeeded, 0);
    assert_eq!(d.checkpoint, None);
    assert_eq!(d.retry.map(|r| r.sequence_number).as_deref(), Some("5"));
}

#[test]
fn repeated_failures_at_the_same_record_count_up_then_dead_letter_only_that_record() {
    let batch = seqs(&["3", "4", "5"]);
    let mut pending = Some(RetryState {
        sequence_number: "3".into(),
        failures: 1,
    });
    // Failures 2 and 3 at "3" are retries 1 and 2...
    for expected_failures in 2..=3 {
        let d = decide_batch(&batch, &failed(&["3", "5"]), pending.as_ref(), 3);
        assert_eq!(
            d.retry.as_ref().map(|r| r.failures),
            Some(expected_failures)
        );
        assert!(d.dead_letter.is_empty());
        pending = d.retry;
    }
    // ...the 4th failure (the 3rd retry failed too) exhausts max_retry_attempts = 3.
    let d = decide_batch(&batch, &failed(&["3", "5"]), pending.as_ref(), 3);
    assert_eq!(d.retry, None);
    assert_eq!(d.dead_letter, vec![0]);
    assert_eq!(d.checkpoint.as_deref(), Some("3"));
    assert_eq!(d.succeeded, 0);
    assert!(d
        .dead_letter_reason
        .as_deref()
        .is_some_and(|r| r.contains("batchItemFailures")));
}

#[test]
fn a_failure_at_a_new_point_starts_counting_again() {
    let batch = seqs(&["7", "8", "9"]);
    let pending = RetryState {
        sequence_number: "7".into(),
        failures: 3,
    };
    let d = decide_batch(&batch, &failed(&["8"]), Some(&pending), 3);
    assert_eq!(
        d.retry,
        Some(RetryState {
            sequence_number: "8".into(),
            failures: 1
        })
    );
    assert_eq!(d.checkpoint.as_deref(), Some("7"));
    assert_eq!(d.succeeded, 1);
}

#[test]
fn function_error_retries_the_whole_batch_then_dead_letters_all_of_it() {
    let batch = seqs(&["1", "2", "3"]);
    let err: Result<DynamoDbEventResponse, String> = Err("boom".into());
    let d = decide_batch(&batch, &err, None, 1);
    assert!(d.function_error);
    assert_eq!(d.checkpoint, None);
    assert_eq!(d.succeeded, 0);
    let pending = d.retry.clone();
    assert_eq!(
        pending,
        Some(RetryState {
            sequence_number: "1".into(),
            failures: 1
        })
    );
    let d = decide_batch(&batch, &err, pending.as_ref(), 1);
    assert!(d.function_error);
    assert_eq!(d.retry, None);
    assert_eq!(d.dead_letter, vec![0, 1, 2]);
    assert_eq!(d.checkpoint.as_deref(), Some("3"));
    assert!(d
        .dead_letter_reason
        .as_deref()
        .is_some_and(|r| r.contains("boom")));
}

#[test]
fn zero_retries_dead_letters_on_the_first_failure() {
    let batch = seqs(&["1", "2", "3"]);
    let d = decide_batch(&batch, &failed(&["2"]), None, 0);
    assert_eq!(d.dead_letter, vec![1]);
    assert_eq!(d.checkpoint.as_deref(), Some("2"));
    assert_eq!(d.succeeded, 1);
    assert_eq!(d.retry, None);
}

#[test]
fn unknown_missing_or_empty_identifiers_fail_the_whole_batch() {
    let batch = seqs(&["1", "2", "3"]);
    let mut none_id = DynamoDbEventResponse::default();
    none_id
        .batch_item_failures
        .push(DynamoDbBatchItemFailure::default());
    for response in [failed(&["2", "42"]), failed(&[""]), Ok(none_id)] {
        let d = decide_batch(&batch, &response, None, 3);
        assert!(d.function_error, "{response:?}");
        assert_eq!(d.succeeded, 0);
        assert_eq!(d.checkpoint, None);
        assert_eq!(d.retry.map(|r| r.sequence_number).as_deref(), Some("1"));
    }
}

/// The poller's loop in miniature (fetch from the checkpoint / retry point, invoke,
/// decide), without the emulator: record "3" always fails.
#[test]
fn simulated_shard_redelivers_after_the_failure_and_dead_letters_it() {
    let shard = seqs(&["1", "2", "3", "4", "5", "6", "7"]);
    let (batch_size, max_retries) = (4, 2);
    let mut checkpoint: Option<String> = None;
    let mut pending: Option<RetryState> = None;
    let mut deliveries: Vec<Vec<String>> = Vec::new();
    let mut dead: Vec<String> = Vec::new();
    let mut done: Vec<String> = Vec::new();
    for _ in 0..100 {
        let start = match (&pending, &checkpoint) {
            (Some(p), _) => shard.iter().position(|s| *s == p.sequence_number),
            (None, Some(c)) => shard.iter().position(|s| s == c).map(|i| i + 1),
            (None, None) => Some(0),
        }
        .unwrap_or(shard.len());
        let batch: Vec<String> = shard.iter().skip(start).take(batch_size).cloned().collect();
        if batch.is_empty() {
            break;
        }
        deliveries.push(batch.clone());
        let response = if batch.iter().any(|s| s == "3") {
            failed(&["3"])
        } else {
            ok()
        };
        let d = decide_batch(&batch, &response, pending.as_ref(), max_retries);
        done.extend(batch.iter().take(d.succeeded).cloned());
        dead.extend(d.dead_letter.iter().map(|&i| batch[i].clone()));
        checkpoint = d.checkpoint.or(checkpoint);
        pending = d.retry;
    }
    assert_eq!(
        deliveries,
        vec![
            seqs(&["1", "2", "3", "4"]),
            seqs(&["3", "4", "5", "6"]),
            seqs(&["3", "4", "5", "6"]),
            seqs(&["4", "5", "6", "7"]),
        ]
    );
    assert_eq!(dead, seqs(&["3"]));
    assert_eq!(done, seqs(&["1", "2", "4", "5", "6", "7"]));
    assert_eq!(checkpoint.as_deref(), Some("7"));
}

// ---------------------------------------------------------------- shards

#[test]
fn parents_come_before_children() {
    let shard = |id: &str, parent: Option<&str>| ShardInfo {
        shard_id: id.into(),
        parent_shard_id: parent.map(Into::into),
    };
    let shards = vec![
        shard("c2", Some("c1")),
        shard("c1", Some("root")),
        shard("orphan", Some("trimmed-away")),
        shard("root", None),
        shard("c1b", Some("root")),
    ];
    let order: Vec<&str> = shard_processing_order(&shards)
        .into_iter()
        .map(|i| shards[i].shard_id.as_str())
        .collect();
    assert_eq!(order, vec!["root", "c1", "c2", "orphan", "c1b"]);
}

// ---------------------------------------------------------------- record conversion

fn sdk_record(
    seq: &str,
    name: aws_sdk_dynamodbstreams::types::OperationType,
) -> aws_sdk_dynamodbstreams::types::Record {
    use aws_sdk_dynamodbstreams::types::{AttributeValue, StreamRecord as SdkStreamRecord};
    aws_sdk_dynamodbstreams::types::Record::builder()
        .event_id("e-1")
        .event_name(name)
        .event_version("1.0")
        .event_source("aws:dynamodb")
        .aws_region("us-east-1")
        .dynamodb(
            SdkStreamRecord::builder()
                .approximate_creation_date_time(
                    aws_sdk_dynamodbstreams::primitives::DateTime::from_millis(1_795_724_884_358),
                )
                .keys("order_id", AttributeValue::S("o1".into()))
                .new_image("order_id", AttributeValue::S("o1".into()))
                .new_image("amount", AttributeValue::N("12.5".into()))
                .new_image("tags", AttributeValue::Ss(vec!["a".into(), "b".into()]))
                .old_image("order_id", AttributeValue::S("o1".into()))
                .old_image("amount", AttributeValue::N("10".into()))
                .sequence_number(seq)
                .size_bytes(42)
                .stream_view_type(SdkStreamViewType::NewAndOldImages)
                .build(),
        )
        .build()
}

#[test]
fn records_at_or_before_the_checkpoint_are_not_delivered_again() {
    use aws_sdk_dynamodbstreams::types::OperationType;
    let seqs = |records: &[SdkRecord]| -> Vec<String> {
        records
            .iter()
            .filter_map(|r| r.dynamodb()?.sequence_number().map(str::to_string))
            .collect()
    };
    let batch = || {
        ["98", "99", "99", "100", "101"]
            .map(|s| sdk_record(s, OperationType::Insert))
            .to_vec()
    };
    assert_eq!(
        seqs(&drop_delivered(batch(), Some("99"))),
        vec!["100", "101"]
    );
    assert_eq!(seqs(&drop_delivered(batch(), None)).len(), 5);
    assert!(drop_delivered(batch(), Some("101")).is_empty());
}

#[test]
fn converted_record_serializes_like_a_lambda_dynamodb_event() -> anyhow::Result<()> {
    use aws_sdk_dynamodbstreams::types::OperationType;
    let arn = "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-01-01T00:00:00.000";
    let record = to_lambda_record(arn, "eu-west-1", &sdk_record("111", OperationType::Modify))?;
    let mut event = Event::default();
    event.records = vec![record];
    let json = serde_json::to_value(&event)?;
    let r = &json["Records"][0];
    assert_eq!(r["eventID"], "e-1");
    assert_eq!(r["eventName"], "MODIFY");
    assert_eq!(r["eventVersion"], "1.1");
    assert_eq!(r["eventSource"], "aws:dynamodb");
    assert_eq!(r["awsRegion"], "eu-west-1");
    assert_eq!(r["eventSourceARN"], arn);
    let d = &r["dynamodb"];
    assert_eq!(d["Keys"]["order_id"]["S"], "o1");
    assert_eq!(d["NewImage"]["order_id"]["S"], "o1");
    assert_eq!(d["NewImage"]["amount"]["N"], "12.5");
    assert_eq!(d["NewImage"]["tags"]["SS"], serde_json::json!(["a", "b"]));
    assert_eq!(d["OldImage"]["amount"]["N"], "10");
    assert_eq!(d["SequenceNumber"], "111");
    assert_eq!(d["SizeBytes"], 42);
    assert_eq!(d["StreamViewType"], "NEW_AND_OLD_IMAGES");
    // Whole seconds, as DynamoDB Streams documents it.
    assert_eq!(
        d["ApproximateCreationDateTime"].as_f64(),
        Some(1_795_724_884.0)
    );
    // And it parses back as a Lambda event.
    let back: Event = serde_json::from_value(json)?;
    assert_eq!(back, event);
    Ok(())
}

#[test]
fn ttl_deletions_keep_their_user_identity() -> anyhow::Result<()> {
    use aws_sdk_dynamodbstreams::types::{Identity, OperationType};
    let mut rec = sdk_record("5", OperationType::Remove);
    rec.user_identity = Some(
        Identity::builder()
            .r#type("Service")
            .principal_id("dynamodb.amazonaws.com")
            .build(),
    );
    let json = serde_json::to_value(to_lambda_record("arn", "us-east-1", &rec)?)?;
    assert_eq!(json["userIdentity"]["type"], "Service");
    assert_eq!(
        json["userIdentity"]["principalId"],
        "dynamodb.amazonaws.com"
    );
    assert_eq!(json["eventName"], "REMOVE");
    Ok(())
}

#[test]
fn records_without_sequence_number_are_rejected() {
    use aws_sdk_dynamodbstreams::types::OperationType;
    let mut rec = sdk_record("5", OperationType::Insert);
    if let Some(d) = rec.dynamodb.as_mut() {
        d.sequence_number = None;
    }
    assert!(to_lambda_record("arn", "us-east-1", &rec).is_err());
    rec.dynamodb = None;
    assert!(to_lambda_record("arn", "us-east-1", &rec).is_err());
}

#[tokio::test]
async fn replay_keeps_what_still_fails_and_finishes_an_interrupted_replay() -> anyhow::Result<()> {
    use aws_sdk_dynamodbstreams::types::OperationType;
    let dir = temp_dir("dlq-replay");
    let path = dir.join("orders.jsonl");
    let letter = |seq: &str| -> anyhow::Result<DeadLetter> {
        Ok(DeadLetter {
            table: "orders".into(),
            stream_arn: "arn:stream".into(),
            shard_id: "shard-1".into(),
            sequence_number: seq.into(),
            reason: "because".into(),
            record: to_lambda_record(
                "arn:stream",
                "us-east-1",
                &sdk_record(seq, OperationType::Insert),
            )?,
        })
    };
    // Sequence numbers ending in 2 still fail; the others succeed.
    let handler = batch_handler(|event: Event| async move {
        let failed: Vec<String> = event
            .records
            .iter()
            .filter_map(|r| r.change.sequence_number.clone())
            .filter(|s| s.ends_with('2'))
            .collect();
        Ok::<_, String>(batch_item_failures(failed))
    });
    assert_eq!(
        replay_dead_letters(&path, &handler).await?,
        ReplayStats::default()
    );

    append_dead_letters(&path, &[letter("1")?, letter("2")?, letter("3")?])?;
    let stats = replay_dead_letters(&path, &handler).await?;
    assert_eq!(
        (stats.replayed, stats.succeeded, stats.still_failing),
        (3, 2, 1)
    );
    let kept = read_dead_letters(&path)?;
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].sequence_number, "2");
    assert!(kept[0].reason.starts_with("replay:"));

    // An interrupted replay left its file behind: the next replay finishes it first.
    fs::rename(&path, dir.join("orders.jsonl.replaying"))?;
    append_dead_letters(&path, &[letter("12")?, letter("5")?])?;
    let stats = replay_dead_letters(&path, &handler).await?;
    assert_eq!((stats.replayed, stats.still_failing), (1, 1));
    assert!(!dir.join("orders.jsonl.replaying").exists());
    let stats = replay_dead_letters(&path, &handler).await?;
    assert_eq!(
        (stats.replayed, stats.succeeded, stats.still_failing),
        (3, 1, 2)
    );
    let kept: Vec<String> = read_dead_letters(&path)?
        .into_iter()
        .map(|d| d.sequence_number)
        .collect();
    assert_eq!(kept, ["12", "2"]);
    let _ = fs::remove_dir_all(&dir);
    Ok(())
}

#[test]
fn dead_letters_round_trip_through_jsonl() -> anyhow::Result<()> {
    use aws_sdk_dynamodbstreams::types::OperationType;
    let dir = temp_dir("dlq-roundtrip");
    let path = dir.join("orders.jsonl");
    let letter = |seq: &str| -> anyhow::Result<DeadLetter> {
        Ok(DeadLetter {
            table: "orders".into(),
            stream_arn: "arn:stream".into(),
            shard_id: "shard-1".into(),
            sequence_number: seq.into(),
            reason: "because".into(),
            record: to_lambda_record(
                "arn:stream",
                "us-east-1",
                &sdk_record(seq, OperationType::Insert),
            )?,
        })
    };
    let letters = vec![letter("1")?, letter("2")?];
    append_dead_letters(&path, &letters[..1])?;
    append_dead_letters(&path, &letters[1..])?;
    assert_eq!(read_dead_letters(&path)?, letters);
    let line = fs::read_to_string(&path)?;
    let first: serde_json::Value = serde_json::from_str(line.lines().next().unwrap_or_default())?;
    assert_eq!(
        first["record"]["dynamodb"]["NewImage"]["order_id"]["S"],
        "o1"
    );
    assert_eq!(first["sequence_number"], "1");

    fs::write(&path, format!("{}\n\nnot json\n", line.trim_end()))?;
    let err = read_dead_letters(&path).err().map(|e| format!("{e:#}"));
    assert!(err.is_some_and(|e| e.contains(":4:")));
    let _ = fs::remove_dir_all(&dir);
    Ok(())
}

#[test]
fn poller_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .build();
    let sconf = aws_sdk_dynamodbstreams::Config::builder()
        .behavior_version(aws_sdk_dynamodbstreams::config::BehaviorVersion::latest())
        .build();
    let mut poller = Poller::new(
        aws_sdk_dynamodb::Client::from_conf(conf),
        aws_sdk_dynamodbstreams::Client::from_conf(sconf),
        vec![],
        PollerConfig::default(),
    );
    assert_send(&poller.poll_once());
    assert_send(&poller.drain());
    assert_send(&poller.run(async {}));
}
