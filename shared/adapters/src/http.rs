//! The HTTP surface: parameter validation, the envelope and errors of `spec/api.md`, and the
//! Lambda entry point shared by the four read functions and the local dev server.

use crate::audit::{AuditLog, AuditRecord, SubjectHasher};
use crate::auth::{AuthError, Authenticator};
use crate::cache::{Cache, CacheUse, Slot};
use crate::config::{Clients, Config, ConfigError};
use crate::erase;
use crate::reads::{Answer, ReadError, Reads};
use crate::store::StoreError;
use crate::telemetry;
use c360_domain::access::{mask_answer, redact_text, Caller, Denied, Masking, MaskingConfig, Role};
use c360_domain::projection::Scope;
use c360_domain::{Identifier, IdentifierType, Millis, StoreId};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{json, Value};
use std::collections::BTreeMap;
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
}

impl Endpoint {
    pub const ALL: [Endpoint; 6] = [
        Endpoint::Profile,
        Endpoint::Timeline,
        Endpoint::Value,
        Endpoint::Search,
        Endpoint::Audit,
        Endpoint::Erase,
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
            ],
            Endpoint::Erase => &["customer_identifier", "identifier_type"],
        }
    }
}

/// An API error: its status, code and a message a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("No customer was found for this {0} in the requested scope.")]
    NotFound(&'static str),
    #[error("A service this answer depends on is unavailable; try again shortly.")]
    Unavailable,
    #[error("Something went wrong on our side; it has been logged.")]
    Internal,
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            ApiError::InvalidParameter(_) => 400,
            ApiError::Unauthenticated(_) => 401,
            ApiError::Forbidden(_) => 403,
            ApiError::NotFound(_) => 404,
            ApiError::Unavailable => 503,
            ApiError::Internal => 500,
        }
    }
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidParameter(_) => "INVALID_PARAMETER",
            ApiError::Unauthenticated(_) => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::NotFound(_) => "CUSTOMER_NOT_FOUND",
            ApiError::Unavailable => "UNAVAILABLE",
            ApiError::Internal => "INTERNAL",
        }
    }
}

fn json_response(status: u16, body: &Value) -> Response<Body> {
    let text = serde_json::to_string(body).unwrap_or_else(|_| {
        r#"{"success":false,"error":{"code":"INTERNAL","message":"unserializable answer"}}"#.into()
    });
    let mut resp = Response::new(Body::Text(text));
    *resp.status_mut() = lambda_http::http::StatusCode::from_u16(status)
        .unwrap_or(lambda_http::http::StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        "content-type",
        lambda_http::http::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

/// An error answer. Messages may echo what the caller sent (`got `...``); phone numbers and
/// emails in them are masked like everywhere else.
pub fn error_response(err: &ApiError) -> Response<Body> {
    let message = redact_text(&err.to_string(), true, true);
    json_response(
        err.status(),
        &json!({"success": false, "error": {"code": err.code(), "message": message}}),
    )
}

/// Query parameters, validated against what the endpoint accepts: each known, each once.
struct Params(BTreeMap<String, String>);

impl Params {
    fn from_request(req: &Request, endpoint: Endpoint) -> Result<Params, ApiError> {
        let mut map = BTreeMap::new();
        for (k, v) in req
            .query_string_parameters_ref()
            .map(|q| {
                q.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
        {
            if !endpoint.allowed().contains(&k.as_str()) {
                return Err(ApiError::InvalidParameter(format!(
                    "Unknown parameter `{k}`; {} accepts: {}.",
                    endpoint.path(),
                    endpoint.allowed().join(", ")
                )));
            }
            // Which of two values counts is not the caller's to guess, and for `store_id` it
            // would let parameter order pick the store: any repeat is refused.
            if map.insert(k.clone(), v).is_some() {
                return Err(ApiError::InvalidParameter(format!(
                    "Parameter `{k}` is given more than once; give it once."
                )));
            }
        }
        Ok(Params(map))
    }
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
    fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| {
                ApiError::InvalidParameter(format!("Missing required parameter `{name}`."))
            })
    }
    fn identifier(&self) -> Result<Identifier, ApiError> {
        let raw = self.required("customer_identifier")?;
        let kind = match self.get("identifier_type") {
            None => IdentifierType::Phone,
            Some(t) => IdentifierType::parse(t).map_err(|_| ApiError::InvalidParameter(format!("Parameter `identifier_type` must be one of phone, member_id, email; got `{t}`.")))?,
        };
        Identifier::parse(kind, raw).map_err(|_| {
            ApiError::InvalidParameter(match kind {
                IdentifierType::Phone => "Parameter `customer_identifier` is not a plausible mobile number (11 digits starting with 1, optionally +86).".to_string(),
                IdentifierType::MemberId => "Parameter `customer_identifier` is not a valid member id (letters, digits, `-`, `_`).".to_string(),
                IdentifierType::Email => "Parameter `customer_identifier` is not a valid email address.".to_string(),
            })
        })
    }
    fn store(&self) -> Result<Option<StoreId>, ApiError> {
        match self.get("store_id") {
            None => Ok(None),
            Some(s) => StoreId::parse(s).map(Some).map_err(|_| {
                ApiError::InvalidParameter(
                    "Parameter `store_id` must be 1-64 letters, digits, `-` or `_`.".into(),
                )
            }),
        }
    }
    fn limit(&self, default: usize) -> Result<usize, ApiError> {
        match self.get("limit") {
            None => Ok(default),
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n) if (1..=200).contains(&n) => Ok(n),
                _ => Err(ApiError::InvalidParameter(format!(
                    "Parameter `limit` must be a whole number from 1 to 200; got `{v}`."
                ))),
            },
        }
    }
}

fn read_error(err: ReadError, kind: &'static str) -> ApiError {
    match err {
        ReadError::NotFound => ApiError::NotFound(kind),
        ReadError::BadCursor => ApiError::InvalidParameter("Parameter `cursor` is not a cursor from this timeline; use `next_cursor` from the previous page.".into()),
        ReadError::Store(e) => store_error(e),
    }
}

fn store_error(err: StoreError) -> ApiError {
    match err {
        StoreError::Unavailable(e) => {
            tracing::error!(error = %e, "dependency unavailable");
            ApiError::Unavailable
        }
        e => {
            tracing::error!(error = %e, "request failed");
            ApiError::Internal
        }
    }
}

/// Who may call, how answers are masked for them, and where every query is audited.
pub struct Access {
    pub auth: Authenticator,
    pub masking: MaskingConfig,
    pub audit: AuditLog,
    pub hasher: SubjectHasher,
}

impl Access {
    /// `C360_AUTH` and friends (see [`Authenticator::from_env`]), `C360_MASKING` (JSON, per
    /// role), `C360_AUDIT_TABLE` (default `customer360-audit`), `C360_AUDIT_RETENTION_DAYS`
    /// (default 180) and `C360_AUDIT_HASH_KEY` (required: the key of the identifier hashes).
    pub fn from_env(client: aws_sdk_dynamodb::Client) -> Result<Access, ConfigError> {
        Access::from_env_or(client, None)
    }

    /// [`Access::from_env`], where a local run (`c360-dev`) supplies what the environment
    /// leaves unset: HS256 with a development secret, and a development hash key.
    pub fn from_env_or(
        client: aws_sdk_dynamodb::Client,
        local: Option<LocalDefaults<'_>>,
    ) -> Result<Access, ConfigError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let masking = match var("C360_MASKING") {
            None => MaskingConfig::default(),
            Some(v) => serde_json::from_str(&v)
                .map_err(|e| ConfigError::new(format!("C360_MASKING: {e}")))?,
        };
        let key = var("C360_AUDIT_HASH_KEY")
            .or_else(|| local.map(|l| l.audit_hash_key.to_string()))
            .filter(|k| k.len() >= 16)
            .ok_or_else(|| {
                ConfigError::new("C360_AUDIT_HASH_KEY must be set (at least 16 characters)".into())
            })?;
        let retention_days = match var("C360_AUDIT_RETENTION_DAYS") {
            None => 180,
            Some(v) => v
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|d| *d > 0)
                .ok_or_else(|| {
                    ConfigError::new(format!(
                        "C360_AUDIT_RETENTION_DAYS must be a whole number of days, got `{v}`"
                    ))
                })?,
        };
        let auth = match (var("C360_AUTH"), local) {
            (None, Some(l)) => Authenticator::hs256(
                var("C360_JWT_SECRET")
                    .unwrap_or_else(|| l.jwt_secret.to_string())
                    .as_bytes(),
                None,
                None,
            ),
            _ => Authenticator::from_env().map_err(ConfigError::new)?,
        };
        Ok(Access {
            auth,
            masking,
            audit: AuditLog::DynamoDb {
                client,
                table: var("C360_AUDIT_TABLE").unwrap_or_else(|| "customer360-audit".into()),
                retention_days,
            },
            hasher: SubjectHasher::new(key.as_bytes()),
        })
    }
}

#[derive(Debug, Clone, Copy)]
pub struct LocalDefaults<'a> {
    pub jwt_secret: &'a str,
    pub audit_hash_key: &'a str,
}

#[derive(Clone)]
pub struct App {
    pub reads: Reads,
    pub access: Arc<Access>,
    /// Answers served from Redis when they are current ([`Cache::disabled`] by default).
    pub cache: Cache,
}

impl App {
    pub fn new(reads: Reads, access: Access) -> Self {
        App {
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

/// Where the answer to `plan` is cached for a caller of `role` with `masking`: the four reads
/// are, the audit listing and erasure are not.
fn cache_slot(plan: &Plan, role: Role, masking: Masking) -> Option<Slot> {
    let role = role.as_str();
    match plan {
        Plan::Profile(id, scope) => Some(Slot::customer("profile", id, scope, role, masking, &[])),
        Plan::Value(id, scope) => Some(Slot::customer("value", id, scope, role, masking, &[])),
        Plan::Timeline {
            id,
            scope,
            limit,
            cursor,
        } => Some(Slot::customer(
            "timeline",
            id,
            scope,
            role,
            masking,
            &[&limit.to_string(), cursor.as_deref().unwrap_or("")],
        )),
        Plan::Search {
            query,
            scope,
            limit,
        } => Some(Slot::search(
            scope,
            role,
            masking,
            &[&limit.to_string(), query.trim()],
        )),
        Plan::Audit { .. } | Plan::Erase(_) => None,
    }
}

/// The answer to `plan` as the caller may see it (masked), from the cache when it holds a
/// current one (cache-aside: a miss reads DynamoDB and stores what it served).
async fn answer(
    app: &App,
    plan: Plan,
    now: Millis,
    masking: Masking,
    slot: Option<Slot>,
) -> (Result<Value, ApiError>, CacheUse) {
    let masked = |a: Answer| {
        let Answer { mut data, names } = a;
        mask_answer(&mut data, masking, &names);
        data
    };
    let Some(slot) = slot.filter(|_| app.cache.enabled()) else {
        return (execute(app, plan, now).await.map(masked), CacheUse::Off);
    };
    match app.cache.get(&slot).await {
        Ok(Ok(data)) => (Ok(data), CacheUse::Hit),
        Ok(Err(seen)) => {
            let result = execute(app, plan, now).await.map(masked);
            if let Ok(data) = &result {
                app.cache.put(&slot, &seen, data).await;
            }
            (result, CacheUse::Miss)
        }
        Err(()) => (execute(app, plan, now).await.map(masked), CacheUse::Bypass),
    }
}

fn id_kind(id: &Identifier) -> &'static str {
    match id.kind() {
        IdentifierType::Phone => "phone number",
        IdentifierType::MemberId => "member id",
        IdentifierType::Email => "email",
    }
}

/// What a request asks for, once it is authenticated, valid and allowed.
enum Plan {
    Profile(Identifier, Scope),
    Value(Identifier, Scope),
    Timeline {
        id: Identifier,
        scope: Scope,
        limit: usize,
        cursor: Option<String>,
    },
    Search {
        query: String,
        scope: Scope,
        limit: usize,
    },
    Audit {
        id: Identifier,
        store: Option<StoreId>,
        limit: usize,
    },
    Erase(Identifier),
}

fn scope_label(scope: &Scope) -> String {
    match scope {
        Scope::AllStores => "all".to_string(),
        Scope::Store(s) => s.as_str().to_string(),
    }
}

/// The keyed hash of what the request asks about, recorded even when the request fails.
fn note_subject(
    hasher: &SubjectHasher,
    endpoint: Endpoint,
    req: &Request,
    audit: &mut AuditRecord,
) {
    let params = req.query_string_parameters_ref();
    let first = |k: &str| params.and_then(|q| q.first(k)).map(str::to_string);
    if endpoint == Endpoint::Search {
        if let Some(q) = first("query").filter(|q| !q.trim().is_empty()) {
            // A search by a whole phone number or email is a look at that customer.
            let as_id = Identifier::parse(IdentifierType::Phone, &q)
                .or_else(|_| Identifier::parse(IdentifierType::Email, &q));
            audit.identifier_type = Some("query".into());
            audit.subject = Some(match as_id {
                Ok(id) => hasher.identifier(&id),
                Err(_) => hasher.raw("query", q.trim()),
            });
        }
        return;
    }
    let Some(raw) = first("customer_identifier").filter(|v| !v.trim().is_empty()) else {
        return;
    };
    let kind_text = first("identifier_type").unwrap_or_else(|| "phone".into());
    // Only a known type is kept as given: the parameter is free text and could hold anything.
    audit.identifier_type = Some(
        IdentifierType::parse(&kind_text)
            .map(|k| k.as_str().to_string())
            .unwrap_or_else(|_| "invalid".to_string()),
    );
    audit.subject = Some(
        match IdentifierType::parse(&kind_text).and_then(|k| Identifier::parse(k, &raw)) {
            Ok(id) => hasher.identifier(&id),
            Err(_) => hasher.raw(&kind_text, raw.trim()),
        },
    );
}

fn denied(d: Denied) -> ApiError {
    ApiError::Forbidden(d.to_string())
}

/// Authenticates, validates and checks scope: everything decided before any read.
fn prepare(
    app: &App,
    endpoint: Endpoint,
    req: &Request,
    audit: &mut AuditRecord,
) -> Result<(Caller, Plan), ApiError> {
    let caller = app.access.auth.authenticate(req).map_err(|e| match e {
        AuthError::Unauthenticated(why) => ApiError::Unauthenticated(why.to_string()),
        AuthError::Forbidden(why) => ApiError::Forbidden(why),
    })?;
    audit.sub = Some(caller.sub.clone());
    audit.role = Some(caller.role.as_str().to_string());
    match endpoint {
        Endpoint::Audit => caller.require_admin().map_err(denied)?,
        Endpoint::Erase => caller.require_super_admin().map_err(denied)?,
        _ => {}
    }
    let p = Params::from_request(req, endpoint)?;
    let plan = match endpoint {
        Endpoint::Profile | Endpoint::Value | Endpoint::Timeline => {
            let id = p.identifier()?;
            let limit = p.limit(50)?;
            let scope = caller.scope(p.store()?).map_err(denied)?;
            audit.scope = Some(scope_label(&scope));
            match endpoint {
                Endpoint::Profile => Plan::Profile(id, scope),
                Endpoint::Value => Plan::Value(id, scope),
                _ => Plan::Timeline {
                    id,
                    scope,
                    limit,
                    cursor: p.get("cursor").map(str::to_string),
                },
            }
        }
        Endpoint::Search => {
            let query = p.required("query")?;
            if query.chars().count() > 64 {
                return Err(ApiError::InvalidParameter(
                    "Parameter `query` must be at most 64 characters.".into(),
                ));
            }
            let limit = p.limit(20)?;
            let scope = caller.scope(p.store()?).map_err(denied)?;
            audit.scope = Some(scope_label(&scope));
            Plan::Search {
                query: query.to_string(),
                scope,
                limit,
            }
        }
        Endpoint::Audit => {
            let id = p.identifier()?;
            let limit = p.limit(50)?;
            let scope = caller.scope(p.store()?).map_err(denied)?;
            audit.scope = Some(scope_label(&scope));
            let store = match scope {
                Scope::AllStores => None,
                Scope::Store(s) => Some(s),
            };
            Plan::Audit { id, store, limit }
        }
        Endpoint::Erase => {
            audit.scope = Some(scope_label(&Scope::AllStores));
            Plan::Erase(p.identifier()?)
        }
    };
    Ok((caller, plan))
}

async fn execute(app: &App, plan: Plan, now: Millis) -> Result<Answer, ApiError> {
    let reads = &app.reads;
    match plan {
        Plan::Profile(id, scope) => reads
            .profile(&id, &scope, now)
            .await
            .map_err(|e| read_error(e, id_kind(&id))),
        Plan::Value(id, scope) => reads
            .value(&id, &scope, now)
            .await
            .map_err(|e| read_error(e, id_kind(&id))),
        Plan::Timeline {
            id,
            scope,
            limit,
            cursor,
        } => reads
            .timeline(&id, &scope, limit, cursor.as_deref(), now)
            .await
            .map_err(|e| read_error(e, id_kind(&id))),
        Plan::Search {
            query,
            scope,
            limit,
        } => reads
            .search(&query, &scope, limit, now)
            .await
            .map(Answer::anonymous)
            .map_err(|e| read_error(e, "query")),
        Plan::Audit { id, store, limit } => {
            // Everyone who looked at any of the customer's identifiers; an erased or unknown
            // customer still has the lookups made by the identifier asked about.
            let cluster = match reads.resolve(&id).await {
                Ok(c) => c,
                Err(ReadError::NotFound) => vec![id.clone()],
                Err(e) => return Err(read_error(e, id_kind(&id))),
            };
            let mut subjects: Vec<String> = cluster
                .iter()
                .chain(std::iter::once(&id))
                .map(|i| app.access.hasher.identifier(i))
                .collect();
            subjects.sort();
            subjects.dedup();
            let records = app
                .access
                .audit
                .list(&subjects, store.as_ref(), limit)
                .await
                .map_err(store_error)?;
            let zone = &reads.config().zone;
            let accesses: Vec<Value> = records
                .iter()
                .map(|r| {
                    json!({
                        "at": zone.format(r.at),
                        "sub": r.sub,
                        "role": r.role,
                        "endpoint": r.endpoint,
                        "scope": r.scope,
                        "status": r.status,
                        "request_id": r.request_id,
                    })
                })
                .collect();
            Ok(Answer::anonymous(json!({
                "customer_identifier": id.value(),
                "identifier_type": id.kind().as_str(),
                "total": accesses.len(),
                "accesses": accesses,
            })))
        }
        Plan::Erase(id) => {
            let erased = erase::erase(reads.store(), &id, now)
                .await
                .map_err(|e| read_error(e, id_kind(&id)))?;
            // Nothing cached about the customer survives: their answers by any identifier,
            // and (search hits can be anywhere) every search answer.
            let ids: Vec<Identifier> = erased.identifiers.to_vec();
            let (by_id, all) =
                tokio::join!(app.cache.invalidate(&ids, &[]), app.cache.invalidate_all());
            if !(by_id && all) {
                tracing::warn!(
                    "erasure: cached answers could not be dropped; they expire with their TTL"
                );
            }
            Ok(Answer::anonymous(json!({
                "customer_identifier": id.value(),
                "identifier_type": id.kind().as_str(),
                "erased": true,
                "identifiers_suppressed": erased.identifiers.len(),
                "items_deleted": erased.items_deleted,
            })))
        }
    }
}

static LOCAL_REQUESTS: AtomicU64 = AtomicU64::new(0);

fn request_id(req: &Request, now: Millis) -> String {
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
async fn audited(app: &App, audit: &AuditRecord) -> Result<(), ApiError> {
    app.access.audit.write(audit).await.map_err(|e| {
        tracing::error!(error = %e, request_id = %audit.request_id, "audit record not written; answering 503");
        ApiError::Unavailable
    })
}

/// Handles one request: authenticate, validate, scope, read, mask, and audit it whatever the
/// outcome. Never panics on input and never answers 500 for a client's mistake.
pub async fn handle(app: &App, endpoint: Endpoint, req: Request) -> Response<Body> {
    let started = Instant::now();
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
    };
    note_subject(&app.access.hasher, endpoint, &req, &mut audit);
    let mut cache_use = CacheUse::Off;
    let result = match prepare(app, endpoint, &req, &mut audit) {
        Err(e) => {
            audit.status = e.status();
            audited(app, &audit).await.and(Err(e))
        }
        Ok((caller, plan)) => {
            let masking = app.access.masking.for_role(caller.role);
            audit.status = 200;
            let slot = cache_slot(&plan, caller.role, masking);
            let (written, answer) = if matches!(plan, Plan::Erase(_)) {
                // A destructive request is audited before it runs.
                match audited(app, &audit).await {
                    Ok(()) => {
                        let (answer, used) = answer(app, plan, now, masking, slot).await;
                        cache_use = used;
                        (Ok(()), answer)
                    }
                    Err(e) => (Err(e), Err(ApiError::Unavailable)),
                }
            } else {
                // The audit write runs alongside the read (or the cache lookup): no added
                // round trip, and a hit is audited like any answer.
                let (written, (answer, used)) =
                    tokio::join!(audited(app, &audit), answer(app, plan, now, masking, slot));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn unreachable_client() -> aws_sdk_dynamodb::Client {
        let conf = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .build();
        aws_sdk_dynamodb::Client::from_conf(conf)
    }

    /// An app whose store points nowhere, auditing into memory: the requests here must be
    /// answered before any DynamoDB call (authentication, validation, scope).
    fn offline_app(audit: AuditLog) -> App {
        let store = Store::new(unreachable_client(), "unused");
        App::new(
            Reads::new(store, Config::from_env().expect("default config")),
            Access {
                auth: Authenticator::api_gateway(),
                masking: MaskingConfig::default(),
                audit,
                hasher: SubjectHasher::new(b"unit-test-key-0123456789"),
            },
        )
    }

    fn memory() -> (AuditLog, Arc<std::sync::Mutex<Vec<AuditRecord>>>) {
        let records = Arc::new(std::sync::Mutex::new(Vec::new()));
        (AuditLog::Memory(records.clone()), records)
    }

    async fn answer_of(endpoint: Endpoint, fixture: &str) -> (u16, Value) {
        answer_with(&offline_app(memory().0), endpoint, fixture).await
    }

    async fn answer_with(app: &App, endpoint: Endpoint, fixture: &str) -> (u16, Value) {
        let req = lambda_http::request::from_str(fixture).expect("an API Gateway v2 event");
        let resp = handle(app, endpoint, req).await;
        let body = match resp.body() {
            Body::Text(t) => serde_json::from_str(t).expect("JSON"),
            _ => Value::Null,
        };
        (resp.status().as_u16(), body)
    }

    #[tokio::test]
    async fn the_invalid_phone_fixture_is_a_400_naming_the_parameter() {
        let (status, body) = answer_of(
            Endpoint::Profile,
            include_str!("../../../events/apigw/profile-invalid-phone.json"),
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(body["error"]["code"], "INVALID_PARAMETER");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("`customer_identifier`"));
    }

    #[tokio::test]
    async fn fixtures_with_bad_parameters_never_reach_the_store() {
        let fixture: Value =
            serde_json::from_str(include_str!("../../../events/apigw/timeline.json"))
                .expect("fixture");
        for (param, value) in [
            ("limit", "0"),
            ("limit", "201"),
            ("identifier_type", "foo"),
            ("store_id", "x y"),
        ] {
            let mut event = fixture.clone();
            event["queryStringParameters"][param] = Value::from(value);
            // API Gateway v2 sends both; lambda_http reads the raw one.
            let raw: Vec<String> = event["queryStringParameters"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default().replace(' ', "%20")))
                .collect();
            event["rawQueryString"] = Value::from(raw.join("&"));
            let (status, body) = answer_of(Endpoint::Timeline, &event.to_string()).await;
            assert_eq!(status, 400, "{param}={value}: {body}");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(&format!("`{param}`")),
                "{body}"
            );
        }
    }

    /// Issue 11, item 1: a parameter given twice is a 400 naming it, on every endpoint, before
    /// any read (a staff token's second `store_id` must not pick the store).
    #[tokio::test]
    async fn a_parameter_given_twice_is_a_400_naming_it() {
        let fixture: Value = serde_json::from_str(include_str!("../../../events/apigw/value.json"))
            .expect("fixture");
        for raw in [
            "customer_identifier=19911110001&customer_identifier=19911110002",
            "customer_identifier=19911110001&store_id=store_sh_001&store_id=store_bj_001",
            "customer_identifier=19911110001&identifier_type=phone&identifier_type=phone",
        ] {
            let mut event = fixture.clone();
            event["rawQueryString"] = Value::from(raw);
            let (status, body) = answer_of(Endpoint::Value, &event.to_string()).await;
            assert_eq!(status, 400, "{raw}: {body}");
            assert_eq!(body["error"]["code"], "INVALID_PARAMETER");
            let message = body["error"]["message"].as_str().unwrap_or_default();
            let repeated = if raw.contains("store_id=store_bj") {
                "`store_id`"
            } else if raw.contains("identifier_type=phone&") {
                "`identifier_type`"
            } else {
                "`customer_identifier`"
            };
            assert!(
                message.contains(repeated) && message.contains("more than once"),
                "{message}"
            );
        }
        for (endpoint, raw) in [
            (Endpoint::Search, "query=8000&query=8001"),
            (
                Endpoint::Timeline,
                "customer_identifier=13800138000&limit=5&limit=6",
            ),
            (
                Endpoint::Profile,
                "customer_identifier=13800138000&store_id=store_sh_001&store_id=store_sh_001",
            ),
        ] {
            let mut event = fixture.clone();
            event["rawQueryString"] = Value::from(raw);
            let (status, body) = answer_of(endpoint, &event.to_string()).await;
            assert_eq!(status, 400, "{raw}: {body}");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("more than once"),
                "{body}"
            );
        }
    }

    #[test]
    fn error_messages_never_echo_a_phone_number_in_clear() {
        let resp = error_response(&ApiError::InvalidParameter(
            "Parameter `limit` must be a whole number from 1 to 200; got `13800138000`.".into(),
        ));
        let Body::Text(text) = resp.body() else {
            panic!("text body")
        };
        assert!(text.contains("got `138****8000`"), "{text}");
    }

    #[tokio::test]
    async fn requests_without_verified_claims_are_401_and_audited() {
        let (log, records) = memory();
        let app = offline_app(log);
        let (status, body) = answer_with(
            &app,
            Endpoint::Profile,
            include_str!("../../../events/apigw/profile-unauthenticated.json"),
        )
        .await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"]["code"], "UNAUTHENTICATED");
        let records = records.lock().expect("records").clone();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].status, 401);
        assert_eq!(records[0].sub, None);
        assert!(
            records[0].subject.is_some(),
            "who was asked about is kept, hashed"
        );
        assert!(!format!("{records:?}").contains("13800138000"));
    }

    #[tokio::test]
    async fn staff_asking_for_another_store_is_403_before_any_read() {
        let (log, records) = memory();
        let app = offline_app(log);
        let (status, body) = answer_with(
            &app,
            Endpoint::Profile,
            include_str!("../../../events/apigw/profile-other-store.json"),
        )
        .await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["error"]["code"], "FORBIDDEN");
        let records = records.lock().expect("records").clone();
        assert_eq!(
            (records[0].status, records[0].role.as_deref()),
            (403, Some("staff"))
        );
    }

    #[tokio::test]
    async fn staff_may_not_read_the_audit_log_nor_erase() {
        for (endpoint, fixture) in [
            (
                Endpoint::Audit,
                include_str!("../../../events/apigw/profile-invalid-phone.json"),
            ),
            (
                Endpoint::Erase,
                include_str!("../../../events/apigw/profile.json"),
            ),
        ] {
            let (status, body) = answer_of(endpoint, fixture).await;
            assert_eq!(status, 403, "{endpoint:?}: {body}");
        }
    }

    #[tokio::test]
    async fn without_an_audit_record_there_is_no_answer() {
        let app = offline_app(AuditLog::DynamoDb {
            client: unreachable_client(),
            table: "audit".into(),
            retention_days: 180,
        });
        let (status, body) = answer_with(
            &app,
            Endpoint::Profile,
            include_str!("../../../events/apigw/profile-invalid-phone.json"),
        )
        .await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["error"]["code"], "UNAVAILABLE");
        assert!(body.get("data").is_none());
    }

    #[test]
    fn paths_map_to_endpoints() {
        assert_eq!(
            Endpoint::from_path("/api/v1/customer360/customer"),
            Some(Endpoint::Erase)
        );
        assert_eq!(Endpoint::Erase.method(), "DELETE");
        assert_eq!(
            Endpoint::from_path("/api/v1/customer360/profile"),
            Some(Endpoint::Profile)
        );
        assert_eq!(
            Endpoint::from_path("/api/v1/customer360/search/"),
            Some(Endpoint::Search)
        );
        assert_eq!(Endpoint::from_path("/api/v1/customer360/other"), None);
    }
}
