//! A local stand-in for AWS Lambda's DynamoDB event source mapping (ESM).
//!
//! The [`Poller`] reads the DynamoDB stream of every configured source table (from the real
//! service or from the `moto` emulator) and invokes a [`BatchHandler`] with genuine
//! [`aws_lambda_events::event::dynamodb::Event`] batches, the way Lambda would:
//!
//! * shards are discovered with `DescribeTable` (→ `LatestStreamArn`) and a paginated
//!   `DescribeStream`; a child shard is only read once its parent (if still listed) is finished;
//! * records of a shard are delivered in order, at most [`PollerConfig::batch_size`] at a time;
//! * a per-shard checkpoint (the last sequence number that is done) decides where reading
//!   resumes; checkpoints live in memory only, exactly like a fresh ESM starting at
//!   [`StartingPosition`];
//! * partial batch responses (`ReportBatchItemFailures`) are honoured: the checkpoint moves to
//!   the record before the lowest failed sequence number and delivery restarts at that record, so
//!   the records after it are delivered again. An `itemIdentifier` that is missing, empty or not
//!   a sequence number of the batch fails the whole batch, as a function error does;
//! * after [`PollerConfig::max_retry_attempts`] retries still failing at the same record, the
//!   failure goes to a JSONL dead-letter file (`<dead_letter_dir>/<table>.jsonl`, one
//!   [`DeadLetter`] per line, replayable with [`read_dead_letters`]): for a function error the
//!   whole batch, for a partial failure the lowest failed record, after which delivery continues
//!   with the records behind it.
//!
//! The retry/checkpoint rules are the pure function [`decide_batch`]; the conversion from the
//! Streams SDK record to the Lambda record is [`to_lambda_record`].

use std::{
    any::Any,
    cmp::Ordering,
    collections::{HashMap, HashSet},
    fs,
    future::Future,
    io::Write,
    panic::AssertUnwindSafe,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use anyhow::{anyhow, Context};
use aws_lambda_events::event::dynamodb::{
    Event, EventRecord, StreamRecord, StreamViewType as LambdaStreamViewType, UserIdentity,
};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use aws_sdk_dynamodbstreams::error::DisplayErrorContext;
use aws_sdk_dynamodbstreams::types::{
    Record as SdkRecord, ShardIteratorType, StreamViewType as SdkStreamViewType,
};
use futures::future::BoxFuture;
use futures::FutureExt;
use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn};

/// The handler the poller invokes, like Lambda invokes the function: `Ok(response)` (whose
/// `batch_item_failures` lists the records that failed) or `Err` (a function error: the whole
/// batch is retried). A panicking handler counts as a function error.
pub type BatchHandler =
    Arc<dyn Fn(Event) -> BoxFuture<'static, Result<DynamoDbEventResponse, String>> + Send + Sync>;

/// Wraps an async closure into a [`BatchHandler`].
pub fn batch_handler<F, Fut>(f: F) -> BatchHandler
where
    F: Fn(Event) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<DynamoDbEventResponse, String>> + Send + 'static,
{
    Arc::new(move |event| f(event).boxed())
}

/// A partial batch response reporting the given sequence numbers as failed (an empty iterator
/// gives the "everything succeeded" response). The Lambda types are `#[non_exhaustive]`, so this
/// is the convenient way to build one outside `aws_lambda_events`.
pub fn batch_item_failures<I, S>(sequence_numbers: I) -> DynamoDbEventResponse
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures = sequence_numbers
        .into_iter()
        .map(|id| {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(id.into());
            failure
        })
        .collect();
    response
}

/// A source table whose stream feeds `handler`.
#[derive(Clone)]
pub struct StreamSource {
    pub table_name: String,
    pub handler: BatchHandler,
}

impl StreamSource {
    pub fn new(table_name: impl Into<String>, handler: BatchHandler) -> Self {
        Self {
            table_name: table_name.into(),
            handler,
        }
    }
}

impl std::fmt::Debug for StreamSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamSource")
            .field("table_name", &self.table_name)
            .finish_non_exhaustive()
    }
}

/// Where reading starts on a shard the poller has no checkpoint for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartingPosition {
    /// The oldest record still in the shard.
    #[default]
    TrimHorizon,
    /// Only records written after the poller first looked at the shard.
    Latest,
}

#[derive(Debug, Clone)]
pub struct PollerConfig {
    /// Maximum records per invocation (default 100). `GetRecords` returns at most 1000 records,
    /// so larger values behave like 1000; 0 behaves like 1.
    pub batch_size: usize,
    /// Retries of a failing batch before its failed records go to the dead-letter file
    /// (default 3; 0 dead-letters on the first failure).
    pub max_retry_attempts: u32,
    /// Sleep between passes when a pass found nothing to deliver (default 200ms).
    pub poll_interval: Duration,
    /// One JSONL file per table: `<dir>/<table>.jsonl` (default `.local/dead-letters`).
    pub dead_letter_dir: PathBuf,
    pub starting_position: StartingPosition,
    /// `awsRegion` of the delivered records (default `us-east-1`).
    pub aws_region: String,
    /// Pause before each retry of a failed batch (default 0).
    pub retry_backoff: Duration,
}

impl Default for PollerConfig {
    fn default() -> Self {
        Self {
            batch_size: 100,
            max_retry_attempts: 3,
            poll_interval: Duration::from_millis(200),
            dead_letter_dir: PathBuf::from(".local/dead-letters"),
            starting_position: StartingPosition::TrimHorizon,
            aws_region: "us-east-1".to_string(),
            retry_backoff: Duration::ZERO,
        }
    }
}

/// Counters, per pass (returned by [`Poller::poll_once`] / [`Poller::drain`]) or cumulative
/// ([`Poller::stats`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollStats {
    /// Handler invocations (including retries).
    pub invocations: u64,
    /// Records the handler processed successfully (each counted once, when it became done;
    /// dead-lettered records are not counted).
    pub records_delivered: u64,
    /// Redeliveries scheduled after a failure.
    pub retries: u64,
    /// Records written to the dead-letter files.
    pub dead_lettered: u64,
    /// Invocations that failed as a whole (`Err`, panic, or an invalid `itemIdentifier`).
    pub function_errors: u64,
}

impl PollStats {
    /// Adds `other`'s counters to `self`.
    pub fn merge(&mut self, other: &PollStats) {
        self.invocations += other.invocations;
        self.records_delivered += other.records_delivered;
        self.retries += other.retries;
        self.dead_lettered += other.dead_lettered;
        self.function_errors += other.function_errors;
    }
}

/// One line of a dead-letter file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub table: String,
    pub stream_arn: String,
    pub shard_id: String,
    pub sequence_number: String,
    pub reason: String,
    /// The record exactly as it was delivered to the handler (Lambda format).
    pub record: EventRecord,
}

/// Reads a dead-letter JSONL file (blank lines are skipped).
pub fn read_dead_letters(path: &Path) -> anyhow::Result<Vec<DeadLetter>> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("reading dead-letter file {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line)
                .with_context(|| format!("{}:{}: not a dead-letter line", path.display(), i + 1))
        })
        .collect()
}

fn append_dead_letters(path: &Path, letters: &[DeadLetter]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut buf = String::new();
    for letter in letters {
        buf.push_str(&serde_json::to_string(letter).context("serializing a dead letter")?);
        buf.push('\n');
    }
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening dead-letter file {}", path.display()))?;
    file.write_all(buf.as_bytes())
        .and_then(|()| file.flush())
        .with_context(|| format!("writing dead-letter file {}", path.display()))
}

/// What [`replay_dead_letters`] did with one dead-letter file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Dead letters handed to the handler.
    pub replayed: u64,
    /// Handled without a failure (applied now, or found already applied): removed from the file.
    pub succeeded: u64,
    /// Still failing: written back to the file with the new reason.
    pub still_failing: u64,
}

/// Replays the dead letters in `path` (a file written by the [`Poller`]) through `handler`,
/// one record per invocation, in the order they were dead-lettered. The records that now
/// succeed leave the file; those that still fail stay, with the new reason.
///
/// Safe beside a running poller and after an interrupted replay: the file is first renamed
/// to `<file>.replaying` (the poller then appends new dead letters to a fresh file), the
/// records still failing are appended back, and only then is `<file>.replaying` removed; a
/// replay that finds `<file>.replaying` left over replays it first. Replaying a record twice
/// is harmless when the handler, like the ingest, ignores a sequence number already applied.
pub async fn replay_dead_letters(
    path: &Path,
    handler: &BatchHandler,
) -> anyhow::Result<ReplayStats> {
    let mut taken = path.as_os_str().to_owned();
    taken.push(".replaying");
    let taken = PathBuf::from(taken);
    let mut stats = ReplayStats::default();
    if !taken.exists() {
        if !path.exists() {
            return Ok(stats);
        }
        fs::rename(path, &taken)
            .with_context(|| format!("moving {} to {}", path.display(), taken.display()))?;
    }
    let mut failing = Vec::new();
    for mut letter in read_dead_letters(&taken)? {
        stats.replayed += 1;
        let mut event = Event::default();
        event.records = vec![letter.record.clone()];
        let reason = match invoke(handler, event).await {
            Ok(response) if response.batch_item_failures.is_empty() => None,
            Ok(_) => Some("replay: the record still fails".to_string()),
            Err(e) => Some(format!("replay: function error: {e}")),
        };
        match reason {
            None => {
                stats.succeeded += 1;
                info!(table = %letter.table, sequence_number = %letter.sequence_number,
                    "dead letter replayed");
            }
            Some(reason) => {
                stats.still_failing += 1;
                warn!(table = %letter.table, sequence_number = %letter.sequence_number,
                    %reason, "dead letter still fails; kept");
                letter.reason = reason;
                failing.push(letter);
            }
        }
    }
    if !failing.is_empty() {
        append_dead_letters(path, &failing)?;
    }
    fs::remove_file(&taken).with_context(|| format!("removing {}", taken.display()))?;
    Ok(stats)
}

/// Orders stream sequence numbers, which are decimal integers of varying length: the shorter
/// one (ignoring leading zeros) is smaller, equal lengths compare lexicographically.
pub fn cmp_sequence_numbers(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// A failure that is being retried: the sequence number delivery restarts at (the lowest
/// failed record, or the first record of a batch that failed as a whole) and how many
/// consecutive deliveries have failed there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryState {
    pub sequence_number: String,
    pub failures: u32,
}

/// What to do after one invocation; see [`decide_batch`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BatchDecision {
    /// How many leading records of the batch are done (processed by the handler).
    pub succeeded: usize,
    /// The new checkpoint (last sequence number that is done); `None` leaves it unchanged.
    pub checkpoint: Option<String>,
    /// Indices (into the batch) of the records to write to the dead-letter file.
    pub dead_letter: Vec<usize>,
    /// Why they are dead-lettered.
    pub dead_letter_reason: Option<String>,
    /// `Some`: deliver again starting at `retry.sequence_number` (this is a retry).
    /// `None`: continue after the checkpoint.
    pub retry: Option<RetryState>,
    /// The invocation failed as a whole.
    pub function_error: bool,
}

/// The event source mapping's rules for one invocation, as a pure function.
///
/// `sequence_numbers` are the batch's records in delivery order, `response` is what the
/// handler returned, `pending` is the retry in progress on this shard (if any) and
/// `max_retry_attempts` the configured limit.
///
/// * `Ok` without failures: everything is done, checkpoint = last record.
/// * `Ok` with failures: the lowest failed sequence number (by [`cmp_sequence_numbers`]) is
///   the failure point; records before it are done. An identifier that is absent, empty or not
///   one of the batch's sequence numbers makes it a function error.
/// * `Err`: a function error; the failure point is the first record.
///
/// A failure at the same point as `pending` counts as one more failed delivery there. While at
/// most `max_retry_attempts` retries have been used, the decision is to retry from the failure
/// point. Once they are exhausted: a function error dead-letters the whole batch and checkpoints
/// its last record; a partial failure dead-letters the lowest failed record, checkpoints it and
/// continues with the records after it (which are delivered again).
pub fn decide_batch(
    sequence_numbers: &[String],
    response: &Result<DynamoDbEventResponse, String>,
    pending: Option<&RetryState>,
    max_retry_attempts: u32,
) -> BatchDecision {
    let Some(last) = sequence_numbers.last() else {
        return BatchDecision::default();
    };
    // (index of the failure point, function error message if the whole batch failed)
    let failure: Option<(usize, Option<String>)> = match response {
        Err(err) => Some((0, Some(err.clone()))),
        Ok(response) => {
            let mut lowest: Option<usize> = None;
            let mut invalid: Option<String> = None;
            for failure in &response.batch_item_failures {
                let position = failure
                    .item_identifier
                    .as_deref()
                    .filter(|id| !id.is_empty())
                    .and_then(|id| sequence_numbers.iter().position(|s| s == id));
                match position {
                    Some(i) => {
                        let lower = lowest.is_none_or(|l| {
                            cmp_sequence_numbers(&sequence_numbers[i], &sequence_numbers[l])
                                == Ordering::Less
                        });
                        if lower {
                            lowest = Some(i);
                        }
                    }
                    None => {
                        invalid = Some(format!(
                            "invalid batchItemFailures itemIdentifier {:?} (not a sequence number of the batch)",
                            failure.item_identifier
                        ));
                        break;
                    }
                }
            }
            match invalid {
                Some(message) => Some((0, Some(message))),
                None => lowest.map(|i| (i, None)),
            }
        }
    };
    let Some((index, function_error)) = failure else {
        return BatchDecision {
            succeeded: sequence_numbers.len(),
            checkpoint: Some(last.clone()),
            ..BatchDecision::default()
        };
    };
    let point = &sequence_numbers[index];
    let failures = match pending {
        Some(p) if p.sequence_number == *point => p.failures.saturating_add(1),
        _ => 1,
    };
    let retries_used = failures - 1;
    if retries_used < max_retry_attempts {
        return BatchDecision {
            succeeded: index,
            checkpoint: index
                .checked_sub(1)
                .map(|before| sequence_numbers[before].clone()),
            retry: Some(RetryState {
                sequence_number: point.clone(),
                failures,
            }),
            function_error: function_error.is_some(),
            ..BatchDecision::default()
        };
    }
    match function_error {
        Some(message) => BatchDecision {
            succeeded: 0,
            checkpoint: Some(last.clone()),
            dead_letter: (0..sequence_numbers.len()).collect(),
            dead_letter_reason: Some(format!(
                "function error after {retries_used} retries: {message}"
            )),
            retry: None,
            function_error: true,
        },
        None => BatchDecision {
            succeeded: index,
            checkpoint: Some(point.clone()),
            dead_letter: vec![index],
            dead_letter_reason: Some(format!(
                "reported in batchItemFailures after {retries_used} retries"
            )),
            retry: None,
            function_error: false,
        },
    }
}

/// Drops records at or before the checkpoint. DynamoDB Streams never hands them out again,
/// but an emulator that numbered two records alike does (ADR 0002), and delivering them
/// again would never end: the next iterator points right back at them.
fn drop_delivered(records: Vec<SdkRecord>, checkpoint: Option<&str>) -> Vec<SdkRecord> {
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

/// Upper bound of batches per shard in one pass, so a table that is written continuously
/// cannot keep `poll_once` from returning.
const MAX_BATCHES_PER_SHARD_PER_PASS: usize = 1000;
/// `GetRecords` refuses a larger `Limit`.
const MAX_GET_RECORDS_LIMIT: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
struct ShardInfo {
    shard_id: String,
    parent_shard_id: Option<String>,
}

/// Indices of `shards` with every parent that is in the list before its children.
fn shard_processing_order(shards: &[ShardInfo]) -> Vec<usize> {
    fn visit(
        i: usize,
        shards: &[ShardInfo],
        index: &HashMap<&str, usize>,
        seen: &mut HashSet<usize>,
        order: &mut Vec<usize>,
    ) {
        if !seen.insert(i) {
            return;
        }
        if let Some(parent) = shards[i]
            .parent_shard_id
            .as_deref()
            .and_then(|p| index.get(p))
        {
            visit(*parent, shards, index, seen, order);
        }
        order.push(i);
    }
    let index: HashMap<&str, usize> = shards
        .iter()
        .enumerate()
        .map(|(i, s)| (s.shard_id.as_str(), i))
        .collect();
    let mut seen = HashSet::new();
    let mut order = Vec::with_capacity(shards.len());
    for i in 0..shards.len() {
        visit(i, shards, &index, &mut seen, &mut order);
    }
    order
}

/// Where the next `GetRecords` of a shard reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Resume {
    /// No checkpoint yet: the configured starting position.
    Start,
    TrimHorizon,
    /// A `NextShardIterator` consistent with the checkpoint.
    Iterator(String),
    At(String),
    After(String),
}

#[derive(Debug, Clone)]
struct ShardState {
    checkpoint: Option<String>,
    resume: Resume,
    pending: Option<RetryState>,
    /// Closed and fully processed.
    finished: bool,
}

impl Default for ShardState {
    fn default() -> Self {
        Self {
            checkpoint: None,
            resume: Resume::Start,
            pending: None,
            finished: false,
        }
    }
}

/// Checkpoints are per (stream ARN, shard id): moto gives every table's shard the same id.
type ShardKey = (String, String);

/// A shard's checkpoint, for inspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardCheckpoint {
    pub stream_arn: String,
    pub shard_id: String,
    /// Last sequence number that is done (processed or dead-lettered).
    pub sequence_number: Option<String>,
    pub finished: bool,
}

enum Fetched {
    Records {
        records: Vec<SdkRecord>,
        next_iterator: Option<String>,
    },
    /// The shard is closed and there is nothing more to read.
    ShardEnd,
}

/// Plays Lambda's DynamoDB event source mapping for a set of tables; see the module docs.
pub struct Poller {
    dynamodb: aws_sdk_dynamodb::Client,
    streams: aws_sdk_dynamodbstreams::Client,
    sources: Vec<StreamSource>,
    config: PollerConfig,
    shards: HashMap<ShardKey, ShardState>,
    stats: PollStats,
}

impl std::fmt::Debug for Poller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller")
            .field("sources", &self.sources)
            .field("config", &self.config)
            .field("shards", &self.shards)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Poller {
    pub fn new(
        dynamodb: aws_sdk_dynamodb::Client,
        streams: aws_sdk_dynamodbstreams::Client,
        sources: Vec<StreamSource>,
        config: PollerConfig,
    ) -> Self {
        Self {
            dynamodb,
            streams,
            sources,
            config,
            shards: HashMap::new(),
            stats: PollStats::default(),
        }
    }

    /// Cumulative counters since the poller was created.
    pub fn stats(&self) -> &PollStats {
        &self.stats
    }

    pub fn config(&self) -> &PollerConfig {
        &self.config
    }

    /// The dead-letter file of `table`.
    pub fn dead_letter_path(&self, table: &str) -> PathBuf {
        self.config.dead_letter_dir.join(format!("{table}.jsonl"))
    }

    /// The checkpoints of every shard seen so far.
    pub fn checkpoints(&self) -> Vec<ShardCheckpoint> {
        let mut out: Vec<ShardCheckpoint> = self
            .shards
            .iter()
            .map(|((stream_arn, shard_id), state)| ShardCheckpoint {
                stream_arn: stream_arn.clone(),
                shard_id: shard_id.clone(),
                sequence_number: state.checkpoint.clone(),
                finished: state.finished,
            })
            .collect();
        out.sort_by(|a, b| (&a.stream_arn, &a.shard_id).cmp(&(&b.stream_arn, &b.shard_id)));
        out
    }

    /// One pass over every shard of every source: read what is available, deliver it in
    /// batches (retrying failures as described in the module docs), advance checkpoints.
    /// Returns this pass's counters; `records_delivered == 0` means nothing was delivered.
    ///
    /// A source that fails (missing table, AWS error, dead-letter file not writable) does not
    /// stop the others; the pass then returns an error naming every failed source (its
    /// progress is still in [`stats`](Self::stats)).
    pub async fn poll_once(&mut self) -> anyhow::Result<PollStats> {
        let mut pass = PollStats::default();
        let mut errors: Vec<String> = Vec::new();
        for source_index in 0..self.sources.len() {
            let table = self.sources[source_index].table_name.clone();
            let handler = Arc::clone(&self.sources[source_index].handler);
            if let Err(err) = self.poll_source(&table, &handler, &mut pass).await {
                errors.push(format!("{table}: {err:#}"));
            }
        }
        match errors.as_slice() {
            [] => Ok(pass),
            [one] => Err(anyhow!("stream poll failed for {one}")),
            many => Err(anyhow!("stream poll failed for {}", many.join("; "))),
        }
    }

    async fn poll_source(
        &mut self,
        table: &str,
        handler: &BatchHandler,
        pass: &mut PollStats,
    ) -> anyhow::Result<()> {
        let stream_arn = self.latest_stream_arn(table).await?;
        let shards = self.list_shards(&stream_arn).await?;
        for i in shard_processing_order(&shards) {
            let shard = &shards[i];
            if let Some(parent) = &shard.parent_shard_id {
                let parent_listed = shards.iter().any(|s| &s.shard_id == parent);
                let parent_done = self
                    .shards
                    .get(&(stream_arn.clone(), parent.clone()))
                    .is_some_and(|s| s.finished);
                if parent_listed && !parent_done {
                    debug!(%table, shard_id = %shard.shard_id, %parent, "waiting for parent shard");
                    continue;
                }
            }
            self.poll_shard(table, &stream_arn, &shard.shard_id, handler, pass)
                .await?;
        }
        Ok(())
    }

    /// Calls [`poll_once`](Self::poll_once) until two consecutive passes find nothing at all
    /// to deliver (no invocation), sleeping `poll_interval` in between. Returns the counters of
    /// all passes. Never returns while the tables keep being written.
    pub async fn drain(&mut self) -> anyhow::Result<PollStats> {
        let mut total = PollStats::default();
        let mut idle_passes = 0;
        while idle_passes < 2 {
            let pass = self.poll_once().await?;
            total.merge(&pass);
            if pass.invocations == 0 {
                idle_passes += 1;
                if idle_passes < 2 {
                    tokio::time::sleep(self.config.poll_interval).await;
                }
            } else {
                idle_passes = 0;
            }
        }
        Ok(total)
    }

    /// Polls until `shutdown` resolves, sleeping `poll_interval` after idle passes. Errors of a
    /// pass (emulator down, table missing, ...) are logged and retried with a growing pause
    /// (at most 5s or `poll_interval`), like an event source mapping that keeps trying.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let mut shutdown = std::pin::pin!(shutdown);
        let tables: Vec<&str> = self.sources.iter().map(|s| s.table_name.as_str()).collect();
        info!(?tables, "stream poller started");
        let mut error_streak: u32 = 0;
        loop {
            let pass = tokio::select! {
                biased;
                () = &mut shutdown => break,
                pass = self.poll_once() => pass,
            };
            let pause = match pass {
                Ok(pass) => {
                    error_streak = 0;
                    (pass.invocations == 0).then_some(self.config.poll_interval)
                }
                Err(err) => {
                    error_streak = error_streak.saturating_add(1);
                    let cap = self.config.poll_interval.max(Duration::from_secs(5));
                    let pause = self
                        .config
                        .poll_interval
                        .max(Duration::from_millis(100))
                        .saturating_mul(1 << error_streak.min(6))
                        .min(cap);
                    warn!(error = %format!("{err:#}"), ?pause, "stream poll failed; will retry");
                    Some(pause)
                }
            };
            if let Some(pause) = pause {
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(pause) => {}
                }
            }
        }
        info!(stats = ?self.stats, "stream poller stopped");
        Ok(())
    }

    async fn latest_stream_arn(&self, table: &str) -> anyhow::Result<String> {
        let out = self
            .dynamodb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| anyhow!("DescribeTable {table}: {}", DisplayErrorContext(&e)))?;
        out.table
            .and_then(|t| t.latest_stream_arn)
            .with_context(|| format!("table {table} has no stream (enable NEW_AND_OLD_IMAGES)"))
    }

    async fn list_shards(&self, stream_arn: &str) -> anyhow::Result<Vec<ShardInfo>> {
        let mut shards = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let out = self
                .streams
                .describe_stream()
                .stream_arn(stream_arn)
                .set_exclusive_start_shard_id(start.clone())
                .send()
                .await
                .map_err(|e| anyhow!("DescribeStream {stream_arn}: {}", DisplayErrorContext(&e)))?;
            let description = out
                .stream_description
                .with_context(|| format!("DescribeStream {stream_arn}: no StreamDescription"))?;
            for shard in description.shards.unwrap_or_default() {
                if let Some(shard_id) = shard.shard_id {
                    shards.push(ShardInfo {
                        shard_id,
                        parent_shard_id: shard.parent_shard_id,
                    });
                }
            }
            match description.last_evaluated_shard_id {
                Some(last) if start.as_ref() != Some(&last) => start = Some(last),
                _ => break,
            }
        }
        Ok(shards)
    }

    async fn shard_iterator(
        &self,
        stream_arn: &str,
        shard_id: &str,
        resume: &Resume,
    ) -> anyhow::Result<Option<String>> {
        let (kind, sequence_number) = match resume {
            Resume::Iterator(iterator) => return Ok(Some(iterator.clone())),
            Resume::Start => match self.config.starting_position {
                StartingPosition::TrimHorizon => (ShardIteratorType::TrimHorizon, None),
                StartingPosition::Latest => (ShardIteratorType::Latest, None),
            },
            Resume::TrimHorizon => (ShardIteratorType::TrimHorizon, None),
            Resume::At(seq) => (ShardIteratorType::AtSequenceNumber, Some(seq.clone())),
            Resume::After(seq) => (ShardIteratorType::AfterSequenceNumber, Some(seq.clone())),
        };
        let result = self
            .streams
            .get_shard_iterator()
            .stream_arn(stream_arn)
            .shard_id(shard_id)
            .shard_iterator_type(kind.clone())
            .set_sequence_number(sequence_number.clone())
            .send()
            .await;
        match result {
            Ok(out) => Ok(out.shard_iterator),
            Err(err)
                if sequence_number.is_some()
                    && err
                        .as_service_error()
                        .is_some_and(|e| e.is_trimmed_data_access_exception()) =>
            {
                warn!(%stream_arn, %shard_id, ?sequence_number,
                    "checkpoint is older than the stream's retention; records were lost, resuming at TRIM_HORIZON");
                Box::pin(self.shard_iterator(stream_arn, shard_id, &Resume::TrimHorizon)).await
            }
            Err(err) => Err(anyhow!(
                "GetShardIterator {} {stream_arn} {shard_id}: {}",
                kind.as_str(),
                DisplayErrorContext(&err)
            )),
        }
    }

    async fn fetch(
        &self,
        stream_arn: &str,
        shard_id: &str,
        state: &ShardState,
    ) -> anyhow::Result<Fetched> {
        let limit = self.config.batch_size.clamp(1, MAX_GET_RECORDS_LIMIT);
        let limit = i32::try_from(limit).unwrap_or(1000);
        let mut resume = state.resume.clone();
        loop {
            let Some(iterator) = self.shard_iterator(stream_arn, shard_id, &resume).await? else {
                return Ok(Fetched::ShardEnd);
            };
            let result = self
                .streams
                .get_records()
                .shard_iterator(iterator)
                .limit(limit)
                .send()
                .await;
            match result {
                Ok(out) => {
                    return Ok(Fetched::Records {
                        records: out.records.unwrap_or_default(),
                        next_iterator: out.next_shard_iterator,
                    })
                }
                // A kept NextShardIterator can expire (15 minutes on AWS; moto answers an
                // unknown one, e.g. after a restart, with a 500): start over from the checkpoint.
                // Fresh iterators are not retried, so this loop ends.
                Err(err) if matches!(resume, Resume::Iterator(_)) => {
                    debug!(%stream_arn, %shard_id, error = %DisplayErrorContext(&err),
                        "shard iterator no longer usable; getting a new one from the checkpoint");
                    resume = match &state.checkpoint {
                        Some(seq) => Resume::After(seq.clone()),
                        None => {
                            if self.config.starting_position == StartingPosition::Latest {
                                warn!(%stream_arn, %shard_id,
                                    "iterator expired before any record was read; restarting at LATEST may skip records");
                            }
                            Resume::Start
                        }
                    };
                }
                Err(err) => {
                    return Err(anyhow!(
                        "GetRecords {stream_arn} {shard_id}: {}",
                        DisplayErrorContext(&err)
                    ))
                }
            }
        }
    }

    async fn poll_shard(
        &mut self,
        table: &str,
        stream_arn: &str,
        shard_id: &str,
        handler: &BatchHandler,
        pass: &mut PollStats,
    ) -> anyhow::Result<()> {
        let key: ShardKey = (stream_arn.to_string(), shard_id.to_string());
        for _ in 0..MAX_BATCHES_PER_SHARD_PER_PASS {
            let state = self.shards.entry(key.clone()).or_default().clone();
            if state.finished {
                return Ok(());
            }
            let (records, next_iterator) = match self.fetch(stream_arn, shard_id, &state).await? {
                Fetched::ShardEnd => {
                    self.finish_shard(&key, table);
                    return Ok(());
                }
                Fetched::Records {
                    records,
                    next_iterator,
                } => (records, next_iterator),
            };
            let records = drop_delivered(records, state.checkpoint.as_deref());
            if records.is_empty() {
                match next_iterator {
                    Some(iterator) => self.state_mut(&key).resume = Resume::Iterator(iterator),
                    None => self.finish_shard(&key, table),
                }
                return Ok(());
            }

            let lambda_records = records
                .iter()
                .map(|rec| to_lambda_record(stream_arn, &self.config.aws_region, rec))
                .collect::<anyhow::Result<Vec<_>>>()
                .with_context(|| format!("converting stream records of {table} {shard_id}"))?;
            let sequence_numbers: Vec<String> = lambda_records
                .iter()
                .map(|r| r.change.sequence_number.clone().unwrap_or_default())
                .collect();
            let mut event = Event::default();
            event.records = lambda_records.clone();

            let response = invoke(handler, event).await;
            let decision = decide_batch(
                &sequence_numbers,
                &response,
                state.pending.as_ref(),
                self.config.max_retry_attempts,
            );

            if !decision.dead_letter.is_empty() {
                let reason = decision.dead_letter_reason.clone().unwrap_or_default();
                let letters: Vec<DeadLetter> = decision
                    .dead_letter
                    .iter()
                    .filter_map(|&i| lambda_records.get(i).zip(sequence_numbers.get(i)))
                    .map(|(record, seq)| DeadLetter {
                        table: table.to_string(),
                        stream_arn: stream_arn.to_string(),
                        shard_id: shard_id.to_string(),
                        sequence_number: seq.clone(),
                        reason: reason.clone(),
                        record: record.clone(),
                    })
                    .collect();
                let path = self.dead_letter_path(table);
                // Written before the checkpoint moves: if this fails the batch is delivered again.
                append_dead_letters(&path, &letters)?;
                for letter in &letters {
                    warn!(%table, %shard_id, sequence_number = %letter.sequence_number,
                        reason = %letter.reason, path = %path.display(), "record dead-lettered");
                }
            }

            let batch_stats = PollStats {
                invocations: 1,
                records_delivered: decision.succeeded as u64,
                retries: u64::from(decision.retry.is_some()),
                dead_lettered: decision.dead_letter.len() as u64,
                function_errors: u64::from(decision.function_error),
            };
            pass.merge(&batch_stats);
            self.stats.merge(&batch_stats);

            debug!(
                %table,
                %shard_id,
                records = sequence_numbers.len(),
                first = ?sequence_numbers.first(),
                last = ?sequence_numbers.last(),
                succeeded = decision.succeeded,
                retry = ?decision.retry,
                dead_lettered = decision.dead_letter.len(),
                error = ?response.as_ref().err(),
                "batch delivered"
            );

            let whole_batch_done =
                decision.retry.is_none() && decision.checkpoint.as_ref() == sequence_numbers.last();
            let retrying = decision.retry.is_some();
            let checkpoint = decision.checkpoint.or(state.checkpoint);
            let resume = match (&decision.retry, whole_batch_done) {
                (Some(retry), _) => Some(Resume::At(retry.sequence_number.clone())),
                // The shard's NextShardIterator stays valid: it points right after the batch.
                (None, true) => next_iterator.map(Resume::Iterator),
                // Exhausted partial failure: continue after the dead-lettered record.
                (None, false) => Some(checkpoint.clone().map_or(Resume::Start, Resume::After)),
            };
            let state = self.state_mut(&key);
            state.checkpoint = checkpoint;
            state.pending = decision.retry;
            match resume {
                Some(resume) => state.resume = resume,
                None => {
                    self.finish_shard(&key, table);
                    return Ok(());
                }
            }
            if retrying && !self.config.retry_backoff.is_zero() {
                tokio::time::sleep(self.config.retry_backoff).await;
            }
        }
        Ok(())
    }

    fn state_mut(&mut self, key: &ShardKey) -> &mut ShardState {
        self.shards.entry(key.clone()).or_default()
    }

    fn finish_shard(&mut self, key: &ShardKey, table: &str) {
        let state = self.state_mut(key);
        if !state.finished {
            state.finished = true;
            debug!(%table, shard_id = %key.1, checkpoint = ?state.checkpoint, "shard closed and fully processed");
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_string())
}

/// Invokes the handler; a panic (while creating or polling its future) is a function error.
async fn invoke(handler: &BatchHandler, event: Event) -> Result<DynamoDbEventResponse, String> {
    let future = match std::panic::catch_unwind(AssertUnwindSafe(|| handler(event))) {
        Ok(future) => future,
        Err(payload) => {
            return Err(format!(
                "handler panicked: {}",
                panic_message(payload.as_ref())
            ))
        }
    };
    match AssertUnwindSafe(future).catch_unwind().await {
        Ok(result) => result,
        Err(payload) => Err(format!(
            "handler panicked: {}",
            panic_message(payload.as_ref())
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MotoServer;
    use std::sync::atomic::{AtomicU32, Ordering as AtomicOrdering};
    use std::sync::Mutex;

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
                        aws_sdk_dynamodbstreams::primitives::DateTime::from_millis(
                            1_795_724_884_358,
                        ),
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
        let arn =
            "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-01-01T00:00:00.000";
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
    async fn replay_keeps_what_still_fails_and_finishes_an_interrupted_replay() -> anyhow::Result<()>
    {
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
        let first: serde_json::Value =
            serde_json::from_str(line.lines().next().unwrap_or_default())?;
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

    // ---------------------------------------------------------------- against moto

    async fn create_stream_table(
        ddb: &aws_sdk_dynamodb::Client,
        table: &str,
    ) -> anyhow::Result<()> {
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
        for state in poller.shards.values_mut() {
            state.resume = Resume::Iterator(format!("{stream_arn}|1|unknown"));
        }
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

        let got = |seen: &Seen| -> Vec<String> {
            seen_lock(seen).iter().flatten().map(summary).collect()
        };
        assert_eq!(got(&orders), ["INSERT o1", "INSERT o2"]);
        assert_eq!(got(&archive), ["INSERT a2"]);
        // moto gives every table the same shard id; checkpoints are per stream.
        let checkpoints = poller.checkpoints();
        assert_eq!(checkpoints.len(), 2);
        assert_ne!(checkpoints[0].stream_arn, checkpoints[1].stream_arn);
        Ok(())
    }

    #[tokio::test]
    async fn moto_run_keeps_going_past_a_failing_source_and_stops_on_shutdown() -> anyhow::Result<()>
    {
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
}
