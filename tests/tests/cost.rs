//! What applying a change costs in DynamoDB requests, per record and per batch, counted on
//! the wire by the adapter's request counter. Counts, not times: they do not depend on the
//! machine. `cargo test -p c360-e2e --test cost -- --nocapture` prints the table kept in
//! `docs/PERFORMANCE.md`.

use c360_domain::SourceKind;
use c360_e2e::items::{self, Order};
use c360_e2e::{stream_event, TestEnv};
use serde_json::Value;
use std::collections::BTreeMap;

const CUSTOMERS: usize = 10;
const ORDERS: usize = 10;

fn orders(status: &str) -> Vec<(String, Value)> {
    (0..CUSTOMERS * ORDERS)
        .map(|i| {
            let (c, k) = (i % CUSTOMERS, i / CUSTOMERS);
            let at = format!("2026-04-{:02}T12:00:00+08:00", 1 + k);
            (
                format!("{}", 1000 + i),
                items::order(&Order {
                    id: &format!("o{c}-{k}"),
                    phone: Some(&format!("1370000{c:04}")),
                    status,
                    total: "25.00",
                    at: &at,
                    ..Order::default()
                }),
            )
        })
        .collect()
}

async fn run(
    env: &TestEnv,
    label: &str,
    name: &str,
    images: &[(String, Value)],
    seq_offset: u64,
    table: &mut Vec<String>,
) -> BTreeMap<String, u64> {
    let kind = SourceKind::Orders;
    let records: Vec<(String, Value)> = images
        .iter()
        .map(|(s, v)| {
            (
                (s.parse::<u64>().unwrap() + seq_offset).to_string(),
                v.clone(),
            )
        })
        .collect();
    env.counter.reset();
    for chunk in records.chunks(100) {
        let batch: Vec<(&str, Option<Value>, Option<Value>, &str)> = chunk
            .iter()
            .map(|(s, v)| (name, Some(v.clone()), None, s.as_str()))
            .collect();
        let (failures, _) = env.ingest(kind, stream_event(kind, &batch)).await;
        assert!(failures.is_empty());
    }
    let counts = env.counter.snapshot();
    let n = records.len() as f64;
    let per = |op: &str| *counts.get(op).unwrap_or(&0) as f64 / n;
    let reads = per("BatchGetItem") + per("GetItem") + per("Query");
    table.push(format!(
        "| {label} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0} |",
        per("BatchGetItem"),
        per("Query"),
        reads,
        per("TransactWriteItems"),
        (reads + per("TransactWriteItems")) * 100.0
    ));
    counts
}

#[tokio::test]
async fn applying_a_change_costs_one_read_and_one_transaction_in_the_common_case() {
    let env = TestEnv::new().await;
    let n = (CUSTOMERS * ORDERS) as u64;
    let mut table = vec!["| change | BatchGetItem | Query | reads | TransactWriteItems | requests per 100-record batch |".to_string(), "|---|---|---|---|---|---|".to_string()];

    let new = run(
        &env,
        "new order",
        "INSERT",
        &orders("completed"),
        0,
        &mut table,
    )
    .await;
    assert_eq!(new.get("BatchGetItem"), Some(&n));
    assert_eq!(new.get("TransactWriteItems"), Some(&n));
    assert_eq!(
        new.get("Query"),
        None,
        "orders arriving in time order never lose an extreme"
    );

    let again = run(
        &env,
        "duplicate delivery",
        "INSERT",
        &orders("completed"),
        0,
        &mut table,
    )
    .await;
    assert_eq!(again.get("BatchGetItem"), Some(&n));
    assert_eq!(
        again.get("TransactWriteItems"),
        None,
        "a duplicate writes nothing"
    );

    let paid = run(
        &env,
        "status change, still counted",
        "MODIFY",
        &orders("paid"),
        n,
        &mut table,
    )
    .await;
    assert_eq!(paid.get("TransactWriteItems"), Some(&n));
    assert_eq!(paid.get("Query"), None);

    // Refunding every order: the newest counted order of a customer goes each time, so both
    // of its scopes look the next one up (one Query per scope).
    let refunded = run(
        &env,
        "refund (loses the newest counted order)",
        "MODIFY",
        &orders("refunded"),
        2 * n,
        &mut table,
    )
    .await;
    assert_eq!(refunded.get("TransactWriteItems"), Some(&n));
    assert!(
        refunded.get("Query").copied().unwrap_or(0) <= 4 * n,
        "{refunded:?}"
    );

    eprintln!("\n{}\n", table.join("\n"));
}
