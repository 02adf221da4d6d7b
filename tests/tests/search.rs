//! Search end to end (issue 11, items 4 and 5): source items written to the emulator's source
//! tables, projected through the streams by the real ingest handlers, searched through the
//! real HTTP handler with the tokens of each role. Every search is scoped (a staff member of
//! another store finds nobody) and masked (staff see `199****0005`, never the number).

use aws_sdk_dynamodb::types::AttributeValue;
use c360_api::http::Endpoint;
use c360_domain::access::Role;
use c360_domain::SourceKind;
use c360_e2e::items::{self, Order};
use c360_e2e::redis_server::RedisServer;
use c360_e2e::{stream_event, token, TestEnv};
use c360_runtime::cache::{Cache, CacheConfig};
use serde_json::{json, Value};
use std::time::Duration;

const AT: &str = "2026-11-01T12:00:00+08:00";

/// The hits of a search as `caller` (a role and its store), with `store_id` when given.
async fn search(
    env: &TestEnv,
    caller: (Role, Option<&str>),
    query: &str,
    store: Option<&str>,
) -> Vec<Value> {
    let mut params = vec![("query", query)];
    if let Some(s) = store {
        params.push(("store_id", s));
    }
    let tok = token(caller.0, caller.1);
    let (status, body) = env.get_as(Some(&tok), Endpoint::Search, &params).await;
    assert_eq!(status, 200, "search {query} as {caller:?}: {body}");
    body["data"]["results"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

const ALL: (Role, Option<&str>) = (Role::SuperAdmin, None);
const STAFF_S1: (Role, Option<&str>) = (Role::Staff, Some("s1"));
const STAFF_S2: (Role, Option<&str>) = (Role::Staff, Some("s2"));

async fn order(
    env: &TestEnv,
    id: &str,
    store: &str,
    phone: Option<&str>,
    member: Option<&str>,
    name: Option<&str>,
) {
    env.put(
        SourceKind::Orders,
        items::order(&Order {
            id,
            store,
            phone,
            member,
            name,
            at: AT,
            ..Order::default()
        }),
    )
    .await;
}

#[tokio::test]
async fn pinyin_initials_find_a_name_reading_surnames_as_surnames() {
    let env = TestEnv::new().await.with_segments();
    let customers = [
        ("o1", "13800138000", "张三", "zs"),
        ("o2", "13800138001", "曾小明", "zxm"),
        ("o3", "13800138002", "单雨", "sy"),
        ("o4", "13800138003", "解东", "xd"),
        ("o5", "13800138004", "欧阳文", "oyw"),
    ];
    for (id, phone, name, _) in customers {
        order(&env, id, "s1", Some(phone), None, Some(name)).await;
    }
    env.sync().await;

    for (_, phone, name, initials) in customers {
        let hits = search(&env, ALL, initials, None).await;
        assert_eq!(hits.len(), 1, "{initials}: {hits:?}");
        assert_eq!(hits[0]["name"], json!(name), "{initials}");
        assert_eq!(hits[0]["phone"], json!(phone), "{initials}");
        assert_eq!(
            hits[0]["matched_by"],
            json!("pinyin_initials"),
            "{initials}"
        );
    }
    // The index Queries, then one BatchGetItem of the hits' rows: two stages, one item each.
    env.counter.reset();
    assert_eq!(search(&env, ALL, "zs", None).await.len(), 1);
    let seen = env.counter.snapshot();
    assert_eq!(
        (
            env.counter.rounds(),
            seen.get("BatchGetItem"),
            env.counter.batch_keys()
        ),
        (2, Some(&1), 1),
        "{seen:?}"
    );
    // Search has no pages: an answer cut at `limit` says so (field report: `limit=2` answered
    // `total: 2` while 17 customers matched, and nothing told the app there were more).
    let admin = token(Role::SuperAdmin, None);
    for (limit, count, more) in [("1", 1, true), ("2", 2, false), ("5", 2, false)] {
        let (status, body) = env
            .get_as(
                Some(&admin),
                Endpoint::Search,
                &[("query", "z"), ("limit", limit)],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let data = &body["data"];
        assert_eq!(
            data["results"].as_array().map(Vec::len),
            Some(count),
            "{data}"
        );
        assert_eq!(data["has_more"], json!(more), "limit {limit}: {data}");
    }
    // Upper case is the same query; 曾 read as céng (cxm) is not how the surname is said.
    assert_eq!(search(&env, ALL, "ZS", None).await.len(), 1);
    assert!(search(&env, ALL, "cxm", None).await.is_empty());
    // The start of the initials finds the name too (typing as you go).
    assert_eq!(
        search(&env, ALL, "zx", None).await[0]["name"],
        json!("曾小明")
    );

    // The store of the orders, as its staff: found, masked.
    let hits = search(&env, STAFF_S1, "zs", None).await;
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["phone"], json!("138****8000"));
    assert_eq!(hits[0]["name"], json!("张*"));
    assert_eq!(hits[0]["matched_by"], json!("pinyin_initials"));
    // Another store: nobody, whether its staff ask or a super_admin asks for that store.
    assert!(search(&env, STAFF_S2, "zs", None).await.is_empty());
    assert!(search(&env, ALL, "zs", Some("s2")).await.is_empty());

    // 尾号: digits are a phone's tail or a member id, not a name: two index Queries.
    env.counter.reset();
    let hits = search(&env, ALL, "8000", None).await;
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["matched_by"], json!("phone_last4"), "{hits:?}");
    assert_eq!(env.counter.snapshot().get("Query"), Some(&2));
}

/// A member whose phone and email only the member record carries: its orders, in a store
/// other than the member's own, carry the member id alone.
async fn member_known_by_id_only(env: &TestEnv) {
    order(env, "m1", "s1", None, Some("M500005"), None).await;
    order(env, "m2", "s1", None, Some("M500005"), None).await;
    env.sync().await;
    // The member record arrives after the orders: linking re-writes what the orders indexed.
    env.put(
        SourceKind::MemberSync,
        items::member(
            "M500005",
            Some("19911110005"),
            Some("wu.wu@example.com"),
            "吴五",
            "银卡",
            "100",
            "0.00",
            "s3",
            AT,
        ),
    )
    .await;
    env.sync().await;
}

#[tokio::test]
async fn a_members_phone_and_email_find_it_wherever_its_orders_are() {
    let env = TestEnv::new().await.with_segments();
    member_known_by_id_only(&env).await;

    for q in ["19911110005", "0005", "M500005", "wu.wu@example.com"] {
        for (caller, store) in [(ALL, None), (ALL, Some("s1")), (STAFF_S1, None)] {
            let hits = search(&env, caller, q, store).await;
            assert_eq!(hits.len(), 1, "{q} as {caller:?} in {store:?}: {hits:?}");
            assert_eq!(hits[0]["member_id"], json!("M500005"), "{q}");
            assert_eq!(hits[0]["total_orders"], json!(2), "{q}: the orders of s1");
        }
        // The member's own store sees the member record: found there too.
        assert_eq!(search(&env, ALL, q, Some("s3")).await.len(), 1, "{q} in s3");
        // A store the customer never visited: nobody.
        assert!(
            search(&env, STAFF_S2, q, None).await.is_empty(),
            "{q} as staff of s2"
        );
        assert!(
            search(&env, ALL, q, Some("s2")).await.is_empty(),
            "{q} in s2"
        );
    }
    let by = |q: &'static str| {
        let env = &env;
        async move { search(env, ALL, q, Some("s1")).await[0]["matched_by"].clone() }
    };
    assert_eq!(by("19911110005").await, json!("phone"));
    assert_eq!(by("0005").await, json!("phone_last4"));
    assert_eq!(by("wu.wu@example.com").await, json!("email"));

    // Staff see the hit masked.
    let hit = &search(&env, STAFF_S1, "0005", None).await[0];
    assert_eq!(hit["phone"], json!("199****0005"));
    assert_eq!(hit["customer_identifier"], json!("199****0005"));
    assert_ne!(hit["name"], json!("吴五"));
}

#[tokio::test]
async fn a_phone_the_member_record_no_longer_links_stops_finding_the_member() {
    let env = TestEnv::new().await.with_segments();
    member_known_by_id_only(&env).await;
    let mut item = items::member(
        "M500005",
        Some("19922220005"),
        None,
        "吴五",
        "银卡",
        "100",
        "0.00",
        "s3",
        "2026-11-02T12:00:00+08:00",
    );
    item["synced_at"] = json!({ "S": "2026-11-02T12:00:00+08:00" });
    env.put(SourceKind::MemberSync, item).await;
    env.sync().await;

    for q in ["19911110005", "wu.wu@example.com"] {
        assert!(search(&env, ALL, q, None).await.is_empty(), "{q}");
        assert!(search(&env, STAFF_S1, q, None).await.is_empty(), "{q}");
    }
    let hits = search(&env, STAFF_S1, "19922220005", None).await;
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["total_orders"], json!(2));
    // Both numbers end in 0005: the tail still finds the member, once.
    assert_eq!(search(&env, STAFF_S1, "0005", None).await.len(), 1);
}

#[tokio::test]
async fn a_members_id_and_email_find_it_in_the_store_of_its_phone_orders() {
    let env = TestEnv::new().await.with_segments();
    order(&env, "p1", "s2", Some("19911110006"), None, None).await;
    env.put(
        SourceKind::MemberSync,
        items::member(
            "M500006",
            Some("19911110006"),
            Some("liu.liu@example.com"),
            "刘六",
            "银卡",
            "100",
            "0.00",
            "s3",
            AT,
        ),
    )
    .await;
    env.sync().await;
    let staff_s2 = (Role::Staff, Some("s2"));
    for q in ["M500006", "liu.liu@example.com", "19911110006", "0006"] {
        let hits = search(&env, staff_s2, q, None).await;
        assert_eq!(hits.len(), 1, "{q}: {hits:?}");
        assert_eq!(hits[0]["total_orders"], json!(1), "{q}");
        assert!(
            search(&env, STAFF_S1, q, None).await.is_empty(),
            "{q} as staff of s1"
        );
    }
}

#[tokio::test]
async fn a_cached_empty_search_sees_the_member_record_that_links_the_phone() {
    let redis = RedisServer::start().await;
    let cache = || {
        Cache::new(CacheConfig {
            url: Some(redis.url()),
            ttl: Duration::from_secs(3600),
            timeout: Duration::from_millis(250),
            breaker: Duration::from_secs(1),
            // The emulator's reads are strongly consistent.
            settle: Duration::ZERO,
        })
        .expect("a cache")
    };
    let env = TestEnv::new()
        .await
        .with_segments()
        .with_caches(cache(), cache());
    order(&env, "m1", "s1", None, Some("M500005"), None).await;
    env.sync().await;
    // Answered, and cached, before anything links the phone.
    assert!(search(&env, STAFF_S1, "19911110005", None).await.is_empty());
    env.put(
        SourceKind::MemberSync,
        items::member(
            "M500005",
            Some("19911110005"),
            None,
            "吴五",
            "银卡",
            "100",
            "0.00",
            "s3",
            AT,
        ),
    )
    .await;
    env.sync().await;
    // The link re-wrote the tokens of store s1, where the member record is not: that store's
    // cached searches are dropped too.
    let hits = search(&env, STAFF_S1, "19911110005", None).await;
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["phone"], json!("199****0005"));
}

/// A customer known by a phone, a member id and an email, each with orders in the store, among
/// guests of the same surname (the demo's 张三): every hit in two stages, one item read per hit.
#[tokio::test]
async fn a_customer_with_several_identifiers_is_one_hit_read_as_one_item() {
    let env = TestEnv::new().await.with_segments();
    order(&env, "z1", "s1", Some("13800138000"), None, Some("张三")).await;
    order(&env, "z2", "s1", None, Some("M123456"), Some("张三")).await;
    order(&env, "g1", "s1", Some("13800138011"), None, Some("张伟")).await;
    order(&env, "g2", "s1", Some("13800138012"), None, Some("张敏")).await;
    env.put(
        SourceKind::MemberSync,
        items::member(
            "M123456",
            Some("13800138000"),
            Some("zhangsan@example.com"),
            "张三",
            "金卡",
            "100",
            "0.00",
            "s1",
            AT,
        ),
    )
    .await;
    env.sync().await;
    for (caller, store) in [(ALL, None), (ALL, Some("s1")), (STAFF_S1, None)] {
        env.counter.reset();
        let hits = search(&env, caller, "张", store).await;
        assert_eq!(hits.len(), 3, "{caller:?} {store:?}: {hits:?}");
        let zs: Vec<&Value> = hits
            .iter()
            .filter(|h| h["member_id"] == json!("M123456"))
            .collect();
        assert_eq!(zs.len(), 1, "张三 once: {hits:?}");
        assert_eq!(zs[0]["total_orders"], json!(2), "both identifiers' orders");
        assert_eq!(zs[0]["member_level"], json!("金卡"));
        let seen = env.counter.snapshot();
        assert_eq!(
            (
                env.counter.rounds(),
                seen.get("Query"),
                seen.get("BatchGetItem"),
                env.counter.batch_keys()
            ),
            (2, Some(&1), Some(&1), 3),
            "{caller:?} {store:?}: {seen:?}"
        );
    }
    // Cut at the limit: only the hits shown are read.
    env.counter.reset();
    let admin = token(Role::SuperAdmin, None);
    let (status, body) = env
        .get_as(
            Some(&admin),
            Endpoint::Search,
            &[("query", "张"), ("limit", "2")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["results"].as_array().map(Vec::len), Some(2));
    assert_eq!(body["data"]["has_more"], json!(true));
    assert_eq!(env.counter.batch_keys(), 2);
    // Each of its identifiers finds it, once.
    for q in [
        "13800138000",
        "8000",
        "M123456",
        "zhangsan@example.com",
        "zs",
    ] {
        let hits = search(&env, STAFF_S1, q, None).await;
        assert_eq!(hits.len(), 1, "{q}: {hits:?}");
        assert_eq!(hits[0]["total_orders"], json!(2), "{q}");
    }
}

/// A customer whose records carry many names holds more tokens than one transaction takes
/// with its row (here its first row, written by a rescoring after all ten orders, and its
/// rewrite after nine of them went): found by each name, and no longer by those it lost.
#[tokio::test]
async fn a_customer_of_many_names_is_found_by_each_and_forgets_those_it_lost() {
    // The rows come from the rescoring alone, so that one write carries every token.
    let env = TestEnv::in_memory().await;
    let names = [
        "欧阳明月光照耀",
        "司马相如长卿子",
        "诸葛孔明卧龙先",
        "上官婉儿昭容才",
        "慕容复兴燕国梦",
        "东方不败日月神",
        "令狐冲华山剑客",
        "独孤求败剑魔人",
        "皇甫嵩汉末名将",
        "公孙胜入云龙道",
    ];
    let orders: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            items::order(&Order {
                id: &format!("n{i}"),
                store: "s1",
                phone: Some("13900139000"),
                name: Some(name),
                at: AT,
                ..Order::default()
            })
        })
        .collect();
    let mut seq = 0;
    env.ingest_inserts(SourceKind::Orders, &orders, &mut seq)
        .await;
    let now = || c360_domain::Millis(chrono::Utc::now().timestamp_millis());
    env.rescore_at("first", now()).await;
    for name in names {
        let hits = search(&env, STAFF_S1, name, None).await;
        assert_eq!(hits.len(), 1, "{name}: {hits:?}");
        assert_eq!(hits[0]["total_orders"], json!(10), "{name}");
    }
    let removed: Vec<(String, Value)> = (1..10)
        .map(|i| (format!("{}", 10 + i), orders[i].clone()))
        .collect();
    let batch: Vec<(&str, Option<Value>, Option<Value>, &str)> = removed
        .iter()
        .map(|(seq, old)| ("REMOVE", None, Some(old.clone()), seq.as_str()))
        .collect();
    let (failures, _) = env
        .ingest(SourceKind::Orders, stream_event(SourceKind::Orders, &batch))
        .await;
    assert!(failures.is_empty(), "{failures:?}");
    env.rescore_at("second", now()).await;
    for name in &names[1..] {
        assert!(
            search(&env, STAFF_S1, name, None).await.is_empty(),
            "{name}"
        );
    }
    // Its remaining name's prefix 欧阳 is still a token; 公孙 and 司马 are not.
    assert_eq!(
        search(&env, STAFF_S1, "欧阳", None).await[0]["total_orders"],
        json!(1)
    );
    assert!(search(&env, STAFF_S1, "gs", None).await.is_empty());
    // The index items of the names it lost are gone too, not only hidden by the rows.
    let s1 = c360_domain::Scope::Store(c360_domain::StoreId::parse("s1").expect("store"));
    let left = env
        .client
        .query()
        .table_name(&env.config.table)
        .key_condition_expression("pk = :pk AND begins_with(sk, :f)")
        .expression_attribute_values(":pk", AttributeValue::S("N#phone#13900139000".into()))
        .expression_attribute_values(
            ":f",
            AttributeValue::S(c360_dynamodb::keys::find_sk_prefix(&s1)),
        )
        .send()
        .await
        .expect("token items");
    let tokens: Vec<&str> = left
        .items()
        .iter()
        .filter_map(|i| i.get("sk").and_then(|v| v.as_s().ok()))
        .map(String::as_str)
        .collect();
    assert!(tokens.iter().any(|t| t.ends_with("n:欧阳")), "{tokens:?}");
    assert!(
        !tokens
            .iter()
            .any(|t| t.contains("n:公") || t.contains("n:司")),
        "{tokens:?}"
    );
}

/// A token item left behind (a function stopped between a large row's token writes and the
/// row) names a customer whose row does not list it: the search shows nobody for it.
#[tokio::test]
async fn a_token_its_row_does_not_list_finds_nobody() {
    use c360_dynamodb::keys::{find_partition, find_sk, node_pk};
    let env = TestEnv::in_memory().await.with_segments();
    let order = items::order(&Order {
        id: "o1",
        store: "s1",
        phone: Some("13900139001"),
        name: Some("王五"),
        at: AT,
        ..Order::default()
    });
    env.ingest_inserts(SourceKind::Orders, &[order], &mut 0)
        .await;
    let phone = c360_domain::Identifier::parse(c360_domain::IdentifierType::Phone, "13900139001")
        .expect("phone");
    let scope = c360_domain::Scope::AllStores;
    let stray = "n:赵";
    env.client
        .put_item()
        .table_name(&env.config.table)
        .item("pk", AttributeValue::S(node_pk(&phone)))
        .item("sk", AttributeValue::S(find_sk(&scope, stray)))
        .item("sp", AttributeValue::S(find_partition(&scope, stray)))
        .item("ss", AttributeValue::S(phone.key()))
        .send()
        .await
        .expect("stray token");
    assert!(search(&env, ALL, "赵", None).await.is_empty());
    assert_eq!(search(&env, ALL, "王", None).await.len(), 1);
}
