//! Records: dropping the ones already delivered, and the conversion of a Streams SDK record
//! into the record Lambda delivers.

use std::cmp::Ordering;

use anyhow::Context;
use aws_lambda_events::event::dynamodb::{
    EventRecord, StreamRecord, StreamViewType as LambdaStreamViewType, UserIdentity,
};
use aws_sdk_dynamodbstreams::types::{Record as SdkRecord, StreamViewType as SdkStreamViewType};
use tracing::warn;

use super::retries::cmp_sequence_numbers;

/// Drops records at or before the checkpoint. DynamoDB Streams never hands them out again,
/// but an emulator that numbered two records alike does (ADR 0002), and delivering them
/// again would never end: the next iterator points right back at them.
pub(super) fn drop_delivered(records: Vec<SdkRecord>, checkpoint: Option<&str>) -> Vec<SdkRecord> {
    let Some(checkpoint) = checkpoint else {
        return records;
    };
    let total = records.len();
    let kept: Vec<SdkRecord> = records
        .into_iter()
        .filter(|r| {
            r.dynamodb()
                .and_then(|d| d.sequence_number())
                .is_none_or(|seq| cmp_sequence_numbers(seq, checkpoint) == Ordering::Greater)
        })
        .collect();
    if kept.len() < total {
        warn!(
            dropped = total - kept.len(),
            %checkpoint,
            "the stream handed back records at or before the checkpoint; not delivered again"
        );
    }
    kept
}

/// Converts a DynamoDB Streams SDK record into the record Lambda delivers
/// (`Records[]` of a DynamoDB stream event).
///
/// `event_source_arn` becomes `eventSourceARN` (Lambda puts the stream ARN there), `region`
/// becomes `awsRegion`. `eventVersion` is "1.1" and `eventSource` "aws:dynamodb" as in Lambda
/// events; `ApproximateCreationDateTime` is rounded down to the second, as DynamoDB Streams
/// documents it. `userIdentity` is kept (TTL deletions: `Service` / `dynamodb.amazonaws.com`).
pub fn to_lambda_record(
    event_source_arn: &str,
    region: &str,
    rec: &SdkRecord,
) -> anyhow::Result<EventRecord> {
    let ddb = rec
        .dynamodb
        .as_ref()
        .context("stream record has no `dynamodb` section")?;
    let sequence_number = ddb
        .sequence_number
        .clone()
        .context("stream record has no SequenceNumber")?;
    let event_name = rec
        .event_name
        .as_ref()
        .with_context(|| format!("stream record {sequence_number} has no eventName"))?
        .as_str()
        .to_string();
    let event_id = rec
        .event_id
        .clone()
        .with_context(|| format!("stream record {sequence_number} has no eventID"))?;

    let mut change = StreamRecord::default();
    if let Some(created) = &ddb.approximate_creation_date_time {
        change.approximate_creation_date_time = chrono::DateTime::from_timestamp(created.secs(), 0)
            .with_context(|| {
                format!("stream record {sequence_number}: ApproximateCreationDateTime out of range")
            })?;
    }
    change.keys = ddb.keys.clone().unwrap_or_default().into();
    change.new_image = ddb.new_image.clone().unwrap_or_default().into();
    change.old_image = ddb.old_image.clone().unwrap_or_default().into();
    change.sequence_number = Some(sequence_number);
    change.size_bytes = ddb.size_bytes.unwrap_or_default();
    change.stream_view_type = ddb.stream_view_type.as_ref().and_then(|t| match t {
        SdkStreamViewType::KeysOnly => Some(LambdaStreamViewType::KeysOnly),
        SdkStreamViewType::NewImage => Some(LambdaStreamViewType::NewImage),
        SdkStreamViewType::OldImage => Some(LambdaStreamViewType::OldImage),
        SdkStreamViewType::NewAndOldImages => Some(LambdaStreamViewType::NewAndOldImages),
        _ => None,
    });

    let mut out = EventRecord::default();
    out.aws_region = region.to_string();
    out.change = change;
    out.event_id = event_id;
    out.event_name = event_name;
    out.event_source = Some("aws:dynamodb".to_string());
    out.event_version = Some("1.1".to_string());
    out.event_source_arn = Some(event_source_arn.to_string());
    out.user_identity = rec.user_identity.as_ref().map(|identity| {
        let mut user = UserIdentity::default();
        user.type_ = identity.r#type.clone().unwrap_or_default();
        user.principal_id = identity.principal_id.clone().unwrap_or_default();
        user
    });
    Ok(out)
}
