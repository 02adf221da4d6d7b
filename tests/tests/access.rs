//! Who sees what (`spec/api.md`: Scope, Masking, Audit) end to end: tokens verified by the
//! handler, store scope on every endpoint, masking per role in answers and logs, one audit
//! record per query in the emulator's audit table, and erasure that sticks.

use c360_api::audit::AuditLog;
use c360_api::http::{App, Endpoint};
use c360_api::reads::Reads;
use c360_domain::access::Role;
use c360_domain::SourceKind;
use c360_dynamodb::keys;
use c360_e2e::items::{self, Order};
use c360_e2e::{days_ago, stream_event, test_access, token, TestEnv};
use serde_json::{json, Value};

const A_PHONE: &str = "13800000001";
const A_MEMBER: &str = "M1";
const A_EMAIL: &str = "a.zhang@example.com";
const B_PHONE: &str = "13900000002";

/// Customer A (张三) visits s1 and s2; customer B (李四) only s2.
///
/// | | s1 | s2 | all |
/// |---|---|---|---|
/// | A counted orders / spend | 2 / 150 | 1 / 200 | 3 / 350 |
/// | A reservations, activities | 0, 1 | 1, 1 | 1, 2 |
/// | B counted orders / spend | - | 1 / 300 | 1 / 300 |
async fn two_customers(env: &TestEnv) {
    env.put(
        SourceKind::MemberSync,
        items::member(
            A_MEMBER,
            Some(A_PHONE),
            Some(A_EMAIL),
            "张三",
            "金卡",
            "100",
            "0",
            "s1",
            &days_ago(300),
        ),
    )
    .await;
    for (id, store, phone, member, total, ago) in [
        ("o-a1", "s1", Some(A_PHONE), None, "100.00", 20),
        ("o-a2", "s2", Some(A_PHONE), None, "200.00", 10),
        ("o-a3", "s1", None, Some(A_MEMBER), "50.00", 5),
        ("o-b1", "s2", Some(B_PHONE), None, "300.00", 8),
    ] {
        let at = days_ago(ago);
        env.put(
            SourceKind::Orders,
            items::order(&Order {
                id,
                store,
                phone,
                member,
                name: Some(if id.starts_with("o-a") {
                    "张三"
                } else {
                    "李四"
                }),
                total,
                at: &at,
                ..Order::default()
            }),
        )
        .await;
    }
    env.put(
        SourceKind::Reservations,
        items::reservation("r-a1", "s2", A_PHONE, "4", &days_ago(3), "confirmed"),
    )
    .await;
    let mut note = items::activity("act-a1", Some("s2"), A_MEMBER, "login", &days_ago(2));
    note["detail"] = json!({"S": format!("电话 {A_PHONE}")});
    env.put(SourceKind::Activity, note).await;
    let mut note = items::activity("act-a2", Some("s1"), A_MEMBER, "login", &days_ago(1));
    note["detail"] = json!({"S": format!("请回电 {A_PHONE} 或邮件 {A_EMAIL}, 张三")});
    env.put(SourceKind::Activity, note).await;
    env.sync().await;
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Figures {
    orders: u64,
    spent: f64,
    reservations: u64,
    activities: u64,
}

const A_S1: Figures = Figures {
    orders: 2,
    spent: 150.0,
    reservations: 0,
    activities: 1,
};
const A_S2: Figures = Figures {
    orders: 1,
    spent: 200.0,
    reservations: 1,
    activities: 1,
};
const A_ALL: Figures = Figures {
    orders: 3,
    spent: 350.0,
    reservations: 1,
    activities: 2,
};
const B_S2: Figures = Figures {
    orders: 1,
    spent: 300.0,
    reservations: 0,
    activities: 0,
};

fn figures(data: &Value) -> Figures {
    Figures {
        orders: data["customer_value"]["total_orders"]
            .as_u64()
            .unwrap_or(999),
        spent: data["customer_value"]["total_spent"]
            .as_f64()
            .unwrap_or(-1.0),
        reservations: data["statistics"]["total_reservations"]
            .as_u64()
            .unwrap_or(999),
        activities: data["statistics"]["total_activities"]
            .as_u64()
            .unwrap_or(999),
    }
}

/// The expected answer for a caller, a customer and a `store_id` parameter: a status and,
/// for a 200, the figures and the store every timeline event must come from.
fn expected(
    role: Role,
    requested: Option<&str>,
    customer: char,
) -> (u16, Option<(Figures, Option<&'static str>)>) {
    let scope: Option<&'static str> = match (role, requested) {
        (Role::SuperAdmin, None) => None,
        (Role::SuperAdmin, Some("s1")) => Some("s1"),
        (Role::SuperAdmin, Some(_)) => Some("s2"),
        (_, None) | (_, Some("s1")) => Some("s1"),
        (_, Some(_)) => return (403, None),
    };
    let figures = match (customer, scope) {
        ('A', None) => Some(A_ALL),
        ('A', Some("s1")) => Some(A_S1),
        ('A', Some(_)) => Some(A_S2),
        ('B', Some("s1")) => None,
        (_, _) => Some(B_S2),
    };
    match figures {
        Some(f) => (200, Some((f, scope))),
        None => (404, None),
    }
}

#[tokio::test]
async fn the_access_matrix_holds_for_every_role_store_endpoint_and_identifier() {
    let env = TestEnv::new().await.with_segments();
    two_customers(&env).await;
    let callers = [
        (Role::SuperAdmin, token(Role::SuperAdmin, None)),
        (Role::StoreAdmin, token(Role::StoreAdmin, Some("s1"))),
        (Role::Staff, token(Role::Staff, Some("s1"))),
    ];
    let lookups: [(char, &str, &str); 4] = [
        ('A', "phone", A_PHONE),
        ('A', "member_id", A_MEMBER),
        ('A', "email", A_EMAIL),
        ('B', "phone", B_PHONE),
    ];
    let mut checked = 0;
    for (role, tok) in &callers {
        for requested in [Some("s1"), Some("s2"), None] {
            for (customer, kind, value) in lookups {
                let (status, want) = expected(*role, requested, customer);
                for endpoint in [Endpoint::Profile, Endpoint::Value, Endpoint::Timeline] {
                    let mut query = vec![("customer_identifier", value), ("identifier_type", kind)];
                    if let Some(s) = requested {
                        query.push(("store_id", s));
                    }
                    let (got, body) = env.get_as(Some(tok), endpoint, &query).await;
                    let what =
                        format!("{role:?} store_id={requested:?} {endpoint:?} {kind}={value}");
                    assert_eq!(got, status, "{what}: {body}");
                    checked += 1;
                    let Some((figs, scope)) = want else {
                        assert_eq!(body["success"], json!(false), "{what}");
                        assert!(body.get("data").is_none(), "{what}: no data in an error");
                        continue;
                    };
                    let data = &body["data"];
                    if endpoint != Endpoint::Timeline {
                        assert_eq!(figures(data), figs, "{what}");
                    }
                    let events = data["timeline"].as_array().cloned().unwrap_or_default();
                    if endpoint == Endpoint::Timeline {
                        assert_eq!(
                            data["total_events"].as_u64(),
                            Some(figs.orders + figs.reservations + figs.activities
                                + u64::from(customer == 'A' && scope != Some("s2"))),
                            "{what}: events in scope (orders, reservations, activities, and the s1 member record)"
                        );
                    }
                    if let Some(store) = scope {
                        for e in &events {
                            assert_eq!(
                                e["data"]["store_id"].as_str().or(Some(store)),
                                Some(store),
                                "{what}: {e}"
                            );
                        }
                        for o in data["recent_orders"].as_array().into_iter().flatten() {
                            assert_eq!(o["store_id"], json!(store), "{what}: {o}");
                        }
                    }
                }
            }
            // Search, by name, whole phone and 尾号: hits from the caller's scope only.
            let expected_search = |customer: char| expected(*role, requested, customer);
            for (q, customer) in [("张", 'A'), ("李四", 'B'), (B_PHONE, 'B'), ("0002", 'B')] {
                let mut query = vec![("query", q)];
                if let Some(s) = requested {
                    query.push(("store_id", s));
                }
                let (got, body) = env.get_as(Some(tok), Endpoint::Search, &query).await;
                let what = format!("{role:?} store_id={requested:?} search {q}");
                checked += 1;
                match expected_search(customer) {
                    (403, _) => assert_eq!(got, 403, "{what}: {body}"),
                    (404, _) => {
                        assert_eq!(got, 200, "{what}: {body}");
                        assert_eq!(
                            body["data"]["results"],
                            json!([]),
                            "{what}: another store's customer must not show"
                        );
                    }
                    (_, Some((figs, _))) => {
                        assert_eq!(got, 200, "{what}: {body}");
                        let hits = body["data"]["results"]
                            .as_array()
                            .cloned()
                            .unwrap_or_default();
                        assert_eq!(hits.len(), 1, "{what}: {body}");
                        assert_eq!(
                            hits[0]["total_orders"].as_u64(),
                            Some(figs.orders),
                            "{what}"
                        );
                        assert_eq!(hits[0]["total_spent"].as_f64(), Some(figs.spent), "{what}");
                    }
                    other => panic!("{what}: unexpected expectation {other:?}"),
                }
            }
        }
    }
    // No token, a forged one, an expired one: 401 on every endpoint.
    let forged = c360_e2e::forged_token(Role::SuperAdmin, None);
    let expired = c360_e2e::expired_token(Role::SuperAdmin, None);
    for endpoint in Endpoint::ALL {
        for tok in [
            None,
            Some(forged.as_str()),
            Some(expired.as_str()),
            Some("garbage"),
        ] {
            let query: &[(&str, &str)] = match endpoint {
                Endpoint::Search => &[("query", "张")],
                _ => &[("customer_identifier", A_PHONE)],
            };
            let (got, body) = env.get_as(tok, endpoint, query).await;
            assert_eq!(got, 401, "{endpoint:?} {tok:?}: {body}");
            assert_eq!(body["error"]["code"], json!("UNAUTHENTICATED"));
            checked += 1;
        }
    }
    // The admin endpoints: staff may not list the audit log; only a super_admin erases.
    let staff = &callers[2].1;
    let (got, _) = env
        .get_as(
            Some(staff),
            Endpoint::Audit,
            &[("customer_identifier", A_PHONE)],
        )
        .await;
    assert_eq!(got, 403);
    for (_, tok) in &callers[1..] {
        let (got, _) = env
            .get_as(
                Some(tok),
                Endpoint::Erase,
                &[("customer_identifier", A_PHONE)],
            )
            .await;
        assert_eq!(got, 403);
    }
    assert!(checked > 100, "{checked}");
}

/// `spec/api.md`: a birthday shows month and day only to a masked role, in full to a clear
/// one; a member without one shows `null`, and a bad one fails only its record. Through the
/// real ingest handler and the in-memory DynamoDB (the stored stats, read back).
#[tokio::test]
async fn a_birthday_shows_its_year_to_admins_only() {
    let env = TestEnv::in_memory().await;
    let member = |id: &str, phone: &str, birthday: Option<&str>| {
        let mut m = items::member(
            id,
            Some(phone),
            None,
            "王五",
            "银卡",
            "10",
            "0",
            "s1",
            &days_ago(30),
        );
        if let Some(b) = birthday {
            m["birthday"] = json!({ "S": b });
        }
        m
    };
    let mut seq = 0;
    env.ingest_inserts(
        SourceKind::MemberSync,
        &[
            member("M901", "13800000901", Some("1990-03-01")),
            member("M902", "13800000902", Some("--02-29")),
            member("M903", "13800000903", None),
        ],
        &mut seq,
    )
    .await;
    let bad = member("M904", "13800000904", Some("1990-02-30"));
    let kind = SourceKind::MemberSync;
    let (failures, report) = env
        .ingest(
            kind,
            stream_event(kind, &[("INSERT", Some(bad), None, "9")]),
        )
        .await;
    assert_eq!(
        (failures, report.decode_failures),
        (vec!["9".to_string()], 1)
    );

    let staff = token(Role::Staff, Some("s1"));
    let admin = token(Role::StoreAdmin, Some("s1"));
    for (id, clear, masked) in [
        ("M901", json!("1990-03-01"), json!("--03-01")),
        ("M902", json!("--02-29"), json!("--02-29")),
        ("M903", json!(null), json!(null)),
    ] {
        let query = [
            ("customer_identifier", id),
            ("identifier_type", "member_id"),
        ];
        for (who, expected) in [(&admin, clear), (&staff, masked)] {
            let (status, body) = env.get_as(Some(who), Endpoint::Profile, &query).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["data"]["member_info"]["birthday"], expected, "{id}");
        }
    }
}

#[tokio::test]
async fn staff_see_masked_values_admins_clear_and_logs_never_hold_them() {
    let logs = c360_runtime::telemetry::captured();
    let env = TestEnv::new().await.with_segments();
    two_customers(&env).await;
    let staff = token(Role::Staff, Some("s1"));
    let admin = token(Role::StoreAdmin, Some("s1"));
    let by_phone = [("customer_identifier", A_PHONE)];

    let (_, clear) = env.get_as(Some(&admin), Endpoint::Profile, &by_phone).await;
    let (_, masked) = env.get_as(Some(&staff), Endpoint::Profile, &by_phone).await;
    assert_eq!(clear["data"]["member_info"]["phone"], json!(A_PHONE));
    assert_eq!(clear["data"]["member_info"]["name"], json!("张三"));
    let m = &masked["data"];
    assert_eq!(m["customer_identifier"], json!("138****0001"));
    assert_eq!(m["member_info"]["phone"], json!("138****0001"));
    assert_eq!(m["member_info"]["email"], json!("a***@example.com"));
    assert_eq!(m["member_info"]["name"], json!("张*"));
    assert_eq!(m["member_info"]["member_id"], json!(A_MEMBER));
    assert_eq!(
        figures(m),
        figures(&clear["data"]),
        "masking hides no figure"
    );

    let (_, timeline) = env
        .get_as(Some(&staff), Endpoint::Timeline, &by_phone)
        .await;
    let text = timeline.to_string();
    assert!(
        text.contains("请回电 138****0001 或邮件 a***@example.com, 张*"),
        "{text}"
    );
    for (_, body) in [("profile", &masked), ("timeline", &timeline)] {
        let text = body.to_string();
        for clear_value in [A_PHONE, A_EMAIL, "张三"] {
            assert!(!text.contains(clear_value), "{clear_value} in {text}");
        }
    }
    let (_, email) = env
        .get_as(
            Some(&staff),
            Endpoint::Value,
            &[
                ("customer_identifier", A_EMAIL),
                ("identifier_type", "email"),
            ],
        )
        .await;
    assert_eq!(
        email["data"]["customer_identifier"],
        json!("a***@example.com")
    );

    let (_, hits) = env
        .get_as(Some(&staff), Endpoint::Search, &[("query", A_PHONE)])
        .await;
    let hit = &hits["data"]["results"][0];
    assert_eq!(hit["phone"], json!("138****0001"), "{hits}");
    assert_eq!(hit["name"], json!("张*"));
    assert_eq!(hits["data"]["query"], json!("138****0001"));
    let (_, clear_hits) = env
        .get_as(Some(&admin), Endpoint::Search, &[("query", A_PHONE)])
        .await;
    assert_eq!(clear_hits["data"]["results"][0]["phone"], json!(A_PHONE));

    // Even a careless log line is masked on its way out.
    tracing::warn!("customer {A_PHONE} wrote from {A_EMAIL}");
    let logs = String::from_utf8_lossy(&logs.lock().expect("logs")).to_string();
    assert!(
        logs.contains("\"request\"") || logs.contains("request"),
        "the requests were logged: {logs}"
    );
    assert!(
        logs.contains("customer 138****0001 wrote from a***@example.com"),
        "{logs}"
    );
    for clear_value in [A_PHONE, A_EMAIL, B_PHONE] {
        assert!(!logs.contains(clear_value), "{clear_value} in the logs");
    }
}

/// Field report: the segments function's request lines had no `method` and no `cache`, and a
/// wrong path logged `sub="-"` although the caller's token was good. An on-call engineer
/// filtering by field saw some requests and not others.
#[tokio::test]
async fn every_request_line_has_the_same_fields_and_names_the_caller() {
    let logs = c360_runtime::telemetry::captured();
    let env = TestEnv::new().await;
    let admin = token(Role::SuperAdmin, None);
    env.get_as(
        Some(&admin),
        Endpoint::Value,
        &[("customer_identifier", B_PHONE)],
    )
    .await;
    let mut req = lambda_http::Request::new(lambda_http::Body::Empty);
    *req.method_mut() = "GET".parse().expect("a method");
    *req.uri_mut() = format!("{}/no/such/route", c360_api::segments::PATH)
        .parse()
        .expect("a path");
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {admin}").parse().expect("a header"),
    );
    let resp = c360_api::segments::handle(&env.app, req).await;
    assert!(resp.status().is_client_error(), "{}", resp.status());

    let text = String::from_utf8_lossy(&logs.lock().expect("logs")).to_string();
    let lines: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["message"] == json!("request"))
        .collect();
    let fields = [
        "endpoint",
        "method",
        "status",
        "request_id",
        "sub",
        "role",
        "scope",
        "elapsed_ms",
        "cache",
    ];
    for line in &lines {
        for f in fields {
            assert!(!line[f].is_null(), "`{f}` missing in {line}");
        }
    }
    let segment_line = lines
        .iter()
        .find(|l| l["endpoint"] == json!("segments") && l["status"].as_u64() != Some(200))
        .unwrap_or_else(|| panic!("the segments request was logged: {lines:?}"));
    assert_eq!(segment_line["sub"], json!("super_admin"), "{segment_line}");
    assert_eq!(segment_line["method"], json!("GET"), "{segment_line}");
    assert_eq!(segment_line["cache"], json!("off"), "{segment_line}");
}

#[tokio::test]
async fn a_hundred_mixed_requests_leave_a_hundred_audit_records() {
    let env = TestEnv::new().await.with_segments();
    two_customers(&env).await;
    let before = env.dump_table(&env.audit_table).await.len();
    assert_eq!(before, 0);
    let super_admin = token(Role::SuperAdmin, None);
    let staff = token(Role::Staff, Some("s1"));
    let expired = c360_e2e::expired_token(Role::Staff, Some("s1"));
    type Case<'a> = (Option<&'a str>, Endpoint, Vec<(&'a str, &'a str)>);
    let cases: Vec<Case> = vec![
        (
            Some(&super_admin),
            Endpoint::Profile,
            vec![("customer_identifier", A_PHONE)],
        ),
        (
            Some(&staff),
            Endpoint::Value,
            vec![
                ("customer_identifier", A_MEMBER),
                ("identifier_type", "member_id"),
            ],
        ),
        (
            Some(&staff),
            Endpoint::Timeline,
            vec![
                ("customer_identifier", A_EMAIL),
                ("identifier_type", "email"),
            ],
        ),
        (Some(&staff), Endpoint::Search, vec![("query", "张")]),
        (
            Some(&staff),
            Endpoint::Profile,
            vec![("customer_identifier", "12345")],
        ),
        (
            Some(&staff),
            Endpoint::Timeline,
            vec![("customer_identifier", A_PHONE), ("limit", "0")],
        ),
        (
            None,
            Endpoint::Profile,
            vec![("customer_identifier", A_PHONE)],
        ),
        (
            Some(&expired),
            Endpoint::Value,
            vec![("customer_identifier", A_PHONE)],
        ),
        (
            Some(&staff),
            Endpoint::Profile,
            vec![("customer_identifier", A_PHONE), ("store_id", "s2")],
        ),
        (
            Some(&staff),
            Endpoint::Profile,
            vec![("customer_identifier", B_PHONE)],
        ),
        (
            Some(&staff),
            Endpoint::Audit,
            vec![("customer_identifier", A_PHONE)],
        ),
        (
            Some(&super_admin),
            Endpoint::Audit,
            vec![("customer_identifier", A_PHONE)],
        ),
    ];
    let mut statuses = Vec::new();
    for i in 0..100 {
        let (tok, endpoint, query) = &cases[i % cases.len()];
        let (status, _) = env.get_as(*tok, *endpoint, query).await;
        statuses.push(status);
    }
    for s in [200, 400, 401, 403, 404] {
        assert!(statuses.contains(&s), "the mix has a {s}: {statuses:?}");
    }
    let records = env.dump_table(&env.audit_table).await;
    assert_eq!(records.len(), 100, "one audit record per request");
    let mut recorded: Vec<u16> = records
        .iter()
        .map(|r| {
            let v: Value = serde_json::from_str(r).expect("json");
            v["status"]["N"]
                .as_str()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        })
        .collect();
    recorded.sort_unstable();
    statuses.sort_unstable();
    assert_eq!(
        recorded, statuses,
        "each record holds the status its caller got"
    );
    for r in &records {
        // Times and the request id are digits that can hold `12345` by chance (the run of
        // 2026-11-30 12:2x had `at` 1796041123457): the clear values are looked for in the
        // rest of the record.
        // The subject is a keyed hash (hex, which can hold `12345` by chance as well): it is
        // checked for its shape, then left out with the key built from it.
        let mut record: Value = serde_json::from_str(r).expect("json");
        assert!(record.get("expires_at").is_some(), "{r}");
        if let Some(subject) = record["subject"]["S"].as_str() {
            assert!(
                subject.len() == 32 && subject.bytes().all(|b| b.is_ascii_hexdigit()),
                "a hash as the subject: {r}"
            );
            assert_eq!(record["pk"]["S"], format!("C#{subject}"), "{r}");
        }
        if let Some(fields) = record.as_object_mut() {
            for key in ["at", "expires_at", "sk", "request_id", "subject", "pk"] {
                fields.remove(key);
            }
        }
        let rest = record.to_string();
        for clear_value in [A_PHONE, A_EMAIL, B_PHONE, "12345", "\"M1\"", "张"] {
            assert!(
                !rest.contains(clear_value),
                "{clear_value} in audit record {r}"
            );
        }
    }

    // The admin endpoint: the super_admin sees every look at A (by any of A's identifiers);
    // a store admin of s1 only those scoped to s1.
    let (_, all) = env
        .get_as(
            Some(&super_admin),
            Endpoint::Audit,
            &[
                ("customer_identifier", A_MEMBER),
                ("identifier_type", "member_id"),
                ("limit", "200"),
            ],
        )
        .await;
    let accesses = all["data"]["accesses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let subs: std::collections::BTreeSet<&str> =
        accesses.iter().filter_map(|a| a["sub"].as_str()).collect();
    assert!(
        subs.contains("staff-s1") && subs.contains("super_admin"),
        "{subs:?}"
    );
    assert!(accesses
        .iter()
        .any(|a| a["status"] == json!(401) && a["sub"].is_null()));
    assert!(
        accesses.iter().any(|a| a["endpoint"] == json!("timeline")),
        "looks by email count too"
    );
    let admin = token(Role::StoreAdmin, Some("s1"));
    let (status, mine) = env
        .get_as(
            Some(&admin),
            Endpoint::Audit,
            &[("customer_identifier", A_PHONE), ("limit", "200")],
        )
        .await;
    assert_eq!(status, 200, "{mine}");
    let mine = mine["data"]["accesses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!mine.is_empty());
    assert!(mine.iter().all(|a| a["scope"] == json!("s1")), "{mine:?}");
}

/// An admin paging through a long audit trail sees every look once, and knows when there are
/// more: `count` is the page's size, `next_cursor` leads to older records (field report: with
/// 14 records `limit=2` answered `"total": 2` and nothing else).
#[tokio::test]
async fn the_audit_trail_pages_with_a_cursor_until_every_look_is_seen() {
    let env = TestEnv::new().await;
    two_customers(&env).await;
    let staff = token(Role::Staff, Some("s1"));
    for _ in 0..5 {
        let (status, _) = env
            .get_as(
                Some(&staff),
                Endpoint::Profile,
                &[("customer_identifier", A_PHONE), ("store_id", "s1")],
            )
            .await;
        assert_eq!(status, 200);
    }
    let admin = token(Role::SuperAdmin, None);
    let mut looks = std::collections::BTreeSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut params = vec![("customer_identifier", A_PHONE), ("limit", "2")];
        if let Some(c) = &cursor {
            params.push(("cursor", c.as_str()));
        }
        let (status, page) = env.get_as(Some(&admin), Endpoint::Audit, &params).await;
        assert_eq!(status, 200, "{page}");
        let accesses = page["data"]["accesses"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(page["data"]["count"], json!(accesses.len()), "{page}");
        assert!(accesses.len() <= 2, "{page}");
        for a in accesses
            .iter()
            .filter(|a| a["endpoint"] == json!("profile"))
        {
            let id = a["request_id"].as_str().unwrap_or_default().to_string();
            assert!(looks.insert(id), "a look shown twice: {page}");
        }
        pages += 1;
        assert!(pages < 20, "the cursor does not advance");
        match page["data"]["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => {
                assert_eq!(page["data"]["next_cursor"], Value::Null, "{page}");
                break;
            }
        }
    }
    assert_eq!(looks.len(), 5, "every profile look, across {pages} pages");
    // Field report: another customer's cursor was accepted and paged this one from that time.
    let first = env
        .get_as(
            Some(&admin),
            Endpoint::Audit,
            &[("customer_identifier", A_PHONE), ("limit", "2")],
        )
        .await
        .1;
    let (status, other) = env
        .get_as(
            Some(&admin),
            Endpoint::Audit,
            &[
                ("customer_identifier", B_PHONE),
                (
                    "cursor",
                    first["data"]["next_cursor"].as_str().unwrap_or(""),
                ),
            ],
        )
        .await;
    assert_eq!(status, 400, "{other}");
    assert_eq!(
        other["error"]["code"],
        json!("INVALID_PARAMETER"),
        "{other}"
    );
    // Nor in another scope (second field report): the all-stores trail's cursor in store
    // s1's trail of the same customer.
    let (status, scoped) = env
        .get_as(
            Some(&admin),
            Endpoint::Audit,
            &[
                ("customer_identifier", A_PHONE),
                ("store_id", "s1"),
                (
                    "cursor",
                    first["data"]["next_cursor"].as_str().unwrap_or(""),
                ),
            ],
        )
        .await;
    assert_eq!(status, 400, "{scoped}");
    assert!(
        pages >= 3,
        "5 looks and the audit reads at 2 a page: {pages} pages"
    );

    let (status, bad) = env
        .get_as(
            Some(&admin),
            Endpoint::Audit,
            &[("customer_identifier", A_PHONE), ("cursor", "bm90LWEta2V5")],
        )
        .await;
    assert_eq!(status, 400, "{bad}");
    assert_eq!(bad["error"]["code"], json!("INVALID_PARAMETER"), "{bad}");
}

#[tokio::test]
async fn without_the_audit_table_reads_answer_503_with_no_data() {
    let env = TestEnv::new().await;
    two_customers(&env).await;
    let broken = App::new(
        Reads::new(env.store.clone(), env.config.clone()),
        test_access(AuditLog::DynamoDb {
            client: env.client.clone(),
            table: format!("{}_no_such_audit_table", env.prefix),
            retention_days: 180,
        }),
    );
    let staff = token(Role::Staff, Some("s1"));
    for (endpoint, query) in [
        (Endpoint::Profile, vec![("customer_identifier", A_PHONE)]),
        (Endpoint::Timeline, vec![("customer_identifier", A_PHONE)]),
        (Endpoint::Search, vec![("query", "张")]),
        (Endpoint::Profile, vec![("customer_identifier", "123")]),
    ] {
        let (status, body) = env
            .request_with(&broken, Some(&staff), endpoint, &query)
            .await;
        assert_eq!(status, 503, "{endpoint:?}: {body}");
        assert!(body.get("data").is_none(), "{body}");
        assert!(!body.to_string().contains("张三"));
    }
    // The same requests with the audit table there are answered.
    let (status, _) = env
        .get_as(
            Some(&staff),
            Endpoint::Profile,
            &[("customer_identifier", A_PHONE)],
        )
        .await;
    assert_eq!(status, 200);
}

/// Every identifier of A answers 404 on every read, search finds nothing of A, and nothing
/// of A is left in the projection but the suppression markers.
async fn assert_gone(env: &TestEnv, tok: &str) {
    for (kind, value) in [
        ("phone", A_PHONE),
        ("member_id", A_MEMBER),
        ("email", A_EMAIL),
    ] {
        for endpoint in [Endpoint::Profile, Endpoint::Value, Endpoint::Timeline] {
            let (status, body) = env
                .get_as(
                    Some(tok),
                    endpoint,
                    &[("customer_identifier", value), ("identifier_type", kind)],
                )
                .await;
            assert_eq!(status, 404, "{endpoint:?} {kind}: {body}");
        }
    }
    for q in ["张", A_PHONE, "0001", A_MEMBER] {
        let (_, body) = env
            .get_as(Some(tok), Endpoint::Search, &[("query", q)])
            .await;
        assert_eq!(body["data"]["results"], json!([]), "search {q}: {body}");
    }
    // Nothing of A is left in the projection but the suppression markers.
    for item in env.dump().await {
        let pk = serde_json::from_str::<Value>(&item).expect("an item")["pk"]["S"].clone();
        if pk.as_str().is_some_and(keys::is_suppression_pk) {
            continue;
        }
        // (Anchors of A's records may come back after erasure, as bare sequence
        // numbers without a state: later deliveries of suppressed records.)
        for clear_value in [A_PHONE, A_EMAIL, "张三", "金卡", "钻石卡"] {
            assert!(!item.contains(clear_value), "{clear_value} left in {item}");
        }
    }
}

#[tokio::test]
async fn an_erased_customer_stays_erased() {
    let env = TestEnv::new().await;
    two_customers(&env).await;
    let super_admin = token(Role::SuperAdmin, None);
    let (status, body) = env
        .get_as(
            Some(&super_admin),
            Endpoint::Erase,
            &[
                ("customer_identifier", A_EMAIL),
                ("identifier_type", "email"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["identifiers_suppressed"], json!(3), "{body}");

    assert_gone(&env, &super_admin).await;

    // New and changed source records for A arrive through the streams: still erased.
    env.put(
        SourceKind::Orders,
        items::order(&Order {
            id: "o-a9",
            store: "s1",
            phone: Some(A_PHONE),
            name: Some("张三"),
            total: "88.00",
            at: &days_ago(0),
            ..Order::default()
        }),
    )
    .await;
    env.put(
        SourceKind::Orders,
        items::order(&Order {
            id: "o-a1",
            store: "s1",
            phone: Some(A_PHONE),
            status: "refunded",
            total: "100.00",
            at: &days_ago(20),
            ..Order::default()
        }),
    )
    .await;
    env.put(
        SourceKind::MemberSync,
        items::member(
            A_MEMBER,
            Some(A_PHONE),
            Some(A_EMAIL),
            "张三",
            "钻石卡",
            "1",
            "0",
            "s1",
            &days_ago(300),
        ),
    )
    .await;
    env.sync().await;
    assert_gone(&env, &super_admin).await;
    // They were taken (their sequence numbers recorded), not failed and retried.
    let dump = env.dump().await;
    for id in [
        keys::anchor_pk(SourceKind::Orders, "o-a9"),
        keys::anchor_pk(SourceKind::Orders, "o-a1"),
        keys::anchor_pk(SourceKind::MemberSync, "M1"),
    ] {
        assert!(dump.iter().any(|i| i.contains(&id)), "{id} not recorded");
    }

    // B is untouched; erasing again finds nothing.
    let (status, b) = env
        .get_as(
            Some(&super_admin),
            Endpoint::Value,
            &[("customer_identifier", B_PHONE)],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(figures(&b["data"]), B_S2);
    let (status, _) = env
        .get_as(
            Some(&super_admin),
            Endpoint::Erase,
            &[("customer_identifier", A_PHONE)],
        )
        .await;
    assert_eq!(status, 404);
    // Both erasure requests are in the audit log.
    let erasures = env
        .dump_table(&env.audit_table)
        .await
        .into_iter()
        .filter(|r| r.contains("\"erase\""))
        .count();
    assert_eq!(erasures, 2);
}

/// A masked caller opens a customer they found without seeing the number: every search hit
/// (and customer answer) carries a `customer_ref`, the identifier sealed, which
/// `identifier_type=customer_ref` accepts on every customer read. It reveals nothing, opens
/// only unaltered, and gives no way around the store scope. In-memory DynamoDB, the real
/// ingest and HTTP handlers.
#[tokio::test]
async fn staff_open_a_search_hit_by_its_customer_ref_without_seeing_the_phone() {
    let env = TestEnv::in_memory().await.with_segments();
    let mut seq = 0;
    let orders: Vec<Value> = [("o-r1", "s1"), ("o-r2", "s1")]
        .iter()
        .map(|(id, store)| {
            items::order(&Order {
                id,
                store,
                phone: Some(A_PHONE),
                name: Some("张三"),
                total: "88.00",
                at: &days_ago(3),
                ..Order::default()
            })
        })
        .collect();
    env.ingest_inserts(SourceKind::Orders, &orders, &mut seq)
        .await;
    let staff = token(Role::Staff, Some("s1"));
    let (status, found) = env
        .get_as(Some(&staff), Endpoint::Search, &[("query", "0001")])
        .await;
    assert_eq!(status, 200, "{found}");
    let hit = &found["data"]["results"][0];
    assert_eq!(hit["customer_identifier"], "138****0001", "{hit}");
    let customer_ref = hit["customer_ref"].as_str().expect("a customer_ref");
    assert!(!customer_ref.contains("0000"), "{customer_ref}");

    let by_ref = |r: &str| {
        [
            ("customer_identifier", r.to_string()),
            ("identifier_type", "customer_ref".to_string()),
        ]
    };
    let query = by_ref(customer_ref);
    let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for endpoint in [Endpoint::Profile, Endpoint::Value, Endpoint::Timeline] {
        let (status, body) = env.get_as(Some(&staff), endpoint, &query).await;
        assert_eq!(status, 200, "{endpoint:?}: {body}");
        let data = &body["data"];
        assert_eq!(data["customer_identifier"], "138****0001", "{endpoint:?}");
        assert_eq!(data["identifier_type"], "phone");
        assert!(!body.to_string().contains(A_PHONE), "{body}");
        // The answer carries a ref too, for the next call (another page, another endpoint).
        assert!(data["customer_ref"].is_string(), "{endpoint:?}");
    }
    let (_, profile) = env.get_as(Some(&staff), Endpoint::Profile, &query).await;
    assert_eq!(profile["data"]["customer_value"]["total_orders"], 2);

    // Altered, cut or made up: a 400 that says what a ref is, never someone else.
    let mut altered = customer_ref.to_string();
    let last = altered.pop().expect("not empty");
    altered.push(if last == 'A' { 'B' } else { 'A' });
    for bad in [altered.as_str(), &customer_ref[..20], "13800000001"] {
        let q = by_ref(bad);
        let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, body) = env.get_as(Some(&staff), Endpoint::Profile, &q).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("customer_ref")),
            "{body}"
        );
    }
    // The scope still decides: staff of another store find nobody behind the ref.
    let elsewhere = token(Role::Staff, Some("s2"));
    let (status, body) = env
        .get_as(Some(&elsewhere), Endpoint::Profile, &query)
        .await;
    assert_eq!(status, 404, "{body}");
    // Nor does the 404 tell them what kind of identifier the ref seals (field report: it
    // said "for this phone number").
    assert_eq!(
        body["error"]["message"],
        json!("No customer was found for this customer_ref in the requested scope."),
        "{body}"
    );
    // Audited as lookups of the customer: the phone's audit lists the ref's reads.
    let (status, audit) = env
        .get(
            Endpoint::Audit,
            &[("customer_identifier", A_PHONE), ("limit", "100")],
        )
        .await;
    assert_eq!(status, 200, "{audit}");
    let by_endpoint = |e: &str| {
        audit["data"]["accesses"]
            .as_array()
            .map_or(0, |a| a.iter().filter(|x| x["endpoint"] == e).count())
    };
    // Profile: two 200s and the other store's 404 (the three 400s opened to nobody, so
    // none is hers); value and timeline once each.
    assert_eq!(
        (
            by_endpoint("profile"),
            by_endpoint("value"),
            by_endpoint("timeline")
        ),
        (3, 1, 1),
        "{audit}"
    );
}
