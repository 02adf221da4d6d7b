//! Dead letters: the JSONL files failures end up in, reading them back, and
//! [`replay_dead_letters`].

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::Context;
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::batches::invoke;
use super::BatchHandler;

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

pub(super) fn append_dead_letters(path: &Path, letters: &[DeadLetter]) -> anyhow::Result<()> {
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

/// Replays the dead letters in `path` (a file written by the [`Poller`](super::Poller))
/// through `handler`, one record per invocation, in the order they were dead-lettered. The
/// records that now succeed leave the file; those that still fail stay, with the new reason.
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
