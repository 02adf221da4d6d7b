//! The release function binaries as Lambda runs them: each is started with
//! `AWS_LAMBDA_RUNTIME_API` pointing at a fake Runtime API served here, which hands it API
//! Gateway events (the repository's `events/apigw/profile.json`, re-aimed at each endpoint)
//! and collects its answers. DynamoDB holds the demo's first 100 customers; no cache
//! (`C360_REDIS_URL` unset), so every read is a miss.
//!
//! Where DynamoDB is:
//! - by default, the in-memory DynamoDB (`c360_devkit::memory`) served over HTTP by this
//!   process, with keep-alive, as DynamoDB keeps a Lambda's connections open;
//! - with `C360_TEST_DYNAMODB_ENDPOINT` set, that emulator (moto), as the issue measured. Moto
//!   answers every request with `Connection: close`, so each request also pays a new TCP
//!   connection in the function: a higher figure than Lambda's.
//!
//! Two figures per function (`docs/PERFORMANCE.md`, issue 16):
//! - **cold init**: from spawning the process to its first `GET .../invocation/next` (the
//!   SDK, configuration and clients built), and to its first answer (plus one read), the
//!   median over 5 starts;
//! - **CPU per invocation**: the process's user + system time from `/proc/<pid>/stat` over
//!   `C360_BENCH_INVOCATIONS` invocations (default 1,000) after 50 warm-up ones, divided by
//!   their number: what Lambda bills as compute besides the waits, whatever DynamoDB's speed.
//!
//! ```bash
//! cargo build --release -p c360-profile -p c360-value -p c360-timeline -p c360-search
//! cargo bench -p c360-e2e --bench lambda
//! ```
//!
//! `C360_FUNCTIONS_DIR` (default `target/release` of the workspace) says where the binaries
//! are; `C360_BENCH_FUNCTIONS=c360-profile,c360-value` runs only those. Linux only (`/proc`).

use aws_smithy_runtime_api::client::http::HttpConnector;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use c360_devkit::memory::MemoryDynamo;
use c360_e2e::TestEnv;
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Mutex};

/// One event the fake Runtime API hands out, and where its answer goes.
struct Invocation {
    event: Value,
    answer: tokio::sync::oneshot::Sender<Value>,
}

#[derive(Clone)]
struct Runtime {
    queue: Arc<Mutex<mpsc::Receiver<Invocation>>>,
    waiting: Arc<Mutex<std::collections::HashMap<String, tokio::sync::oneshot::Sender<Value>>>>,
    /// When the process first asked for an event (its init finished).
    first_next: Arc<std::sync::Mutex<Option<Instant>>>,
    ids: Arc<AtomicU64>,
}

async fn next(State(rt): State<Runtime>) -> (StatusCode, HeaderMap, String) {
    if let Ok(mut first) = rt.first_next.lock() {
        first.get_or_insert_with(Instant::now);
    }
    // Long poll, as the real API does: a process with nothing to do waits here until killed.
    let Some(inv) = rt.queue.lock().await.recv().await else {
        return std::future::pending().await;
    };
    let id = format!("bench-{}", rt.ids.fetch_add(1, Ordering::Relaxed));
    rt.waiting.lock().await.insert(id.clone(), inv.answer);
    let mut headers = HeaderMap::new();
    let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
    for (name, value) in [
        ("lambda-runtime-aws-request-id", id),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:bench".to_string(),
        ),
        (
            "lambda-runtime-trace-id",
            "Root=1-00000000-000000000000000000000000".to_string(),
        ),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    (StatusCode::OK, headers, inv.event.to_string())
}

/// Hands an invocation's outcome to whoever sent the event.
async fn deliver(rt: &Runtime, id: &str, value: Value) -> StatusCode {
    if let Some(tx) = rt.waiting.lock().await.remove(id) {
        let _ = tx.send(value);
    }
    StatusCode::ACCEPTED
}

async fn answer(State(rt): State<Runtime>, Path(id): Path<String>, body: String) -> StatusCode {
    let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    deliver(&rt, &id, value).await
}

async fn error(State(rt): State<Runtime>, Path(id): Path<String>, body: String) -> StatusCode {
    deliver(&rt, &id, serde_json::json!({ "runtime_error": body })).await
}

/// Serves `app` on a free local port until the bench ends (or the handle is aborted).
async fn serve(app: Router) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free local port");
    let addr = listener.local_addr().expect("its address");
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, server)
}

async fn init_error(body: String) -> StatusCode {
    eprintln!("the function failed its init: {body}");
    StatusCode::ACCEPTED
}

/// A started function process with its own fake Runtime API.
struct Function {
    child: Child,
    events: mpsc::Sender<Invocation>,
    first_next: Arc<std::sync::Mutex<Option<Instant>>>,
    started: Instant,
    server: tokio::task::JoinHandle<()>,
}

impl Function {
    async fn start(binary: &std::path::Path, env: &[(String, String)]) -> Function {
        let (events, queue) = mpsc::channel(1);
        let rt = Runtime {
            queue: Arc::new(Mutex::new(queue)),
            waiting: Arc::default(),
            first_next: Arc::default(),
            ids: Arc::default(),
        };
        let first_next = rt.first_next.clone();
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(answer))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(rt);
        let (addr, server) = serve(app).await;
        let started = Instant::now();
        let child = Command::new(binary)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        Function {
            child,
            events,
            first_next,
            started,
            server,
        }
    }

    async fn invoke(&self, event: &Value) -> Value {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.events
            .send(Invocation {
                event: event.clone(),
                answer: tx,
            })
            .await
            .expect("the fake Runtime API is up");
        tokio::time::timeout(Duration::from_secs(60), rx)
            .await
            .expect("an answer within 60 s")
            .expect("an answer")
    }

    fn init_time(&self) -> Option<Duration> {
        self.first_next
            .lock()
            .ok()
            .and_then(|f| f.map(|t| t - self.started))
    }

    /// User and system CPU time of the process so far (all its threads).
    fn cpu(&self) -> (Duration, Duration) {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .expect("/proc/<pid>/stat (Linux)");
        // The command name, in parentheses, may hold spaces: count fields after its end.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the file, 12 and 13 after the name.
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let hz = clock_ticks_per_second();
        let time = |i: usize| Duration::from_secs_f64(ticks(i) as f64 / hz);
        (time(11), time(12))
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.server.abort();
    }
}

/// Clock ticks per second of `/proc` times (`sysconf(_SC_CLK_TCK)`, from `getconf`; 100 on
/// the usual Linux builds).
fn clock_ticks_per_second() -> f64 {
    static HZ: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *HZ.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// The in-memory DynamoDB as an HTTP endpoint (the JSON protocol: `X-Amz-Target` and a
/// body), on a local port.
async fn serve_memory(memory: MemoryDynamo) -> String {
    let app = Router::new().fallback(move |headers: HeaderMap, body: axum::body::Bytes| {
        let memory = memory.clone();
        async move {
            let mut request = aws_smithy_runtime_api::http::Request::new(
                aws_smithy_types::body::SdkBody::from(body.to_vec()),
            );
            if let Some(target) = headers.get("x-amz-target").and_then(|t| t.to_str().ok()) {
                request
                    .headers_mut()
                    .insert("x-amz-target", target.to_string());
            }
            match memory.call(request).await {
                Ok(response) => {
                    let status = StatusCode::from_u16(response.status().as_u16())
                        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                    let body = response.body().bytes().unwrap_or_default().to_vec();
                    (
                        status,
                        [("content-type", "application/x-amz-json-1.0")],
                        body,
                    )
                }
                Err(e) => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    [("content-type", "text/plain")],
                    format!("{e:?}").into_bytes(),
                ),
            }
        }
    });
    let (addr, _server) = serve(app).await;
    format!("http://{addr}")
}

fn event_for(template: &Value, path: &str, query: &[(&str, &str)]) -> Value {
    let mut e = template.clone();
    let raw_query = query
        .iter()
        .map(|(k, v)| format!("{k}={}", percent(v)))
        .collect::<Vec<_>>()
        .join("&");
    let params: serde_json::Map<String, Value> = query
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    let route = format!("GET {path}");
    e["routeKey"] = route.clone().into();
    e["rawPath"] = path.into();
    e["rawQueryString"] = raw_query.into();
    e["queryStringParameters"] = Value::Object(params);
    e["requestContext"]["routeKey"] = route.into();
    e["requestContext"]["http"]["path"] = path.into();
    // A super_admin of the whole brand, as the JWT authorizer would pass it on.
    e["requestContext"]["authorizer"]["jwt"]["claims"] = serde_json::json!({
        "sub": "bench-admin", "role": "super_admin",
        "iss": "https://auth.example.com/", "aud": "customer360",
    });
    e
}

fn percent(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let emulator = std::env::var("C360_TEST_DYNAMODB_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty());
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf();
    let dir = std::env::var("C360_FUNCTIONS_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| root.join("target/release"));
    let invocations: usize = std::env::var("C360_BENCH_INVOCATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let template: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("events/apigw/profile.json"))
            .expect("events/apigw/profile.json"),
    )
    .expect("an API Gateway event");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async move {
        let (env, endpoint) = match emulator {
            // With the segment rows the search answers from (ADR 0014).
            Some(e) => (TestEnv::new().await.with_segments(), e),
            None => {
                let memory = MemoryDynamo::new();
                let endpoint = serve_memory(memory.clone()).await;
                (TestEnv::on_memory(memory).await.with_segments(), endpoint)
            }
        };
        println!("DynamoDB: {endpoint}");
        env.ingest_demo_customers(100).await;
        let vars: Vec<(String, String)> = [
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_LAMBDA_FUNCTION_NAME", "bench"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "bench"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench"),
            ("C360_TABLE", env.config.table.as_str()),
            ("C360_AUDIT_TABLE", env.audit_table.as_str()),
            ("C360_AUDIT_HASH_KEY", c360_e2e::TEST_AUDIT_HASH_KEY),
            ("C360_EMF", "0"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();

        let zhang = [("customer_identifier", "13800138000")];
        // (binary, path, query parameters)
        type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>);
        let cases: [Case; 4] = [
            ("c360-profile", "/api/v1/customer360/profile", zhang.to_vec()),
            ("c360-value", "/api/v1/customer360/value", zhang.to_vec()),
            (
                "c360-timeline",
                "/api/v1/customer360/timeline",
                vec![("customer_identifier", "13800138000"), ("limit", "50")],
            ),
            ("c360-search", "/api/v1/customer360/search", vec![("query", "zs")]),
        ];
        println!(
            "| function | cold init (to the first /next) | init + first answer | CPU per invocation ({invocations} invocations) | wall per invocation (DynamoDB's time included) |"
        );
        println!("|---|---|---|---|---|");
        let only = std::env::var("C360_BENCH_FUNCTIONS").unwrap_or_default();
        for (name, path, query) in cases {
            if !only.is_empty() && !only.split(',').any(|f| f.trim() == name) {
                continue;
            }
            let binary = dir.join(name);
            if !binary.exists() {
                eprintln!(
                    "{} is missing: cargo build --release -p {name} (or set C360_FUNCTIONS_DIR)",
                    binary.display()
                );
                std::process::exit(2);
            }
            let event = event_for(&template, path, &query);
            let mut inits = Vec::new();
            let mut firsts = Vec::new();
            let mut last = None;
            for _ in 0..5 {
                let f = Function::start(&binary, &vars).await;
                let answer = f.invoke(&event).await;
                firsts.push(f.started.elapsed());
                assert_eq!(
                    answer["statusCode"], 200,
                    "{name} answered {answer}"
                );
                inits.push(f.init_time().unwrap_or_default());
                if let Some(old) = last.replace(f) {
                    Function::stop(old);
                }
            }
            let f = last.expect("a started function");
            for _ in 0..50 {
                f.invoke(&event).await;
            }
            let cpu0 = f.cpu();
            let t0 = Instant::now();
            for _ in 0..invocations {
                let answer = f.invoke(&event).await;
                assert_eq!(answer["statusCode"], 200, "{name} answered {answer}");
            }
            let wall = t0.elapsed() / invocations as u32;
            let cpu1 = f.cpu();
            let n = invocations as u32;
            let (user, sys) = ((cpu1.0 - cpu0.0) / n, (cpu1.1 - cpu0.1) / n);
            f.stop();
            println!(
                "| {name} | {} | {} | {} ({} user, {} system) | {} |",
                ms(median(inits)),
                ms(median(firsts)),
                ms(user + sys),
                ms(user),
                ms(sys),
                ms(wall)
            );
        }
    });
}
