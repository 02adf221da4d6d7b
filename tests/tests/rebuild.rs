//! Rebuilding the projection from the source tables (`c360_ingest::rebuild`, `c360-dev
//! rebuild`, the `c360-rebuild` Lambda): the state the streams built, wiped and rebuilt from
//! the sources, is the same item for item; running it again changes nothing; an interrupted
//! run resumes from its checkpoints; a scanned record never overrides a stream delivery.
//!
//! Compared item for item, except for what legitimately differs between the two ways of
//! building (`docs/adr/0004-rebuild.md`):
//! - `seq` on record anchors: the stream's sequence number, or `0` for a scanned record;
//! - `ver` on stats and node items: it counts the writes, and a rebuild writes each once;
//! - anchors without a state: tombstones of records deleted from the source, which a scan
//!   cannot see (and which hold nothing shown).

use c360_api::http::Endpoint;
use c360_devkit::demo::{self, DemoConfig};
use c360_domain::SourceKind;
use c360_dynamodb::keys::{self, CHECKPOINT_PK};
use c360_e2e::items::{self, Order};
use c360_e2e::{stream_event, TestEnv};
use c360_ingest::projector::{Outcome, Projector};
use c360_ingest::rebuild::{rebuild, RebuildOptions, RebuildReport};
use serde_json::{json, Value};
use std::collections::HashMap;

fn comparable(dump: &[String]) -> Vec<Value> {
    dump.iter()
        .filter_map(|line| {
            let mut item: Value = serde_json::from_str(line).expect("a dumped item");
            let m = item.as_object_mut()?;
            if m["pk"]["S"] == json!(CHECKPOINT_PK) {
                return None;
            }
            let anchor = m["pk"]["S"].as_str().is_some_and(keys::is_anchor_pk);
            if anchor && !m.contains_key("state") {
                return None;
            }
            m.remove("seq");
            m.remove("ver");
            Some(item)
        })
        .collect()
}

/// Asserts two comparable dumps are equal, naming the items that differ (a whole-table
/// `assert_eq!` prints two walls of JSON).
#[track_caller]
fn assert_same_items(rebuilt: &[Value], streamed: &[Value]) {
    let key = |v: &Value| format!("{} | {}", v["pk"]["S"], v["sk"]["S"]);
    let rebuilt_by_key: HashMap<String, &Value> = rebuilt.iter().map(|v| (key(v), v)).collect();
    let streamed_by_key: HashMap<String, &Value> = streamed.iter().map(|v| (key(v), v)).collect();
    let mut differences = Vec::new();
    for (k, s) in &streamed_by_key {
        match rebuilt_by_key.get(k) {
            None => differences.push(format!("only streamed: {s}")),
            Some(r) if r != s => differences.push(format!("streamed: {s}\n   rebuilt: {r}")),
            Some(_) => {}
        }
    }
    for (k, r) in &rebuilt_by_key {
        if !streamed_by_key.contains_key(k) {
            differences.push(format!("only rebuilt: {r}"));
        }
    }
    differences.sort();
    assert!(
        differences.is_empty() && rebuilt.len() == streamed.len(),
        "{} of {} items differ:\n{}",
        differences.len(),
        streamed.len(),
        differences.join("\n")
    );
}

async fn wipe(env: &TestEnv) {
    for line in env.dump().await {
        let item: Value = serde_json::from_str(&line).expect("item");
        env.client
            .delete_item()
            .table_name(&env.config.table)
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S(
                    item["pk"]["S"].as_str().unwrap().into(),
                ),
            )
            .key(
                "sk",
                aws_sdk_dynamodb::types::AttributeValue::S(
                    item["sk"]["S"].as_str().unwrap().into(),
                ),
            )
            .send()
            .await
            .expect("delete");
    }
    assert!(env.dump().await.is_empty());
}

fn sources(env: &TestEnv) -> Vec<(SourceKind, String)> {
    SourceKind::ALL
        .into_iter()
        .map(|k| (k, env.table(k)))
        .collect()
}

async fn run(env: &TestEnv, options: &RebuildOptions) -> RebuildReport {
    let projector = Projector::new(env.store.clone(), env.config.zone);
    rebuild(&projector, &sources(env), &env.config.zone, options)
        .await
        .expect("rebuild")
}

fn order(
    id: &str,
    phone: Option<&str>,
    member: Option<&str>,
    status: &str,
    total: &str,
    day: u32,
) -> Value {
    items::order(&Order {
        id,
        phone,
        member,
        status,
        total,
        store: if day <= 6 { "s1" } else { "s2" },
        name: Some("王五"),
        at: &format!("2026-05-{day:02}T12:00:00+08:00"),
        ..Order::default()
    })
}

/// A history with everything the projection does: two stores, refunds, a deletion, an
/// identity merge after the fact, reservations, POS, activities, a record with no customer.
async fn history(env: &TestEnv) {
    use SourceKind::*;
    for i in 1..=6u32 {
        env.put(
            Orders,
            order(
                &format!("a{i}"),
                Some("13800000101"),
                None,
                "completed",
                "30.50",
                i,
            ),
        )
        .await;
        env.put(
            Orders,
            order(&format!("b{i}"), None, Some("MB1"), "paid", "12.00", i + 6),
        )
        .await;
    }
    env.put(
        Orders,
        order("a2", Some("13800000101"), None, "refunded", "30.50", 2),
    )
    .await;
    env.put(
        Orders,
        order("a6", Some("13800000101"), None, "cancelled", "30.50", 6),
    )
    .await;
    env.delete(Orders, "a3").await;
    env.put(Orders, order("walk-in", None, None, "completed", "9.00", 9))
        .await;
    env.put(
        Orders,
        order("c1", Some("13800000202"), None, "completed", "99.00", 11),
    )
    .await;
    env.put(
        Reservations,
        items::reservation(
            "r1",
            "s1",
            "13800000101",
            "4",
            "2026-05-20T18:00:00+08:00",
            "arrived",
        ),
    )
    .await;
    env.put(
        PosTransactions,
        items::pos(
            "t1",
            "s2",
            "13800000202",
            "99.00",
            "2026-05-11T12:30:00+08:00",
            "success",
        ),
    )
    .await;
    env.put(
        Activity,
        items::activity(
            "l1",
            Some("s1"),
            "MB1",
            "redeem_points",
            "2026-05-21T10:00:00+08:00",
        ),
    )
    .await;
    env.sync().await;
    // The member record arrives last and merges the phone's history with the member's.
    env.put(
        MemberSync,
        items::member(
            "MB1",
            Some("13800000101"),
            Some("wang@example.com"),
            "王五",
            "金卡",
            "10",
            "5.00",
            "s1",
            "2025-01-01T10:00:00+08:00",
        ),
    )
    .await;
    env.sync().await;
}

#[tokio::test]
async fn a_rebuild_from_the_sources_equals_the_stream_built_state_item_for_item() {
    let env = TestEnv::new().await;
    history(&env).await;
    let streamed = env.dump().await;
    assert!(
        comparable(&streamed).len() > 40,
        "a real history to compare"
    );
    let value = env
        .ok(Endpoint::Value, &[("customer_identifier", "13800000101")])
        .await;
    assert_eq!(
        value["customer_value"]["total_spent"],
        json!(163.5),
        "3 counted a-orders and 6 b-orders"
    );

    // Rebuilt into the live table over the stream-built state: everything is already there.
    let report = run(&env, &RebuildOptions::default()).await;
    assert!(report.complete);
    assert_eq!(
        (report.scanned, report.applied, report.failed),
        (17, 0, 0),
        "{report:?}"
    );
    assert_eq!(
        env.dump().await,
        streamed,
        "nothing changes, not even a version"
    );

    // Wiped, then rebuilt from the sources alone, interrupted after one page per segment.
    wipe(&env).await;
    let options = RebuildOptions {
        page_size: 2,
        max_pages: Some(1),
        ..RebuildOptions::default()
    };
    let first = run(&env, &options).await;
    assert!(!first.complete, "{first:?}");
    assert!(
        env.dump().await.iter().any(|l| l.contains(CHECKPOINT_PK)),
        "checkpoints are kept"
    );
    let mut runs = 1;
    let mut total = first;
    loop {
        let r = run(
            &env,
            &RebuildOptions {
                max_pages: Some(2),
                ..options.clone()
            },
        )
        .await;
        runs += 1;
        total.scanned += r.scanned;
        total.applied += r.applied;
        if r.complete {
            break;
        }
        assert!(runs < 20, "the rebuild makes progress");
    }
    assert_eq!(
        total.scanned, 17,
        "each source item read once across the resumed runs"
    );
    assert!(
        !env.dump().await.iter().any(|l| l.contains(CHECKPOINT_PK)),
        "a finished run leaves no checkpoint"
    );
    assert_same_items(&comparable(&env.dump().await), &comparable(&streamed));
    assert_eq!(
        env.ok(Endpoint::Value, &[("customer_identifier", "13800000101")])
            .await["customer_value"],
        value["customer_value"]
    );

    // Running it again changes nothing.
    let rebuilt = env.dump().await;
    let again = run(&env, &RebuildOptions::default()).await;
    assert_eq!(
        (again.applied, again.unchanged + again.without_customer),
        (0, 17),
        "{again:?}"
    );
    assert_eq!(env.dump().await, rebuilt);

    // The streams keep flowing after a rebuild: a change applies over the scanned state once.
    env.put(
        SourceKind::Orders,
        order("c1", Some("13800000202"), None, "refunded", "99.00", 11),
    )
    .await;
    env.put(
        SourceKind::Orders,
        order("c2", Some("13800000202"), None, "completed", "1.00", 12),
    )
    .await;
    env.sync().await;
    let v = env
        .ok(Endpoint::Value, &[("customer_identifier", "13800000202")])
        .await;
    assert_eq!(v["customer_value"]["total_spent"], json!(1.0));
    assert_eq!(v["statistics"]["total_orders"], json!(2));
}

/// The race with the live stream, decided per record: a scan never replaces what a stream
/// delivery applied, and a stream delivery always replaces what a scan applied.
#[tokio::test]
async fn a_scanned_record_never_overrides_a_stream_delivery() {
    let env = TestEnv::new().await;
    let projector = Projector::new(env.store.clone(), env.config.zone);
    let kind = SourceKind::Orders;
    let v1 = order("o1", Some("13800000303"), None, "completed", "10.00", 1);
    let v2 = order("o1", Some("13800000303"), None, "completed", "25.00", 1);
    let decoded = |v: &Value| {
        let item: serde_dynamo::Item = serde_json::from_value(v.clone()).expect("item");
        c360_ingest::decode::decode(kind, &item, &env.config.zone)
            .expect("decodes")
            .0
    };
    let spent = || async {
        env.ok(Endpoint::Value, &[("customer_identifier", "13800000303")])
            .await["customer_value"]["total_spent"]
            .clone()
    };

    // The stream applied v2; a scan that read v1 earlier arrives late: ignored.
    env.ingest(
        kind,
        stream_event(
            kind,
            &[("MODIFY", Some(v2.clone()), Some(v1.clone()), "200")],
        ),
    )
    .await;
    assert_eq!(
        projector.apply_scanned(&decoded(&v1)).await.expect("apply"),
        Outcome::Stale
    );
    assert_eq!(spent().await, json!(25.0));

    // Elsewhere the scan comes first: v1 scanned, then the stream delivers v1 (no double
    // count), then v2.
    let w1 = order("o2", Some("13800000303"), None, "completed", "1.00", 2);
    let w2 = order("o2", Some("13800000303"), None, "completed", "2.00", 2);
    assert_eq!(
        projector.apply_scanned(&decoded(&w1)).await.expect("apply"),
        Outcome::Applied
    );
    assert_eq!(
        projector.apply_scanned(&decoded(&w1)).await.expect("apply"),
        Outcome::Stale
    );
    assert_eq!(spent().await, json!(26.0));
    let (failures, report) = env
        .ingest(
            kind,
            stream_event(kind, &[("INSERT", Some(w1.clone()), None, "300")]),
        )
        .await;
    assert!(failures.is_empty());
    assert_eq!(report.applied, 0, "the scanned state already holds it");
    assert_eq!(spent().await, json!(26.0));
    env.ingest(
        kind,
        stream_event(kind, &[("MODIFY", Some(w2.clone()), Some(w1), "301")]),
    )
    .await;
    assert_eq!(spent().await, json!(27.0));
    // A scan reading the older version now changes nothing.
    assert_eq!(
        projector.apply_scanned(&decoded(&w2)).await.expect("apply"),
        Outcome::Stale
    );
    assert_eq!(spent().await, json!(27.0));
}

/// The demo dataset (a 20-customer subset: the emulator projects ~50 records a second; the
/// full 500-customer figure is in docs/PERFORMANCE.md) through the streams, then rebuilt.
#[tokio::test]
async fn a_rebuild_of_demo_data_equals_the_stream_built_state() {
    let env = TestEnv::new().await;
    let now = chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap());
    let mut config = DemoConfig::new(11, now);
    config.customers = 20;
    let data = demo::generate(&config);
    let names: HashMap<&str, String> = SourceKind::ALL
        .iter()
        .map(|k| (k.table(), env.table(*k)))
        .collect();
    let written = demo::load(&env.client, &names, &data)
        .await
        .expect("demo data");
    env.sync().await;
    let streamed = env.dump().await;
    assert!(
        comparable(&streamed).len() > written,
        "{written} records projected"
    );
    wipe(&env).await;
    let report = run(&env, &RebuildOptions::default()).await;
    assert!(report.complete);
    assert_eq!(report.scanned as usize, written, "{report:?}");
    assert_eq!((report.undecodable, report.failed), (0, 0));
    assert_same_items(&comparable(&env.dump().await), &comparable(&streamed));
}
