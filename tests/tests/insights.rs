//! Guest insights (`guest_insights` in the profile) after orders, a refund, a REMOVE, kept,
//! cancelled, missed and unfinished reservations and POS payments: every figure worked out by
//! hand below from the records (the oracle), in the all-stores scope and in each store's. Once
//! through the ingest handler on the in-memory DynamoDB, once through the emulator's real
//! streams; and the demo's 张三, whose favourites are recounted from the generated orders.

use c360_api::http::Endpoint;
use c360_devkit::demo::{generate, DemoConfig};
use c360_domain::SourceKind;
use c360_e2e::{items, stream_event, TestEnv};
use serde_json::{json, Value};
use std::collections::BTreeMap;

const PHONE: &str = "13900001111";

fn order(
    id: &str,
    store: &str,
    order_type: &str,
    status: &str,
    at: &str,
    dishes: &[&str],
) -> Value {
    let mut o = items::order(&items::Order {
        id,
        store,
        phone: Some(PHONE),
        order_type,
        status,
        total: "88.00",
        at,
        ..Default::default()
    });
    let names = BTreeMap::from([
        ("D1", "宫保鸡丁"),
        ("D2", "扬州炒饭"),
        ("D3", "酸梅汤"),
        ("D4", "小笼包"),
    ]);
    o["items"] = json!({"L": dishes.iter().map(|d| json!({"M": {
        "dish_id": {"S": d}, "name": {"S": names[d]}, "quantity": {"N": "1"}, "price": {"N": "28"}
    }})).collect::<Vec<_>>()});
    o
}

fn pos(id: &str, store: &str, method: &str, status: &str) -> Value {
    let mut p = items::pos(
        id,
        store,
        PHONE,
        "88.00",
        "2026-11-01T12:40:00+08:00",
        status,
    );
    p["payment_method"] = json!({"S": method});
    p
}

/// The records, each as the list of versions it goes through (`None`: deleted).
fn history() -> Vec<(SourceKind, &'static str, Vec<Option<Value>>)> {
    use SourceKind::*;
    let o = |id, store, ty, st, at, d: &[&str]| Some(order(id, store, ty, st, at, d));
    let r = |id, store, party, at, st| Some(items::reservation(id, store, PHONE, party, at, st));
    vec![
        (
            Orders,
            "o1",
            vec![o(
                "o1",
                "s1",
                "dine_in",
                "completed",
                "2026-11-01T12:00:00+08:00",
                &["D1", "D2"],
            )],
        ),
        (
            Orders,
            "o2",
            vec![o(
                "o2",
                "s1",
                "delivery",
                "paid",
                "2026-11-05T19:00:00+08:00",
                &["D1", "D3"],
            )],
        ),
        // Counted, then refunded: it held D1's and D3's latest order, which go back to o2's.
        (
            Orders,
            "o3",
            vec![
                o(
                    "o3",
                    "s2",
                    "dine_in",
                    "completed",
                    "2026-11-10T19:30:00+08:00",
                    &["D1", "D3"],
                ),
                o(
                    "o3",
                    "s2",
                    "dine_in",
                    "refunded",
                    "2026-11-10T19:30:00+08:00",
                    &["D1", "D3"],
                ),
            ],
        ),
        // Counted, then deleted from the source (a REMOVE): D4 goes altogether.
        (
            Orders,
            "o4",
            vec![
                o(
                    "o4",
                    "s2",
                    "pickup",
                    "completed",
                    "2026-11-12T08:00:00+08:00",
                    &["D4"],
                ),
                None,
            ],
        ),
        (
            Orders,
            "o5",
            vec![o(
                "o5",
                "s1",
                "dine_in",
                "completed",
                "2026-11-08T12:30:00+08:00",
                &["D2"],
            )],
        ),
        (
            Reservations,
            "r1",
            vec![r("r1", "s1", "4", "2026-11-01T12:00:00+08:00", "completed")],
        ),
        (
            Reservations,
            "r2",
            vec![
                r("r2", "s1", "2", "2026-11-03T18:00:00+08:00", "confirmed"),
                r("r2", "s1", "2", "2026-11-03T18:00:00+08:00", "cancelled"),
            ],
        ),
        (
            Reservations,
            "r3",
            vec![r("r3", "s2", "6", "2026-11-06T18:30:00+08:00", "no_show")],
        ),
        (
            Reservations,
            "r4",
            vec![r("r4", "s1", "4", "2026-12-06T18:30:00+08:00", "confirmed")],
        ),
        (
            PosTransactions,
            "p1",
            vec![Some(pos("p1", "s1", "wechat", "success"))],
        ),
        (
            PosTransactions,
            "p2",
            vec![Some(pos("p2", "s1", "Alipay", "success"))],
        ),
        (
            PosTransactions,
            "p3",
            vec![
                Some(pos("p3", "s2", "cash", "success")),
                Some(pos("p3", "s2", "cash", "refunded")),
            ],
        ),
    ]
}

fn dish(id: &str, name: &str, count: i64, last: &str) -> Value {
    json!({"dish_id": id, "name": name, "count": count, "last_ordered_at": last})
}

/// What the profile must say, worked out from `history` by hand.
fn expected(scope: &str) -> Value {
    match scope {
        // Counted orders: o1 (D1 D2, lunch, s1, dine-in), o2 (D1 D3, dinner, s1, delivery),
        // o5 (D2, lunch, s1, dine-in). D1 and D2 twice; D2's latest is later (o5), so it leads.
        // Finished reservations: r1 kept (lunch, s1), r2 cancelled, r3 no-show; r4 is not
        // finished. Party sizes 4, 2, 6, 4: the lower middle of 2 4 4 6 is 4.
        "A" => json!({
            "favorite_dishes": [
                dish("D2", "扬州炒饭", 2, "2026-11-08T12:30:00+08:00"),
                dish("D1", "宫保鸡丁", 2, "2026-11-05T19:00:00+08:00"),
                dish("D3", "酸梅汤", 1, "2026-11-05T19:00:00+08:00"),
            ],
            "visits": 1, "finished_reservations": 3,
            "no_show_rate": 0.3333, "cancellation_rate": 0.3333, "party_size": 4,
            "preferred_daypart": "lunch", "daypart_counts": {"lunch": 3, "dinner": 1},
            "preferred_order_type": "dine_in", "order_type_shares": {"dine_in": 0.6667, "delivery": 0.3333},
            "payment_method_shares": {"wechat": 0.5, "alipay": 0.5},
            "favorite_store": "s1",
        }),
        // The same orders (all in s1); r1 kept and r2 cancelled; sizes 4, 2, 4.
        "s1" => json!({
            "favorite_dishes": [
                dish("D2", "扬州炒饭", 2, "2026-11-08T12:30:00+08:00"),
                dish("D1", "宫保鸡丁", 2, "2026-11-05T19:00:00+08:00"),
                dish("D3", "酸梅汤", 1, "2026-11-05T19:00:00+08:00"),
            ],
            "visits": 1, "finished_reservations": 2,
            "no_show_rate": 0.0, "cancellation_rate": 0.5, "party_size": 4,
            "preferred_daypart": "lunch", "daypart_counts": {"lunch": 3, "dinner": 1},
            "preferred_order_type": "dine_in", "order_type_shares": {"dine_in": 0.6667, "delivery": 0.3333},
            "payment_method_shares": {"wechat": 0.5, "alipay": 0.5},
            "favorite_store": "s1",
        }),
        // s2: o3 refunded, o4 removed, p3 refunded; only r3, missed.
        _ => json!({
            "favorite_dishes": [],
            "visits": 0, "finished_reservations": 1,
            "no_show_rate": 1.0, "cancellation_rate": 0.0, "party_size": 6,
            "preferred_daypart": null, "daypart_counts": {},
            "preferred_order_type": null, "order_type_shares": {},
            "payment_method_shares": {},
            "favorite_store": null,
        }),
    }
}

async fn check(env: &TestEnv) {
    for scope in ["A", "s1", "s2"] {
        let mut q = vec![("customer_identifier", PHONE)];
        if scope != "A" {
            q.push(("store_id", scope));
        }
        let profile = env.ok(Endpoint::Profile, &q).await;
        assert_eq!(profile["guest_insights"], expected(scope), "in {scope}");
        let tags = profile["customer_tags"].as_array().unwrap();
        // 爽约风险: one no-show in three finished reservations (>= 0.3 over >= 3) brand-wide;
        // s2's single no-show is not enough reservations to call it a habit.
        assert_eq!(
            tags.contains(&json!("爽约风险")),
            scope == "A",
            "{scope}: {tags:?}"
        );
    }
}

#[tokio::test]
async fn insights_follow_refunds_removals_and_reservation_outcomes_in_every_scope() {
    let env = TestEnv::in_memory().await;
    let mut seq = 100;
    for (kind, _, versions) in history() {
        let mut old: Option<Value> = None;
        for v in versions {
            seq += 1;
            let s = seq.to_string();
            let event = match (&old, &v) {
                (None, Some(new)) => stream_event(kind, &[("INSERT", Some(new.clone()), None, &s)]),
                (Some(o), Some(new)) => {
                    stream_event(kind, &[("MODIFY", Some(new.clone()), Some(o.clone()), &s)])
                }
                (Some(o), None) => stream_event(kind, &[("REMOVE", None, Some(o.clone()), &s)]),
                (None, None) => continue,
            };
            let (failures, _) = env.ingest(kind, event).await;
            assert!(failures.is_empty(), "{failures:?}");
            old = v;
        }
    }
    check(&env).await;
}

#[tokio::test]
async fn insights_through_the_emulators_streams_equal_the_hand_count() {
    let env = TestEnv::new().await;
    for (kind, id, versions) in history() {
        for v in versions {
            match v {
                Some(item) => env.put(kind, item).await,
                None => env.delete(kind, id).await,
            }
            // Each version delivered before the next is written, as two edits far apart are.
            env.sync().await;
        }
    }
    check(&env).await;
}

#[tokio::test]
async fn the_demos_zhang_san_shows_the_dishes_she_orders_most() {
    let env = TestEnv::in_memory().await;
    let now = chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap());
    let mut config = DemoConfig::new(7, now);
    config.customers = 40;
    let data = generate(&config);
    env.ingest_demo(&data, &mut 0).await;
    // The oracle: her counted orders in the generated data (by her phone in either spelling,
    // or her member id), each dish once per order.
    let mine = |o: &&std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>| {
        let s = |k: &str| o.get(k).and_then(|v| v.as_s().ok()).cloned();
        let digits: String = s("customer_phone")
            .unwrap_or_default()
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        digits.ends_with("13800138000") || s("member_id").as_deref() == Some("M123456")
    };
    let mut counts: BTreeMap<String, (i64, String)> = BTreeMap::new();
    let mut counted = 0;
    for o in data.orders.iter().filter(mine) {
        let status = o
            .get("status")
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default();
        if !matches!(status.as_str(), "paid" | "completed") {
            continue;
        }
        counted += 1;
        let mut seen = std::collections::BTreeSet::new();
        for line in o
            .get("items")
            .and_then(|v| v.as_l().ok())
            .into_iter()
            .flatten()
        {
            let m = line.as_m().unwrap();
            let id = m["dish_id"].as_s().unwrap().clone();
            if seen.insert(id.clone()) {
                let e = counts
                    .entry(id)
                    .or_insert((0, m["name"].as_s().unwrap().clone()));
                e.0 += 1;
            }
        }
    }
    let profile = env
        .ok(Endpoint::Profile, &[("customer_identifier", "13800138000")])
        .await;
    let favorites = profile["guest_insights"]["favorite_dishes"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(favorites.len(), 5, "{favorites:?}");
    for f in &favorites {
        let (count, name) = &counts[f["dish_id"].as_str().unwrap()];
        assert_eq!(f["count"], json!(count), "{f}");
        assert_eq!(f["name"], json!(name), "{f}");
    }
    let mut best: Vec<i64> = counts.values().map(|c| c.0).collect();
    best.sort_unstable_by(|a, b| b.cmp(a));
    let shown: Vec<i64> = favorites
        .iter()
        .map(|f| f["count"].as_i64().unwrap())
        .collect();
    assert_eq!(shown, best[..5].to_vec());
    // Sensible: a regular's top dish is on most of her orders, and it is a dish, not the rice.
    assert!(shown[0] * 2 >= counted, "{shown:?} of {counted} orders");
    assert_ne!(favorites[0]["name"], json!("米饭"));
    assert_eq!(
        profile["guest_insights"]["favorite_store"],
        json!("store_sh_001")
    );
}
