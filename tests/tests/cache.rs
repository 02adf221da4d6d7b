//! The answer cache end to end (ADR 0006): a real `redis-server` per test (started and
//! stopped by the test), the DynamoDB emulator, the real ingest and HTTP handlers. A hit reads
//! no table, every kind of change is seen by the next read, no answer crosses a scope or a
//! role, and Redis going away costs answers nothing.

use c360_api::auth::Authenticator;
use c360_api::http::{App, Endpoint};
use c360_domain::access::Role;
use c360_domain::{Millis, SourceKind};
use c360_e2e::items::{self, Order};
use c360_e2e::redis_server::RedisServer;
use c360_e2e::{days_ago, token, TestEnv, TEST_JWT_SECRET};
use c360_ingest::calibrate::{recalibrate, ScopeFit};
use c360_runtime::cache::{Cache, CacheConfig};
use chrono::Utc;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn cache(url: &str, ttl: Duration) -> Cache {
    Cache::new(CacheConfig {
        url: Some(url.to_string()),
        ttl,
        timeout: Duration::from_millis(250),
        breaker: Duration::from_secs(1),
        // The emulator's reads are strongly consistent: nothing to wait for (the settle
        // window has its own test).
        settle: Duration::ZERO,
    })
    .expect("a cache")
}

/// Reads cached in `reads_url`, the ingest invalidating through `ingest_url`.
async fn env_with(reads_url: &str, ingest_url: &str, ttl: Duration) -> TestEnv {
    TestEnv::new()
        .await
        .with_segments()
        .with_caches(cache(reads_url, ttl), cache(ingest_url, ttl))
}

// Positional, as a table of orders reads in the tests below.
#[allow(clippy::too_many_arguments)]
async fn order(
    env: &TestEnv,
    id: &str,
    store: &str,
    phone: Option<&str>,
    member: Option<&str>,
    status: &str,
    total: &str,
    ago: i64,
) {
    env.put(
        SourceKind::Orders,
        items::order(&Order {
            id,
            store,
            phone,
            member,
            status,
            total,
            at: &days_ago(ago),
            name: Some("张三"),
            ..Order::default()
        }),
    )
    .await;
}

/// 张三 with a member record, orders in two stores, a reservation and an activity.
async fn seed(env: &TestEnv) {
    env.put(
        SourceKind::MemberSync,
        items::member(
            "M123456",
            Some("13800138000"),
            Some("zs@example.com"),
            "张三",
            "金卡",
            "1500",
            "200.00",
            "s1",
            &days_ago(300),
        ),
    )
    .await;
    order(
        env,
        "o1",
        "s1",
        Some("13800138000"),
        None,
        "completed",
        "280.00",
        40,
    )
    .await;
    order(env, "o2", "s1", None, Some("M123456"), "paid", "120.50", 20).await;
    order(
        env,
        "o3",
        "s2",
        Some("13800138000"),
        None,
        "completed",
        "99.50",
        10,
    )
    .await;
    env.put(
        SourceKind::Reservations,
        items::reservation("r1", "s1", "13800138000", "4", &days_ago(5), "completed"),
    )
    .await;
    env.put(
        SourceKind::Activity,
        items::activity("a1", Some("s2"), "M123456", "login", &days_ago(1)),
    )
    .await;
    env.sync().await;
}

fn without_generated_at(mut v: Value) -> Value {
    if let Some(data) = v.get_mut("data").and_then(Value::as_object_mut) {
        data.remove("generated_at");
    }
    v
}

async fn audit_records(env: &TestEnv) -> usize {
    env.dump_table(&env.audit_table).await.len()
}

#[tokio::test]
async fn a_second_identical_read_is_a_hit_that_reads_no_table() {
    let redis = RedisServer::start().await;
    let env = env_with(&redis.url(), &redis.url(), Duration::from_secs(1800)).await;
    seed(&env).await;

    let id = ("customer_identifier", "13800138000");
    let first_page = env.ok(Endpoint::Timeline, &[id, ("limit", "2")]).await;
    let cursor = first_page["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_string();
    let reads: Vec<(Endpoint, Vec<(&str, &str)>)> = vec![
        (Endpoint::Profile, vec![id]),
        (Endpoint::Profile, vec![id, ("store_id", "s1")]),
        (
            Endpoint::Value,
            vec![
                ("customer_identifier", "M123456"),
                ("identifier_type", "member_id"),
            ],
        ),
        (Endpoint::Timeline, vec![id, ("limit", "2")]),
        (
            Endpoint::Timeline,
            vec![id, ("limit", "2"), ("cursor", &cursor)],
        ),
        (Endpoint::Search, vec![("query", "8000")]),
        (Endpoint::Search, vec![("query", "张"), ("store_id", "s2")]),
    ];
    for (endpoint, query) in &reads {
        let (status, miss) = env.get(*endpoint, query).await;
        assert_eq!(status, 200, "{endpoint:?} {query:?}: {miss}");
        env.counter.reset();
        let audits = audit_records(&env).await;
        let (status, hit) = env.get(*endpoint, query).await;
        assert_eq!(status, 200);
        assert_eq!(
            env.counter.total(),
            0,
            "{endpoint:?} {query:?}: a hit sent {:?}",
            env.counter.snapshot()
        );
        // The cached answer is the one computed by the miss, generated_at included.
        assert_eq!(hit, miss, "{endpoint:?} {query:?}");
        assert_eq!(
            audit_records(&env).await,
            audits + 1,
            "a hit is audited too"
        );
    }
}

/// Value, profile, timeline and search read through each of the customer's identifiers.
async fn snapshot(env: &TestEnv, ids: &[(&str, &str)]) -> Vec<Value> {
    let mut out = Vec::new();
    for (value, kind) in ids {
        let q = [("customer_identifier", *value), ("identifier_type", *kind)];
        for endpoint in [Endpoint::Value, Endpoint::Profile, Endpoint::Timeline] {
            out.push(without_generated_at(env.get(endpoint, &q).await.1));
        }
    }
    out.push(without_generated_at(
        env.get(Endpoint::Search, &[("query", "0001")]).await.1,
    ));
    out
}

/// What an uncached service answers now: the same handler without the cache.
async fn fresh(env: &TestEnv, ids: &[(&str, &str)]) -> Vec<Value> {
    let plain = App::new(
        env.app.reads.clone(),
        c360_e2e::test_access(c360_api::audit::AuditLog::Memory(Default::default())),
    );
    let mut out = Vec::new();
    for (value, kind) in ids {
        let q = [("customer_identifier", *value), ("identifier_type", *kind)];
        for endpoint in [Endpoint::Value, Endpoint::Profile, Endpoint::Timeline] {
            let (_, v) = env
                .request_with(&plain, Some(&env.super_admin), endpoint, &q)
                .await;
            out.push(without_generated_at(v));
        }
    }
    let (_, v) = env
        .request_with(
            &plain,
            Some(&env.super_admin),
            Endpoint::Search,
            &[("query", "0001")],
        )
        .await;
    out.push(without_generated_at(v));
    out
}

async fn assert_fresh(env: &TestEnv, ids: &[(&str, &str)], after: &str) {
    let cached = snapshot(env, ids).await;
    let uncached = fresh(env, ids).await;
    for (c, u) in cached.iter().zip(&uncached) {
        assert_eq!(c, u, "after {after}: the cache served an older answer");
    }
}

#[tokio::test]
async fn every_kind_of_change_is_seen_by_the_next_read() {
    let redis = RedisServer::start().await;
    let env = env_with(&redis.url(), &redis.url(), Duration::from_secs(1800)).await;
    let phone = ("13900000001", "phone");
    let member = ("M200001", "member_id");
    order(
        &env,
        "o1",
        "s1",
        Some(phone.0),
        None,
        "completed",
        "100.00",
        30,
    )
    .await;
    order(
        &env,
        "o2",
        "s1",
        None,
        Some(member.0),
        "completed",
        "50.00",
        20,
    )
    .await;
    env.sync().await;
    let both = [phone, member];
    let total = |v: &Value| v["data"]["customer_value"]["total_spent"].clone();

    // Warm every answer, then change the sources one way after another.
    let before = snapshot(&env, &both).await;
    assert_eq!(total(&before[0]), json!(100.0));
    order(&env, "o3", "s1", Some(phone.0), None, "paid", "200.00", 1).await;
    env.sync().await;
    assert_fresh(&env, &both, "a new order").await;
    assert_eq!(total(&snapshot(&env, &both).await[0]), json!(300.0));

    snapshot(&env, &both).await;
    order(
        &env,
        "o3",
        "s1",
        Some(phone.0),
        None,
        "refunded",
        "200.00",
        1,
    )
    .await;
    env.sync().await;
    assert_fresh(&env, &both, "a refund").await;
    assert_eq!(total(&snapshot(&env, &both).await[0]), json!(100.0));

    snapshot(&env, &both).await;
    env.delete(SourceKind::Orders, "o3").await;
    env.sync().await;
    assert_fresh(&env, &both, "a REMOVE").await;

    // A late identity link: the member record joins M200001 and the phone, both cached apart.
    snapshot(&env, &both).await;
    env.put(
        SourceKind::MemberSync,
        items::member(
            member.0,
            Some(phone.0),
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
    env.sync().await;
    assert_fresh(&env, &both, "a late identity link").await;
    let linked = snapshot(&env, &both).await;
    assert_eq!(total(&linked[0]), json!(150.0), "by phone");
    assert_eq!(total(&linked[3]), json!(150.0), "by member id");

    // The split: the member record drops the phone again.
    env.put(
        SourceKind::MemberSync,
        items::member(
            member.0,
            None,
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
    env.sync().await;
    assert_fresh(&env, &both, "a split").await;

    // Erasure: 404 by every identifier, and no search hit survives in the cache.
    snapshot(&env, &both).await;
    let (status, _) = env
        .get(Endpoint::Erase, &[("customer_identifier", phone.0)])
        .await;
    assert_eq!(status, 200);
    for (value, kind) in both {
        let (status, body) = env
            .get(
                Endpoint::Profile,
                &[("customer_identifier", value), ("identifier_type", kind)],
            )
            .await;
        if value == phone.0 {
            assert_eq!(status, 404, "{body}");
        }
    }
    let search = env.ok(Endpoint::Search, &[("query", "0001")]).await;
    assert_eq!(search["total"], json!(0), "{search}");
}

#[tokio::test]
async fn a_recalibration_is_seen_by_the_next_read() {
    let redis = RedisServer::start().await;
    let env = env_with(&redis.url(), &redis.url(), Duration::from_secs(1800)).await;
    // A store's population with different rhythms, enough for the models to fit.
    env.populate("s1", &mut 0).await;
    let q = [("customer_identifier", "13700000001")];
    let before = env.ok(Endpoint::Value, &q).await;
    assert_eq!(before["predictions"], Value::Null, "no model yet: {before}");
    assert_eq!(env.ok(Endpoint::Value, &q).await, before, "a hit");

    let outcomes = recalibrate(
        &env.store,
        &env.app.cache,
        Millis(Utc::now().timestamp_millis()),
        &env.config.zone,
    )
    .await
    .expect("calibration");
    assert!(
        outcomes.values().any(|o| matches!(o, ScopeFit::Fitted(_))),
        "{outcomes:?}"
    );
    let after = env.ok(Endpoint::Value, &q).await;
    assert!(after["predictions"]["p_alive"].is_number(), "{after}");
}

#[tokio::test]
async fn no_answer_crosses_a_scope_or_a_role() {
    let redis = RedisServer::start().await;
    let env = env_with(&redis.url(), &redis.url(), Duration::from_secs(1800)).await;
    seed(&env).await;
    let plain = env.app_with(Authenticator::hs256(TEST_JWT_SECRET.as_bytes(), None, None));
    let callers = [
        token(Role::SuperAdmin, None),
        token(Role::StoreAdmin, Some("s1")),
        token(Role::Staff, Some("s1")),
        token(Role::StoreAdmin, Some("s2")),
        token(Role::Staff, Some("s2")),
        token(Role::Staff, Some("s3")),
    ];
    let reads: Vec<(Endpoint, Vec<(&str, &str)>)> = vec![
        (
            Endpoint::Profile,
            vec![("customer_identifier", "13800138000")],
        ),
        (
            Endpoint::Profile,
            vec![("customer_identifier", "13800138000"), ("store_id", "s1")],
        ),
        (
            Endpoint::Value,
            vec![("customer_identifier", "13800138000"), ("store_id", "s2")],
        ),
        (
            Endpoint::Timeline,
            vec![
                ("customer_identifier", "M123456"),
                ("identifier_type", "member_id"),
            ],
        ),
        (Endpoint::Search, vec![("query", "8000")]),
        (
            Endpoint::Search,
            vec![("query", "张三"), ("store_id", "s1")],
        ),
    ];
    // Every caller, every read, cold and warm, in two orders: the cached service answers each
    // caller what the uncached one does.
    let mut order: Vec<(usize, usize)> = (0..callers.len())
        .flat_map(|c| (0..reads.len()).map(move |r| (c, r)))
        .collect();
    for round in 0..3 {
        if round == 1 {
            order.reverse();
        }
        for &(c, r) in &order {
            let (endpoint, query) = &reads[r];
            let cached = env.get_as(Some(&callers[c]), *endpoint, query).await;
            let uncached = env
                .request_with(&plain, Some(&callers[c]), *endpoint, query)
                .await;
            assert_eq!(cached.0, uncached.0, "caller {c}, {endpoint:?} {query:?}");
            assert_eq!(
                without_generated_at(cached.1),
                without_generated_at(uncached.1),
                "caller {c}, {endpoint:?} {query:?}, round {round}"
            );
        }
    }
}

/// Field report: Redis stalled for a moment, which opened the breaker; an erasure in the next
/// 30 s skipped Redis, said `erased`, and once the breaker closed the customer's profile was
/// served from the cache again, clear phone and all, for up to the TTL. Now an erasure drops
/// the cache through an open breaker, and when Redis really cannot be reached it does not
/// start (503) rather than leave answers behind.
#[tokio::test]
async fn an_erased_customer_is_never_served_from_the_cache_even_after_a_redis_stall() {
    let redis = RedisServer::start().await;
    let breaker = Duration::from_secs(3);
    let with_breaker = || {
        Cache::new(CacheConfig {
            url: Some(redis.url()),
            ttl: Duration::from_secs(1800),
            timeout: Duration::from_millis(250),
            breaker,
            settle: Duration::ZERO,
        })
        .expect("a cache")
    };
    let env = TestEnv::new()
        .await
        .with_segments()
        .with_caches(with_breaker(), with_breaker());
    seed(&env).await;
    let q = [("customer_identifier", "13800138000")];
    let (status, _) = env.get(Endpoint::Profile, &q).await;
    assert_eq!(status, 200);
    env.counter.reset();
    assert_eq!(env.get(Endpoint::Profile, &q).await.0, 200);
    assert_eq!(env.counter.total(), 0, "cached");

    // Redis down during the erasure: it does not start, and the customer is still whole.
    redis.pause();
    let (status, body) = env.get(Endpoint::Erase, &q).await;
    redis.resume();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], json!("UNAVAILABLE"), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("nothing was erased")),
        "{body}"
    );
    tokio::time::sleep(breaker + Duration::from_millis(300)).await;
    assert_eq!(env.get(Endpoint::Profile, &q).await.0, 200, "not erased");

    // A stall of a moment opens the breaker; Redis is back before the erasure.
    redis.pause();
    let (status, _) = env.get(Endpoint::Value, &q).await;
    assert_eq!(status, 200, "answered from DynamoDB while Redis stalls");
    redis.resume();
    let (status, body) = env.get(Endpoint::Erase, &q).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["cache_cleared"], json!(true), "{body}");
    // Once the breaker closes, reads use Redis again: nothing about the customer is there.
    tokio::time::sleep(breaker + Duration::from_millis(300)).await;
    for endpoint in [Endpoint::Profile, Endpoint::Value, Endpoint::Timeline] {
        let (status, body) = env.get(endpoint, &q).await;
        assert_eq!(status, 404, "{endpoint:?} after the erasure: {body}");
    }
    let search = env.ok(Endpoint::Search, &[("query", "8000")]).await;
    assert_eq!(search["total"], json!(0), "{search}");
}

#[tokio::test]
async fn reads_answer_while_redis_is_down_and_hits_resume_when_it_is_back() {
    let mut redis = RedisServer::start().await;
    let env = env_with(&redis.url(), &redis.url(), Duration::from_secs(1800)).await;
    seed(&env).await;
    let q = [("customer_identifier", "13800138000")];
    let warm = env.get(Endpoint::Profile, &q).await;

    redis.stop();
    for endpoint in [Endpoint::Profile, Endpoint::Value, Endpoint::Timeline] {
        for _ in 0..3 {
            env.counter.reset();
            let started = Instant::now();
            let (status, body) = env.get(endpoint, &q).await;
            assert_eq!(status, 200, "{endpoint:?} with Redis down: {body}");
            assert!(env.counter.total() > 0, "answered from DynamoDB");
            eprintln!("{endpoint:?} with Redis down: {:?}", started.elapsed());
        }
    }
    let (status, _) = env.get(Endpoint::Search, &[("query", "8000")]).await;
    assert_eq!(status, 200);

    redis.restart().await;
    // The breaker closes after a second; the first read then fills the empty cache.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let refilled = env.get(Endpoint::Profile, &q).await;
    assert_eq!(
        without_generated_at(refilled.1.clone()),
        without_generated_at(warm.1)
    );
    env.counter.reset();
    assert_eq!(env.get(Endpoint::Profile, &q).await, refilled);
    assert_eq!(env.counter.total(), 0, "hits again");

    // Garbage under our keys is a miss, not an error; the miss writes a good entry again.
    let keys = match redis.cmd(&[b"KEYS", b"c360:v1:id:*"]).await {
        redis::Value::Array(keys) => keys,
        other => panic!("keys: {other:?}"),
    };
    assert!(!keys.is_empty());
    for key in &keys {
        let redis::Value::BulkString(key) = key else {
            continue;
        };
        if let redis::Value::Array(fields) = redis.cmd(&[b"HKEYS", key]).await {
            for f in fields {
                if let redis::Value::BulkString(f) = f {
                    if f != b"gen" {
                        redis.cmd(&[b"HSET", key, &f, b"\xff\x00not json{"]).await;
                    }
                }
            }
        }
    }
    env.counter.reset();
    let (status, body) = env.get(Endpoint::Profile, &q).await;
    assert_eq!(status, 200, "{body}");
    assert!(env.counter.total() > 0, "a poisoned entry is a miss");
    env.counter.reset();
    env.get(Endpoint::Profile, &q).await;
    assert_eq!(env.counter.total(), 0, "and is replaced by the miss");

    // Another type under our key (not a hash) is a miss too, and replaced.
    for key in &keys {
        let redis::Value::BulkString(key) = key else {
            continue;
        };
        redis.cmd(&[b"DEL", key]).await;
        redis.cmd(&[b"SET", key, b"something else"]).await;
    }
    for expected_reads in [true, false] {
        env.counter.reset();
        let (status, _) = env.get(Endpoint::Profile, &q).await;
        assert_eq!(status, 200);
        assert_eq!(env.counter.total() > 0, expected_reads);
    }
}

/// ADR 0006's bound: when the ingest cannot reach Redis, the older answer is served for at
/// most the TTL after the ingest acknowledged the change, and never after it.
#[tokio::test]
async fn when_the_ingest_cannot_reach_redis_the_older_answer_lasts_at_most_the_ttl() {
    let redis = RedisServer::start().await;
    let unreachable = {
        let mut gone = RedisServer::start().await;
        gone.stop();
        gone.url()
    };
    let ttl = Duration::from_secs(3);
    let env = env_with(&redis.url(), &unreachable, ttl).await;
    order(
        &env,
        "o1",
        "s1",
        Some("13900000002"),
        None,
        "completed",
        "100.00",
        3,
    )
    .await;
    env.sync().await;
    let q = [("customer_identifier", "13900000002")];
    let spent = |v: &Value| v["customer_value"]["total_spent"].clone();
    assert_eq!(spent(&env.ok(Endpoint::Value, &q).await), json!(100.0));
    let cached_at = Instant::now();

    order(
        &env,
        "o2",
        "s1",
        Some("13900000002"),
        None,
        "completed",
        "50.00",
        1,
    )
    .await;
    env.sync().await;
    let acknowledged = Instant::now();
    // Within the TTL the older answer may still be served: the bound is real, not zero.
    let stale = env.ok(Endpoint::Value, &q).await;
    if cached_at.elapsed() < ttl {
        assert_eq!(
            spent(&stale),
            json!(100.0),
            "served from the cache, invalidation missed"
        );
    }
    tokio::time::sleep(ttl.saturating_sub(cached_at.elapsed()) + Duration::from_millis(200)).await;
    assert!(acknowledged.elapsed() <= ttl + Duration::from_secs(1));
    assert_eq!(
        spent(&env.ok(Endpoint::Value, &q).await),
        json!(150.0),
        "fresh once the TTL ran out"
    );
}

/// Hit and miss latency side by side, for docs/PERFORMANCE.md (times are printed, never
/// asserted): `cargo test -p c360-e2e --test cache -- --ignored --nocapture` under
/// scripts/test's services.
#[tokio::test]
#[ignore]
async fn hit_and_miss_latency() {
    let redis = RedisServer::start().await;
    let env = env_with(&redis.url(), &redis.url(), Duration::from_secs(1800)).await;
    seed(&env).await;
    let q = [("customer_identifier", "13800138000")];
    let (mut hits, mut misses) = (Vec::new(), Vec::new());
    let (mut hit_requests, mut miss_requests) = (0, 0);
    for _ in 0..200 {
        env.app
            .cache
            .invalidate(
                &[c360_domain::Identifier::parse(
                    c360_domain::IdentifierType::Phone,
                    "13800138000",
                )
                .expect("a phone")],
                &[],
            )
            .await;
        env.counter.reset();
        let t = Instant::now();
        env.get(Endpoint::Profile, &q).await;
        misses.push(t.elapsed());
        miss_requests = env.counter.total();
        env.counter.reset();
        let t = Instant::now();
        env.get(Endpoint::Profile, &q).await;
        hits.push(t.elapsed());
        hit_requests = env.counter.total();
    }
    let stats = |v: &mut Vec<Duration>| {
        v.sort();
        (v[v.len() / 2], v[v.len() * 99 / 100])
    };
    let (hm, hp) = stats(&mut hits);
    let (mm, mp) = stats(&mut misses);
    println!("profile hit:  median {hm:?} p99 {hp:?}, {hit_requests} DynamoDB requests (+ the audit PutItem)");
    println!("profile miss: median {mm:?} p99 {mp:?}, {miss_requests} DynamoDB requests (+ the audit PutItem)");
}

/// DynamoDB's reads may lag a write for a moment: right after an invalidation, answers are
/// served but not stored (`settle`), so a lagging read is never cached for a whole TTL.
#[tokio::test]
async fn answers_read_just_after_a_change_are_not_stored() {
    let redis = RedisServer::start().await;
    let settle = Duration::from_secs(2);
    let with_settle = || {
        Cache::new(CacheConfig {
            url: Some(redis.url()),
            ttl: Duration::from_secs(1800),
            timeout: Duration::from_millis(250),
            breaker: Duration::from_secs(1),
            settle,
        })
        .expect("a cache")
    };
    let env = TestEnv::new()
        .await
        .with_segments()
        .with_caches(with_settle(), with_settle());
    order(
        &env,
        "o1",
        "s1",
        Some("13900000003"),
        None,
        "completed",
        "100.00",
        3,
    )
    .await;
    // The invalidation happens inside `sync`, at a time the test does not see: the window
    // surely holds until `settle` after sync began, and surely ended `settle` after it
    // returned (a slow machine can spend more than `settle` in between).
    let before_sync = Instant::now();
    env.sync().await;
    let after_sync = Instant::now();
    let q = [("customer_identifier", "13900000003")];
    env.ok(Endpoint::Value, &q).await;
    env.counter.reset();
    env.ok(Endpoint::Value, &q).await;
    if before_sync.elapsed() < settle {
        assert!(
            env.counter.total() > 0,
            "not stored while the change settles"
        );
    }
    tokio::time::sleep(settle.saturating_sub(after_sync.elapsed()) + Duration::from_millis(100))
        .await;
    env.ok(Endpoint::Value, &q).await;
    env.counter.reset();
    env.ok(Endpoint::Value, &q).await;
    assert_eq!(env.counter.total(), 0, "stored once it settled");
}

/// After an invalidation was lost (Redis refused writes), the ingest's next invalidation that
/// reaches Redis drops everything cached before: the older answer does not last a whole TTL.
#[tokio::test]
async fn a_lost_invalidation_is_made_good_when_redis_is_back() {
    let redis = RedisServer::start().await;
    let env = env_with(&redis.url(), &redis.url(), Duration::from_secs(1800)).await;
    let q = [("customer_identifier", "13900000004")];
    let spent = |v: &Value| v["customer_value"]["total_spent"].clone();
    order(
        &env,
        "o1",
        "s1",
        Some("13900000004"),
        None,
        "completed",
        "100.00",
        3,
    )
    .await;
    env.sync().await;
    assert_eq!(spent(&env.ok(Endpoint::Value, &q).await), json!(100.0));

    // Writes paused longer than the cache's timeout: the invalidation of o2 is lost.
    redis.cmd(&[b"CLIENT", b"PAUSE", b"2500", b"WRITE"]).await;
    let paused = Instant::now();
    order(
        &env,
        "o2",
        "s1",
        Some("13900000004"),
        None,
        "completed",
        "50.00",
        1,
    )
    .await;
    env.sync().await;
    if paused.elapsed() < Duration::from_millis(2500) {
        assert_eq!(
            spent(&env.ok(Endpoint::Value, &q).await),
            json!(100.0),
            "the lost invalidation shows"
        );
    }
    // Writes resume and the breaker closes; the next change, another customer's, catches up.
    tokio::time::sleep(Duration::from_millis(2500 + 1200).saturating_sub(paused.elapsed())).await;
    order(
        &env,
        "o3",
        "s1",
        Some("13900000005"),
        None,
        "completed",
        "10.00",
        1,
    )
    .await;
    env.sync().await;
    assert_eq!(spent(&env.ok(Endpoint::Value, &q).await), json!(150.0));
}
