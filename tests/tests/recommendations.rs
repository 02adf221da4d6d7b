//! `GET /recommendations`: dishes from the guest's own orders, the store's pairs and its
//! popular dishes (after the calibration computed the store's statistics), scoped, audited and
//! in a bounded number of DynamoDB requests whatever the history; coupons from configured rules
//! on the demo data.

use c360_api::http::Endpoint;
use c360_api::reads::Reads;
use c360_devkit::demo::{generate, DemoConfig};
use c360_domain::access::Role;
use c360_domain::coupon::CouponConfig;
use c360_domain::{Millis, SourceKind, Zone};
use c360_e2e::{days_ago, items, token, TestEnv};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const GUEST: &str = "13900002222";

fn order(id: &str, store: &str, phone: &str, days: i64, dishes: &[&str]) -> Value {
    let at = days_ago(days);
    let mut o = items::order(&items::Order {
        id,
        store,
        phone: Some(phone),
        total: "60.00",
        at: &at,
        ..Default::default()
    });
    o["items"] = json!({"L": dishes.iter().map(|d| json!({"M": {
        "dish_id": {"S": d}, "name": {"S": format!("菜{d}")}, "quantity": {"N": "1"}, "price": {"N": "20"}
    }})).collect::<Vec<_>>()});
    o
}

/// Store s1: noodles (D1) and dumplings (D2) go together, tea (D3) on its own; store s2 has
/// its own dishes (D8, D9). The guest orders D1 in s1 three times and D9 in s2 once.
async fn world(env: &TestEnv, heavy_orders: usize) {
    let mut orders = Vec::new();
    for c in 0..8 {
        let phone = format!("1370001{c:04}");
        orders.push(order(&format!("a{c}"), "s1", &phone, 3 + c, &["D1", "D2"]));
        orders.push(order(&format!("b{c}"), "s1", &phone, 5 + c, &["D3"]));
    }
    for c in 0..4 {
        let phone = format!("1370002{c:04}");
        orders.push(order(&format!("c{c}"), "s2", &phone, 4 + c, &["D8", "D9"]));
    }
    for (k, days) in [2, 6, 9].into_iter().enumerate() {
        orders.push(order(&format!("g{k}"), "s1", GUEST, days, &["D1"]));
    }
    orders.push(order("g9", "s2", GUEST, 4, &["D9"]));
    // A regular with a long history, for the request counts.
    for k in 0..heavy_orders {
        orders.push(order(
            &format!("h{k}"),
            "s1",
            "13900003333",
            1 + (k as i64 % 300),
            &["D1", "D3"],
        ));
    }
    let mut seq = 0;
    for chunk in orders.chunks(100) {
        env.ingest_inserts(SourceKind::Orders, chunk, &mut seq)
            .await;
    }
    let now = Millis(chrono::Utc::now().timestamp_millis());
    c360_ingest::calibrate::calibrate_in(&env.store, now, &Zone::default())
        .await
        .expect("calibration");
}

fn dishes(body: &Value) -> Vec<(String, String)> {
    body["data"]["recommendations"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|r| {
            (
                r["dish_id"].as_str().unwrap().to_string(),
                r["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn dishes_come_from_the_guests_orders_the_stores_pairs_and_its_popular_dishes_in_scope() {
    let env = TestEnv::new().await;
    world(&env, 0).await;
    let q = |store: Option<&'static str>| {
        let mut q = vec![
            ("customer_identifier", GUEST),
            ("kind", "dishes"),
            ("limit", "5"),
        ];
        q.extend(store.map(|s| ("store_id", s)));
        q
    };
    // All stores: her own dishes first (D1 three times, then D9), then what goes with them
    // (over the 24 baskets, lift at least 1.2, by confidence): D8 with D9 (together 4, D8 in
    // 4, D9 in 5: lift 4·24/(4·5) = 4.8, confidence 4/5) before D2 with D1 (8, 8 and 11: lift
    // 2.18, confidence 8/11), then the popular D3.
    let (status, all) = env.get(Endpoint::Recommendations, &q(None)).await;
    assert_eq!(status, 200, "{all}");
    let got = dishes(&all);
    let want = [
        ("D1", "repeat"),
        ("D9", "repeat"),
        ("D8", "paired_with"),
        ("D2", "paired_with"),
        ("D3", "popular"),
    ];
    assert_eq!(
        got,
        want.map(|(d, r)| (d.to_string(), r.to_string())),
        "{all}"
    );
    let recs = &all["data"]["recommendations"];
    assert_eq!(recs[2]["paired_with"]["dish_id"], json!("D9"));
    assert_eq!(recs[3]["paired_with"]["dish_id"], json!("D1"));
    assert_eq!(recs[0]["name"], json!("菜D1"));
    assert_eq!(recs[2]["score"], json!(0.8));
    assert!(all["data"]["store_statistics_at"].is_string(), "{all}");

    // Store s1's staff: nothing of s2 (neither her D9 nor s2's dishes), the rest the same.
    let staff = token(Role::Staff, Some("s1"));
    let (status, s1) = env
        .get_as(Some(&staff), Endpoint::Recommendations, &q(Some("s1")))
        .await;
    assert_eq!(status, 200, "{s1}");
    let got = dishes(&s1);
    assert_eq!(got[0], ("D1".into(), "repeat".into()));
    assert_eq!(got[1], ("D2".into(), "paired_with".into()));
    let ids: BTreeSet<&str> = got.iter().map(|(d, _)| d.as_str()).collect();
    assert!(ids.is_disjoint(&BTreeSet::from(["D8", "D9"])), "{s1}");
    assert_eq!(
        ids,
        BTreeSet::from(["D1", "D2", "D3"]),
        "s1 serves three dishes: {s1}"
    );
    // ... and s1's staff cannot ask for s2.
    let (status, _) = env
        .get_as(Some(&staff), Endpoint::Recommendations, &q(Some("s2")))
        .await;
    assert_eq!(status, 403);

    // A new guest of s2 (no orders of her own there: the all-stores answer's D1 is s1's) gets
    // s2's popular dishes.
    let (_, s2) = env
        .get(
            Endpoint::Recommendations,
            &[("customer_identifier", "13700020000"), ("store_id", "s2")],
        )
        .await;
    let got = dishes(&s2);
    assert_eq!(got[0].1, "repeat");
    assert!(got.iter().all(|(d, _)| d == "D8" || d == "D9"), "{s2}");

    // Every answer audited, as every read is.
    let audit = env.dump_table(&env.audit_table).await;
    let recorded = audit
        .iter()
        .filter(|r| r.contains("recommendations"))
        .count();
    assert_eq!(recorded, 4, "{audit:?}");

    // Bad input is a 400 naming the parameter.
    let (status, body) = env
        .get(
            Endpoint::Recommendations,
            &[("customer_identifier", GUEST), ("kind", "wine")],
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("kind"),
        "{body}"
    );
    let (status, _) = env
        .get(
            Endpoint::Recommendations,
            &[("customer_identifier", GUEST), ("limit", "51")],
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_dish_the_guest_ordered_after_the_weekly_statistics_is_recommended_at_once() {
    let env = TestEnv::new().await;
    world(&env, 0).await;
    // After the calibration, s1 adds a dish (D7) and the guest orders it, twice.
    let mut seq = 1_000_000;
    let new_dish = [
        order("g10", "s1", GUEST, 1, &["D7"]),
        order("g11", "s1", GUEST, 0, &["D7", "D1"]),
    ];
    env.ingest_inserts(SourceKind::Orders, &new_dish, &mut seq)
        .await;
    let (status, body) = env
        .get(
            Endpoint::Recommendations,
            &[
                ("customer_identifier", GUEST),
                ("store_id", "s1"),
                ("kind", "dishes"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let got = dishes(&body);
    // The store's statistics do not know D7 yet; her orders prove s1 serves it.
    assert!(
        got.contains(&("D7".to_string(), "repeat".to_string())),
        "{body}"
    );
    assert_eq!(got[0].1, "repeat", "{body}");
}

#[tokio::test]
async fn a_recommendation_costs_the_same_few_requests_with_four_orders_or_three_hundred() {
    // In memory: the subject is the request count (the emulator took a minute to ingest the
    // 300 orders; the answers through it are the first test's).
    let env = TestEnv::in_memory().await;
    world(&env, 300).await;
    let mut counts = Vec::new();
    for phone in [GUEST, "13900003333"] {
        for kind in ["dishes", "coupons"] {
            env.counter.reset();
            let (status, body) = env
                .get(
                    Endpoint::Recommendations,
                    &[
                        ("customer_identifier", phone),
                        ("kind", kind),
                        ("store_id", "s1"),
                    ],
                )
                .await;
            assert_eq!(status, 200, "{body}");
            counts.push((phone, kind, env.counter.snapshot()));
        }
    }
    for (phone, kind, c) in &counts {
        // The node with its stats (BatchGetItem), the scope's inputs (GetItem), and for dishes
        // one Query of the newest orders (one identifier here), sent together. The audit
        // record is written alongside, on its own client.
        let want: Vec<(&str, u64)> = match *kind {
            "dishes" => vec![("BatchGetItem", 1), ("GetItem", 1), ("Query", 1)],
            _ => vec![("BatchGetItem", 1), ("GetItem", 1)],
        };
        let got: Vec<(&str, u64)> = c.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(got, want, "{phone} {kind}");
    }
}

#[tokio::test]
async fn a_coupon_rule_for_churn_risk_applies_to_a_churned_demo_customer_and_not_an_active_one() {
    let mut env = TestEnv::in_memory().await;
    let rules = r#"{"defaults": [], "stores": {}}"#;
    let mut config = env.config.clone();
    config.coupons = CouponConfig::parse(rules).expect("rules");
    let store_rules = json!({"defaults": [{
        "id": "win_back",
        "offer": {"title": "回归礼: 满200减50", "kind": "amount_off", "value_yuan": "50", "min_spend_yuan": "200"},
        "priority": 80,
        "filter": {"field": "tags", "op": "contains_any", "value": ["流失风险"]}
    }]});
    config.coupons = CouponConfig::parse(&store_rules.to_string()).expect("rules");
    env.app.reads = Reads::new(env.store.clone(), config);

    let now = chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap());
    let mut demo = DemoConfig::new(11, now);
    demo.customers = 60;
    let data = generate(&demo);
    env.ingest_demo(&data, &mut 0).await;
    let phones: BTreeSet<String> = data
        .orders
        .iter()
        .filter_map(|o| o.get("customer_phone").and_then(|v| v.as_s().ok()).cloned())
        .collect();
    let (mut churned, mut active) = (None, None);
    for phone in &phones {
        let value = env
            .ok(Endpoint::Value, &[("customer_identifier", phone)])
            .await;
        let tags: Vec<&str> = value["customer_tags"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        if tags.contains(&"流失风险") {
            churned.get_or_insert(phone.clone());
        } else if tags.contains(&"活跃用户") {
            active.get_or_insert(phone.clone());
        }
    }
    let (churned, active) = (
        churned.expect("a churned demo customer"),
        active.expect("an active one"),
    );
    let coupons = |phone: String| {
        let env = &env;
        async move {
            let body = env
                .ok(
                    Endpoint::Recommendations,
                    &[("customer_identifier", &phone), ("kind", "coupons")],
                )
                .await;
            body["recommendations"].as_array().unwrap().clone()
        }
    };
    let for_churned = coupons(churned.clone()).await;
    assert_eq!(for_churned.len(), 1, "{churned}: {for_churned:?}");
    assert_eq!(for_churned[0]["rule_id"], json!("win_back"));
    assert_eq!(for_churned[0]["value"], json!(50.0));
    assert!(for_churned[0]["reason"]
        .as_str()
        .unwrap()
        .contains("流失风险"));
    assert_eq!(
        coupons(active.clone()).await,
        Vec::<Value>::new(),
        "{active}"
    );
}
