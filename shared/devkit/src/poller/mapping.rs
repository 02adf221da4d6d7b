//! The [`Poller`]: the event source mapping for a set of tables, pass by pass
//! ([`Poller::poll_once`], [`Poller::drain`], [`Poller::run`]) and what it can show.

use std::{collections::HashMap, future::Future, path::PathBuf, sync::Arc, time::Duration};

use anyhow::anyhow;
use tracing::{debug, info, warn};

use super::shards::{shard_processing_order, ShardCheckpoint, ShardKey, ShardState};
use super::{BatchHandler, PollStats, PollerConfig, StreamSource};

/// Plays Lambda's DynamoDB event source mapping for a set of tables; see the module docs.
pub struct Poller {
    pub(super) dynamodb: aws_sdk_dynamodb::Client,
    pub(super) streams: aws_sdk_dynamodbstreams::Client,
    pub(super) sources: Vec<StreamSource>,
    pub(super) config: PollerConfig,
    pub(super) shards: HashMap<ShardKey, ShardState>,
    pub(super) stats: PollStats,
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
}
