//! The ingest Lambda: a batch of stream records in, a partial batch response out.
//!
//! Each record is applied in order. A record that cannot be decoded or applied is reported
//! alone (its sequence number); the others are applied. Lambda then retries from the lowest
//! reported record, redelivering those after it: applying a record twice changes nothing.

use crate::decode::{decode, source_id};
use crate::projector::{Outcome, Projector};
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use c360_domain::projection::Change;
use c360_domain::{SeqNo, SourceKind, Zone};
use c360_runtime::config::{Clients, Config, ConfigError};
use c360_runtime::telemetry;
use lambda_runtime::{service_fn, LambdaEvent};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchReport {
    pub applied: u64,
    pub stale: u64,
    pub advanced: u64,
    pub no_customer: u64,
    pub suppressed: u64,
    pub decode_failures: u64,
    pub apply_failures: u64,
    pub dropped_identifiers: u64,
}

#[derive(Clone)]
pub struct Ingest {
    kind: SourceKind,
    projector: Projector,
    zone: Zone,
}

#[derive(Debug, thiserror::Error)]
enum RecordError {
    #[error("cannot decode: {0}")]
    Decode(String),
    #[error("cannot apply: {0}")]
    Apply(String),
}

/// The user identity DynamoDB puts on deletions made by TTL expiry.
fn is_ttl_expiry(record: &EventRecord) -> bool {
    record
        .user_identity
        .as_ref()
        .is_some_and(|u| u.type_ == "Service" && u.principal_id == "dynamodb.amazonaws.com")
}

impl Ingest {
    pub fn new(kind: SourceKind, projector: Projector, zone: Zone) -> Self {
        Ingest {
            kind,
            projector,
            zone,
        }
    }

    pub async fn handle(&self, event: Event) -> (DynamoDbEventResponse, BatchReport) {
        let mut response = DynamoDbEventResponse::default();
        let mut report = BatchReport::default();
        for record in &event.records {
            let seq = record.change.sequence_number.clone().unwrap_or_default();
            match self.apply_record(record, &mut report).await {
                Ok(outcome) => match outcome {
                    Outcome::Applied => report.applied += 1,
                    Outcome::Stale => report.stale += 1,
                    Outcome::Advanced => report.advanced += 1,
                    Outcome::NoCustomer => report.no_customer += 1,
                    Outcome::Suppressed => report.suppressed += 1,
                },
                Err(err) => {
                    match &err {
                        RecordError::Decode(_) => report.decode_failures += 1,
                        RecordError::Apply(_) => report.apply_failures += 1,
                    }
                    tracing::warn!(source = self.kind.table(), sequence_number = %seq, event_id = %record.event_id, error = %err, "record reported as failed");
                    let mut failure = DynamoDbBatchItemFailure::default();
                    failure.item_identifier = Some(seq);
                    response.batch_item_failures.push(failure);
                }
            }
        }
        telemetry::emit_metrics(
            "Customer360/Ingest",
            &[("Source", self.kind.table())],
            &[
                ("RecordsApplied", report.applied),
                ("RecordsStale", report.stale),
                ("RecordsAdvanced", report.advanced),
                ("RecordsWithoutCustomer", report.no_customer),
                ("RecordsOfErasedCustomers", report.suppressed),
                ("RecordsUndecodable", report.decode_failures),
                ("RecordsFailed", report.apply_failures),
                ("IdentifiersDropped", report.dropped_identifiers),
            ],
        );
        (response, report)
    }

    async fn apply_record(
        &self,
        record: &EventRecord,
        report: &mut BatchReport,
    ) -> Result<Outcome, RecordError> {
        let seq = record
            .change
            .sequence_number
            .as_deref()
            .and_then(SeqNo::parse)
            .ok_or_else(|| RecordError::Decode("record has no valid sequence number".into()))?;
        let id = source_id(self.kind, &record.change.keys)
            .map_err(|e| RecordError::Decode(format!("keys: {e}")))?;
        let change = match record.event_name.as_str() {
            "INSERT" | "MODIFY" => {
                let (rec, dropped) = decode(self.kind, &record.change.new_image, &self.zone)
                    .map_err(|e| RecordError::Decode(e.to_string()))?;
                if !dropped.0.is_empty() {
                    report.dropped_identifiers += dropped.0.len() as u64;
                    tracing::warn!(source = self.kind.table(), source_id = %id, attributes = ?dropped.0, values = ?dropped.1, "implausible identifiers ignored; the record's other identifiers apply");
                }
                if rec.source_id() != id {
                    return Err(RecordError::Decode(format!(
                        "image id does not match the key `{}`",
                        self.kind.id_attribute()
                    )));
                }
                Change::Upsert(rec)
            }
            "REMOVE" if is_ttl_expiry(record) => Change::Expire,
            "REMOVE" => Change::Remove,
            other => return Err(RecordError::Decode(format!("unknown eventName `{other}`"))),
        };
        self.projector
            .apply(self.kind, &id, &seq, &change)
            .await
            .map_err(|e| RecordError::Apply(e.to_string()))
    }
}

/// The Lambda entry point of an ingest function.
pub async fn run(kind: SourceKind) -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let clients = Clients::from_env(&config, None).await;
    let ingest = Ingest::new(
        kind,
        Projector::new(clients.store.clone(), config.zone)
            .with_cache(c360_runtime::cache::Cache::from_env().map_err(ConfigError::new)?),
        config.zone,
    );
    let ingest = &ingest;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        let (response, _) = ingest.handle(event.payload).await;
        Ok::<_, lambda_runtime::Error>(response)
    }))
    .await
}

#[cfg(test)]
mod tests {
    use crate::decode::decode;
    use aws_lambda_events::event::dynamodb::Event;
    use c360_domain::{SourceKind, Zone};

    fn fixture(text: &str) -> Event {
        serde_json::from_str(text).expect("a DynamoDB stream event")
    }

    #[test]
    fn every_stream_fixture_decodes_into_its_source_record() {
        for (kind, text) in [
            (
                SourceKind::Orders,
                include_str!("../../../events/streams/orders.json"),
            ),
            (
                SourceKind::Reservations,
                include_str!("../../../events/streams/reservations.json"),
            ),
            (
                SourceKind::PosTransactions,
                include_str!("../../../events/streams/pos_transactions.json"),
            ),
            (
                SourceKind::MemberSync,
                include_str!("../../../events/streams/member_sync.json"),
            ),
            (
                SourceKind::Activity,
                include_str!("../../../events/streams/audit_log.json"),
            ),
        ] {
            for record in fixture(text).records {
                let (decoded, dropped) =
                    decode(kind, &record.change.new_image, &Zone::default()).expect("decodes");
                assert_eq!(decoded.kind(), kind);
                assert!(dropped.0.is_empty());
                assert!(
                    decoded.home().is_some(),
                    "the seed customer's record has a home"
                );
            }
        }
    }

    #[test]
    fn the_bad_record_fixture_fails_only_in_its_middle_record() {
        let event = fixture(include_str!(
            "../../../events/streams/orders-with-bad-record.json"
        ));
        let results: Vec<bool> = event
            .records
            .iter()
            .map(|r| decode(SourceKind::Orders, &r.change.new_image, &Zone::default()).is_ok())
            .collect();
        assert_eq!(results, [true, false, true]);
    }
}
