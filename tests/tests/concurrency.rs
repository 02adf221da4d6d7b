//! Ingest invocations for different shards updating the same customer at the same time never
//! lose an update: optimistic concurrency (versions on every stats and node item) with
//! bounded retries, and the partial batch response for a record that still loses, against the
//! emulator.

use c360_api::http::Endpoint;
use c360_domain::SourceKind;
use c360_e2e::items::{self, Order};
use c360_e2e::{stream_event, TestEnv};
use serde_json::{json, Value};

#[tokio::test]
async fn parallel_writers_on_one_customer_lose_no_update() {
    let env = TestEnv::new().await;
    let kind = SourceKind::Orders;
    // Eight "shards", each a batch of five orders of the same customer, in two stores and
    // under both identifiers, all in flight at once.
    let batches: Vec<Vec<(String, Value)>> = (0..8)
        .map(|shard| {
            (0..5)
                .map(|i| {
                    let id = format!("o{shard}-{i}");
                    let (phone, member) = if (shard + i) % 2 == 0 {
                        (Some("13812345678"), None)
                    } else {
                        (None, Some("M42"))
                    };
                    let at = format!("2026-03-{:02}T12:{:02}:00+08:00", 1 + shard, i);
                    (
                        format!("{}{:02}", shard + 1, i),
                        items::order(&Order {
                            id: &id,
                            phone,
                            member,
                            store: ["s1", "s2"][i % 2],
                            total: "10.00",
                            at: &at,
                            ..Order::default()
                        }),
                    )
                })
                .collect()
        })
        .collect();
    let member = items::member(
        "M42",
        Some("13812345678"),
        None,
        "周八",
        "银卡",
        "1",
        "0",
        "s1",
        "2026-01-01T00:00:00+08:00",
    );
    let member_event = stream_event(
        SourceKind::MemberSync,
        &[("INSERT", Some(member), None, "1")],
    );
    // A shard's records as one stream batch of inserts.
    let inserts = |records: &[(String, Value)]| {
        stream_event(
            kind,
            &records
                .iter()
                .map(|(s, o)| ("INSERT", Some(o.clone()), None, s.as_str()))
                .collect::<Vec<_>>(),
        )
    };
    let runs = batches.iter().map(|b| env.ingest(kind, inserts(b)));
    // The link that merges the two identifiers races the orders, twice.
    let (results, (m1, m2)) = tokio::join!(futures::future::join_all(runs), async {
        tokio::join!(
            env.ingest(SourceKind::MemberSync, member_event.clone()),
            env.ingest(SourceKind::MemberSync, member_event.clone())
        )
    });
    // A record still losing the race after its bounded retries is reported in the partial
    // batch response (rare, but seen in about one run in three under this contention), and
    // Lambda delivers that shard again from it. So does this test: nothing may be lost, and
    // the redelivery, with no race left, must succeed.
    let mut gave_up = 0;
    for (batch, (failures, _)) in batches.iter().zip(&results) {
        let Some(first) = batch.iter().position(|(s, _)| failures.contains(s)) else {
            continue;
        };
        gave_up += failures.len();
        let (failures, _) = env.ingest(kind, inserts(&batch[first..])).await;
        assert!(failures.is_empty(), "a redelivery failed: {failures:?}");
    }
    for (failures, _) in [&m1, &m2] {
        if !failures.is_empty() {
            gave_up += failures.len();
            let (failures, _) = env
                .ingest(SourceKind::MemberSync, member_event.clone())
                .await;
            assert!(failures.is_empty(), "a redelivery failed: {failures:?}");
        }
    }
    assert!(
        gave_up <= 8,
        "{gave_up} of 42 records gave up after their retries: the retries are not working"
    );
    let all = env
        .ok(Endpoint::Value, &[("customer_identifier", "13812345678")])
        .await;
    assert_eq!(all["customer_value"]["total_spent"], json!(400.0));
    assert_eq!(all["statistics"]["total_orders"], json!(40));
    for (store, n) in [("s1", 24), ("s2", 16)] {
        let v = env
            .ok(
                Endpoint::Value,
                &[
                    ("customer_identifier", "M42"),
                    ("identifier_type", "member_id"),
                    ("store_id", store),
                ],
            )
            .await;
        assert_eq!(v["statistics"]["total_orders"], json!(n), "{store}");
    }
    let timeline = env
        .ok(
            Endpoint::Timeline,
            &[
                ("customer_identifier", "M42"),
                ("identifier_type", "member_id"),
                ("limit", "200"),
            ],
        )
        .await;
    assert_eq!(timeline["total_events"], json!(41));
    assert_eq!(timeline["timeline"].as_array().unwrap().len(), 41);
}

/// The test above proves nothing if the emulator itself lets two writes conditioned on the
/// same version both pass (moto does without `scripts/emulator/moto_server.py`'s lock: this
/// test lost about one write in ten there). DynamoDB never does.
#[tokio::test]
async fn the_emulator_lets_one_of_two_writes_on_one_version_pass() {
    use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
    let env = TestEnv::new().await;
    let table = env.config.table.clone();
    let key: std::collections::HashMap<String, AttributeValue> = [
        ("pk".to_string(), AttributeValue::S("RACE".into())),
        ("sk".to_string(), AttributeValue::S("counter".into())),
    ]
    .into();
    // A large item widens moto's window between checking a condition and writing.
    let padding = AttributeValue::L(
        (0..1000)
            .map(|i| AttributeValue::N(i.to_string()))
            .collect(),
    );
    let item = |ver: u64| {
        let mut item = key.clone();
        item.insert("ver".into(), AttributeValue::N(ver.to_string()));
        item.insert("padding".into(), padding.clone());
        item
    };
    env.client
        .put_item()
        .table_name(&table)
        .set_item(Some(item(0)))
        .send()
        .await
        .expect("counter");
    let increments = |writer: usize| {
        let (client, table, key) = (env.client.clone(), table.clone(), key.clone());
        async move {
            let mut done = 0u64;
            while done < 10 {
                let current = client
                    .get_item()
                    .table_name(&table)
                    .set_key(Some(key.clone()))
                    .projection_expression("ver")
                    .consistent_read(true)
                    .send()
                    .await
                    .expect("read");
                let ver: u64 = match current.item().and_then(|i| i.get("ver")) {
                    Some(AttributeValue::N(n)) => n.parse().expect("a version"),
                    other => panic!("writer {writer}: no version in {other:?}"),
                };
                let put = Put::builder()
                    .table_name(&table)
                    .set_item(Some(item(ver + 1)))
                    .condition_expression("ver = :v")
                    .expression_attribute_values(":v", AttributeValue::N(ver.to_string()))
                    .build()
                    .expect("put");
                let written = client
                    .transact_write_items()
                    .transact_items(TransactWriteItem::builder().put(put).build())
                    .send()
                    .await;
                if written.is_ok() {
                    done += 1;
                }
            }
            done
        }
    };
    let successes: u64 = futures::future::join_all((0..8).map(increments))
        .await
        .into_iter()
        .sum();
    let last = env
        .client
        .get_item()
        .table_name(&table)
        .set_key(Some(key.clone()))
        .consistent_read(true)
        .send()
        .await
        .expect("read");
    assert_eq!(
        last.item().and_then(|i| i.get("ver")),
        Some(&AttributeValue::N(successes.to_string())),
        "{successes} conditioned writes succeeded"
    );
}
