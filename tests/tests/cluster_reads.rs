//! A timeline page through the customer-keyed index, and a profile with the recent lists kept
//! beside the stats (ADR 0014): at most 3 requests in 2 round trips and `limit + 1` timeline
//! items read, for customers known by 1, 3 and 5 identifiers with 10 and 2,000 records; the
//! same page and lists as the per-node reads they replace (the reference model); and correct
//! while a re-link's re-key is still undone (a crash right after the commit), on both sides of
//! a split, and while a node's lists predate the lists.

use c360_api::http::Endpoint;
use c360_domain::projection::Scope;
use c360_domain::{Identifier, IdentifierType, SourceKind};
use c360_dynamodb::keys::{node_pk, recent_sk};
use c360_e2e::items::{self, Order};
use c360_e2e::{days_ago, TestEnv};
use serde_json::Value;

/// One customer: its phone (what the requests ask by) and all its identifiers.
struct Customer {
    phone: String,
    ids: Vec<Identifier>,
}

fn id(kind: IdentifierType, raw: &str) -> Identifier {
    Identifier::parse(kind, raw).expect("identifier")
}

/// Reservations of each customer: two kept, one to come.
const RESERVATIONS: i64 = 3;

/// A customer known by `k` identifiers (1: a phone; 3: a member with that phone and an email;
/// 5: two members sharing the phone, each with an email) and about `records` records: orders
/// and reservations of the phone, one order by member id only, and the member records.
async fn customer(env: &TestEnv, n: u32, k: usize, records: usize, seq: &mut u64) -> Customer {
    let phone = format!("1390000{n:04}");
    let mut ids = vec![id(IdentifierType::Phone, &phone)];
    let mut members = Vec::new();
    if k >= 3 {
        members.push((format!("MK{n}A"), format!("a{n}@example.com")));
    }
    if k >= 5 {
        members.push((format!("MK{n}B"), format!("b{n}@example.com")));
    }
    for (m, e) in &members {
        let item = items::member(
            m,
            Some(&phone),
            Some(e),
            "王五",
            "银卡",
            "10",
            "0.00",
            "s1",
            &days_ago(400),
        );
        env.ingest_inserts(SourceKind::MemberSync, &[item], seq)
            .await;
        ids.push(id(IdentifierType::MemberId, m));
        ids.push(id(IdentifierType::Email, e));
    }
    let reservations: Vec<Value> = (0..RESERVATIONS)
        .map(|i| {
            items::reservation(
                &format!("{phone}-r{i}"),
                "s1",
                &phone,
                "2",
                &days_ago(30 * i - 3),
                if i == 0 { "confirmed" } else { "completed" },
            )
        })
        .collect();
    env.ingest_inserts(SourceKind::Reservations, &reservations, seq)
        .await;
    let own = records.saturating_sub(1 + members.len() + RESERVATIONS as usize);
    // 2,000 orders in batches of 100, as a stream delivers them.
    let days: Vec<i64> = (0..own as i64).map(|i| (i * 7) % 700).collect();
    for chunk in days.chunks(100) {
        let orders: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, d)| {
                items::order(&Order {
                    id: &format!("{phone}-{}-{i}", *seq),
                    phone: Some(&phone),
                    at: &days_ago(*d),
                    ..Order::default()
                })
            })
            .collect();
        env.ingest_inserts(SourceKind::Orders, &orders, seq).await;
    }
    if let Some((m, _)) = members.first() {
        let order = items::order(&Order {
            id: &format!("{m}-own"),
            member: Some(m),
            at: &days_ago(1),
            ..Order::default()
        });
        env.ingest_inserts(SourceKind::Orders, &[order], seq).await;
    }
    Customer { phone, ids }
}

/// The reference model: each identifier's own newest entries (its partition, as reads did
/// before the index), merged newest first; the time keys of the page after `before`.
async fn per_node_page(
    env: &TestEnv,
    ids: &[Identifier],
    limit: usize,
    before: Option<&str>,
) -> Vec<String> {
    let mut all = Vec::new();
    for node in ids {
        let (page, _) = env
            .store
            .timeline_page(node, &Scope::AllStores, limit, before)
            .await
            .expect("node page");
        all.extend(page.into_iter().map(|(k, _)| k));
    }
    all.sort_by(|a, b| b.cmp(a));
    all.truncate(limit);
    all
}

/// The reference model of a profile's list: each identifier's own newest records of `kind`
/// (the per-node Queries the lists replace), merged newest first; their source ids.
async fn per_node_recent(env: &TestEnv, ids: &[Identifier], kind: SourceKind) -> Vec<String> {
    let mut all = Vec::new();
    for node in ids {
        let page = env
            .store
            .recent_of_kind(node, &Scope::AllStores, kind, 5)
            .await
            .expect("node's recent records");
        all.extend(page.into_iter().map(|(k, _)| k));
    }
    all.sort_by(|a, b| b.cmp(a));
    all.truncate(5);
    ids_of(&all)
}

/// Reads `c`'s profile and checks its lists and newest timeline entries against the reference
/// model; returns the requests and round trips it took.
async fn profile(env: &TestEnv, c: &Customer) -> (u64, u64) {
    env.counter.reset();
    let answer = env
        .ok(
            Endpoint::Profile,
            &[("customer_identifier", c.phone.as_str())],
        )
        .await;
    let cost = (env.counter.total(), env.counter.rounds());
    let seen = env.counter.snapshot();
    for (field, kind, id) in [
        ("recent_orders", SourceKind::Orders, "order_id"),
        (
            "recent_reservations",
            SourceKind::Reservations,
            "reservation_id",
        ),
    ] {
        let got: Vec<String> = answer[field]
            .as_array()
            .expect(field)
            .iter()
            .map(|e| e[id].as_str().unwrap_or_default().to_string())
            .collect();
        let want = per_node_recent(env, &c.ids, kind).await;
        assert!(!want.is_empty(), "{}: no {field} to compare", c.phone);
        assert_eq!(got, want, "{} {field} ({seen:?})", c.phone);
    }
    let times = |v: &Value, at: &str| -> Vec<String> {
        v.as_array()
            .expect("a list")
            .iter()
            .map(|e| e[at].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let newest = env
        .ok(
            Endpoint::Timeline,
            &[("customer_identifier", c.phone.as_str()), ("limit", "10")],
        )
        .await;
    assert_eq!(
        times(&answer["timeline"], "event_time"),
        times(&newest["timeline"], "event_time"),
        "{}: the profile's timeline is the timeline's first page",
        c.phone
    );
    cost
}

/// The order, reservation or member ids of a timeline answer, in order.
fn shown(answer: &Value) -> Vec<String> {
    answer["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|e| {
            let d = &e["data"];
            d["order_id"]
                .as_str()
                .or(d["reservation_id"].as_str())
                .or(d["member_id"].as_str())
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// The source ids at the end of reference time keys (`{scope}#{time}#{table}#{id}`).
fn ids_of(keys: &[String]) -> Vec<String> {
    keys.iter()
        .map(|k| k.rsplit('#').next().unwrap_or_default().to_string())
        .collect()
}

/// Reads two pages of `c`'s timeline (`limit` each) and checks them against the reference
/// model; returns the requests, round trips and Query limits summed of each page.
async fn two_pages(env: &TestEnv, c: &Customer, limit: usize) -> Vec<(u64, u64, u64)> {
    let limit_text = limit.to_string();
    let mut costs = Vec::new();
    let mut cursor: Option<String> = None;
    let mut before: Option<String> = None;
    for _ in 0..2 {
        let mut q = vec![
            ("customer_identifier", c.phone.as_str()),
            ("limit", limit_text.as_str()),
        ];
        if let Some(cur) = &cursor {
            q.push(("cursor", cur.as_str()));
        }
        env.counter.reset();
        let answer = env.ok(Endpoint::Timeline, &q).await;
        costs.push((
            env.counter.total(),
            env.counter.rounds(),
            env.counter.query_limits(),
        ));
        let seen = env.counter.snapshot();
        let want = per_node_page(env, &c.ids, limit, before.as_deref()).await;
        assert_eq!(
            shown(&answer),
            ids_of(&want),
            "{} after {before:?} ({seen:?})",
            c.phone
        );
        before = want.last().cloned();
        cursor = answer["next_cursor"].as_str().map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    costs
}

#[tokio::test]
async fn a_timeline_page_and_a_profile_cost_three_requests_in_two_round_trips_whatever_the_identifiers(
) {
    // Against the emulator: round trips are counted only where answers take time.
    let env = TestEnv::new().await;
    let mut seq = 0;
    for (n, k) in [(1, 1), (2, 3), (3, 5)] {
        let c = customer(&env, n, k, 10, &mut seq).await;
        assert_eq!(c.ids.len(), k);
        let (requests, rounds) = profile(&env, &c).await;
        assert!(
            requests <= 3 && rounds <= 2,
            "profile, {k} identifiers: {requests} requests, {rounds} round trips: {:?}",
            env.counter.snapshot()
        );
        for (page, (requests, rounds, items)) in
            two_pages(&env, &c, 4).await.into_iter().enumerate()
        {
            assert!(
                requests <= 3 && rounds <= 2 && items <= 5,
                "{k} identifiers, page {page}: {requests} requests, {rounds} round trips, {items} items: {:?}",
                env.counter.snapshot()
            );
        }
    }
}

#[tokio::test]
async fn two_thousand_records_cost_the_same_and_page_like_the_per_identifier_reads() {
    let env = TestEnv::in_memory().await;
    let mut seq = 0;
    for (n, k) in [(11, 1), (12, 3), (13, 5)] {
        let c = customer(&env, n, k, 2_000, &mut seq).await;
        let (requests, _) = profile(&env, &c).await;
        assert!(
            requests <= 3,
            "profile, {k} identifiers: {requests} requests: {:?}",
            env.counter.snapshot()
        );
        for (page, (requests, _, items)) in two_pages(&env, &c, 50).await.into_iter().enumerate() {
            assert!(
                requests <= 3 && items <= 51,
                "{k} identifiers, page {page}: {requests} requests, {items} items: {:?}",
                env.counter.snapshot()
            );
        }
    }
}

#[tokio::test]
async fn a_re_key_left_undone_reads_the_same_and_the_next_change_finishes_it() {
    let env = TestEnv::in_memory().await.without_rekeying();
    let mut seq = 0;
    let (p1, p2) = ("13900000901", "13900000902");
    let orders = |phone: &str, n: usize, from: i64| -> Vec<Value> {
        (0..n)
            .map(|i| {
                items::order(&Order {
                    id: &format!("{phone}-{}", from + i as i64),
                    phone: Some(phone),
                    at: &days_ago(from + i as i64),
                    ..Order::default()
                })
            })
            .collect()
    };
    env.ingest_inserts(SourceKind::Orders, &orders(p2, 30, 0), &mut seq)
        .await;
    env.ingest_inserts(SourceKind::Orders, &orders(p1, 5, 100), &mut seq)
        .await;
    let member = |m: &str, phone: &str, email: &str| {
        items::member(
            m,
            Some(phone),
            Some(email),
            "赵六",
            "",
            "0",
            "0.00",
            "s1",
            &days_ago(300),
        )
    };
    // Two members sharing an email join both phones into one customer, keyed by the smaller
    // phone: the other phone's 30 entries must move to that key.
    env.ingest_inserts(
        SourceKind::MemberSync,
        &[member("MR1", p1, "zl@example.com")],
        &mut seq,
    )
    .await;
    env.ingest_inserts(
        SourceKind::MemberSync,
        &[member("MR2", p2, "zl@example.com")],
        &mut seq,
    )
    .await;
    let all = |ids: &[(&str, IdentifierType)]| -> Vec<Identifier> {
        ids.iter().map(|(raw, k)| id(*k, raw)).collect()
    };
    let joined = Customer {
        phone: p2.to_string(),
        ids: all(&[
            (p1, IdentifierType::Phone),
            (p2, IdentifierType::Phone),
            ("MR1", IdentifierType::MemberId),
            ("MR2", IdentifierType::MemberId),
            ("zl@example.com", IdentifierType::Email),
        ]),
    };
    // Not re-keyed yet (the function "stopped" after the commit): the same pages, read per
    // identifier (more requests).
    let undone = two_pages(&env, &joined, 20).await;
    assert!(undone[0].0 > 3, "{undone:?}");

    // The next change of that phone re-keys it; from then on 3 requests.
    let env = env.with_rekeying();
    env.ingest_inserts(SourceKind::Orders, &orders(p2, 1, 50), &mut seq)
        .await;
    for (requests, _, items) in two_pages(&env, &joined, 20).await {
        assert!(
            requests <= 3 && items <= 21,
            "{requests} requests, {items} items"
        );
    }

    // A split left un-re-keyed: MR2 leaves the email, so p2's side leaves the customer keyed
    // by p1, and its entries still carry p1's key. Neither side shows the other's entries.
    let env = env.without_rekeying();
    env.ingest_inserts(
        SourceKind::MemberSync,
        &[member("MR2", p2, "other@example.com")],
        &mut seq,
    )
    .await;
    let left = Customer {
        phone: p1.to_string(),
        ids: all(&[
            (p1, IdentifierType::Phone),
            ("MR1", IdentifierType::MemberId),
            ("zl@example.com", IdentifierType::Email),
        ]),
    };
    let right = Customer {
        phone: p2.to_string(),
        ids: all(&[
            (p2, IdentifierType::Phone),
            ("MR2", IdentifierType::MemberId),
            ("other@example.com", IdentifierType::Email),
        ]),
    };
    two_pages(&env, &left, 20).await;
    two_pages(&env, &right, 20).await;
}

/// A node whose lists predate the lists (items written by an older build, simulated by deleting
/// them): its profile is the same, read from the index; the node's next order and reservation
/// fill its lists in again, and the profile is back to 3 requests.
#[tokio::test]
async fn lists_from_before_the_lists_read_the_same_and_the_next_change_fills_them_in() {
    let env = TestEnv::in_memory().await;
    let mut seq = 0;
    let c = customer(&env, 31, 3, 20, &mut seq).await;
    let s1 = Scope::Store(c360_domain::StoreId::parse("s1").expect("store id"));
    let mut lists: Vec<(String, String)> = Vec::new();
    for id in &c.ids {
        for scope in [&Scope::AllStores, &s1] {
            for kind in [SourceKind::Orders, SourceKind::Reservations] {
                lists.push((node_pk(id), recent_sk(scope, kind)));
            }
        }
    }
    env.store.delete_keys(&lists).await.expect("lists deleted");
    let (requests, _) = profile(&env, &c).await;
    assert!(requests > 3, "the lists are not there: {requests} requests");

    let orders = [
        items::order(&Order {
            id: "late-order",
            phone: Some(&c.phone),
            at: &days_ago(40),
            ..Order::default()
        }),
        items::order(&Order {
            id: "late-member-order",
            member: Some("MK31A"),
            at: &days_ago(50),
            ..Order::default()
        }),
    ];
    env.ingest_inserts(SourceKind::Orders, &orders, &mut seq)
        .await;
    let reservation =
        items::reservation("late-r", "s1", &c.phone, "4", &days_ago(-10), "confirmed");
    env.ingest_inserts(SourceKind::Reservations, &[reservation], &mut seq)
        .await;
    let (requests, _) = profile(&env, &c).await;
    assert!(
        requests <= 3,
        "{requests} requests: {:?}",
        env.counter.snapshot()
    );
}
