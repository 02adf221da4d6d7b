//! Batching: one shard's records read in batches, each delivered to the handler, its
//! response decided on, then retried, checkpointed or dead-lettered.

use std::{any::Any, panic::AssertUnwindSafe};

use anyhow::Context;
use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use futures::FutureExt;
use tracing::{debug, warn};

use super::dead_letters::{append_dead_letters, DeadLetter};
use super::mapping::Poller;
use super::records::{drop_delivered, to_lambda_record};
use super::retries::decide_batch;
use super::shards::{Fetched, Resume, ShardKey, MAX_BATCHES_PER_SHARD_PER_PASS};
use super::{BatchHandler, PollStats};

impl Poller {
    pub(super) async fn poll_shard(
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
                    // The item's key (a source table's only key attribute): which order or
                    // booking it was, without opening the file.
                    let key = letter
                        .record
                        .change
                        .keys
                        .values()
                        .find_map(|v| match v {
                            serde_dynamo::AttributeValue::S(s) => Some(s.as_str()),
                            serde_dynamo::AttributeValue::N(n) => Some(n.as_str()),
                            _ => None,
                        })
                        .unwrap_or("-");
                    warn!(%table, key, %shard_id, sequence_number = %letter.sequence_number,
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
}

pub(super) fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_string())
}

/// Invokes the handler; a panic (while creating or polling its future) is a function error.
pub(super) async fn invoke(
    handler: &BatchHandler,
    event: Event,
) -> Result<DynamoDbEventResponse, String> {
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
