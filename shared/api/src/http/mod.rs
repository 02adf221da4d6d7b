//! The HTTP surface shared by the read functions and the local dev server: the endpoints,
//! the app (reads, access, cache), and the pipeline of one request (authenticate, check the
//! parameters, the intent, audit, answer).

mod access;
mod errors;
mod params;
mod request;
#[cfg(test)]
mod tests;

pub use access::{Access, LocalDefaults};
pub(crate) use errors::{denied, echoed, json_response, store_error};
pub use errors::{error_response, ApiError};
pub(crate) use params::limit;
use request::{answer, cache_slot, note_subject, prepare, Intent};

use crate::audit::AuditRecord;
use crate::reads::Reads;
use c360_domain::Millis;
use c360_runtime::cache::{Cache, CacheUse};
use c360_runtime::config::{Clients, Config, ConfigError};
use c360_runtime::segments::Segments;
use c360_runtime::telemetry;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Profile,
    Timeline,
    Value,
    Search,
    /// Who looked at a customer, and when (admins).
    Audit,
    /// Erases a customer (`super_admin`).
    Erase,
    /// Dishes or coupons to offer a customer.
    Recommendations,
}

impl Endpoint {
    pub const ALL: [Endpoint; 7] = [
        Endpoint::Profile,
        Endpoint::Timeline,
        Endpoint::Value,
        Endpoint::Search,
        Endpoint::Audit,
        Endpoint::Erase,
        Endpoint::Recommendations,
    ];
    /// The function's name, in logs and audit records.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Profile => "profile",
            Endpoint::Timeline => "timeline",
            Endpoint::Value => "value",
            Endpoint::Search => "search",
            Endpoint::Audit => "audit",
            Endpoint::Erase => "erase",
            Endpoint::Recommendations => "recommendations",
        }
    }
    pub fn path(self) -> String {
        match self {
            Endpoint::Erase => "/api/v1/customer360/customer".to_string(),
            _ => format!("/api/v1/customer360/{}", self.name()),
        }
    }
    pub fn method(self) -> &'static str {
        match self {
            Endpoint::Erase => "DELETE",
            _ => "GET",
        }
    }
    pub fn from_path(path: &str) -> Option<Endpoint> {
        let p = path.trim_end_matches('/');
        Endpoint::ALL.into_iter().find(|e| p == e.path())
    }
    fn allowed(self) -> &'static [&'static str] {
        match self {
            Endpoint::Profile | Endpoint::Value => {
                &["customer_identifier", "identifier_type", "store_id"]
            }
            Endpoint::Timeline => &[
                "customer_identifier",
                "identifier_type",
                "store_id",
                "limit",
                "cursor",
            ],
            Endpoint::Search => &["query", "store_id", "limit"],
            Endpoint::Audit => &[
                "customer_identifier",
                "identifier_type",
                "store_id",
                "limit",
                "cursor",
            ],
            Endpoint::Erase => &["customer_identifier", "identifier_type"],
            Endpoint::Recommendations => &[
                "customer_identifier",
                "identifier_type",
                "store_id",
                "kind",
                "limit",
            ],
        }
    }
}

#[derive(Clone)]
pub struct App {
    pub reads: Reads,
    pub access: Arc<Access>,
    /// Answers served from Redis when they are current ([`Cache::disabled`] by default).
    pub cache: Cache,
    /// Saved segments, their members and counts (also what an erasure clears).
    pub segments: Segments,
}

impl App {
    pub fn new(reads: Reads, access: Access) -> Self {
        App {
            segments: Segments::new(reads.store().clone(), reads.config().clone())
                .with_customer_refs(Some(access.hasher.shared_customer_refs())),
            reads,
            access: Arc::new(access),
            cache: Cache::disabled(),
        }
    }

    /// The same app, caching answers in `cache`.
    pub fn with_cache(mut self, cache: Cache) -> Self {
        self.cache = cache;
        self
    }
}

static LOCAL_REQUESTS: AtomicU64 = AtomicU64::new(0);

pub(crate) fn request_id(req: &Request, now: Millis) -> String {
    let id = match req.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) => {
            ctx.request_id.clone().unwrap_or_default()
        }
        _ => req
            .lambda_context_ref()
            .map(|c| c.request_id.clone())
            .unwrap_or_default(),
    };
    if id.is_empty() {
        // Local server and tests: no API Gateway to name the request.
        format!(
            "local-{}-{}",
            now.0,
            LOCAL_REQUESTS.fetch_add(1, Ordering::Relaxed)
        )
    } else {
        id
    }
}

/// Writes the audit record; when it cannot be written the answer is 503 and carries no data.
pub(crate) async fn audited(app: &App, audit: &AuditRecord) -> Result<(), ApiError> {
    app.access.audit.write(audit).await.map_err(|e| {
        tracing::error!(error = %e, request_id = %audit.request_id, "audit record not written; answering 503");
        ApiError::Unavailable
    })
}

/// Handles one request: authenticate, validate, scope, read, mask, and audit it whatever the
/// outcome. Never panics on input and never answers 500 for a client's mistake.
pub async fn handle(app: &App, endpoint: Endpoint, req: Request) -> Response<Body> {
    let started = Instant::now();
    let method = req.method().clone();
    let now = Millis(chrono::Utc::now().timestamp_millis());
    let mut audit = AuditRecord {
        at: now,
        request_id: request_id(&req, now),
        sub: None,
        role: None,
        endpoint: endpoint.name().to_string(),
        identifier_type: None,
        subject: None,
        scope: None,
        status: 0,
        detail: None,
    };
    note_subject(&app.access.hasher, endpoint, &req, &mut audit);
    let mut cache_use = CacheUse::Off;
    let result = match prepare(app, endpoint, &req, &mut audit) {
        Err(e) => {
            audit.status = e.status();
            audited(app, &audit).await.and(Err(e))
        }
        Ok((caller, intent)) => {
            let masking = app.access.masking.for_role(caller.role);
            audit.status = 200;
            let slot = cache_slot(&intent, caller.role, masking, now, &app.reads.config().zone);
            let (written, answer) = if matches!(intent, Intent::Erase(_)) {
                // A destructive request is audited before it runs.
                match audited(app, &audit).await {
                    Ok(()) => {
                        let (answer, used) = answer(app, intent, now, masking, slot).await;
                        cache_use = used;
                        (Ok(()), answer)
                    }
                    Err(e) => (Err(e), Err(ApiError::Unavailable)),
                }
            } else {
                // The audit write runs alongside the read (or the cache lookup): no added
                // round trip, and a hit is audited like any answer.
                let (written, (answer, used)) = tokio::join!(
                    audited(app, &audit),
                    answer(app, intent, now, masking, slot)
                );
                cache_use = used;
                (written, answer)
            };
            match (written, answer) {
                (Err(e), _) => Err(e),
                (Ok(()), Ok(data)) => Ok(data),
                (Ok(()), Err(e)) => {
                    // The optimistic 200 was wrong: record what the caller actually got.
                    audit.status = e.status();
                    audited(app, &audit).await.and(Err(e))
                }
            }
        }
    };
    // A customer_ref names no kind of identifier, and its 404 must not name the one it seals.
    let by_ref = req
        .query_string_parameters_ref()
        .and_then(|q| q.first("identifier_type"))
        == Some(params::CUSTOMER_REF_TYPE);
    let result = result.map_err(|e| match e {
        ApiError::NotFound(_) if by_ref => ApiError::NotFound(params::CUSTOMER_REF_TYPE),
        e => e,
    });
    let response = match result {
        Ok(data) => json_response(200, &json!({"success": true, "data": data})),
        Err(e) => error_response(&e),
    };
    if app.cache.enabled() && cache_use != CacheUse::Off {
        let one = |u: CacheUse| u64::from(cache_use == u);
        telemetry::emit_metrics(
            "Customer360",
            &[("Endpoint", endpoint.name())],
            &[
                ("CacheHits", one(CacheUse::Hit)),
                ("CacheMisses", one(CacheUse::Miss)),
                ("CacheBypassed", one(CacheUse::Bypass)),
            ],
        );
    }
    tracing::info!(
        endpoint = endpoint.name(),
        method = %method,
        status = response.status().as_u16(),
        request_id = %audit.request_id,
        sub = audit.sub.as_deref().unwrap_or("-"),
        role = audit.role.as_deref().unwrap_or("-"),
        scope = audit.scope.as_deref().unwrap_or("-"),
        elapsed_ms = started.elapsed().as_millis() as u64,
        cache = cache_use.as_str(),
        cache_hit_ratio = app.cache.hit_ratio(),
        "request"
    );
    response
}

/// The Lambda entry point of an API function.
pub async fn run(endpoint: Endpoint) -> Result<(), lambda_http::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let clients = Clients::from_env(&config, None).await;
    let access = Access::from_env(clients.store.client().clone())?;
    let cache = Cache::from_env().map_err(ConfigError::new)?;
    let app = App::new(Reads::new(clients.store, config), access).with_cache(cache);
    let app = &app;
    lambda_http::run(lambda_http::service_fn(move |req: Request| async move {
        Ok::<_, std::convert::Infallible>(handle(app, endpoint, req).await)
    }))
    .await
}
