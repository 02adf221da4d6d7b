//! Shard reading: the stream ARN, shard discovery and order (parents before children),
//! shard iterators, `GetRecords`, and the per-shard state and checkpoints.

use std::collections::{HashMap, HashSet};

use anyhow::{anyhow, Context};
use aws_sdk_dynamodbstreams::error::DisplayErrorContext;
use aws_sdk_dynamodbstreams::types::{Record as SdkRecord, ShardIteratorType};
use tracing::{debug, warn};

use super::mapping::Poller;
use super::retries::RetryState;
use super::StartingPosition;

/// Upper bound of batches per shard in one pass, so a table that is written continuously
/// cannot keep `poll_once` from returning.
pub(super) const MAX_BATCHES_PER_SHARD_PER_PASS: usize = 1000;
/// `GetRecords` refuses a larger `Limit`.
pub(super) const MAX_GET_RECORDS_LIMIT: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ShardInfo {
    pub(super) shard_id: String,
    pub(super) parent_shard_id: Option<String>,
}

/// Indices of `shards` with every parent that is in the list before its children.
pub(super) fn shard_processing_order(shards: &[ShardInfo]) -> Vec<usize> {
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
pub(super) enum Resume {
    /// No checkpoint yet: the configured starting position.
    Start,
    TrimHorizon,
    /// A `NextShardIterator` consistent with the checkpoint.
    Iterator(String),
    At(String),
    After(String),
}

#[derive(Debug, Clone)]
pub(super) struct ShardState {
    pub(super) checkpoint: Option<String>,
    pub(super) resume: Resume,
    pub(super) pending: Option<RetryState>,
    /// Closed and fully processed.
    pub(super) finished: bool,
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
pub(super) type ShardKey = (String, String);

/// A shard's checkpoint, for inspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardCheckpoint {
    pub stream_arn: String,
    pub shard_id: String,
    /// Last sequence number that is done (processed or dead-lettered).
    pub sequence_number: Option<String>,
    pub finished: bool,
}

pub(super) enum Fetched {
    Records {
        records: Vec<SdkRecord>,
        next_iterator: Option<String>,
    },
    /// The shard is closed and there is nothing more to read.
    ShardEnd,
}

impl Poller {
    pub(super) async fn latest_stream_arn(&self, table: &str) -> anyhow::Result<String> {
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

    pub(super) async fn list_shards(&self, stream_arn: &str) -> anyhow::Result<Vec<ShardInfo>> {
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

    pub(super) async fn shard_iterator(
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

    pub(super) async fn fetch(
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

    pub(super) fn state_mut(&mut self, key: &ShardKey) -> &mut ShardState {
        self.shards.entry(key.clone()).or_default()
    }

    pub(super) fn finish_shard(&mut self, key: &ShardKey, table: &str) {
        let state = self.state_mut(key);
        if !state.finished {
            state.finished = true;
            debug!(%table, shard_id = %key.1, checkpoint = ?state.checkpoint, "shard closed and fully processed");
        }
    }

    /// Replaces every shard's kept iterator, as if the server had expired them (AWS does after
    /// 15 minutes): the emulator test of the recovery from the checkpoint (`tests/moto/`)
    /// cannot wait that long, and no public call reaches an iterator.
    #[doc(hidden)]
    pub fn replace_shard_iterators(&mut self, iterator: &str) {
        for state in self.shards.values_mut() {
            state.resume = Resume::Iterator(iterator.to_string());
        }
    }
}
