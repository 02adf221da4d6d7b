//! The end-to-end harness: a fresh set of tables in the DynamoDB emulator per test, the real
//! ingest handlers fed either through the tables' streams (the local event source mapping)
//! or with Lambda events built here, and the real HTTP handler answering requests.
//!
//! `scripts/test` starts the emulator and sets `C360_TEST_DYNAMODB_ENDPOINT`.

use aws_lambda_events::event::dynamodb::Event;
use c360_api::audit::{AuditLog, SubjectHasher};
use c360_api::auth::{sign_hs256, Authenticator};
use c360_api::http::{handle, Access, App, Endpoint};
use c360_api::reads::Reads;
use c360_devkit::memory::MemoryDynamo;
use c360_devkit::poller::{batch_handler, BatchHandler, Poller, PollerConfig, StreamSource};
use c360_domain::access::{MaskingConfig, Role};
use c360_domain::SourceKind;
use c360_dynamodb::counter::RequestCounter;
use c360_dynamodb::schema;
use c360_dynamodb::store::Store;
use c360_ingest::handler::{BatchReport, Ingest};
use c360_ingest::projector::Projector;
use c360_runtime::cache::Cache;
use c360_runtime::config::Config;
use lambda_http::RequestExt;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub use serde_json;

pub mod faults;
pub mod openapi;
pub mod redis_server;
pub mod segments;

static NEXT: AtomicU64 = AtomicU64::new(0);

pub const TEST_JWT_SECRET: &str = "e2e-test-secret-at-least-32-bytes-long!!";
pub const TEST_AUDIT_HASH_KEY: &str = "e2e-test-audit-hash-key";

/// A bearer token for `role` (of `store`), signed with the tests' HS256 secret, valid 1 hour.
pub fn token(role: Role, store: Option<&str>) -> String {
    let sub = match store {
        Some(s) => format!("{}-{s}", role.as_str()),
        None => role.as_str().to_string(),
    };
    sign_hs256(
        TEST_JWT_SECRET.as_bytes(),
        &sub,
        role,
        store,
        chrono::Utc::now().timestamp() + 3600,
    )
    .expect("sign a test token")
}

/// A token that expired ten minutes ago, otherwise valid.
pub fn expired_token(role: Role, store: Option<&str>) -> String {
    sign_hs256(
        TEST_JWT_SECRET.as_bytes(),
        "expired",
        role,
        store,
        chrono::Utc::now().timestamp() - 600,
    )
    .expect("sign a test token")
}

/// A token signed with another secret, otherwise valid.
pub fn forged_token(role: Role, store: Option<&str>) -> String {
    sign_hs256(
        b"not-the-secret-not-the-secret-not-the-secret",
        "forged",
        role,
        store,
        chrono::Utc::now().timestamp() + 600,
    )
    .expect("sign a test token")
}

/// What the local server runs: HS256 verification, the default masking, audit into `audit`.
pub fn test_access(audit: AuditLog) -> Access {
    Access {
        auth: Authenticator::hs256(TEST_JWT_SECRET.as_bytes(), None, None),
        masking: MaskingConfig::default(),
        audit,
        hasher: SubjectHasher::new(TEST_AUDIT_HASH_KEY.as_bytes()),
    }
}

pub fn endpoint() -> String {
    std::env::var("C360_TEST_DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
        panic!("C360_TEST_DYNAMODB_ENDPOINT is not set: run the tests with scripts/test, which starts the DynamoDB emulator")
    })
}

pub struct TestEnv {
    pub client: aws_sdk_dynamodb::Client,
    pub sdk: aws_config::SdkConfig,
    /// Counts the requests the read and ingest paths send (not the harness's own).
    pub counter: RequestCounter,
    /// Fault injection on the same client (disarmed unless a test arms it).
    pub faults: faults::Faults,
    pub store: Store,
    pub config: Config,
    pub app: App,
    pub prefix: String,
    /// The audit table of this environment.
    pub audit_table: String,
    /// The token [`TestEnv::get`] sends: a `super_admin`'s, so reads see all stores.
    pub super_admin: String,
    ingests: HashMap<SourceKind, Ingest>,
    /// What the ingest handlers are built with ([`TestEnv::with_caches`] and the like).
    projecting: Projecting,
    poller: tokio::sync::Mutex<Option<Poller>>,
    /// Every batch the poller delivered, for redelivery tests.
    pub delivered: Arc<Mutex<Vec<(SourceKind, Event)>>>,
}

/// What an environment's ingest handlers apply changes with, beside the projection.
#[derive(Clone)]
struct Projecting {
    cache: Option<Cache>,
    /// The segment rows' reconcile after each change, as the ingest functions do
    /// ([`TestEnv::with_segments`]): search reads those rows and their tokens (ADR 0014), so
    /// a test that searches needs it. Off by default: it adds a few requests to every change,
    /// which tests counting the projection's own requests, and the test time, do without.
    segments: Option<c360_runtime::segments::Segments>,
    rekey: bool,
}

impl TestEnv {
    /// Fresh tables in the DynamoDB emulator (`scripts/test` starts it).
    pub async fn new() -> TestEnv {
        // A request the emulator never answers fails the test instead of hanging the run.
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .timeout_config(c360_runtime::config::timeouts(
                std::time::Duration::from_secs(60),
            ))
            .endpoint_url(endpoint())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .load()
            .await;
        TestEnv::with_sdk(sdk).await
    }

    /// Fresh tables in an in-memory DynamoDB ([`MemoryDynamo`]): the same store, projector,
    /// ingest and HTTP code, no network. No streams: deliver with [`TestEnv::ingest`], not
    /// [`TestEnv::sync`].
    pub async fn in_memory() -> TestEnv {
        TestEnv::on_memory(MemoryDynamo::new()).await
    }

    /// [`TestEnv::in_memory`] on a given in-memory DynamoDB (which the caller may also serve
    /// to other processes, as `benches/lambda.rs` does).
    pub async fn on_memory(memory: MemoryDynamo) -> TestEnv {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "memory", "memory", None, None, "memory",
            ))
            .http_client(memory)
            .load()
            .await;
        TestEnv::with_sdk(sdk).await
    }

    async fn with_sdk(sdk: aws_config::SdkConfig) -> TestEnv {
        let client = aws_sdk_dynamodb::Client::new(&sdk);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let prefix = format!("t{}_{}_{n}", std::process::id(), nanos % 1_000_000_000);
        let config = Config {
            table: format!("{prefix}_customer360"),
            ..Config::from_env().expect("default config")
        };
        schema::create_service_table(&client, &config.table)
            .await
            .expect("service table");
        let audit_table = format!("{prefix}_audit");
        schema::create_audit_table(&client, &audit_table)
            .await
            .expect("audit table");
        for kind in SourceKind::ALL {
            schema::create_source_table(&client, kind, &format!("{prefix}_{}", kind.table()))
                .await
                .expect("source table");
        }
        let counter = RequestCounter::default();
        let faults = faults::Faults::default();
        let store = Store::new(
            aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::config::Builder::from(&sdk)
                    .interceptor(counter.clone())
                    .interceptor(faults.clone())
                    .build(),
            ),
            config.table.clone(),
        );
        let app = App::new(
            Reads::new(store.clone(), config.clone()),
            test_access(AuditLog::DynamoDb {
                client: client.clone(),
                table: audit_table.clone(),
                retention_days: 180,
            }),
        );
        let env = TestEnv {
            client,
            sdk,
            counter,
            faults,
            store,
            config,
            app,
            prefix,
            audit_table,
            super_admin: token(Role::SuperAdmin, None),
            ingests: HashMap::new(),
            projecting: Projecting {
                cache: None,
                segments: None,
                rekey: true,
            },
            poller: tokio::sync::Mutex::new(None),
            delivered: Arc::default(),
        };
        env.reproject()
    }

    /// The same environment whose ingest handlers (direct and through the poller) are built
    /// anew from `self.projecting`.
    pub(crate) fn reproject(mut self) -> TestEnv {
        let p = self.projecting.clone();
        self.ingests = SourceKind::ALL
            .into_iter()
            .map(|k| {
                let mut projector = Projector::new(self.store.clone(), self.config.zone);
                if let Some(cache) = &p.cache {
                    projector = projector.with_cache(cache.clone());
                }
                if let Some(segments) = &p.segments {
                    projector = projector.with_segments(segments.clone());
                }
                if !p.rekey {
                    projector = projector.without_rekeying();
                }
                (k, Ingest::new(k, projector, self.config.zone))
            })
            .collect();
        self
    }

    /// The same environment with the answer cache: the app reads through `reads`, and the
    /// ingest handlers (the poller's too) invalidate through `ingest`, as the functions do in
    /// AWS with one Redis. Call before the first [`TestEnv::sync`].
    pub fn with_caches(mut self, reads: Cache, ingest: Cache) -> TestEnv {
        self.app.cache = reads;
        self.projecting.cache = Some(ingest);
        self.reproject()
    }

    /// Whether this environment's ingest reconciles segment rows (and so search finds).
    pub fn reconciles(&self) -> bool {
        self.projecting.segments.is_some()
    }

    /// The same environment whose direct ingest ([`TestEnv::ingest`]) leaves re-keys undone,
    /// as a function stopping right after a re-link's commit would (ADR 0014).
    pub fn without_rekeying(mut self) -> TestEnv {
        self.projecting.rekey = false;
        self.reproject()
    }

    /// The same environment with re-keys done again after each change (undoes
    /// [`TestEnv::without_rekeying`]).
    pub fn with_rekeying(mut self) -> TestEnv {
        self.projecting.rekey = true;
        self.reproject()
    }

    /// Where the stream poller of [`TestEnv::sync`] writes dead letters, one file per table.
    pub fn dead_letter_dir(&self) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("c360-dlq-{}", self.prefix))
    }

    /// The ingest handler of a source, as the poller invokes it.
    pub fn handler(&self, kind: SourceKind) -> BatchHandler {
        let ingest = self.ingests[&kind].clone();
        batch_handler(move |event: Event| {
            let ingest = ingest.clone();
            async move { Ok::<_, String>(ingest.handle(event).await.0) }
        })
    }

    pub fn table(&self, kind: SourceKind) -> String {
        format!("{}_{}", self.prefix, kind.table())
    }

    /// Writes a source item (DynamoDB JSON) into its source table.
    pub async fn put(&self, kind: SourceKind, item: Value) {
        let item: serde_dynamo::Item = serde_json::from_value(item).expect("item is DynamoDB JSON");
        let item: HashMap<String, aws_sdk_dynamodb::types::AttributeValue> = item.into();
        self.client
            .put_item()
            .table_name(self.table(kind))
            .set_item(Some(item))
            .send()
            .await
            .expect("put source item");
    }

    pub async fn delete(&self, kind: SourceKind, id: &str) {
        self.client
            .delete_item()
            .table_name(self.table(kind))
            .key(
                kind.id_attribute(),
                aws_sdk_dynamodb::types::AttributeValue::S(id.into()),
            )
            .send()
            .await
            .expect("delete source item");
    }

    /// Delivers everything new on the source streams to the ingest handlers, the way
    /// Lambda's event source mapping would, and waits until the streams are drained.
    pub async fn sync(&self) {
        let mut guard = self.poller.lock().await;
        if guard.is_none() {
            let sources = SourceKind::ALL
                .into_iter()
                .map(|kind| {
                    let ingest = self.ingests[&kind].clone();
                    let delivered = self.delivered.clone();
                    StreamSource::new(
                        self.table(kind),
                        batch_handler(move |event: Event| {
                            let ingest = ingest.clone();
                            let delivered = delivered.clone();
                            async move {
                                if let Ok(mut d) = delivered.lock() {
                                    d.push((kind, event.clone()));
                                }
                                Ok::<_, String>(ingest.handle(event).await.0)
                            }
                        }),
                    )
                })
                .collect();
            let config = PollerConfig {
                dead_letter_dir: self.dead_letter_dir(),
                ..PollerConfig::default()
            };
            *guard = Some(Poller::new(
                self.client.clone(),
                aws_sdk_dynamodbstreams::Client::new(&self.sdk),
                sources,
                config,
            ));
        }
        if let Some(poller) = guard.as_mut() {
            poller.drain().await.expect("stream poll");
        }
    }

    /// Invokes an ingest handler directly with a Lambda event.
    pub async fn ingest(&self, kind: SourceKind, event: Event) -> (Vec<String>, BatchReport) {
        let (response, report) = self.ingests[&kind].handle(event).await;
        (
            response
                .batch_item_failures
                .into_iter()
                .filter_map(|f| f.item_identifier)
                .collect(),
            report,
        )
    }

    /// Delivers `items` (DynamoDB JSON) to the ingest handler of `kind` as one batch of INSERT
    /// records numbered on from `seq`, and fails the test on any item failure.
    pub async fn ingest_inserts(&self, kind: SourceKind, items: &[Value], seq: &mut u64) {
        let numbered: Vec<(String, Value)> = items
            .iter()
            .map(|item| {
                *seq += 1;
                (seq.to_string(), item.clone())
            })
            .collect();
        let batch: Vec<(&str, Option<Value>, Option<Value>, &str)> = numbered
            .iter()
            .map(|(s, i)| ("INSERT", Some(i.clone()), None, s.as_str()))
            .collect();
        let (failures, _) = self.ingest(kind, stream_event(kind, &batch)).await;
        assert!(failures.is_empty(), "{kind:?}: {failures:?}");
    }

    /// One customer's orders in `store`, one per entry of `days_ago` (days before now), for
    /// `ticket` yuan give or take, through the real ingest handler as one batch.
    pub async fn order_history(
        &self,
        phone: &str,
        store: &str,
        days_ago: &[i64],
        ticket: i64,
        seq: &mut u64,
    ) {
        let orders: Vec<Value> = days_ago
            .iter()
            .enumerate()
            .map(|(i, d)| {
                items::order(&items::Order {
                    id: &format!("{phone}-{i}"),
                    store,
                    phone: Some(phone),
                    total: &format!("{}.00", ticket + (i as i64 * 37) % (ticket / 2 + 1)),
                    at: &crate::days_ago(*d),
                    ..items::Order::default()
                })
            })
            .collect();
        self.ingest_inserts(SourceKind::Orders, &orders, seq).await;
    }

    /// A store's population for the predictions' models to fit: 40 customers (phones
    /// `137000000xx`) with different rhythms, ages and tickets.
    pub async fn populate(&self, store: &str, seq: &mut u64) {
        for c in 0..40i64 {
            let every = 3 + (c * 7) % 40;
            let start = 60 + (c * 13) % 300;
            let stop = (c * 17) % 120;
            let days: Vec<i64> = (0..)
                .map(|k| start - k * every)
                .take_while(|d| *d >= stop)
                .collect();
            let phone = format!("137{c:08}");
            self.order_history(&phone, store, &days, 40 + (c * 53) % 400, seq)
                .await;
        }
    }

    /// The demo generator's first `customers` customers (the seed customer 张三 among them),
    /// their records dated up to now in +08:00, delivered with [`TestEnv::ingest_demo`].
    pub async fn ingest_demo_customers(&self, customers: usize) {
        let now = chrono::Utc::now();
        let mut config = c360_devkit::demo::DemoConfig::new(
            c360_devkit::demo::DEFAULT_SEED,
            now.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("+08:00")),
        );
        config.customers = customers;
        self.ingest_demo(&c360_devkit::demo::generate(&config), &mut 0)
            .await;
    }

    /// Delivers a generated demo dataset through the ingest handlers, table by table in
    /// batches of 100 (a stream's batch size), numbered on from `seq`.
    pub async fn ingest_demo(&self, data: &c360_devkit::demo::DemoData, seq: &mut u64) {
        for (source, items) in data.tables() {
            let kind = SourceKind::from_table(source).expect("a source table");
            for chunk in items.chunks(100) {
                let images: Vec<Value> = chunk
                    .iter()
                    .map(|item| {
                        serde_json::to_value(serde_dynamo::Item::from(item.clone()))
                            .expect("DynamoDB JSON")
                    })
                    .collect();
                self.ingest_inserts(kind, &images, seq).await;
            }
        }
    }

    /// `GET /api/v1/customer360/{endpoint}?query` as a `super_admin`, through the handler
    /// the Lambdas run.
    pub async fn get(&self, endpoint: Endpoint, query: &[(&str, &str)]) -> (u16, Value) {
        self.get_as(Some(&self.super_admin), endpoint, query).await
    }

    /// A request with `token` (or none), by the endpoint's method.
    pub async fn get_as(
        &self,
        token: Option<&str>,
        endpoint: Endpoint,
        query: &[(&str, &str)],
    ) -> (u16, Value) {
        self.request_with(&self.app, token, endpoint, query).await
    }

    /// An app like [`TestEnv::app`] (same tables, same audit table) that authenticates as
    /// `auth` says, e.g. from API Gateway's authorizer claims as the Lambdas do in AWS.
    pub fn app_with(&self, auth: Authenticator) -> App {
        App::new(
            Reads::new(self.store.clone(), self.config.clone()),
            Access {
                auth,
                ..test_access(AuditLog::DynamoDb {
                    client: self.client.clone(),
                    table: self.audit_table.clone(),
                    retention_days: 180,
                })
            },
        )
    }

    /// [`TestEnv::get_as`] against another app (another audit log or masking).
    pub async fn request_with(
        &self,
        app: &App,
        token: Option<&str>,
        endpoint: Endpoint,
        query: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut params: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in query {
            params.entry(k.to_string()).or_default().push(v.to_string());
        }
        let mut req = lambda_http::Request::default().with_query_string_parameters(params);
        *req.method_mut() = endpoint.method().parse().expect("an HTTP method");
        if let Some(t) = token {
            req.headers_mut().insert(
                "authorization",
                format!("Bearer {t}").parse().expect("a header value"),
            );
        }
        let resp = handle(app, endpoint, req).await;
        let status = resp.status().as_u16();
        assert_eq!(
            resp.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/json; charset=utf-8")
        );
        let body = match resp.body() {
            lambda_http::Body::Text(t) => t.clone(),
            other => panic!("expected a text body, got {other:?}"),
        };
        assert!(
            !body.contains("\\u"),
            "Chinese text must not be \\u-escaped: {body}"
        );
        let body: Value = serde_json::from_str(&body).expect("JSON body");
        // Every answer the tests receive must match the API's contract (infra/openapi.yaml).
        openapi::assert_valid_response(&endpoint.path(), status, &body);
        (status, body)
    }

    /// `data` of a successful answer, failing the test with the error otherwise.
    pub async fn ok(&self, endpoint: Endpoint, query: &[(&str, &str)]) -> Value {
        let (status, body) = self.get(endpoint, query).await;
        assert_eq!(status, 200, "{endpoint:?} {query:?}: {body}");
        assert_eq!(body["success"], json!(true));
        body["data"].clone()
    }

    /// Every item of the customer360 table, sorted, for before/after comparisons.
    pub async fn dump(&self) -> Vec<String> {
        self.dump_table(&self.config.table).await
    }

    /// Every item of a table, as sorted JSON lines.
    pub async fn dump_table(&self, table: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let resp = self
                .client
                .scan()
                .table_name(table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            for item in resp.items() {
                let item: serde_dynamo::Item = item.clone().into();
                out.push(
                    serde_json::to_string(&sorted(serde_json::to_value(item).expect("json")))
                        .expect("string"),
                );
            }
            match resp.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        out.sort();
        out
    }
}

fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k, sorted(v)))
                .collect::<serde_json::Map<_, _>>(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// The time `days` days before now, RFC 3339 at +08:00, as the sources write times.
pub fn days_ago(days: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::days(days))
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("+08:00"))
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// A Lambda DynamoDB stream event from (eventName, new image, old image, sequence number).
pub fn stream_event(
    kind: SourceKind,
    records: &[(&str, Option<Value>, Option<Value>, &str)],
) -> Event {
    let records: Vec<Value> = records
        .iter()
        .map(|(name, new, old, seq)| {
            let image = new.as_ref().or(old.as_ref()).expect("an image");
            let id_attr = kind.id_attribute();
            let mut change = json!({
                "ApproximateCreationDateTime": 1_771_414_200,
                "Keys": { id_attr: image[id_attr].clone() },
                "SequenceNumber": seq,
                "SizeBytes": 100,
                "StreamViewType": "NEW_AND_OLD_IMAGES",
            });
            if let Some(n) = new {
                change["NewImage"] = n.clone();
            }
            if let Some(o) = old {
                change["OldImage"] = o.clone();
            }
            json!({
                "eventID": format!("{}-{seq}", kind.table()),
                "eventName": name,
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": change,
                "eventSourceARN": format!("arn:aws:dynamodb:us-east-1:123456789012:table/{}/stream/2026", kind.table()),
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).expect("a valid DynamoDB stream event")
}

/// Source items in DynamoDB JSON, as the operational systems write them.
pub mod items {
    use serde_json::{json, Value};

    fn s(v: &str) -> Value {
        json!({ "S": v })
    }
    fn n(v: &str) -> Value {
        json!({ "N": v })
    }
    fn put_opt(m: &mut Value, k: &str, v: Option<&str>) {
        if let Some(v) = v {
            m[k] = s(v);
        }
    }

    pub struct Order<'a> {
        pub id: &'a str,
        pub store: &'a str,
        pub phone: Option<&'a str>,
        pub member: Option<&'a str>,
        pub name: Option<&'a str>,
        pub order_type: &'a str,
        pub status: &'a str,
        pub total: &'a str,
        pub at: &'a str,
    }

    impl Default for Order<'_> {
        fn default() -> Self {
            Order {
                id: "o1",
                store: "s1",
                phone: None,
                member: None,
                name: None,
                order_type: "dine_in",
                status: "completed",
                total: "100.00",
                at: "2026-11-01T12:00:00+08:00",
            }
        }
    }

    pub fn order(o: &Order) -> Value {
        let mut m = json!({
            "order_id": s(o.id), "order_number": s(&format!("ORD-{}", o.id)), "store_id": s(o.store),
            "order_type": s(o.order_type), "status": s(o.status), "total": n(o.total),
            "created_at": s(o.at), "updated_at": s(o.at),
        });
        put_opt(&mut m, "customer_phone", o.phone);
        put_opt(&mut m, "member_id", o.member);
        put_opt(&mut m, "customer_name", o.name);
        m
    }

    #[allow(clippy::too_many_arguments)]
    pub fn member(
        id: &str,
        phone: Option<&str>,
        email: Option<&str>,
        name: &str,
        level: &str,
        points: &str,
        balance: &str,
        store: &str,
        registered_at: &str,
    ) -> Value {
        let mut m = json!({
            "member_id": s(id), "name": s(name), "level": s(level), "points": n(points), "balance": n(balance),
            "store_id": s(store), "registered_at": s(registered_at), "synced_at": s(registered_at),
        });
        put_opt(&mut m, "phone", phone);
        put_opt(&mut m, "email", email);
        m
    }

    pub fn reservation(
        id: &str,
        store: &str,
        phone: &str,
        party: &str,
        at: &str,
        status: &str,
    ) -> Value {
        json!({
            "reservation_id": s(id), "store_id": s(store), "customer_phone": s(phone), "party_size": n(party),
            "reserved_for": s(at), "status": s(status), "source": s("local"), "created_at": s(at), "updated_at": s(at),
        })
    }

    pub fn pos(id: &str, store: &str, phone: &str, amount: &str, at: &str, status: &str) -> Value {
        json!({
            "transaction_id": s(id), "store_id": s(store), "customer_phone": s(phone), "amount": n(amount),
            "payment_method": s("wechat"), "status": s(status), "transacted_at": s(at),
        })
    }

    pub fn activity(id: &str, store: Option<&str>, member: &str, action: &str, at: &str) -> Value {
        let mut m = json!({ "log_id": s(id), "member_id": s(member), "action": s(action), "created_at": s(at) });
        put_opt(&mut m, "store_id", store);
        m
    }
}
