//! `/api/v1/customer360/segments`: saved segments (admins create, update, delete; everyone
//! lists and reads them) and "which customers": members, count, check and export, of a saved
//! segment (`/segments/{id}/…`) or of an inline filter (`/segments/members?rfm_score_gte=70`,
//! or `POST` with `{"filter": …}`). Same authentication, scope rules, masking and audit as
//! every read (`spec/api.md`); one audit record per call, an export's naming the segment and
//! its row count. Storage and cost: `docs/adr/0009-segments.md`.
//!
//! Routes (`{id}` is `seg_…`):
//! | method | path | who | answer |
//! |---|---|---|---|
//! | GET | `/segments` | any | the saved segments |
//! | POST | `/segments` | admins | `{name, description?, filter}` → the segment (201) |
//! | GET, PUT, DELETE | `/segments/{id}` | GET any, else admins | the segment / updated / deleted |
//! | GET | `/segments[/{id}]/members` | any | a page of members, by canonical identifier |
//! | GET | `/segments[/{id}]/count` | any | the exact count |
//! | GET, POST | `/segments[/{id}]/check` | any | is each customer (1 to 100) in it |
//! | GET | `/segments[/{id}]/export` | admins | every member as CSV |
//!
//! Without an id the filter is the query parameters ([`Filter::from_query`]) or, with `POST`,
//! the body's `filter` (JSON spelling).

mod input;
mod ops;
#[cfg(test)]
mod tests;

use crate::audit::AuditRecord;
use crate::auth::AuthError;
use crate::http::{audited, error_response, json_response, request_id, ApiError, App};
use c360_domain::access::Caller;
use c360_domain::segment::{is_segment_id, Filter};
use c360_domain::Millis;
use c360_runtime::cache::CacheUse;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{json, Value};
use std::time::Instant;

/// Where the segments routes are mounted.
pub const PATH: &str = "/api/v1/customer360/segments";

/// What a segment request is about: a saved segment or an inline filter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Target {
    Saved(String),
    Inline,
}

/// The operation asked for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Route {
    List,
    Create,
    Get(String),
    Update(String),
    Delete(String),
    Members(Target),
    Count(Target),
    Check(Target),
    Export(Target),
}

impl Route {
    /// The route of `method` on `path`; a 404 or 405 that says what exists.
    pub(crate) fn parse(method: &str, path: &str) -> Result<Route, ApiError> {
        let rest = path
            .trim_end_matches('/')
            .strip_prefix(PATH)
            .ok_or_else(|| ApiError::NoRoute(format!("No route {path}.")))?;
        let parts: Vec<&str> = match rest.strip_prefix('/') {
            Some(inner) => inner.split('/').collect(),
            None if rest.is_empty() => Vec::new(),
            None => return Err(ApiError::NoRoute(format!("No route {path}."))),
        };
        // `/segments//members` is no segment's members (field report: it ran the inline
        // filter, an empty one, as if the id were not there).
        if parts.iter().any(|p| p.is_empty()) {
            return Err(ApiError::NoRoute(format!(
                "No route {path}: an empty segment id."
            )));
        }
        let wrong = |allowed: &str, allow: &'static str| {
            ApiError::MethodNotAllowed(format!("{path} accepts {allowed}, not {method}."), allow)
        };
        let op = |name: &str, target: Target| -> Result<Route, ApiError> {
            match (name, method) {
                ("members", "GET" | "POST") => Ok(Route::Members(target)),
                ("count", "GET" | "POST") => Ok(Route::Count(target)),
                ("check", "GET" | "POST") => Ok(Route::Check(target)),
                ("export", "GET" | "POST") => Ok(Route::Export(target)),
                ("members" | "count" | "check" | "export", _) => {
                    Err(wrong("GET or POST", "GET, POST"))
                }
                _ => Err(ApiError::NoRoute(format!(
                    "No route {path}: after a segment come `members`, `count`, `check` or `export`."
                ))),
            }
        };
        match parts.as_slice() {
            [] => match method {
                "GET" => Ok(Route::List),
                "POST" => Ok(Route::Create),
                _ => Err(wrong("GET or POST", "GET, POST")),
            },
            [name @ ("members" | "count" | "check" | "export")] => op(name, Target::Inline),
            [id] => {
                let id = checked_id(id)?;
                match method {
                    "GET" => Ok(Route::Get(id)),
                    "PUT" => Ok(Route::Update(id)),
                    "DELETE" => Ok(Route::Delete(id)),
                    _ => Err(wrong("GET, PUT or DELETE", "GET, PUT, DELETE")),
                }
            }
            [id, name] => op(name, Target::Saved(checked_id(id)?)),
            _ => Err(ApiError::NoRoute(format!("No route {path}."))),
        }
    }

    /// The name in logs and audit records (`segments.members`, …).
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Route::List => "segments.list",
            Route::Create => "segments.create",
            Route::Get(_) => "segments.get",
            Route::Update(_) => "segments.update",
            Route::Delete(_) => "segments.delete",
            Route::Members(_) => "segments.members",
            Route::Count(_) => "segments.count",
            Route::Check(_) => "segments.check",
            Route::Export(_) => "segments.export",
        }
    }

    fn admins_only(&self) -> bool {
        matches!(
            self,
            Route::Create | Route::Update(_) | Route::Delete(_) | Route::Export(_)
        )
    }
}

fn checked_id(id: &str) -> Result<String, ApiError> {
    if is_segment_id(id) {
        Ok(id.to_string())
    } else {
        Err(ApiError::InvalidParameter(format!(
            "`{id}` is not a segment id (`seg_` and letters or digits); GET {PATH} lists them."
        )))
    }
}

/// The request's query parameters as pairs, in order, repeats kept (a filter may repeat
/// `tag`).
pub(crate) fn query_pairs(req: &Request) -> Vec<(String, String)> {
    req.query_string_parameters_ref()
        .map(|q| {
            q.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// The JSON body; `Value::Null` when there is none. Not JSON is a 400.
pub(crate) fn json_body(req: &Request) -> Result<Value, ApiError> {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::InvalidParameter(format!("The request body is not JSON: {e}.")))
}

/// An answer: JSON in the `{"success": true, "data": …}` envelope, or a CSV file.
pub(crate) enum Reply {
    Json(u16, Value),
    Csv { filename: String, text: String },
}

fn csv_response(filename: &str, text: String) -> Response<Body> {
    let mut resp = Response::new(Body::Text(text));
    let headers = resp.headers_mut();
    headers.insert(
        "content-type",
        lambda_http::http::HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) =
        lambda_http::http::HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
    {
        headers.insert("content-disposition", v);
    }
    resp
}

fn authenticate(app: &App, req: &Request) -> Result<Caller, ApiError> {
    app.access.auth.authenticate(req).map_err(|e| match e {
        AuthError::Unauthenticated(why) => ApiError::Unauthenticated(why.to_string()),
        AuthError::Forbidden(why) => ApiError::Forbidden(why),
    })
}

/// Handles one segments request: route, authenticate, authorize, run, mask, and audit it
/// whatever the outcome (one record; if it cannot be written the answer is 503 with no data).
/// Never panics on input.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let started = Instant::now();
    let now = Millis(chrono::Utc::now().timestamp_millis());
    let route = Route::parse(req.method().as_str(), req.uri().path());
    let mut audit = AuditRecord {
        at: now,
        request_id: request_id(&req, now),
        sub: None,
        role: None,
        endpoint: route.as_ref().map_or("segments", Route::name).to_string(),
        identifier_type: None,
        subject: None,
        scope: None,
        status: 0,
        detail: None,
    };
    let result = async {
        // The caller is read before the route is checked, so that the audit record and the log
        // line name them even when the path or the method is wrong; a wrong route still answers
        // first (404/405, as API Gateway does before its authorizer).
        let caller = authenticate(app, &req);
        if let Ok(c) = &caller {
            audit.sub = Some(c.sub.clone());
            audit.role = Some(c.role.as_str().to_string());
        }
        let route = route?;
        let caller = caller?;
        if route.admins_only() {
            caller.require_admin().map_err(crate::http::denied)?;
        }
        ops::run(app, &caller, route, &req, now, &mut audit).await
    }
    .await;
    audit.status = match &result {
        Ok(Reply::Json(status, _)) => *status,
        Ok(Reply::Csv { .. }) => 200,
        Err(e) => e.status(),
    };
    let response = match audited(app, &audit).await {
        Err(e) => error_response(&e),
        Ok(()) => match result {
            Ok(Reply::Json(status, data)) => {
                json_response(status, &json!({"success": true, "data": data}))
            }
            Ok(Reply::Csv { filename, text }) => csv_response(&filename, text),
            Err(e) => error_response(&e),
        },
    };
    // The same fields as the other endpoints' request line (`crate::http`); segment answers
    // are never cached.
    tracing::info!(
        endpoint = audit.endpoint.as_str(),
        method = %req.method(),
        status = response.status().as_u16(),
        request_id = %audit.request_id,
        sub = audit.sub.as_deref().unwrap_or("-"),
        role = audit.role.as_deref().unwrap_or("-"),
        scope = audit.scope.as_deref().unwrap_or("-"),
        detail = audit.detail.as_deref().unwrap_or("-"),
        elapsed_ms = started.elapsed().as_millis() as u64,
        cache = CacheUse::Off.as_str(),
        "request"
    );
    response
}

/// The Lambda entry point of the segments function.
pub async fn run() -> Result<(), lambda_http::Error> {
    c360_runtime::telemetry::init();
    let config = c360_runtime::config::Config::from_env()?;
    let clients = c360_runtime::config::Clients::from_env(&config, None).await;
    let access = crate::http::Access::from_env(clients.store.client().clone())?;
    let app = App::new(crate::reads::Reads::new(clients.store, config), access);
    let app = &app;
    lambda_http::run(lambda_http::service_fn(move |req: Request| async move {
        Ok::<_, std::convert::Infallible>(handle(app, req).await)
    }))
    .await
}

/// The filter of an inline request: the body's `filter` for a POST with a body, else the
/// query parameters other than `reserved`.
pub(crate) fn inline_filter(
    pairs: &[(String, String)],
    body: &Value,
    reserved: &[&str],
) -> Result<Filter, ApiError> {
    let bad = |e: c360_domain::segment::FilterError| ApiError::InvalidParameter(e.to_string());
    let rest: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| !reserved.contains(&k.as_str()))
        .cloned()
        .collect();
    if let Some(f) = body.get("filter") {
        // One filter per request: a query filter beside the body's would be silently dropped.
        if let Some((k, _)) = rest.first() {
            return Err(ApiError::InvalidParameter(format!(
                "Parameter `{k}` is a filter, and the body has a `filter`: give the filter once."
            )));
        }
        return Filter::from_json(f).map_err(bad);
    }
    Filter::from_query(&rest).map_err(bad)
}
