//! [`load`]: writes the generated items with `BatchWriteItem`, a few batches at a time.

use std::collections::HashMap;

use anyhow::{bail, Context as _};
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use futures::stream::{self, StreamExt, TryStreamExt};

use super::DemoData;

/// Batches written concurrently per table by [`load`].
const LOAD_CONCURRENCY: usize = 4;
/// Attempts per batch before [`load`] gives up on unprocessed items.
const LOAD_ATTEMPTS: u32 = 10;

/// Writes items with BatchWriteItem (25 per call), retrying UnprocessedItems with a
/// short backoff. `table_names` maps the source name to the actual table name.
///
/// Tables are written in [`DemoData::tables`] order, a few batches at a time. Returns
/// the number of items written. A source with items but no table name is an error
/// (before anything is written); a source without items is skipped.
pub async fn load(
    client: &aws_sdk_dynamodb::Client,
    table_names: &HashMap<&str, String>,
    data: &DemoData,
) -> anyhow::Result<usize> {
    for (source, items) in data.tables() {
        if !items.is_empty() && !table_names.contains_key(source) {
            bail!(
                "no table name given for source `{source}` ({} items to load)",
                items.len()
            );
        }
    }
    let mut written = 0;
    for (source, items) in data.tables() {
        if items.is_empty() {
            continue;
        }
        let table = &table_names[source];
        let started = std::time::Instant::now();
        let batches = items
            .chunks(25)
            .map(|chunk| {
                chunk
                    .iter()
                    .map(|item| {
                        let put = PutRequest::builder().set_item(Some(item.clone())).build()?;
                        Ok(WriteRequest::builder().put_request(put).build())
                    })
                    .collect::<anyhow::Result<Vec<_>>>()
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let counts: Vec<usize> = stream::iter(batches)
            .map(|batch| write_batch(client, table, batch))
            .buffer_unordered(LOAD_CONCURRENCY)
            .try_collect()
            .await
            .with_context(|| format!("loading `{source}` into table `{table}`"))?;
        let count: usize = counts.iter().sum();
        tracing::info!(
            source,
            table = %table,
            items = count,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "demo data loaded"
        );
        written += count;
    }
    Ok(written)
}

async fn write_batch(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    mut requests: Vec<WriteRequest>,
) -> anyhow::Result<usize> {
    let total = requests.len();
    let mut backoff = std::time::Duration::from_millis(50);
    for attempt in 1..=LOAD_ATTEMPTS {
        let out = client
            .batch_write_item()
            .request_items(table, requests)
            .send()
            .await
            .context("BatchWriteItem")?;
        requests = out
            .unprocessed_items
            .and_then(|mut unprocessed| unprocessed.remove(table))
            .unwrap_or_default();
        if requests.is_empty() {
            return Ok(total);
        }
        tracing::debug!(
            table,
            attempt,
            unprocessed = requests.len(),
            "retrying unprocessed items"
        );
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(std::time::Duration::from_secs(2));
    }
    bail!(
        "{} of {total} items still unprocessed after {LOAD_ATTEMPTS} attempts",
        requests.len()
    )
}
