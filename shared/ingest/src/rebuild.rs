//! Rebuilds the projection from the five source tables: a parallel Scan of each, every item
//! applied through the projector as a *scanned* record ([`Projector::apply_scanned`]), into
//! the live table while the streams keep flowing. Resumable: each scan segment's position is
//! checkpointed in the customer360 table (one item per table and segment, `keys::checkpoint_sk`)
//! after every page, so an interrupted run (a Lambda timeout) continues where it stopped; a
//! run that finishes removes its checkpoints. Running it again changes nothing.
//! Why a scan never overwrites a newer stream-applied state: `docs/adr/0004-rebuild.md`.

use crate::decode::decode;
use crate::projector::{Outcome, Projector};
use aws_sdk_dynamodb::types::AttributeValue;
use c360_domain::{SourceKind, Zone};
use c360_dynamodb::keys::{checkpoint_sk, CHECKPOINT_PK};
use c360_dynamodb::store::{classify, StoreError};
use futures::StreamExt;
use std::collections::HashMap;
use std::time::Instant;

type Item = HashMap<String, AttributeValue>;

#[derive(Debug, Clone)]
pub struct RebuildOptions {
    /// Scan segments per source table (DynamoDB parallel scan), default 4.
    pub segments: i32,
    /// Segments worked on at once, across all tables, default 4.
    pub parallelism: usize,
    /// Items per Scan page (a checkpoint after each), default 100.
    pub page_size: i32,
    /// Stop starting pages after this instant, leaving checkpoints (a Lambda's time limit).
    pub deadline: Option<Instant>,
    /// Stop each segment after this many pages in this run, leaving checkpoints.
    pub max_pages: Option<u64>,
}

impl Default for RebuildOptions {
    fn default() -> Self {
        RebuildOptions {
            segments: 4,
            parallelism: 4,
            page_size: 100,
            deadline: None,
            max_pages: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RebuildReport {
    /// Source items read in this run.
    pub scanned: u64,
    /// Items that changed the projection.
    pub applied: u64,
    /// Items already projected (by the stream, or by an earlier rebuild): nothing written.
    pub unchanged: u64,
    /// Items belonging to no customer (no identifiers): only their anchor is written.
    pub without_customer: u64,
    /// Items of erased customers: not projected (`docs/adr/0005-access-audit-erasure.md`).
    pub erased: u64,
    /// Items that cannot be decoded: logged and counted, like the stream's poison records.
    pub undecodable: u64,
    /// Implausible phones, emails or member ids ignored in items that were applied with their
    /// other identifiers (logged masked).
    pub dropped_identifiers: u64,
    /// Items that could not be applied (DynamoDB kept failing): run the rebuild again.
    pub failed: u64,
    pub segments_done: u64,
    pub segments_total: u64,
    /// Every segment of every table finished (the checkpoints are removed).
    pub complete: bool,
}

impl RebuildReport {
    fn add(&mut self, o: &RebuildReport) {
        self.scanned += o.scanned;
        self.applied += o.applied;
        self.unchanged += o.unchanged;
        self.without_customer += o.without_customer;
        self.erased += o.erased;
        self.undecodable += o.undecodable;
        self.dropped_identifiers += o.dropped_identifiers;
        self.failed += o.failed;
        self.segments_done += o.segments_done;
    }
}

struct Segment {
    kind: SourceKind,
    table: String,
    segment: i32,
    segments: i32,
}

impl Segment {
    fn sk(&self) -> String {
        checkpoint_sk(&self.table, self.segment, self.segments)
    }
}

enum Position {
    Done,
    At(Option<Item>),
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn key_json(key: &Item) -> Result<String, StoreError> {
    let item: serde_dynamo::Item = key.clone().into();
    serde_json::to_string(&item).map_err(|e| StoreError::Failed(format!("checkpoint: {e}")))
}

fn key_from_json(text: &str) -> Result<Item, StoreError> {
    let item: serde_dynamo::Item = serde_json::from_str(text)
        .map_err(|e| StoreError::Failed(format!("checkpoint is not a key: {e}")))?;
    Ok(item.into())
}

/// Rebuilds from `sources` (each source kind with its table name) into the projector's table.
pub async fn rebuild(
    projector: &Projector,
    sources: &[(SourceKind, String)],
    zone: &Zone,
    options: &RebuildOptions,
) -> Result<RebuildReport, StoreError> {
    let store = projector.store();
    let client = store.client();
    let segments = options.segments.max(1);
    let mut positions: HashMap<String, Position> = HashMap::new();
    for item in &store.partition(CHECKPOINT_PK, None).await? {
        let Some(AttributeValue::S(sk)) = item.get("sk") else {
            continue;
        };
        let position = match (item.get("done"), item.get("lek")) {
            (Some(AttributeValue::Bool(true)), _) => Position::Done,
            (_, Some(AttributeValue::S(lek))) => Position::At(Some(key_from_json(lek)?)),
            _ => Position::At(None),
        };
        positions.insert(sk.clone(), position);
    }

    let mut work = Vec::new();
    let mut report = RebuildReport::default();
    for (kind, table) in sources {
        for segment in 0..segments {
            let seg = Segment {
                kind: *kind,
                table: table.clone(),
                segment,
                segments,
            };
            report.segments_total += 1;
            match positions.remove(&seg.sk()) {
                Some(Position::Done) => report.segments_done += 1,
                Some(Position::At(key)) => work.push((seg, key)),
                None => work.push((seg, None)),
            }
        }
    }
    let results: Vec<Result<RebuildReport, StoreError>> = futures::stream::iter(work)
        .map(|(seg, key)| run_segment(projector, seg, key, zone, options))
        .buffer_unordered(options.parallelism.max(1))
        .collect()
        .await;
    for r in results {
        report.add(&r?);
    }
    report.complete = report.segments_done == report.segments_total;
    if report.complete {
        // Done: the next run starts from the beginning (and changes nothing).
        for (_, table) in sources {
            for segment in 0..segments {
                let sk = checkpoint_sk(table, segment, segments);
                client
                    .delete_item()
                    .table_name(store.table())
                    .key("pk", s(CHECKPOINT_PK))
                    .key("sk", s(sk))
                    .send()
                    .await
                    .map_err(classify)?;
            }
        }
    }
    c360_runtime::telemetry::emit_metrics(
        "Customer360/Rebuild",
        &[],
        &[
            ("RecordsScanned", report.scanned),
            ("RecordsApplied", report.applied),
            ("RecordsUnchanged", report.unchanged),
            ("RecordsUndecodable", report.undecodable),
            ("RecordsFailed", report.failed),
        ],
    );
    Ok(report)
}

async fn run_segment(
    projector: &Projector,
    seg: Segment,
    mut start: Option<Item>,
    zone: &Zone,
    options: &RebuildOptions,
) -> Result<RebuildReport, StoreError> {
    let store = projector.store();
    let client = store.client();
    let mut report = RebuildReport::default();
    let mut pages = 0u64;
    loop {
        if options.deadline.is_some_and(|d| Instant::now() >= d)
            || options.max_pages.is_some_and(|m| pages >= m)
        {
            return Ok(report);
        }
        pages += 1;
        let resp = client
            .scan()
            .table_name(&seg.table)
            .segment(seg.segment)
            .total_segments(seg.segments)
            .limit(options.page_size.max(1))
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(classify)?;
        for item in resp.items() {
            report.scanned += 1;
            let image: serde_dynamo::Item = item.clone().into();
            let record = match decode(seg.kind, &image, zone) {
                Ok((record, dropped)) => {
                    if !dropped.0.is_empty() {
                        report.dropped_identifiers += dropped.0.len() as u64;
                        tracing::warn!(table = %seg.table, source_id = %record.source_id(), attributes = ?dropped.0, values = ?dropped.1, "rebuild: implausible identifiers ignored; the record's other identifiers apply");
                    }
                    record
                }
                Err(e) => {
                    report.undecodable += 1;
                    tracing::warn!(table = %seg.table, error = %e, "rebuild: source item cannot be decoded; skipped");
                    continue;
                }
            };
            match projector.apply_scanned(&record).await {
                Ok(Outcome::Applied) => report.applied += 1,
                Ok(Outcome::Stale) => report.unchanged += 1,
                Ok(Outcome::NoCustomer) => report.without_customer += 1,
                Ok(Outcome::Advanced) => report.unchanged += 1,
                Ok(Outcome::Suppressed) => report.erased += 1,
                Err(e) => {
                    report.failed += 1;
                    tracing::warn!(table = %seg.table, source_id = %record.source_id(), error = %e, "rebuild: cannot apply; run the rebuild again");
                }
            }
        }
        let next = resp.last_evaluated_key().filter(|k| !k.is_empty()).cloned();
        let mut checkpoint = client
            .put_item()
            .table_name(store.table())
            .item("pk", s(CHECKPOINT_PK))
            .item("sk", s(seg.sk()));
        checkpoint = match &next {
            Some(k) => checkpoint.item("lek", s(key_json(k)?)),
            None => checkpoint.item("done", AttributeValue::Bool(true)),
        };
        checkpoint.send().await.map_err(classify)?;
        match next {
            Some(k) => start = Some(k),
            None => {
                report.segments_done += 1;
                return Ok(report);
            }
        }
    }
}

/// The source tables' names: `C360_SOURCE_TABLE_<NAME>` (e.g. `C360_SOURCE_TABLE_ORDERS`), or
/// the names in `spec/sources.md`.
pub fn source_tables_from_env() -> Vec<(SourceKind, String)> {
    SourceKind::ALL
        .into_iter()
        .map(|kind| {
            let name = std::env::var(format!("C360_SOURCE_TABLE_{}", kind.table().to_uppercase()))
                .ok()
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| kind.table().to_string());
            (kind, name)
        })
        .collect()
}

/// What the rebuild Lambda accepts: `{}` or `{"segments": 8}`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RebuildRequest {
    pub segments: Option<i32>,
}

/// The Lambda entry point of the rebuild function. It stops a minute before its time limit
/// and answers `"complete": false`; invoke it again to continue from the checkpoints.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    c360_runtime::telemetry::init();
    let config = c360_runtime::config::Config::from_env()?;
    let clients = c360_runtime::config::Clients::from_env(&config, None).await;
    let cache =
        c360_runtime::cache::Cache::from_env().map_err(c360_runtime::config::ConfigError::new)?;
    let projector = Projector::new(clients.store.clone(), config.zone)
        .with_cache(cache)
        .with_segments(
            c360_runtime::segments::Segments::new(clients.store.clone(), config.clone())
                .with_customer_refs(
                    c360_runtime::seal::customer_refs_from_env().map(std::sync::Arc::new),
                ),
        );
    let sources = source_tables_from_env();
    let (projector, sources, zone) = (&projector, &sources, &config.zone);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<serde_json::Value>| async move {
            let request: RebuildRequest = serde_json::from_value(event.payload)
                .map_err(|e| format!("rebuild request: {e}"))?;
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0);
            let left = event
                .context
                .deadline
                .saturating_sub(now_ms)
                .saturating_sub(60_000);
            let options = RebuildOptions {
                segments: request.segments.unwrap_or(4).clamp(1, 64),
                deadline: Some(Instant::now() + std::time::Duration::from_millis(left)),
                ..RebuildOptions::default()
            };
            let report = rebuild(projector, sources, zone, &options).await?;
            tracing::info!(?report, "rebuild run finished");
            Ok::<_, lambda_runtime::Error>(serde_json::to_value(&report)?)
        },
    ))
    .await
}
