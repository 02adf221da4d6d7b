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
//! The retry/checkpoint rules are the pure function `retries::decide_batch`; the conversion
//! from the Streams SDK record to the Lambda record is `records::to_lambda_record`.

mod batches;
mod dead_letters;
mod mapping;
mod records;
mod retries;
mod shards;
#[cfg(test)]
mod tests;

use std::{future::Future, path::PathBuf, sync::Arc, time::Duration};

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use futures::future::BoxFuture;
use futures::FutureExt;

pub use dead_letters::{read_dead_letters, replay_dead_letters, DeadLetter, ReplayStats};
pub use mapping::Poller;
pub use retries::cmp_sequence_numbers;
pub use shards::ShardCheckpoint;

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
