//! `c360-dev compare-tables A B`: two customer360 tables item for item, as the rebuild tests
//! compare them (`tests/tests/rebuild.rs`, `docs/adr/0004-rebuild.md`). Left out: anchors'
//! `seq` and items' `ver` (each table numbers its own writes), rebuild checkpoints, prediction
//! models (fitted at different times) and anchors without a state (tombstones of deleted
//! records, records of no customer), which a rebuild never writes.

use anyhow::Context;
use c360_dynamodb::keys::{is_anchor_pk, is_model_pk, CHECKPOINT_PK};
use std::collections::BTreeSet;

async fn comparable(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> anyhow::Result<(usize, BTreeSet<String>)> {
    let mut scanned = 0;
    let mut out = BTreeSet::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .with_context(|| format!("scanning {table}"))?;
        for item in page.items() {
            scanned += 1;
            let pk = item
                .get("pk")
                .and_then(|v| v.as_s().ok())
                .map(String::as_str)
                .unwrap_or("");
            if pk == CHECKPOINT_PK
                || is_model_pk(pk)
                || (is_anchor_pk(pk) && !item.contains_key("state"))
            {
                continue;
            }
            let mut item = item.clone();
            item.remove("seq");
            item.remove("ver");
            let item: serde_dynamo::Item = item.into();
            // serde_json's maps are sorted, so equal items print equal.
            out.insert(serde_json::to_string(&serde_json::to_value(item)?)?);
        }
        match page.last_evaluated_key() {
            Some(k) if !k.is_empty() => start = Some(k.clone()),
            _ => return Ok((scanned, out)),
        }
    }
}

/// Prints both tables' counts and up to 5 items found in one only; `Ok(true)` when equal.
pub async fn compare(client: &aws_sdk_dynamodb::Client, a: &str, b: &str) -> anyhow::Result<bool> {
    let ((na, ca), (nb, cb)) = (comparable(client, a).await?, comparable(client, b).await?);
    println!(
        "{a}: {na} items ({} compared); {b}: {nb} items ({} compared)",
        ca.len(),
        cb.len()
    );
    let only_a: Vec<&String> = ca.difference(&cb).collect();
    let only_b: Vec<&String> = cb.difference(&ca).collect();
    for (table, only) in [(a, &only_a), (b, &only_b)] {
        for line in only.iter().take(5) {
            println!(
                "  only in {table}: {}",
                line.chars().take(300).collect::<String>()
            );
        }
    }
    if only_a.is_empty() && only_b.is_empty() {
        println!("EQUAL");
        Ok(true)
    } else {
        println!(
            "DIFFERENT: {} only in {a}, {} only in {b}",
            only_a.len(),
            only_b.len()
        );
        Ok(false)
    }
}
