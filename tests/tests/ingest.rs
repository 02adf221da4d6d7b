//! Stream semantics end to end: at-least-once delivery, redelivery after partial failures,
//! records that cannot be decoded, TTL expiry, identity links arriving in any order, and
//! what a read costs.

use c360_api::http::Endpoint;
use c360_domain::SourceKind;
use c360_e2e::faults::Phase;
use c360_e2e::items::{self, Order};
use c360_e2e::{stream_event, TestEnv};
use c360_ingest::handler::{Ingest, CONCURRENT_ITEMS};
use c360_ingest::projector::Projector;
use serde_json::{json, Value};

fn order(id: &str, phone: Option<&str>, member: Option<&str>, total: &str, at: &str) -> Value {
    items::order(&Order {
        id,
        phone,
        member,
        total,
        at,
        ..Order::default()
    })
}

async fn spent(env: &TestEnv, query: &[(&str, &str)]) -> Value {
    env.ok(Endpoint::Value, query).await["customer_value"]["total_spent"].clone()
}

#[tokio::test]
async fn a_whole_batch_delivered_twice_changes_nothing() {
    let env = TestEnv::new().await;
    env.put(
        SourceKind::MemberSync,
        items::member(
            "M1",
            Some("13800000001"),
            Some("a@b.cn"),
            "赵六",
            "银卡",
            "5",
            "1.00",
            "s1",
            "2026-01-01T10:00:00+08:00",
        ),
    )
    .await;
    for i in 0..5 {
        env.put(
            SourceKind::Orders,
            order(
                &format!("o{i}"),
                Some("13800000001"),
                None,
                "10.00",
                &format!("2026-02-0{}T12:00:00+08:00", i + 1),
            ),
        )
        .await;
    }
    env.put(
        SourceKind::Orders,
        order(
            "o2",
            Some("13800000001"),
            None,
            "25.00",
            "2026-02-03T12:00:00+08:00",
        ),
    )
    .await;
    env.delete(SourceKind::Orders, "o4").await;
    env.sync().await;
    let before = env.dump().await;
    let batches = env.delivered.lock().unwrap().clone();
    assert!(!batches.is_empty());
    for (kind, event) in batches {
        let (failures, report) = env.ingest(kind, event).await;
        assert!(failures.is_empty());
        assert_eq!(
            report.applied, 0,
            "a redelivered record is recognised as applied"
        );
    }
    assert_eq!(
        env.dump().await,
        before,
        "the table is item for item the same"
    );
    assert_eq!(
        spent(&env, &[("customer_identifier", "13800000001")]).await,
        json!(55.0)
    );
}

#[tokio::test]
async fn an_undecodable_record_is_reported_alone_and_the_others_are_applied() {
    let env = TestEnv::new().await;
    let good = |id: &str, total: &str| {
        Some(order(
            id,
            Some("13800000002"),
            None,
            total,
            "2026-03-01T12:00:00+08:00",
        ))
    };
    let mut negative = order(
        "bad1",
        Some("13800000002"),
        None,
        "1.00",
        "2026-03-01T12:00:00+08:00",
    );
    negative["total"] = json!({"N": "-3.00"});
    let mut bad_time = order(
        "bad2",
        Some("13800000002"),
        None,
        "1.00",
        "2026-03-01T12:00:00+08:00",
    );
    bad_time["created_at"] = json!({"S": "last tuesday"});
    let event = stream_event(
        SourceKind::Orders,
        &[
            ("INSERT", good("g1", "10.00"), None, "100"),
            ("INSERT", Some(negative), None, "101"),
            ("INSERT", good("g2", "20.00"), None, "102"),
            ("INSERT", Some(bad_time), None, "103"),
            ("INSERT", good("g3", "30.00"), None, "104"),
        ],
    );
    let (failures, report) = env.ingest(SourceKind::Orders, event).await;
    assert_eq!(failures, ["101", "103"]);
    assert_eq!((report.applied, report.decode_failures), (3, 2));
    assert_eq!(
        spent(&env, &[("customer_identifier", "13800000002")]).await,
        json!(60.0)
    );
}

#[tokio::test]
async fn a_record_without_identifiers_is_skipped_not_failed() {
    let env = TestEnv::new().await;
    let event = stream_event(
        SourceKind::Orders,
        &[(
            "INSERT",
            Some(order(
                "walk-in",
                None,
                None,
                "10.00",
                "2026-03-01T12:00:00+08:00",
            )),
            None,
            "1",
        )],
    );
    let (failures, report) = env.ingest(SourceKind::Orders, event).await;
    assert!(failures.is_empty());
    assert_eq!(report.no_customer, 1);
}

#[tokio::test]
async fn an_older_delivery_after_a_newer_one_changes_nothing_and_ttl_expiry_keeps_history() {
    let env = TestEnv::new().await;
    let v1 = order(
        "o1",
        Some("13800000003"),
        None,
        "10.00",
        "2026-03-01T12:00:00+08:00",
    );
    let mut v2 = v1.clone();
    v2["total"] = json!({"N": "15.00"});
    let kind = SourceKind::Orders;
    env.ingest(
        kind,
        stream_event(
            kind,
            &[("MODIFY", Some(v2.clone()), Some(v1.clone()), "20")],
        ),
    )
    .await;
    env.ingest(
        kind,
        stream_event(kind, &[("INSERT", Some(v1.clone()), None, "10")]),
    )
    .await;
    let id = [("customer_identifier", "13800000003")];
    assert_eq!(spent(&env, &id).await, json!(15.0));

    // TTL expiry in the source: retention, not deletion.
    let mut expiry: Value = serde_json::to_value(stream_event(
        kind,
        &[("REMOVE", None, Some(v2.clone()), "30")],
    ))
    .unwrap();
    expiry["Records"][0]["userIdentity"] =
        json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"});
    let (failures, report) = env
        .ingest(kind, serde_json::from_value(expiry).unwrap())
        .await;
    assert!(failures.is_empty());
    assert_eq!(report.advanced, 1);
    assert_eq!(
        spent(&env, &id).await,
        json!(15.0),
        "expired from the source, kept in the history"
    );

    // A person's delete is a deletion.
    env.ingest(
        kind,
        stream_event(kind, &[("REMOVE", None, Some(v2), "40")]),
    )
    .await;
    let (status, _) = env.get(Endpoint::Value, &id).await;
    assert_eq!(status, 404, "the customer's only record is gone");
}

/// Orders under the member id only, then under the phone only, then the member record that
/// links them: by either identifier, every order once. Then the same link delivered again.
#[tokio::test]
async fn a_member_record_links_identifiers_in_any_arrival_order() {
    let env = TestEnv::new().await;
    env.put(
        SourceKind::Orders,
        order(
            "m1",
            None,
            Some("M9"),
            "100.00",
            "2026-01-01T12:00:00+08:00",
        ),
    )
    .await;
    env.put(
        SourceKind::Orders,
        order("m2", None, Some("M9"), "50.00", "2026-01-02T12:00:00+08:00"),
    )
    .await;
    env.put(
        SourceKind::Orders,
        order(
            "p1",
            Some("13900000009"),
            None,
            "7.00",
            "2026-01-03T12:00:00+08:00",
        ),
    )
    .await;
    env.sync().await;
    assert_eq!(
        spent(&env, &[("customer_identifier", "13900000009")]).await,
        json!(7.0)
    );
    assert_eq!(
        spent(
            &env,
            &[
                ("customer_identifier", "M9"),
                ("identifier_type", "member_id")
            ]
        )
        .await,
        json!(150.0)
    );

    let link = items::member(
        "M9",
        Some("139-0000-0009"),
        Some("Nine@Example.com"),
        "钱九",
        "金卡",
        "1",
        "0",
        "s1",
        "2025-12-01T12:00:00+08:00",
    );
    env.put(SourceKind::MemberSync, link.clone()).await;
    env.sync().await;
    for query in [
        vec![("customer_identifier", "13900000009")],
        vec![
            ("customer_identifier", "M9"),
            ("identifier_type", "member_id"),
        ],
        vec![
            ("customer_identifier", "nine@example.com"),
            ("identifier_type", "email"),
        ],
    ] {
        let v = env.ok(Endpoint::Value, &query).await;
        assert_eq!(
            v["customer_value"]["total_spent"],
            json!(157.0),
            "{query:?}"
        );
        assert_eq!(v["statistics"]["total_orders"], json!(3), "{query:?}");
    }
    // Records arriving after the link find it, whichever identifier they carry.
    env.put(
        SourceKind::Orders,
        order("e1", None, None, "1.00", "2026-01-04T12:00:00+08:00"),
    )
    .await;
    env.put(
        SourceKind::Orders,
        order(
            "p2",
            Some("+86 139 0000 0009"),
            None,
            "3.00",
            "2026-01-05T12:00:00+08:00",
        ),
    )
    .await;
    env.sync().await;
    assert_eq!(
        spent(
            &env,
            &[
                ("customer_identifier", "M9"),
                ("identifier_type", "member_id")
            ]
        )
        .await,
        json!(160.0)
    );

    let before = env.dump().await;
    let kind = SourceKind::MemberSync;
    let (failures, _) = env
        .ingest(
            kind,
            stream_event(kind, &[("INSERT", Some(link.clone()), None, "1")]),
        )
        .await;
    assert!(failures.is_empty());
    assert_eq!(
        env.dump().await,
        before,
        "the link delivered again changes nothing"
    );

    // Unlinking the phone splits the customer again.
    let mut unlinked = link.clone();
    unlinked.as_object_mut().unwrap().remove("phone");
    env.put(SourceKind::MemberSync, unlinked).await;
    env.sync().await;
    assert_eq!(
        spent(&env, &[("customer_identifier", "13900000009")]).await,
        json!(10.0)
    );
    assert_eq!(
        spent(
            &env,
            &[
                ("customer_identifier", "M9"),
                ("identifier_type", "member_id")
            ]
        )
        .await,
        json!(150.0)
    );
}

#[tokio::test]
async fn the_member_record_first_then_records_by_any_identifier() {
    let env = TestEnv::new().await;
    env.put(
        SourceKind::MemberSync,
        items::member(
            "M5",
            Some("13500000005"),
            Some("five@example.com"),
            "孙五",
            "普通卡",
            "0",
            "0",
            "s1",
            "2025-12-01T12:00:00+08:00",
        ),
    )
    .await;
    env.sync().await;
    env.put(
        SourceKind::Orders,
        order(
            "a",
            Some("13500000005"),
            None,
            "1.00",
            "2026-01-01T12:00:00+08:00",
        ),
    )
    .await;
    env.put(
        SourceKind::Orders,
        order("b", None, Some("M5"), "2.00", "2026-01-01T13:00:00+08:00"),
    )
    .await;
    env.sync().await;
    let v = env
        .ok(
            Endpoint::Profile,
            &[
                ("customer_identifier", "five@example.com"),
                ("identifier_type", "email"),
            ],
        )
        .await;
    assert_eq!(v["customer_value"]["total_spent"], json!(3.0));
    assert_eq!(v["member_info"]["name"], json!("孙五"));
}

/// The read budget, however long the history: round trip 1 is one BatchGetItem (the node item
/// with its own stats and its newest orders and reservations), then one Query of its timeline;
/// a customer with other identifiers reads theirs in one more BatchGetItem beside one Query of
/// the customer-keyed index, whatever their number (ADR 0014). The subject is the read's requests, not stream delivery: the
/// in-memory DynamoDB (the same SDK calls, counted by the same interceptor) applies the 2,010
/// records in seconds where the emulator took minutes.
#[tokio::test]
async fn a_profile_read_costs_the_same_requests_for_10_and_2000_records() {
    let env = TestEnv::in_memory().await;
    let kind = SourceKind::Orders;
    for (phone, count) in [("13600000010", 10usize), ("13600002000", 2000)] {
        let mut seq = 0u64;
        for chunk in (0..count).collect::<Vec<_>>().chunks(100) {
            let records: Vec<(String, Value)> = chunk
                .iter()
                .map(|i| {
                    seq += 1;
                    let at = format!(
                        "2025-{:02}-{:02}T12:{:02}:00+08:00",
                        1 + i % 12,
                        1 + i % 28,
                        i % 60
                    );
                    (
                        format!("{seq}"),
                        order(&format!("{phone}-{i}"), Some(phone), None, "12.34", &at),
                    )
                })
                .collect();
            let batch: Vec<(&str, Option<Value>, Option<Value>, &str)> = records
                .iter()
                .map(|(s, o)| ("INSERT", Some(o.clone()), None, s.as_str()))
                .collect();
            let (failures, _) = env.ingest(kind, stream_event(kind, &batch)).await;
            assert!(failures.is_empty());
        }
    }
    let counts = |pairs: &[(&str, u64)]| -> std::collections::BTreeMap<String, u64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    };
    let mut costs = Vec::new();
    for phone in ["13600000010", "13600002000"] {
        env.counter.reset();
        let profile = env
            .ok(Endpoint::Profile, &[("customer_identifier", phone)])
            .await;
        assert!(profile["statistics"]["total_orders"].as_i64().unwrap() >= 10);
        costs.push(env.counter.snapshot());
    }
    assert_eq!(costs[0], costs[1], "request counts by operation");
    assert_eq!(costs[0], counts(&[("BatchGetItem", 1), ("Query", 1)]));

    // The 10-order phone becomes member M10's, with one order under the member id: two
    // identifiers, so one more BatchGetItem for the member node's stats and lists.
    // (Round trips are counted against the emulator: `profile.rs`, where answers take time.)
    let linked = [
        (
            SourceKind::MemberSync,
            items::member(
                "M10",
                Some("13600000010"),
                None,
                "王五",
                "银卡",
                "0",
                "0",
                "s1",
                "2025-01-01T10:00:00+08:00",
            ),
        ),
        (
            SourceKind::Orders,
            order(
                "M10-1",
                None,
                Some("M10"),
                "10.00",
                "2025-06-01T12:00:00+08:00",
            ),
        ),
    ];
    for (i, (kind, item)) in linked.into_iter().enumerate() {
        let seq = format!("{}", 9000 + i);
        let (failures, _) = env
            .ingest(
                kind,
                stream_event(kind, &[("INSERT", Some(item), None, seq.as_str())]),
            )
            .await;
        assert!(failures.is_empty());
    }
    env.counter.reset();
    let profile = env
        .ok(Endpoint::Profile, &[("customer_identifier", "13600000010")])
        .await;
    assert_eq!(
        profile["statistics"]["total_orders"],
        json!(11),
        "{profile}"
    );
    assert_eq!(
        env.counter.snapshot(),
        counts(&[("BatchGetItem", 2), ("Query", 1)])
    );
    let big = env
        .ok(Endpoint::Value, &[("customer_identifier", "13600002000")])
        .await;
    assert_eq!(big["statistics"]["total_orders"], json!(2000));
    assert_eq!(big["customer_value"]["total_spent"], json!(24680.0));
}

/// One batch of 125 order records applied by an ingest handler taking `items_at_once`
/// groups at a time, in a fresh environment: 100 customers' first orders, 20 of them
/// refunded later in the batch (the same items again, in order), and 5 orders of one more
/// customer, known from an earlier batch under both phone `13700000000` and member `M7`,
/// alternating between the two (two groups racing for one customer). Returns the table, the
/// sequential round trips and the requests of the 125-record batch.
async fn one_batch_of_many_customers(items_at_once: usize) -> (Vec<Value>, u64, u64) {
    let env = TestEnv::new().await;
    let link = order(
        "x0",
        Some("13700000000"),
        Some("M7"),
        "30.00",
        "2026-01-20T12:00:00+08:00",
    );
    let linking = stream_event(SourceKind::Orders, &[("INSERT", Some(link), None, "1")]);
    let (failures, _) = env.ingest(SourceKind::Orders, linking).await;
    assert!(failures.is_empty());
    let first = |i: usize| {
        order(
            &format!("o{i}"),
            Some(&format!("139{i:08}")),
            None,
            "10.00",
            "2026-02-01T12:00:00+08:00",
        )
    };
    let mut images: Vec<(&str, Value)> = (0..100).map(|i| ("INSERT", first(i))).collect();
    for i in 0..20 {
        let mut refunded = first(i);
        refunded["status"] = json!({"S": "refunded"});
        images.push(("MODIFY", refunded));
    }
    for day in 1..=5 {
        let (phone, member) = if day % 2 == 0 {
            (None, Some("M7"))
        } else {
            (Some("13700000000"), None)
        };
        images.push((
            "INSERT",
            order(
                &format!("x{day}"),
                phone,
                member,
                "20.00",
                &format!("2026-02-0{day}T12:00:00+08:00"),
            ),
        ));
    }
    let seqs: Vec<String> = (2..=images.len() + 1).map(|n| n.to_string()).collect();
    let records: Vec<(&str, Option<Value>, Option<Value>, &str)> = images
        .iter()
        .zip(&seqs)
        .map(|((name, image), seq)| (*name, Some(image.clone()), None, seq.as_str()))
        .collect();
    let ingest = Ingest::new(
        SourceKind::Orders,
        Projector::new(env.store.clone(), env.config.zone),
        env.config.zone,
    )
    .with_concurrency(items_at_once);
    env.counter.reset();
    let (response, report) = ingest
        .handle(stream_event(SourceKind::Orders, &records))
        .await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(report.applied, 125);
    (
        dump_without_sequence_numbers(&env).await,
        env.counter.rounds(),
        env.counter.total(),
    )
}

#[tokio::test]
async fn a_batch_of_many_customers_is_applied_concurrently_and_ends_as_if_applied_in_order() {
    let (in_order, rounds_in_order, requests_in_order) = one_batch_of_many_customers(1).await;
    let (at_once, rounds_at_once, requests_at_once) =
        one_batch_of_many_customers(CONCURRENT_ITEMS).await;
    // The figures of docs/PERFORMANCE.md (`--nocapture`).
    println!(
        "125 records: one by one {rounds_in_order} rounds, {requests_in_order} requests; \
         {CONCURRENT_ITEMS} items at once {rounds_at_once} rounds, {requests_at_once} requests"
    );
    assert!(
        rounds_in_order >= 125,
        "one by one, every record waits for the one before: {rounds_in_order} rounds"
    );
    // The same requests, but for the re-reads of a race lost between M7's and its phone's
    // groups (each a few requests).
    assert!(
        (requests_in_order..=requests_in_order + 30).contains(&requests_at_once),
        "{requests_at_once} requests at once, {requests_in_order} one by one"
    );
    assert!(
        rounds_at_once < 100,
        "{rounds_at_once} sequential round trips for 125 records ({requests_at_once} requests; \
         one by one: {rounds_in_order} rounds, {requests_in_order} requests)"
    );
    assert_eq!(at_once, in_order, "the table is item for item the same");
}

/// The table, item for item, with each anchor's stream sequence number left out: two
/// environments number their streams independently, everything else must be equal.
async fn dump_without_sequence_numbers(env: &TestEnv) -> Vec<Value> {
    env.dump()
        .await
        .iter()
        .map(|line| {
            let mut item: Value = serde_json::from_str(line).expect("a dumped item");
            if let Some(m) = item.as_object_mut() {
                m.remove("seq");
            }
            item
        })
        .collect()
}

/// Orders under `M9` only, then under `13900000009` only, then the member record linking
/// them, with the link's transaction failing once (`fault`) and the stream redelivering it,
/// then the member record's batch delivered once more. Returns the table and the answers.
async fn link_with_crash(fault: Option<Phase>) -> (Vec<Value>, Vec<Value>) {
    let env = TestEnv::new().await;
    for (id, phone, member, total, day) in [
        ("m1", None, Some("M9"), "100.00", "01"),
        ("m2", None, Some("M9"), "50.00", "02"),
        ("p1", Some("13900000009"), None, "7.00", "03"),
    ] {
        let at = format!("2026-01-{day}T12:00:00+08:00");
        env.put(SourceKind::Orders, order(id, phone, member, total, &at))
            .await;
    }
    env.sync().await;
    let delivered_before = env.delivered.lock().unwrap().len();

    if let Some(phase) = fault {
        // The only transaction left to write is the merge of the member record.
        env.faults.fail_next("TransactWriteItems", phase);
    }
    env.put(
        SourceKind::MemberSync,
        items::member(
            "M9",
            Some("13900000009"),
            None,
            "钱九",
            "金卡",
            "1",
            "0",
            "s1",
            "2025-12-01T12:00:00+08:00",
        ),
    )
    .await;
    env.sync().await;
    let member_batches: Vec<_> = env.delivered.lock().unwrap()[delivered_before..]
        .iter()
        .filter(|(kind, _)| *kind == SourceKind::MemberSync)
        .map(|(_, event)| event.clone())
        .collect();
    if fault.is_some() {
        assert_eq!(env.faults.fired(), 1, "the merge's transaction failed once");
        assert_eq!(
            member_batches.len(),
            2,
            "the failed member record is delivered again, as the event source mapping does"
        );
    } else {
        assert_eq!(member_batches.len(), 1);
    }

    // The member record delivered twice more: already applied, nothing changes.
    let settled = env.dump().await;
    let (failures, report) = env
        .ingest(SourceKind::MemberSync, member_batches[0].clone())
        .await;
    assert!(failures.is_empty());
    assert_eq!((report.applied, report.stale), (0, 1));
    assert_eq!(env.dump().await, settled, "a duplicate of the link");

    let mut answers = Vec::new();
    for query in [
        vec![("customer_identifier", "13900000009")],
        vec![
            ("customer_identifier", "M9"),
            ("identifier_type", "member_id"),
        ],
    ] {
        let v = env.ok(Endpoint::Value, &query).await;
        assert_eq!(
            v["customer_value"]["total_spent"],
            json!(157.0),
            "{fault:?} {query:?}"
        );
        assert_eq!(
            v["statistics"]["total_orders"],
            json!(3),
            "{fault:?} {query:?}"
        );
        let t = env.ok(Endpoint::Timeline, &query).await;
        let orders: Vec<&str> = t["timeline"]
            .as_array()
            .expect("timeline entries")
            .iter()
            .filter(|e| e["event_type"] == json!("order"))
            .filter_map(|e| e["data"]["order_id"].as_str())
            .collect();
        assert_eq!(
            orders,
            ["p1", "m2", "m1"],
            "{fault:?} {query:?}: each order once"
        );
        answers.push(json!({
            "query": format!("{query:?}"),
            "spent": v["customer_value"]["total_spent"],
            "statistics": v["statistics"],
            "member": v["member_info"],
            "orders": orders,
        }));
    }
    (dump_without_sequence_numbers(&env).await, answers)
}

/// The acceptance scenario with a crash injected mid-merge: before the transaction is sent,
/// and after it committed with its response lost. Redelivery ends in exactly the state of
/// the run without a crash, item for item, with every order counted once.
#[tokio::test]
async fn a_crash_mid_merge_then_redelivery_ends_exactly_like_no_crash() {
    let (clean_table, clean_answers) = link_with_crash(None).await;
    for phase in [Phase::BeforeSend, Phase::ResponseLost] {
        let (table, answers) = link_with_crash(Some(phase)).await;
        assert_eq!(answers, clean_answers, "{phase:?}");
        assert_eq!(table, clean_table, "{phase:?}: the table item for item");
    }
}
