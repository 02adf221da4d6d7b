//! The read API end to end: source items written to the emulator's source tables, projected
//! through the streams by the real ingest handlers, read through the real HTTP handler.
//! Expected figures are computed here from the items written, not by the service's code.

use c360_api::http::Endpoint;
use c360_domain::SourceKind;
use c360_e2e::items::{self, Order};
use c360_e2e::{days_ago, TestEnv};
use serde_json::{json, Value};

type Query<'a> = Vec<(&'a str, &'a str)>;

/// 张三 as in the seed: a 金卡 member with orders (some by phone in other spellings, one by
/// member id), a reservation, a POS payment and an activity.
async fn seed_customer(env: &TestEnv) -> Vec<String> {
    env.put(
        SourceKind::MemberSync,
        items::member(
            "M123456",
            Some("13800138000"),
            Some("ZhangSan@Example.com"),
            "张三",
            "金卡",
            "1500",
            "200.00",
            "s1",
            &days_ago(200),
        ),
    )
    .await;
    let orders = [
        ("o1", Some("13800138000"), None, "completed", "280.00", 100),
        ("o2", Some("+86 138-0013-8000"), None, "paid", "120.50", 40),
        ("o3", None, Some("M123456"), "completed", "99.50", 3),
        ("o4", Some("86-13800138000"), None, "cancelled", "300.00", 2),
    ];
    let mut times = Vec::new();
    for (id, phone, member, status, total, ago) in orders {
        let at = days_ago(ago);
        times.push(at.clone());
        env.put(
            SourceKind::Orders,
            items::order(&Order {
                id,
                phone,
                member,
                status,
                total,
                at: &at,
                name: Some("张三"),
                ..Order::default()
            }),
        )
        .await;
    }
    env.put(
        SourceKind::Reservations,
        items::reservation("r1", "s1", "13800138000", "4", &days_ago(10), "completed"),
    )
    .await;
    env.put(
        SourceKind::PosTransactions,
        items::pos(
            "p1",
            "s1",
            "+86 138 0013 8000",
            "280.00",
            &days_ago(100),
            "success",
        ),
    )
    .await;
    env.put(
        SourceKind::Activity,
        items::activity("a1", Some("s1"), "M123456", "login", &days_ago(1)),
    )
    .await;
    env.sync().await;
    times
}

#[tokio::test]
async fn profile_has_every_field_of_the_seed_for_every_identifier_spelling() {
    let env = TestEnv::new().await;
    seed_customer(&env).await;

    let by_phone = env
        .ok(Endpoint::Profile, &[("customer_identifier", "13800138000")])
        .await;
    // Counted orders: o1, o2, o3 (o4 is cancelled): 280.00 + 120.50 + 99.50.
    let value = &by_phone["customer_value"];
    assert_eq!(value["total_spent"], json!(500.0));
    assert_eq!(value["total_orders"], json!(3));
    assert_eq!(value["avg_order_value"], json!(166.67));
    assert_eq!(value["customer_lifetime_days"], json!(100));
    // 3 orders over max(100, 30) days, per 30 days.
    assert_eq!(value["order_frequency_per_month"], json!(0.9));
    let score = value["rfm_score"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&score));
    assert!(["VIP", "高价值", "中价值", "低价值", "流失风险"]
        .contains(&value["customer_tier"].as_str().unwrap()));

    let member = &by_phone["member_info"];
    assert_eq!(member["member_id"], json!("M123456"));
    assert_eq!(member["name"], json!("张三"));
    assert_eq!(member["phone"], json!("13800138000"));
    assert_eq!(member["level"], json!("金卡"));
    assert_eq!(member["points"], json!(1500));
    assert_eq!(member["balance"], json!(200.0));

    let tags: Vec<&str> = by_phone["customer_tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(&tags[..2], ["会员", "会员等级:金卡"]);
    assert!(tags.contains(&value["customer_tier"].as_str().unwrap()));
    assert_eq!(
        *tags.last().unwrap(),
        "活跃用户",
        "last activity was yesterday: {tags:?}"
    );

    assert_eq!(
        by_phone["statistics"],
        json!({"total_orders": 4, "total_reservations": 1, "total_pos_transactions": 1, "total_activities": 1})
    );

    let timeline = by_phone["timeline"].as_array().unwrap();
    assert_eq!(
        timeline.len(),
        8,
        "member, 4 orders, reservation, pos, activity"
    );
    let times: Vec<&str> = timeline
        .iter()
        .map(|e| e["event_time"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");
    assert_eq!(timeline[0]["event_type"], json!("activity"));
    let o1 = timeline
        .iter()
        .find(|e| e["title"] == json!("订单 ORD-o1"))
        .expect("order o1 in the timeline");
    assert_eq!(o1["description"], json!("堂食 - ¥280.00"));
    assert_eq!(o1["status"], json!("completed"));
    assert!(o1["event_time"].as_str().unwrap().ends_with("+08:00"));
    for field in ["event_type", "event_time", "title", "description", "status"] {
        assert!(timeline.iter().all(|e| e.get(field).is_some()), "{field}");
    }
    let recent: Vec<&str> = by_phone["recent_orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order_id"].as_str().unwrap())
        .collect();
    assert_eq!(recent, ["o4", "o3", "o2", "o1"]);
    assert_eq!(
        by_phone["recent_reservations"][0]["reservation_id"],
        json!("r1")
    );
    assert!(by_phone["generated_at"]
        .as_str()
        .unwrap()
        .ends_with("+08:00"));

    let strip = |mut v: Value| {
        // What names the identifier asked with (the ref seals it) differs; nothing else may.
        for k in [
            "customer_identifier",
            "identifier_type",
            "customer_ref",
            "generated_at",
        ] {
            v.as_object_mut().unwrap().remove(k);
        }
        v
    };
    for query in [
        vec![
            ("customer_identifier", "M123456"),
            ("identifier_type", "member_id"),
        ],
        vec![("customer_identifier", "+86 138-0013-8000")],
        vec![
            ("customer_identifier", "zhangsan@EXAMPLE.com"),
            ("identifier_type", "email"),
        ],
    ] {
        let other = env.ok(Endpoint::Profile, &query).await;
        assert_eq!(strip(other), strip(by_phone.clone()), "{query:?}");
    }
}

/// A read costs a fixed few requests: round trip 1 reads the node item with its own stats (and,
/// for the profile, its recent lists) in one BatchGetItem; a guest known by one identifier then
/// needs at most its own timeline (one Query). 张三 (member id, phone, email; records under
/// two of them) reads the other identifiers' items in one BatchGetItem beside one Query of the
/// customer-keyed index. Counted against the emulator, where answers take time, so requests
/// sent together share a round.
#[tokio::test]
async fn a_read_costs_at_most_three_requests_in_two_round_trips() {
    let env = TestEnv::new().await;
    seed_customer(&env).await;
    env.put(
        SourceKind::Orders,
        items::order(&Order {
            id: "guest-1",
            phone: Some("13500000005"),
            at: &days_ago(5),
            ..Order::default()
        }),
    )
    .await;
    env.sync().await;
    let cases: [(&str, Endpoint, u64, u64); 6] = [
        // The node with its stats and lists, then its own timeline.
        ("13500000005", Endpoint::Profile, 2, 2),
        ("13500000005", Endpoint::Value, 1, 1),
        // The node item first: whether the customer has other identifiers decides where its
        // timeline is read (its own partition, or the customer-keyed index).
        ("13500000005", Endpoint::Timeline, 2, 2),
        // BatchGetItem, then BatchGetItem + one Query of the customer-keyed index.
        ("13800138000", Endpoint::Profile, 2, 3),
        ("13800138000", Endpoint::Value, 2, 2),
        // BatchGetItem, then BatchGetItem + one Query of the customer-keyed index.
        ("13800138000", Endpoint::Timeline, 2, 3),
    ];
    for (phone, endpoint, rounds, requests) in cases {
        env.counter.reset();
        env.ok(endpoint, &[("customer_identifier", phone)]).await;
        let seen = env.counter.snapshot();
        assert_eq!(
            (env.counter.rounds(), env.counter.total()),
            (rounds, requests),
            "{phone} {endpoint:?}: {seen:?}"
        );
        assert!(!seen.contains_key("GetItem"), "{seen:?}");
    }
}

#[tokio::test]
async fn a_new_order_shows_and_a_refund_takes_its_spend_out() {
    let env = TestEnv::new().await;
    seed_customer(&env).await;
    let phone = [("customer_identifier", "13800138000")];
    let before = env.ok(Endpoint::Value, &phone).await;
    assert_eq!(before["customer_value"]["total_spent"], json!(500.0));

    let at = days_ago(0);
    let new_order = |status| {
        items::order(&Order {
            id: "o-new",
            phone: Some("13800138000"),
            status,
            total: "188.00",
            at: &at,
            ..Order::default()
        })
    };
    env.put(SourceKind::Orders, new_order("paid")).await;
    env.sync().await;
    let value = env.ok(Endpoint::Value, &phone).await;
    assert_eq!(value["customer_value"]["total_spent"], json!(688.0));
    assert_eq!(value["customer_value"]["total_orders"], json!(4));
    assert_eq!(value["statistics"]["total_orders"], json!(5));
    let profile = env.ok(Endpoint::Profile, &phone).await;
    assert_eq!(profile["recent_orders"][0]["order_id"], json!("o-new"));
    let timeline = env.ok(Endpoint::Timeline, &phone).await;
    assert_eq!(timeline["timeline"][0]["data"]["order_id"], json!("o-new"));
    assert_eq!(timeline["timeline"][0]["data"]["total"], json!(188.0));
    assert_eq!(timeline["total_events"], json!(9));

    env.put(SourceKind::Orders, new_order("refunded")).await;
    env.sync().await;
    let value = env.ok(Endpoint::Value, &phone).await;
    assert_eq!(
        value["customer_value"]["total_spent"],
        json!(500.0),
        "the refund takes the spend out"
    );
    assert_eq!(value["customer_value"]["total_orders"], json!(3));
    assert_eq!(
        value["statistics"]["total_orders"],
        json!(5),
        "the order record is still there"
    );
    let timeline = env.ok(Endpoint::Timeline, &phone).await;
    assert_eq!(timeline["timeline"][0]["status"], json!("refunded"));

    env.delete(SourceKind::Orders, "o-new").await;
    env.sync().await;
    let value = env.ok(Endpoint::Value, &phone).await;
    assert_eq!(
        value["statistics"]["total_orders"],
        json!(4),
        "a deleted order leaves the profile"
    );
}

#[tokio::test]
async fn a_store_scoped_read_sees_that_stores_records_alone() {
    let env = TestEnv::new().await.with_segments();
    let p = Some("13900000001");
    env.put(
        SourceKind::Orders,
        items::order(&Order {
            id: "a",
            store: "s1",
            phone: p,
            total: "100.00",
            at: &days_ago(5),
            ..Order::default()
        }),
    )
    .await;
    env.put(
        SourceKind::Orders,
        items::order(&Order {
            id: "b",
            store: "s1",
            phone: p,
            total: "50.00",
            at: &days_ago(4),
            ..Order::default()
        }),
    )
    .await;
    env.put(
        SourceKind::Orders,
        items::order(&Order {
            id: "c",
            store: "s2",
            phone: p,
            total: "999.00",
            at: &days_ago(3),
            ..Order::default()
        }),
    )
    .await;
    env.sync().await;
    let id = ("customer_identifier", "13900000001");

    let s1 = env.ok(Endpoint::Profile, &[id, ("store_id", "s1")]).await;
    assert_eq!(s1["customer_value"]["total_spent"], json!(150.0));
    assert_eq!(s1["statistics"]["total_orders"], json!(2));
    let ids: Vec<&str> = s1["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["订单 ORD-b", "订单 ORD-a"]);
    let s2 = env.ok(Endpoint::Value, &[id, ("store_id", "s2")]).await;
    assert_eq!(s2["customer_value"]["total_spent"], json!(999.0));
    let all = env.ok(Endpoint::Value, &[id]).await;
    assert_eq!(all["customer_value"]["total_spent"], json!(1149.0));

    let (status, body) = env.get(Endpoint::Profile, &[id, ("store_id", "s3")]).await;
    assert_eq!(status, 404, "never visited s3: {body}");
    assert_eq!(body["error"]["code"], json!("CUSTOMER_NOT_FOUND"));
    let hits = env
        .ok(Endpoint::Search, &[("query", "0001"), ("store_id", "s3")])
        .await;
    assert_eq!(hits["results"], json!([]));
}

#[tokio::test]
async fn bad_parameters_are_400_naming_the_parameter_and_unknown_customers_404() {
    let env = TestEnv::new().await.with_segments();
    seed_customer(&env).await;
    let cases: Vec<(Endpoint, Query, &str)> = vec![
        (Endpoint::Profile, vec![], "customer_identifier"),
        (
            Endpoint::Profile,
            vec![
                ("customer_identifier", "13800138000"),
                ("identifier_type", "foo"),
            ],
            "identifier_type",
        ),
        (
            Endpoint::Timeline,
            vec![("customer_identifier", "13800138000"), ("limit", "0")],
            "limit",
        ),
        (
            Endpoint::Timeline,
            vec![("customer_identifier", "13800138000"), ("limit", "201")],
            "limit",
        ),
        (
            Endpoint::Timeline,
            vec![("customer_identifier", "13800138000"), ("limit", "ten")],
            "limit",
        ),
        (
            Endpoint::Timeline,
            vec![
                ("customer_identifier", "13800138000"),
                ("cursor", "nonsense"),
            ],
            "cursor",
        ),
        (
            Endpoint::Value,
            vec![("customer_identifier", "12345")],
            "customer_identifier",
        ),
        (
            Endpoint::Value,
            vec![("customer_identifier", "13800138000"), ("store_id", "a#b")],
            "store_id",
        ),
        (
            Endpoint::Value,
            vec![("customer_identifier", "13800138000"), ("colour", "red")],
            "colour",
        ),
        (Endpoint::Search, vec![], "query"),
        (
            Endpoint::Search,
            vec![("query", "张"), ("limit", "201")],
            "limit",
        ),
        (
            Endpoint::Search,
            vec![("query", "张"), ("limit", "0")],
            "limit",
        ),
    ];
    for (endpoint, query, param) in cases {
        let (status, body) = env.get(endpoint, &query).await;
        assert_eq!(status, 400, "{endpoint:?} {query:?}: {body}");
        assert_eq!(body["success"], json!(false));
        assert_eq!(body["error"]["code"], json!("INVALID_PARAMETER"));
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&format!("`{param}`")),
            "{body}"
        );
    }
    for (endpoint, query) in [
        (
            Endpoint::Profile,
            vec![("customer_identifier", "13900000000")],
        ),
        (
            Endpoint::Timeline,
            vec![
                ("customer_identifier", "M000"),
                ("identifier_type", "member_id"),
            ],
        ),
        (
            Endpoint::Value,
            vec![
                ("customer_identifier", "nobody@example.com"),
                ("identifier_type", "email"),
            ],
        ),
    ] {
        let (status, body) = env.get(endpoint, &query).await;
        assert_eq!(status, 404, "{body}");
        assert_eq!(body["error"]["code"], json!("CUSTOMER_NOT_FOUND"));
        assert!(
            !body.to_string().contains("13900000000"),
            "no identifier echoed in errors"
        );
    }
}

#[tokio::test]
async fn the_timeline_pages_back_with_a_cursor() {
    let env = TestEnv::new().await;
    // Orders under the phone and under the member id: two nodes of one customer.
    env.put(
        SourceKind::MemberSync,
        items::member(
            "M7",
            Some("13700000007"),
            None,
            "李四",
            "银卡",
            "10",
            "0",
            "s1",
            &days_ago(60),
        ),
    )
    .await;
    for i in 0..6 {
        let (phone, member) = if i % 2 == 0 {
            (Some("13700000007"), None)
        } else {
            (None, Some("M7"))
        };
        env.put(
            SourceKind::Orders,
            items::order(&Order {
                id: &format!("o{i}"),
                phone,
                member,
                at: &days_ago(50 - i),
                ..Order::default()
            }),
        )
        .await;
    }
    // Another customer with a history as long, whose timeline a cursor must not open.
    for i in 0..6 {
        env.put(
            SourceKind::Orders,
            items::order(&Order {
                id: &format!("other{i}"),
                phone: Some("13700000008"),
                at: &days_ago(50 - i),
                ..Order::default()
            }),
        )
        .await;
    }
    env.sync().await;
    let id = ("customer_identifier", "13700000007");
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut query = vec![id, ("limit", "3")];
        if let Some(c) = &cursor {
            query.push(("cursor", c.as_str()));
        }
        let page = env.ok(Endpoint::Timeline, &query).await;
        assert_eq!(page["total_events"], json!(7));
        pages += 1;
        for e in page["timeline"].as_array().unwrap() {
            seen.push(e["event_time"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(pages < 5, "the cursor must make progress");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 7, "every entry exactly once: {seen:?}");
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted);
    // A cursor from the all-stores timeline is refused by a store-scoped one.
    let first = env.ok(Endpoint::Timeline, &[id, ("limit", "3")]).await;
    let (status, _) = env
        .get(
            Endpoint::Timeline,
            &[
                id,
                ("store_id", "s1"),
                ("cursor", first["next_cursor"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(status, 400);
    // Field report: a cursor from one customer's pages paged another customer from that point.
    // It is sealed for the identifier it was made for: another customer's is a clear 400.
    let (status, body) = env
        .get(
            Endpoint::Timeline,
            &[
                ("customer_identifier", "13700000008"),
                ("cursor", first["next_cursor"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "INVALID_PARAMETER", "{body}");
}

#[tokio::test]
async fn search_finds_by_phone_tail_member_id_and_name_prefix_within_the_scope() {
    let env = TestEnv::new().await.with_segments();
    seed_customer(&env).await;
    env.put(
        SourceKind::Orders,
        items::order(&Order {
            id: "x1",
            store: "s2",
            phone: Some("13911118000"),
            name: Some("张伟"),
            ..Order::default()
        }),
    )
    .await;
    env.put(
        SourceKind::Orders,
        items::order(&Order {
            id: "x2",
            store: "s2",
            phone: Some("13922220000"),
            name: Some("王芳"),
            ..Order::default()
        }),
    )
    .await;
    env.sync().await;
    let phones = |v: &Value| -> Vec<String> {
        let mut p: Vec<String> = v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["phone"].as_str().unwrap().to_string())
            .collect();
        p.sort();
        p
    };
    assert_eq!(
        phones(&env.ok(Endpoint::Search, &[("query", "13800138000")]).await),
        ["13800138000"]
    );
    assert_eq!(
        phones(&env.ok(Endpoint::Search, &[("query", "8000")]).await),
        ["13800138000", "13911118000"]
    );
    assert_eq!(
        phones(&env.ok(Endpoint::Search, &[("query", "M123456")]).await),
        ["13800138000"]
    );
    assert_eq!(
        phones(&env.ok(Endpoint::Search, &[("query", "张")]).await),
        ["13800138000", "13911118000"]
    );
    assert_eq!(
        phones(&env.ok(Endpoint::Search, &[("query", "张三")]).await),
        ["13800138000"]
    );
    assert_eq!(
        phones(
            &env.ok(Endpoint::Search, &[("query", "张"), ("store_id", "s2")])
                .await
        ),
        ["13911118000"]
    );
    assert_eq!(
        phones(
            &env.ok(Endpoint::Search, &[("query", "张"), ("limit", "1")])
                .await
        )
        .len(),
        1
    );
    let hit = env.ok(Endpoint::Search, &[("query", "M123456")]).await;
    assert_eq!(hit["results"][0]["name"], json!("张三"));
    assert_eq!(hit["results"][0]["member_id"], json!("M123456"));
    assert_eq!(
        hit["results"][0]["customer_identifier"],
        json!("13800138000")
    );
}
