//! Segments end to end: the seed's two lists against an independent oracle (the profile
//! answers), membership moving with orders, refunds and identity links through the real
//! streams, the rescoring's time-driven exits, isolation, masking, audit and request counts.

use c360_api::http::{Access, App, Endpoint};
use c360_api::reads::Reads;
use c360_devkit::demo::{generate, DemoConfig};
use c360_domain::access::{Masking, MaskingConfig, Role};
use c360_domain::{Identifier, IdentifierType, Millis, SourceKind};
use c360_e2e::items::{member, order, Order};
use c360_e2e::{test_access, token, TestEnv};
use c360_runtime::segments::Budget;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const HIGH_VALUE_ACTIVE: &str = r#"{"and":[{"field":"rfm_score","op":"gte","value":70},{"field":"tags","op":"contains_all","value":["活跃用户"]}]}"#;
const CHURN_RISK: &str = r#"{"field":"tags","op":"contains_all","value":["流失风险"]}"#;

fn now_ms() -> Millis {
    Millis(chrono::Utc::now().timestamp_millis())
}

async fn save(env: &TestEnv, name: &str, filter: &str) -> String {
    let filter: Value = serde_json::from_str(filter).unwrap();
    let def = env
        .segments_ok(
            "POST",
            "",
            &[],
            Some(json!({"name": name, "filter": filter})),
        )
        .await;
    def["segment_id"].as_str().unwrap().to_string()
}

/// A saved segment, materialized at once by a rescoring of the (still empty) table: its
/// members then come from its member items, kept current by the ingest.
async fn saved_before_the_data(env: &TestEnv, name: &str, filter: &str) -> String {
    let id = save(env, name, filter).await;
    // The rescoring materializes definitions older than its start.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let report = env.rescore_at("empty", now_ms()).await;
    assert_eq!(report.materialized, vec![id.clone()]);
    id
}

/// Every member of a segment (or inline filter) in a scope, page by page.
async fn all_pages(env: &TestEnv, path: &str, query: &[(&str, &str)], limit: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    let limit = limit.to_string();
    for _ in 0..10_000 {
        let mut q: Vec<(&str, &str)> = query.to_vec();
        q.push(("limit", &limit));
        if let Some(c) = &cursor {
            q.push(("cursor", c));
        }
        let page = env.segments_ok("GET", path, &q, None).await;
        out.extend(page["members"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
    panic!("pagination does not end");
}

/// The identifiers a demo dataset's customers are known by (phones and member ids),
/// normalized as the service stores them.
fn identifiers(data: &c360_devkit::demo::DemoData) -> BTreeSet<(String, &'static str)> {
    let mut out = BTreeSet::new();
    for (_, items) in data.tables() {
        for item in items {
            for (attr, kind) in [
                ("customer_phone", "phone"),
                ("phone", "phone"),
                ("member_id", "member_id"),
            ] {
                let Some(v) = item.get(attr).and_then(|v| v.as_s().ok()) else {
                    continue;
                };
                let t = IdentifierType::parse(kind).unwrap();
                if let Ok(id) = Identifier::parse(t, v) {
                    out.insert((id.value().to_string(), kind));
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn the_seeds_two_segments_list_count_and_check_exactly_what_the_profiles_say() {
    let env = TestEnv::in_memory().await.with_segments();
    let mut config = DemoConfig::new(
        5,
        chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap()),
    );
    config.customers = 120;
    let data = generate(&config);
    let high = save(&env, "高价值活跃", HIGH_VALUE_ACTIVE).await;
    let churn = save(&env, "流失风险", CHURN_RISK).await;
    env.ingest_demo(&data, &mut 0).await;
    // Saved before the data, the segments are complete after the first rescoring.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let report = env.rescore_at("e2e", now_ms()).await;
    assert!(report.materialized.contains(&high) && report.materialized.contains(&churn));

    let universe = identifiers(&data);
    let mut scopes: Vec<Option<&str>> = vec![None];
    scopes.extend(config.stores.iter().take(2).map(|s| Some(s.as_str())));
    for (segment, is_in) in [
        (
            &high,
            (|p: &Value| {
                p["customer_value"]["rfm_score"].as_f64().unwrap() >= 70.0
                    && p["customer_tags"]
                        .as_array()
                        .unwrap()
                        .contains(&json!("活跃用户"))
            }) as fn(&Value) -> bool,
        ),
        (&churn, |p: &Value| {
            p["customer_tags"]
                .as_array()
                .unwrap()
                .contains(&json!("流失风险"))
        }),
    ] {
        for store in &scopes {
            let mut q: Vec<(&str, &str)> = Vec::new();
            if let Some(s) = store {
                q.push(("store_id", s));
            }
            // The oracle: each identifier's profile in the scope, judged by the seed's rule.
            let mut oracle: BTreeMap<(String, &str), bool> = BTreeMap::new();
            for (id, kind) in &universe {
                let mut pq = q.clone();
                pq.extend([
                    ("customer_identifier", id.as_str()),
                    ("identifier_type", *kind),
                ]);
                let (status, body) = env.get(Endpoint::Profile, &pq).await;
                let member = status == 200 && is_in(&body["data"]);
                assert!(status == 200 || status == 404, "{status} {body}");
                oracle.insert((id.clone(), kind), member);
            }
            let expected: BTreeSet<&(String, &str)> =
                oracle.iter().filter(|(_, m)| **m).map(|(k, _)| k).collect();
            assert!(
                store.is_some() || !expected.is_empty(),
                "the demo has members of {segment}"
            );

            // List, every page (7 a page: many pages).
            let path = format!("/{segment}/members");
            let hits = all_pages(&env, &path, &q, 7).await;
            let mut covered: BTreeSet<(String, &str)> = BTreeSet::new();
            for h in &hits {
                for (field, kind) in [("phone", "phone"), ("member_id", "member_id")] {
                    if let Some(v) = h[field].as_str() {
                        assert!(
                            covered.insert((v.to_string(), kind)),
                            "{v} listed twice in {segment} {store:?}"
                        );
                    }
                }
            }
            let expected_owned: BTreeSet<(String, &str)> =
                expected.iter().map(|(a, b)| (a.clone(), *b)).collect();
            assert_eq!(
                covered, expected_owned,
                "{segment} {store:?}: list vs oracle"
            );

            // Count: exact, and one customer per hit.
            let count = env
                .segments_ok("GET", &format!("/{segment}/count"), &q, None)
                .await;
            assert_eq!(count["count"], json!(hits.len()), "{segment} {store:?}");
            assert_eq!(count["evaluated_from"], json!("members"));

            // Check, 100 at a time, every identifier.
            let asked: Vec<&(String, &str)> = oracle.keys().collect();
            for chunk in asked.chunks(100) {
                let customers: Vec<Value> = chunk
                    .iter()
                    .map(|(id, kind)| json!({"customer_identifier": id, "identifier_type": kind}))
                    .collect();
                let mut body = json!({ "customers": customers });
                if let Some(s) = store {
                    body["store_id"] = json!(s);
                }
                let answer = env
                    .segments_ok("POST", &format!("/{segment}/check"), &[], Some(body))
                    .await;
                for (r, key) in answer["results"].as_array().unwrap().iter().zip(chunk) {
                    assert_eq!(
                        r["in_segment"].as_bool(),
                        Some(oracle[*key]),
                        "{segment} {store:?} {key:?}"
                    );
                }
            }

            // The same filter inline (evaluated live from the roster) agrees.
            let def = env
                .segments_ok("GET", &format!("/{segment}"), &[], None)
                .await;
            let inline = env
                .segments_ok(
                    "POST",
                    "/count",
                    &[],
                    Some(json!({"filter": def["filter"], "store_id": store})),
                )
                .await;
            assert_eq!(inline["count"], json!(hits.len()));
            assert_eq!(inline["evaluated_from"], json!("live"));
        }
    }
    // The query-parameter spelling of the first example.
    let by_query = env
        .segments_ok(
            "GET",
            "/count",
            &[("rfm_score_gte", "70"), ("tag", "活跃用户")],
            None,
        )
        .await;
    let saved = env
        .segments_ok("GET", &format!("/{high}/count"), &[], None)
        .await;
    assert_eq!(by_query["count"], saved["count"]);

    // A cursor pages only the list and scope it came from (field report: one segment's cursor
    // paged another segment, another scope and an inline filter from that point).
    let page = env
        .segments_ok("GET", &format!("/{churn}/members"), &[("limit", "2")], None)
        .await;
    let cursor = page["next_cursor"].as_str().expect("more than 2 members");
    let store = config.stores[0].as_str();
    for (path, q) in [
        (
            format!("/{high}/members"),
            vec![("cursor", cursor), ("limit", "2")],
        ),
        (
            format!("/{churn}/members"),
            vec![("cursor", cursor), ("store_id", store)],
        ),
        (
            "/members".to_string(),
            vec![("cursor", cursor), ("tag", "流失风险")],
        ),
    ] {
        let a = env
            .segments_request(Some(&env.super_admin.clone()), "GET", &path, &q, None)
            .await;
        let status = a.status();
        let body = a.json();
        assert_eq!(status, 400, "{path} {q:?}: {body}");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cursor"));
    }
    let next = env
        .segments_ok(
            "GET",
            &format!("/{churn}/members"),
            &[("limit", "2"), ("cursor", cursor)],
            None,
        )
        .await;
    assert_ne!(next["members"], page["members"], "its own list pages on");
    // Parameters a saved segment's route would ignore are refused.
    for (path, q) in [
        (format!("/{churn}/export"), ("limit", "5")),
        (format!("/{churn}/count"), ("cursor", "x")),
    ] {
        let a = env
            .segments_request(Some(&env.super_admin.clone()), "GET", &path, &[q], None)
            .await;
        assert_eq!(a.status(), 400, "{path} {q:?}");
    }
}

/// Waits (up to 5 s) until the check of `phone` in `segment` answers `want`, syncing the
/// streams meanwhile; returns how long it took.
async fn until_checked(env: &TestEnv, segment: &str, phone: &str, want: bool) -> Duration {
    let started = Instant::now();
    loop {
        env.sync().await;
        let a = env
            .segments_ok(
                "GET",
                &format!("/{segment}/check"),
                &[("customer_identifier", phone)],
                None,
            )
            .await;
        if a["results"][0]["in_segment"] == json!(want) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{phone} still not in_segment={want} after 5 s: {a}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn count(env: &TestEnv, segment: &str) -> Value {
    env.segments_ok("GET", &format!("/{segment}/count"), &[], None)
        .await["count"]
        .clone()
}

#[tokio::test]
async fn orders_refunds_and_a_late_identity_link_move_customers_through_the_streams() {
    let env = TestEnv::new().await.with_segments();
    let big = saved_before_the_data(
        &env,
        "消费满500",
        r#"{"field":"total_spent","op":"gte","value":500}"#,
    )
    .await;

    let at = c360_e2e::days_ago(3);
    let o = |id: &'static str,
             phone: Option<&'static str>,
             member: Option<&'static str>,
             status: &'static str| {
        order(&Order {
            id,
            store: "s1",
            phone,
            member,
            status,
            total: "300.00",
            at: &at,
            ..Order::default()
        })
    };
    env.put(
        SourceKind::Orders,
        o("a1", Some("13900000001"), None, "completed"),
    )
    .await;
    until_checked(&env, &big, "13900000001", false).await;
    assert_eq!(count(&env, &big).await, json!(0));

    // A second order crosses 500 yuan: in, within 5 s.
    env.put(
        SourceKind::Orders,
        o("a2", Some("13900000001"), None, "completed"),
    )
    .await;
    let took = until_checked(&env, &big, "13900000001", true).await;
    assert!(took < Duration::from_secs(5));
    assert_eq!(count(&env, &big).await, json!(1));

    // Refunded: out again.
    env.put(
        SourceKind::Orders,
        o("a2", Some("13900000001"), None, "refunded"),
    )
    .await;
    until_checked(&env, &big, "13900000001", false).await;
    assert_eq!(count(&env, &big).await, json!(0));

    // Two customers of 300 each, then a member record links them: one customer of 600,
    // counted once.
    env.put(
        SourceKind::Orders,
        o("b1", Some("13900000002"), None, "completed"),
    )
    .await;
    env.put(
        SourceKind::Orders,
        o("b2", None, Some("M9002"), "completed"),
    )
    .await;
    env.sync().await;
    assert_eq!(count(&env, &big).await, json!(0));
    env.put(
        SourceKind::MemberSync,
        member(
            "M9002",
            Some("13900000002"),
            None,
            "李四",
            "银卡",
            "10",
            "0",
            "s1",
            &at,
        ),
    )
    .await;
    until_checked(&env, &big, "13900000002", true).await;
    assert_eq!(count(&env, &big).await, json!(1));
    let members = all_pages(&env, &format!("/{big}/members"), &[], 50).await;
    assert_eq!(members.len(), 1, "{members:?}");
    assert_eq!(members[0]["phone"], json!("13900000002"));
    assert_eq!(members[0]["member_id"], json!("M9002"));
    assert_eq!(members[0]["total_spent"].as_f64(), Some(600.0));
    let by_member = env
        .segments_ok(
            "GET",
            &format!("/{big}/check"),
            &[
                ("customer_identifier", "M9002"),
                ("identifier_type", "member_id"),
            ],
            None,
        )
        .await;
    assert_eq!(by_member["results"][0]["in_segment"], json!(true));

    // A redelivery of everything changes nothing.
    let before = env.dump().await;
    let delivered: Vec<_> = env.delivered.lock().unwrap().clone();
    for (kind, event) in delivered {
        env.ingest(kind, event).await;
    }
    assert_eq!(env.dump().await, before);
}

#[tokio::test]
async fn the_rescoring_moves_a_quiet_customer_from_active_to_dormant_and_writes_nothing_else() {
    let env = TestEnv::in_memory().await.with_segments();
    let active = save(
        &env,
        "活跃",
        r#"{"field":"tags","op":"contains_all","value":["活跃用户"]}"#,
    )
    .await;
    let dormant = save(
        &env,
        "沉睡",
        r#"{"field":"tags","op":"contains_all","value":["沉睡用户"]}"#,
    )
    .await;
    let mut seq = 0;
    // Last seen 20 days ago: active now, dormant in 31 days.
    env.order_history("13900000011", "s1", &[40, 20], 100, &mut seq)
        .await;
    // Last seen 200 days ago: lost now and in 31 days.
    env.order_history("13900000012", "s1", &[220, 200], 100, &mut seq)
        .await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let now = now_ms();
    env.rescore_at("day-1", now).await;
    assert_eq!(count(&env, &active).await, json!(1));
    assert_eq!(count(&env, &dormant).await, json!(0));

    let not_checkpoint = |items: Vec<String>| -> BTreeSet<String> {
        items
            .into_iter()
            .filter(|i| !i.contains("RESCORE"))
            .collect()
    };
    let before = not_checkpoint(env.dump().await);
    // Again at the same time: nothing to write.
    let same = env.rescore_at("day-1-again", now).await;
    assert_eq!(same.changed.rows_written, 0);
    assert_eq!(not_checkpoint(env.dump().await), before);

    let later = Millis(now.0 + 31 * 86_400_000);
    let moved = env.rescore_at("day-32", later).await;
    // One customer, in two scopes (all stores and s1): in one, out of the other, in each.
    assert_eq!((moved.changed.entered, moved.changed.left), (2, 2));
    let after = not_checkpoint(env.dump().await);
    let changed: BTreeSet<&String> = before.symmetric_difference(&after).collect();
    // The customer's row (all stores and s1), its two memberships and the two counts, in
    // both scopes; nothing of the other customer.
    assert!(
        changed.iter().all(|i| !i.contains("13900000012")),
        "{changed:#?}"
    );
    assert!(changed.iter().all(|i| i.contains("SEG")), "{changed:#?}");
    let answer = env
        .segments_ok("GET", &format!("/{dormant}/members"), &[], None)
        .await;
    assert_eq!(answer["members"][0]["phone"], json!("13900000011"));
    assert_eq!(count(&env, &active).await, json!(0));
}

#[tokio::test]
async fn staff_see_only_their_store_masked_every_call_is_audited_and_exports_are_admins_only() {
    let env = TestEnv::new().await.with_segments();
    let all = saved_before_the_data(
        &env,
        "有订单",
        r#"{"field":"total_orders","op":"gte","value":1}"#,
    )
    .await;
    let mut seq = 0;
    env.order_history("13900000021", "s1", &[3], 100, &mut seq)
        .await;
    env.order_history("13900000022", "s2", &[3], 100, &mut seq)
        .await;
    let audit_before = env.dump_table(&env.audit_table).await.len();
    let staff1 = token(Role::Staff, Some("s1"));
    let mut calls = 0;

    // Another store is 403 for staff and store admins, in every reading route.
    let admin1 = token(Role::StoreAdmin, Some("s1"));
    for who in [&staff1, &admin1] {
        for (method, path) in [
            ("GET", format!("/{all}/members")),
            ("GET", format!("/{all}/count")),
            ("GET", format!("/{all}/check")),
            ("GET", "/members".to_string()),
            ("GET", "/count".to_string()),
        ] {
            let q = [("store_id", "s2"), ("customer_identifier", "13900000022")];
            let q = if path.ends_with("check") {
                &q[..]
            } else {
                &q[..1]
            };
            let a = env
                .segments_request(Some(who), method, &path, q, None)
                .await;
            calls += 1;
            assert_eq!(a.status(), 403, "{path}");
        }
    }
    // Their own store: only the s1 customer, masked.
    let page = env
        .segments_request(Some(&staff1), "GET", &format!("/{all}/members"), &[], None)
        .await
        .json();
    calls += 1;
    let members = page["data"]["members"].as_array().unwrap();
    assert_eq!(members.len(), 1, "{page}");
    assert_eq!(members[0]["phone"], json!("139****0021"));
    assert!(!page.to_string().contains("13900000022"));
    let counted = env
        .segments_request(Some(&staff1), "GET", &format!("/{all}/count"), &[], None)
        .await
        .json();
    calls += 1;
    assert_eq!(counted["data"]["count"], json!(1));
    // The other store's customer is simply not in the segment for them.
    let checked = env
        .segments_request(
            Some(&staff1),
            "GET",
            &format!("/{all}/check"),
            &[("customer_identifier", "13900000022")],
            None,
        )
        .await
        .json();
    calls += 1;
    assert_eq!(checked["data"]["results"][0]["in_segment"], json!(false));
    // Staff may not export nor define segments.
    for (method, path, body) in [
        ("GET", format!("/{all}/export"), None),
        (
            "POST",
            String::new(),
            Some(json!({"name": "x", "filter": {"and": []}})),
        ),
        ("DELETE", format!("/{all}"), None),
    ] {
        let a = env
            .segments_request(Some(&staff1), method, &path, &[], body)
            .await;
        calls += 1;
        assert_eq!(a.status(), 403, "{method} {path}");
    }
    // A super_admin's export: every store, clear.
    let csv = env
        .segments_request(
            Some(&env.super_admin.clone()),
            "GET",
            &format!("/{all}/export"),
            &[],
            None,
        )
        .await
        .csv();
    calls += 1;
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let phones: BTreeSet<String> = rows.records().map(|r| r.unwrap()[3].to_string()).collect();
    assert_eq!(
        phones,
        BTreeSet::from(["13900000021".to_string(), "13900000022".to_string()])
    );
    // A store admin configured to see masked values exports masked rows of their store.
    let masked_admins = App::new(
        Reads::new(env.store.clone(), env.config.clone()),
        Access {
            masking: MaskingConfig {
                store_admin: Masking::ALL,
                ..MaskingConfig::default()
            },
            ..test_access(c360_api::audit::AuditLog::DynamoDb {
                client: env.client.clone(),
                table: env.audit_table.clone(),
                retention_days: 180,
            })
        },
    );
    let admin2 = token(Role::StoreAdmin, Some("s2"));
    let csv = env
        .segments_request_with(
            &masked_admins,
            Some(&admin2),
            "GET",
            &format!("/{all}/export"),
            &[],
            None,
        )
        .await
        .csv();
    calls += 1;
    assert!(
        csv.contains("139****0022") && !csv.contains("13900000022") && !csv.contains("0021"),
        "{csv}"
    );

    // One audit record per call; the exports name the segment and their row count.
    let records = env.dump_table(&env.audit_table).await;
    assert_eq!(records.len() - audit_before, calls, "{records:#?}");
    let exports: Vec<&String> = records
        .iter()
        .filter(|r| r.contains("segments.export") && r.contains("rows="))
        .collect();
    assert_eq!(exports.len(), 2, "{exports:#?}");
    assert!(exports
        .iter()
        .any(|r| r.contains(&format!("segment={all} rows=2"))));
    assert!(exports
        .iter()
        .any(|r| r.contains(&format!("segment={all} rows=1"))));
}

/// A store admin's segment is their store's: its admins may change or delete it; another
/// store's admins may use it in their own scope but get a 403 for a change; a brand-wide one
/// (a super_admin's, or the demo's) is a super_admin's to change. Field report: an admin of
/// store_bj_001 renamed and deleted store_sh_001's segments.
#[tokio::test]
async fn a_store_admin_changes_only_their_own_stores_segments() {
    let env = TestEnv::in_memory().await.with_segments();
    let admin1 = token(Role::StoreAdmin, Some("s1"));
    let admin2 = token(Role::StoreAdmin, Some("s2"));
    let created = env
        .segments_request(
            Some(&admin1),
            "POST",
            "",
            &[],
            Some(json!({"name": "s1 熟客", "filter": {"field": "total_orders", "op": "gte", "value": 3}})),
        )
        .await;
    assert_eq!(created.status(), 201);
    let def = created.json()["data"].clone();
    assert_eq!(def["owner_store_id"], json!("s1"), "{def}");
    let id = def["segment_id"].as_str().unwrap().to_string();

    let count = env
        .segments_request(Some(&admin2), "GET", &format!("/{id}/count"), &[], None)
        .await;
    assert_eq!(
        count.status(),
        200,
        "another store's admin counts it in their scope"
    );
    for (method, body) in [("PUT", Some(json!({"name": "hijacked"}))), ("DELETE", None)] {
        let refused = env
            .segments_request(Some(&admin2), method, &format!("/{id}"), &[], body)
            .await;
        assert_eq!(refused.status(), 403, "{method}");
        let error = refused.json()["error"].clone();
        assert_eq!(error["code"], json!("FORBIDDEN"), "{error}");
        assert!(error["message"].as_str().unwrap().contains("s1"), "{error}");
    }
    let unchanged = env.segments_ok("GET", &format!("/{id}"), &[], None).await;
    assert_eq!(
        (unchanged["name"].clone(), unchanged["version"].clone()),
        (json!("s1 熟客"), json!(1))
    );
    let renamed = env
        .segments_request(
            Some(&admin1),
            "PUT",
            &format!("/{id}"),
            &[],
            Some(json!({"name": "s1 常客"})),
        )
        .await;
    assert_eq!(renamed.status(), 200, "its own store's admin may");
    // A version that is no number is a 400 naming it, not a 409 (second field report).
    let typo = env
        .segments_request(
            Some(&admin1),
            "PUT",
            &format!("/{id}"),
            &[],
            Some(json!({"name": "v", "version": "x"})),
        )
        .await;
    assert_eq!(typo.status(), 400);
    assert!(typo.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("version"));

    let brand = save(
        &env,
        "全品牌有订单",
        r#"{"field":"total_orders","op":"gte","value":1}"#,
    )
    .await;
    let brand_def = env
        .segments_ok("GET", &format!("/{brand}"), &[], None)
        .await;
    assert_eq!(brand_def["owner_store_id"], Value::Null);
    let refused = env
        .segments_request(Some(&admin1), "DELETE", &format!("/{brand}"), &[], None)
        .await;
    assert_eq!(refused.status(), 403);
    // A super_admin changes any.
    env.segments_ok("DELETE", &format!("/{id}"), &[], None)
        .await;
    env.segments_ok("DELETE", &format!("/{brand}"), &[], None)
        .await;
}

#[tokio::test]
async fn bad_filters_and_routes_are_clear_errors() {
    let env = TestEnv::in_memory().await;
    /// Method, path, query, body, the status, and what its message must name.
    type Case<'a> = (
        &'a str,
        &'a str,
        Vec<(&'a str, &'a str)>,
        Option<Value>,
        u16,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "GET",
            "/members",
            vec![("rfm_scor_gte", "70")],
            None,
            400,
            "rfm_scor_gte",
        ),
        (
            "GET",
            "/count",
            vec![("rfm_score_between", "1")],
            None,
            400,
            "rfm_score_between",
        ),
        (
            "POST",
            "",
            vec![],
            Some(json!({"name": "x", "filter": {"field": "rfm", "op": "gte", "value": 1}})),
            400,
            "rfm",
        ),
        (
            "POST",
            "",
            vec![],
            Some(json!({"name": "x", "filter": {"field": "rfm_score", "op": "above", "value": 1}})),
            400,
            "above",
        ),
        (
            "POST",
            "",
            vec![],
            Some(json!({"filter": {"and": []}})),
            400,
            "name",
        ),
        ("GET", "/seg_nosuch", vec![], None, 404, "seg_nosuch"),
        (
            "GET",
            "/seg_nosuch/members",
            vec![],
            None,
            404,
            "seg_nosuch",
        ),
        ("PATCH", "", vec![], None, 405, "GET or POST"),
        (
            "GET",
            "/members",
            vec![("cursor", "!!")],
            None,
            400,
            "cursor",
        ),
        ("GET", "/members", vec![("limit", "0")], None, 400, "limit"),
        // Field reports: a repeated filter parameter was ANDed; parameters a route ignores
        // were accepted (`export?limit=5` exported everyone).
        (
            "GET",
            "/members",
            vec![("rfm_score_gte", "70"), ("rfm_score_gte", "80")],
            None,
            400,
            "rfm_score_gte",
        ),
        (
            "GET",
            "/count",
            vec![("tag", "流失风险"), ("limit", "3")],
            None,
            400,
            "limit",
        ),
        (
            "GET",
            "/export",
            vec![("tag", "流失风险"), ("cursor", "x")],
            None,
            400,
            "cursor",
        ),
    ];
    let admin = env.super_admin.clone();
    for (method, path, q, body, status, names) in cases {
        let a = env
            .segments_request(Some(&admin), method, path, &q, body)
            .await;
        let got = a.status();
        let body = a.json();
        assert_eq!(got, status, "{method} {path} {q:?}: {body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(names),
            "{method} {path}: {body}"
        );
    }
    let a = env.segments_request(None, "GET", "", &[], None).await;
    assert_eq!(a.status(), 401);

    // Fault classes found by review, each once:
    // a misspelt body key must not select everyone (it was ignored);
    // a filter in the query beside the body's was silently dropped;
    // an oversized definition was a 500 from DynamoDB's item size limit.
    let huge: Vec<String> = (0..100)
        .map(|i| format!("{i}{}", "x".repeat(300)))
        .collect();
    for (method, path, q, body, names) in [
        (
            "POST",
            "/count",
            vec![],
            json!({"filtr": {"and": []}}),
            "filtr",
        ),
        (
            "POST",
            "/members",
            vec![],
            json!({"filter": {"and": []}, "limt": 3}),
            "limt",
        ),
        (
            "POST",
            "/count",
            vec![("rfm_score_gte", "99")],
            json!({"filter": {"and": []}}),
            "rfm_score_gte",
        ),
        ("POST", "/count", vec![], json!([1, 2]), "object"),
        (
            "POST",
            "",
            vec![],
            json!({"name": "x", "filter": {"field": "member_level", "op": "in", "value": huge}}),
            "16 KB",
        ),
    ] {
        let a = env
            .segments_request(Some(&admin), method, path, &q, Some(body))
            .await;
        let status = a.status();
        let body = a.json();
        assert_eq!(status, 400, "{method} {path}: {body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(names),
            "{body}"
        );
    }
    // The same customer asked twice (two spellings of one phone) is answered twice: it was a
    // 500, DynamoDB refusing duplicate keys in one BatchGetItem.
    let twice = env
        .segments_ok(
            "POST",
            "/check",
            &[],
            Some(json!({"customers": [
                {"customer_identifier": "13800138000"},
                {"customer_identifier": "+86 138-0013-8000"}
            ], "filter": {"and": []}})),
        )
        .await;
    assert_eq!(twice["results"].as_array().unwrap().len(), 2, "{twice}");
}

#[tokio::test]
async fn an_erased_customer_leaves_every_segment() {
    let env = TestEnv::in_memory().await.with_segments();
    let any = saved_before_the_data(
        &env,
        "有订单",
        r#"{"field":"total_orders","op":"gte","value":1}"#,
    )
    .await;
    let mut seq = 0;
    env.order_history("13900000031", "s1", &[3], 100, &mut seq)
        .await;
    env.order_history("13900000032", "s1", &[3], 100, &mut seq)
        .await;
    assert_eq!(count(&env, &any).await, json!(2));
    let (status, body) = env
        .get(Endpoint::Erase, &[("customer_identifier", "13900000031")])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(count(&env, &any).await, json!(1));
    // Only the suppression that keeps the customer out remembers the number.
    let rest = env.dump().await;
    let left: Vec<&String> = rest
        .iter()
        .filter(|i| i.contains("13900000031") && !i.contains("SUP#"))
        .collect();
    assert!(left.is_empty(), "{left:#?}");
}

#[tokio::test]
async fn a_membership_log_line_names_a_phone_only_guest_by_a_ref_the_api_opens() {
    // Field report: the line carried `phone#139****0041`, which a campaign tool following the
    // log cannot act on; a member id was in clear, a phone-only guest unreachable.
    let logs = c360_runtime::telemetry::captured();
    let env = TestEnv::in_memory().await.with_segments();
    let any = saved_before_the_data(
        &env,
        "有订单的客人",
        r#"{"field":"total_orders","op":"gte","value":1}"#,
    )
    .await;
    let mut seq = 0;
    env.order_history("13900000041", "s1", &[3], 100, &mut seq)
        .await;
    assert_eq!(count(&env, &any).await, json!(1));

    let text = String::from_utf8_lossy(&logs.lock().expect("logs")).to_string();
    let line: Value = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["event"] == "segment_membership" && l["segment"] == any.as_str())
        .unwrap_or_else(|| panic!("no segment_membership line for {any}:\n{text}"));
    assert_eq!(line["change"], "enter", "{line}");
    assert!(!line.to_string().contains("13900000041"), "{line}");
    let customer_ref = line["customer_ref"]
        .as_str()
        .unwrap_or_else(|| panic!("no customer_ref: {line}"));
    // The same ref as the API's answers, and it opens the guest there.
    let (status, profile) = env
        .get(
            Endpoint::Profile,
            &[
                ("customer_identifier", customer_ref),
                ("identifier_type", "customer_ref"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{profile}");
    assert_eq!(profile["data"]["customer_identifier"], "13900000041");
    assert_eq!(profile["data"]["customer_ref"], customer_ref);
}

#[tokio::test]
async fn requests_per_list_page_count_check_and_ingest_are_bounded() {
    let env = TestEnv::in_memory().await.with_segments();
    let any = saved_before_the_data(
        &env,
        "有订单",
        r#"{"field":"total_orders","op":"gte","value":1}"#,
    )
    .await;
    let mut seq = 0;
    for c in 0..120 {
        env.order_history(&format!("139{c:08}"), "s1", &[3], 100, &mut seq)
            .await;
    }
    let measure = |what: &'static str| {
        let counter = env.counter.clone();
        move || {
            let n = counter.total();
            counter.reset();
            (what, n)
        }
    };
    // A list page: the segment (GetItem), its member page (Query), their rows (BatchGetItem).
    env.counter.reset();
    let page = env
        .segments_ok("GET", &format!("/{any}/members"), &[("limit", "50")], None)
        .await;
    assert_eq!(page["members"].as_array().unwrap().len(), 50);
    assert_eq!(measure("list page")(), ("list page", 3));
    // Count: the segment and its count item, whatever the size.
    env.segments_ok("GET", &format!("/{any}/count"), &[], None)
        .await;
    assert_eq!(measure("count")(), ("count", 2));
    // Check of 100: the segment, the identifiers' nodes, the member items.
    let customers: Vec<Value> = (0..100)
        .map(|c| json!({"customer_identifier": format!("139{c:08}")}))
        .collect();
    env.segments_ok(
        "POST",
        &format!("/{any}/check"),
        &[],
        Some(json!({"customers": customers})),
    )
    .await;
    assert_eq!(measure("check 100")(), ("check 100", 3));
    // One order of a known customer: the projection's requests plus the membership's.
    env.counter.reset();
    env.order_history("13900000001", "s1", &[1], 100, &mut seq)
        .await;
    let with_segments = env.counter.total();
    let plain = TestEnv::in_memory().await;
    plain
        .order_history("13900000001", "s1", &[3], 100, &mut 0)
        .await;
    plain.counter.reset();
    plain
        .order_history("13900000001", "s1", &[1], 100, &mut 1)
        .await;
    let without = plain.counter.total();
    // Definitions (a Query, cached for 10 s outside tests), the cluster's nodes
    // (BatchGetItem), rows and stats (a Query each per node) and one transaction for both
    // scopes: 5 for a one-node customer.
    assert_eq!(with_segments - without, 5, "{with_segments} vs {without}");
}

/// A small deterministic generator (the tests need no `rand`).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below.max(1)
    }
}

#[tokio::test]
async fn memberships_and_counts_equal_a_recomputation_whatever_the_delivery_order() {
    // Each run: 10 customers in two stores, orders (some later refunded, some placed under
    // the member id before the member record links it to the phone), delivered in a shuffled
    // order with duplicates and in random batches. The reference model: a customer's spend is
    // the sum of its orders' last versions that are completed; in a store, its orders there.
    for run in 0..6u64 {
        let env = TestEnv::in_memory().await.with_segments();
        let rich = saved_before_the_data(
            &env,
            "满400",
            r#"{"field":"total_spent","op":"gte","value":400}"#,
        )
        .await;
        let mut rng = Lcg(run * 7919 + 1);
        // (kind, image, seq); versions of one item get increasing sequence numbers.
        let mut history: Vec<(SourceKind, Value, u64)> = Vec::new();
        let mut seq = 0u64;
        // Final completed spend per (customer, store), in fen.
        let mut spend: BTreeMap<(usize, &str), i64> = BTreeMap::new();
        let at = c360_e2e::days_ago(5);
        for c in 0..10usize {
            let phone = format!("1390000{c:04}");
            let member_id = format!("M{c:04}");
            let linked = rng.next(2) == 0;
            for k in 0..(1 + rng.next(4)) {
                let store = if rng.next(3) == 0 { "s2" } else { "s1" };
                let yuan = 50 + rng.next(250) as i64;
                let id = format!("o{run}-{c}-{k}");
                let under_member = linked && rng.next(2) == 0;
                let image = |status: &str| {
                    order(&Order {
                        id: &id,
                        store,
                        phone: (!under_member).then_some(phone.as_str()),
                        member: under_member.then_some(member_id.as_str()),
                        status,
                        total: &format!("{yuan}.00"),
                        at: &at,
                        ..Order::default()
                    })
                };
                seq += 1;
                history.push((SourceKind::Orders, image("completed"), seq));
                let refunded = rng.next(4) == 0;
                if refunded {
                    seq += 1;
                    history.push((SourceKind::Orders, image("refunded"), seq));
                } else {
                    *spend.entry((c, store)).or_default() += yuan * 100;
                }
            }
            if linked {
                seq += 1;
                history.push((
                    SourceKind::MemberSync,
                    member(
                        &member_id,
                        Some(&phone),
                        None,
                        "王五",
                        "银卡",
                        "0",
                        "0",
                        "s1",
                        &at,
                    ),
                    seq,
                ));
            }
        }
        // Shuffled, some delivered twice.
        let mut deliveries: Vec<(SourceKind, Value, u64)> = history.clone();
        for h in &history {
            if rng.next(3) == 0 {
                deliveries.push(h.clone());
            }
        }
        for i in (1..deliveries.len()).rev() {
            let j = rng.next(i as u64 + 1) as usize;
            deliveries.swap(i, j);
        }
        let mut rest = deliveries.as_slice();
        while !rest.is_empty() {
            let kind = rest[0].0;
            let take = rest
                .iter()
                .take(1 + rng.next(4) as usize)
                .take_while(|d| d.0 == kind)
                .count();
            let (batch, tail) = rest.split_at(take);
            rest = tail;
            let seqs: Vec<String> = batch.iter().map(|d| format!("{:08}", d.2)).collect();
            let records: Vec<(&str, Option<Value>, Option<Value>, &str)> = batch
                .iter()
                .zip(&seqs)
                .map(|(d, s)| ("MODIFY", Some(d.1.clone()), None, s.as_str()))
                .collect();
            let (failures, _) = env
                .ingest(kind, c360_e2e::stream_event(kind, &records))
                .await;
            assert!(failures.is_empty(), "run {run}: {failures:?}");
        }

        for store in [None, Some("s1"), Some("s2")] {
            let expected: BTreeSet<String> = (0..10usize)
                .filter(|c| {
                    let total: i64 = spend
                        .iter()
                        .filter(|((cc, s), _)| cc == c && store.is_none_or(|st| st == *s))
                        .map(|(_, v)| v)
                        .sum();
                    total >= 40_000
                })
                .map(|c| format!("1390000{c:04}"))
                .collect();
            let mut q: Vec<(&str, &str)> = Vec::new();
            if let Some(s) = store {
                q.push(("store_id", s));
            }
            let listed: BTreeSet<String> = all_pages(&env, &format!("/{rich}/members"), &q, 3)
                .await
                .iter()
                .map(|h| h["phone"].as_str().unwrap_or_default().to_string())
                .collect();
            assert_eq!(listed, expected, "run {run} {store:?}");
            let counted = env
                .segments_ok("GET", &format!("/{rich}/count"), &q, None)
                .await;
            assert_eq!(
                counted["count"],
                json!(expected.len()),
                "run {run} {store:?}"
            );
        }
    }
}

#[tokio::test]
async fn birthdays_within_a_week_count_29_february_on_28_february_and_leave_when_past() {
    let env = TestEnv::in_memory().await.with_segments();
    let soon = save(
        &env,
        "一周内生日",
        r#"{"field":"days_until_birthday","op":"lte","value":7}"#,
    )
    .await;
    let at = "2026-06-01T10:00:00+08:00";
    let mut seq = 0;
    let mut members = Vec::new();
    for (id, phone, birthday) in [
        ("M0301", "13900000041", Some("--03-01")),
        ("M0229", "13900000042", Some("2000-02-29")),
        ("M0310", "13900000043", Some("1990-03-10")),
        ("M0000", "13900000044", None),
    ] {
        let mut m = member(id, Some(phone), None, "赵六", "银卡", "0", "0", "s1", at);
        if let Some(b) = birthday {
            m["birthday"] = json!({ "S": b });
        }
        members.push(m);
    }
    env.ingest_inserts(SourceKind::MemberSync, &members, &mut seq)
        .await;
    let clock = |t: &str| {
        Millis(
            chrono::DateTime::parse_from_rfc3339(t)
                .unwrap()
                .timestamp_millis(),
        )
    };
    tokio::time::sleep(Duration::from_millis(5)).await;
    env.rescore_at("2027-02-22", clock("2027-02-22T09:00:00+08:00"))
        .await;
    let phones = |hits: Vec<Value>| -> BTreeSet<String> {
        hits.iter()
            .map(|h| h["phone"].as_str().unwrap().to_string())
            .collect()
    };
    let listed = phones(all_pages(&env, &format!("/{soon}/members"), &[], 50).await);
    assert_eq!(
        listed,
        BTreeSet::from(["13900000041".to_string(), "13900000042".to_string()]),
        "--03-01 is 7 days away, 29 February counts on the 28th (6 days)"
    );
    env.rescore_at("2027-03-02", clock("2027-03-02T09:00:00+08:00"))
        .await;
    assert_eq!(count(&env, &soon).await, json!(0));
    // A masked role sees month and day only.
    let staff = token(Role::Staff, Some("s1"));
    let profile = env
        .get_as(
            Some(&staff),
            Endpoint::Profile,
            &[("customer_identifier", "13900000042")],
        )
        .await
        .1;
    assert_eq!(profile["data"]["member_info"]["birthday"], json!("--02-29"));
}

#[tokio::test]
async fn an_interrupted_rescoring_resumes_where_it_stopped_and_evaluates_no_one_twice() {
    let env = TestEnv::in_memory().await.with_segments();
    let mut seq = 0;
    for c in 0..30 {
        env.order_history(&format!("1390001{c:04}"), "s1", &[40, 20], 100, &mut seq)
            .await;
    }
    // Saved after the data: only the rescoring puts the customers in it.
    let active = save(
        &env,
        "活跃",
        r#"{"field":"tags","op":"contains_all","value":["活跃用户"]}"#,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let engine = env.segments().with_scan_page(10);
    let now = now_ms();
    let cut = engine
        .rescore_within(
            "r",
            1,
            now,
            Budget {
                pages: Some(2),
                until: None,
            },
        )
        .await
        .unwrap();
    assert!(!cut.complete && cut.materialized.is_empty(), "{cut:?}");
    assert!(
        cut.changed.evaluated > 0 && cut.changed.evaluated < 30,
        "{cut:?}"
    );
    // A call whose time is already up still does a page (it made none under `cargo lambda
    // watch`, whose deadline is short, and would never have finished): its checkpoint moves.
    // (A page of 10 scanned items may hold no node item, so "evaluated someone" would depend
    // on the table's layout.)
    let checkpoint = || async {
        env.store
            .partition(c360_dynamodb::keys::RESCORE_PK, None)
            .await
            .expect("rescoring checkpoints")
    };
    let before = checkpoint().await;
    let late = engine
        .rescore_within(
            "r",
            1,
            now,
            Budget {
                pages: None,
                until: Some(std::time::Instant::now()),
            },
        )
        .await
        .unwrap();
    assert!(!late.complete, "{late:?}");
    assert_ne!(checkpoint().await, before, "the late call scanned a page");
    let rest = engine.rescore("r", 1, now).await.unwrap();
    assert!(rest.complete);
    assert_eq!(
        cut.changed.evaluated + late.changed.evaluated + rest.changed.evaluated,
        30
    );
    assert_eq!(rest.materialized, vec![active.clone()]);
    let answer = env
        .segments_ok("GET", &format!("/{active}/count"), &[], None)
        .await;
    assert_eq!(answer["count"], json!(30));
    assert_eq!(answer["evaluated_from"], json!("members"));
    // A finished run does nothing.
    let again = engine.rescore("r", 1, now).await.unwrap();
    assert_eq!(again.changed.evaluated, 0);
}

#[tokio::test]
async fn admins_saving_at_once_never_save_more_than_the_limit() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use c360_domain::segment::MAX_SAVED_SEGMENTS;
    let env = TestEnv::new().await;
    let filter = r#"{"field":"total_spent","op":"gte","value":1}"#;
    for k in 0..MAX_SAVED_SEGMENTS - 2 {
        save(&env, &format!("s{k}"), filter).await;
    }
    // A table from before the count was kept: the count is set from the definitions.
    env.store
        .client()
        .delete_item()
        .table_name(env.store.table())
        .key("pk", AttributeValue::S("SEGSET".into()))
        .key("sk", AttributeValue::S("SET".into()))
        .send()
        .await
        .expect("the count's item deleted");
    // Five admins save a segment at the same moment, with room for two.
    let token = env.super_admin.clone();
    let body = |k: usize| {
        Some(
            json!({"name": format!("late{k}"), "filter": serde_json::from_str::<Value>(filter).unwrap()}),
        )
    };
    let answers = futures::future::join_all(
        (0..5).map(|k| env.segments_request(Some(&token), "POST", "", &[], body(k))),
    )
    .await;
    let statuses: Vec<u16> = answers.iter().map(|a| a.status()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        2,
        "{statuses:?}"
    );
    for a in answers.into_iter().filter(|a| a.status() != 201) {
        assert_eq!(a.status(), 409);
        let message = a.json()["error"]["message"].to_string();
        assert!(message.contains("40 saved segments"), "{message}");
    }
    let list = env.segments_ok("GET", "", &[], None).await;
    assert_eq!(list["total"], json!(MAX_SAVED_SEGMENTS));

    // A deletion makes room for one more, and only one.
    let first = list["segments"][0]["segment_id"]
        .as_str()
        .unwrap()
        .to_string();
    env.segments_ok("DELETE", &format!("/{first}"), &[], None)
        .await;
    save(&env, "after the deletion", filter).await;
    let again = env
        .segments_request(Some(&token), "POST", "", &[], body(9))
        .await;
    assert_eq!(again.status(), 409);
}
