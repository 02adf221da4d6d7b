//! The ingest Lambda: a batch of stream records in, a partial batch response out.
//!
//! The records of one source item are applied in stream order, one after another (the order
//! Lambda promises per item), and so are records naming a common identifier (they would race
//! for the same items); the other groups are applied concurrently, up to [`CONCURRENT_ITEMS`]
//! at once. Records of one customer under different identifiers may still race: the
//! projector's conditional transaction makes the loser re-read and re-plan, so the result is
//! the sequential one (`tests/tests/ingest.rs`, a batch mixing a linked customer's
//! identifiers; `tests/tests/concurrency.rs`, across batches). A record that
//! cannot be decoded or applied is reported alone (its sequence number); the others are
//! applied. Lambda then retries from the lowest reported record, redelivering those after it:
//! applying a record twice changes nothing.

use crate::decode::{decode, source_id};
use crate::projector::{Outcome, Projector};
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use c360_domain::projection::Change;
use c360_domain::{SeqNo, SourceKind, Zone};
use c360_runtime::config::{Clients, Config, ConfigError};
use c360_runtime::telemetry;
use futures::stream::{self, StreamExt};
use lambda_runtime::{service_fn, LambdaEvent};
use std::collections::HashMap;

/// Source items whose records are applied at once. Each record costs two to four round trips
/// of a few milliseconds; 16 in flight turn a 100-record batch of independent customers into
/// about 7 records' worth of sequential waits, far below DynamoDB's per-partition limits and
/// the SDK's connection pool.
pub const CONCURRENT_ITEMS: usize = 16;

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
    concurrency: usize,
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
            concurrency: CONCURRENT_ITEMS,
        }
    }

    /// At most `items` groups of records applied at once. With 1 the groups go one after
    /// another (each in stream order, the groups in the order of their first record), so
    /// every record waits for the one before: the sequential baseline of the tests.
    pub fn with_concurrency(mut self, items: usize) -> Self {
        self.concurrency = items.max(1);
        self
    }

    /// Applies a batch: every record is decoded first, then the groups of records that must
    /// stay in order (see `groups`) run up to the concurrency at once. The response lists the
    /// records that failed, by sequence number, in stream order; the report counts outcomes.
    pub async fn handle(&self, event: Event) -> (DynamoDbEventResponse, BatchReport) {
        let mut response = DynamoDbEventResponse::default();
        let mut report = BatchReport::default();
        let records = &event.records;
        let mut ready = Vec::new();
        let mut results: Vec<(usize, Result<Outcome, RecordError>)> = Vec::new();
        for (i, record) in records.iter().enumerate() {
            match self.prepare(record, &mut report.dropped_identifiers) {
                Ok(p) => ready.push((i, p)),
                Err(e) => results.push((i, Err(e))),
            }
        }
        let ready = &ready;
        let applied: Vec<(usize, Result<Outcome, RecordError>)> = stream::iter(groups(ready))
            .map(|group| async move {
                let mut out = Vec::with_capacity(group.len());
                for n in group {
                    let (i, prepared) = &ready[n];
                    out.push((*i, self.apply(prepared).await));
                }
                stream::iter(out)
            })
            .buffer_unordered(self.concurrency)
            .flatten()
            .collect()
            .await;
        results.extend(applied);
        // Reported and logged in stream order, as if applied one by one.
        results.sort_by_key(|(i, _)| *i);
        for (i, result) in results {
            let record = &records[i];
            let seq = record.change.sequence_number.clone().unwrap_or_default();
            match result {
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
                    // The source item's key, so on call one can look the item up in its table.
                    let item = source_id(self.kind, &record.change.keys)
                        .unwrap_or_else(|_| "-".to_string());
                    tracing::warn!(source = self.kind.table(), source_id = %item, sequence_number = %seq, event_id = %record.event_id, error = %err, "record reported as failed");
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

    /// Reads one record: its sequence number, key and change; `dropped_identifiers` counts
    /// the implausible identifiers it carried (ignored, logged).
    fn prepare(
        &self,
        record: &EventRecord,
        dropped_identifiers: &mut u64,
    ) -> Result<Prepared, RecordError> {
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
                    *dropped_identifiers += dropped.0.len() as u64;
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
        Ok(Prepared { seq, id, change })
    }

    async fn apply(&self, p: &Prepared) -> Result<Outcome, RecordError> {
        self.projector
            .apply(self.kind, &p.id, &p.seq, &p.change)
            .await
            .map_err(|e| RecordError::Apply(e.to_string()))
    }
}

/// A record ready to apply.
struct Prepared {
    seq: SeqNo,
    id: String,
    change: Change,
}

/// The records that must be applied one after another: those of one source item (Lambda's
/// order per item) and, to spare the projector lost races, those naming a common identifier
/// (one customer's orders in a burst). Connected records form one group, each group in stream
/// order; groups are independent. Each group lists positions in `ready`.
fn groups(ready: &[(usize, Prepared)]) -> Vec<Vec<usize>> {
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut parent: Vec<usize> = (0..ready.len()).collect();
    let mut first_with: HashMap<String, usize> = HashMap::new();
    for (n, (_, p)) in ready.iter().enumerate() {
        let mut keys = vec![format!("item {}", p.id)];
        if let Change::Upsert(rec) = &p.change {
            keys.extend(rec.identities().all().iter().map(|id| id.key()));
        }
        for key in keys {
            let other = *first_with.entry(key).or_insert(n);
            let (a, b) = (root(&mut parent, n), root(&mut parent, other));
            parent[a.max(b)] = a.min(b);
        }
    }
    let mut by_root: HashMap<usize, usize> = HashMap::new();
    let mut out: Vec<Vec<usize>> = Vec::new();
    for n in 0..ready.len() {
        let r = root(&mut parent, n);
        let g = *by_root.entry(r).or_insert_with(|| {
            out.push(Vec::new());
            out.len() - 1
        });
        out[g].push(n);
    }
    out
}

/// The Lambda entry point of an ingest function.
pub async fn run(kind: SourceKind) -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let clients = Clients::from_env(&config, None).await;
    let ingest = Ingest::new(
        kind,
        Projector::new(clients.store.clone(), config.zone)
            .with_cache(c360_runtime::cache::Cache::from_env().map_err(ConfigError::new)?)
            .with_segments(
                c360_runtime::segments::Segments::new(clients.store.clone(), config.clone())
                    .with_customer_refs(
                        c360_runtime::seal::customer_refs_from_env().map(std::sync::Arc::new),
                    ),
            ),
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

    fn order(id: &str, phone: &str) -> super::Prepared {
        let item: serde_dynamo::Item = serde_json::from_value(serde_json::json!({
            "order_id": {"S": id}, "order_number": {"S": id}, "store_id": {"S": "s1"},
            "customer_phone": {"S": phone}, "order_type": {"S": "dine_in"},
            "status": {"S": "completed"}, "total": {"N": "10"},
            "created_at": {"S": "2026-02-18T19:30:00+08:00"}
        }))
        .expect("DynamoDB JSON");
        let (rec, _) =
            decode(SourceKind::Orders, &item.into_inner(), &Zone::default()).expect("an order");
        super::Prepared {
            seq: c360_domain::SeqNo::parse("1").expect("a sequence number"),
            id: id.into(),
            change: c360_domain::projection::Change::Upsert(rec),
        }
    }

    #[test]
    fn records_of_one_item_or_one_identifier_form_one_group_in_stream_order() {
        let ready: Vec<(usize, super::Prepared)> = vec![
            (0, order("o1", "13800000001")),
            (1, order("o2", "13800000002")),
            (2, order("o1", "13800000003")),
            (3, order("o4", "13800000002")),
            (4, order("o5", "13800000005")),
            (5, order("o6", "13800000003")),
        ];
        let groups: Vec<Vec<usize>> = super::groups(&ready)
            .iter()
            .map(|g| g.iter().map(|n| ready[*n].0).collect())
            .collect();
        // o1 twice, then o6 through o1's second phone; o2 and o4 share a phone; o5 alone.
        assert_eq!(groups, vec![vec![0, 2, 5], vec![1, 3], vec![4]]);
    }
}
