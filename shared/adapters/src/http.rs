//! The HTTP surface: parameter validation, the envelope and errors of `spec/api.md`, and the
//! Lambda entry point shared by the four read functions and the local dev server.

use crate::config::{Clients, Config};
use crate::reads::{ReadError, Reads};
use crate::store::StoreError;
use crate::telemetry;
use c360_domain::projection::Scope;
use c360_domain::{Identifier, IdentifierType, Millis, StoreId};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Profile,
    Timeline,
    Value,
    Search,
}

impl Endpoint {
    pub const ALL: [Endpoint; 4] = [
        Endpoint::Profile,
        Endpoint::Timeline,
        Endpoint::Value,
        Endpoint::Search,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Profile => "profile",
            Endpoint::Timeline => "timeline",
            Endpoint::Value => "value",
            Endpoint::Search => "search",
        }
    }
    pub fn path(self) -> String {
        format!("/api/v1/customer360/{}", self.name())
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
        }
    }
}

/// An API error: its status, code and a message a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidParameter(String),
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
            ApiError::NotFound(_) => 404,
            ApiError::Unavailable => 503,
            ApiError::Internal => 500,
        }
    }
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidParameter(_) => "INVALID_PARAMETER",
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

pub fn error_response(err: &ApiError) -> Response<Body> {
    json_response(
        err.status(),
        &json!({"success": false, "error": {"code": err.code(), "message": err.to_string()}}),
    )
}

/// Query parameters, validated against what the endpoint accepts.
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
            map.entry(k).or_insert(v);
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
    fn scope(&self) -> Result<Scope, ApiError> {
        match self.get("store_id") {
            None => Ok(Scope::AllStores),
            Some(s) => StoreId::parse(s).map(Scope::Store).map_err(|_| {
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
        ReadError::Store(StoreError::Unavailable(e)) => {
            tracing::error!(error = %e, "dependency unavailable");
            ApiError::Unavailable
        }
        ReadError::Store(e) => {
            tracing::error!(error = %e, "read failed");
            ApiError::Internal
        }
    }
}

#[derive(Clone)]
pub struct App {
    pub reads: Reads,
}

impl App {
    pub fn new(reads: Reads) -> Self {
        App { reads }
    }
}

fn id_kind(id: &Identifier) -> &'static str {
    match id.kind() {
        IdentifierType::Phone => "phone number",
        IdentifierType::MemberId => "member id",
        IdentifierType::Email => "email",
    }
}

async fn answer(
    app: &App,
    endpoint: Endpoint,
    req: &Request,
    now: Millis,
) -> Result<Value, ApiError> {
    let p = Params::from_request(req, endpoint)?;
    let reads = &app.reads;
    match endpoint {
        Endpoint::Profile | Endpoint::Value | Endpoint::Timeline => {
            let id = p.identifier()?;
            let scope = p.scope()?;
            let result = match endpoint {
                Endpoint::Profile => reads.profile(&id, &scope, now).await,
                Endpoint::Value => reads.value(&id, &scope, now).await,
                _ => {
                    let limit = p.limit(50)?;
                    reads
                        .timeline(&id, &scope, limit, p.get("cursor"), now)
                        .await
                }
            };
            result.map_err(|e| read_error(e, id_kind(&id)))
        }
        Endpoint::Search => {
            let query = p.required("query")?;
            if query.chars().count() > 64 {
                return Err(ApiError::InvalidParameter(
                    "Parameter `query` must be at most 64 characters.".into(),
                ));
            }
            let scope = p.scope()?;
            let limit = p.limit(20)?;
            reads
                .search(query, &scope, limit, now)
                .await
                .map_err(|e| read_error(e, "query"))
        }
    }
}

fn request_id(req: &Request) -> String {
    match req.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) => {
            ctx.request_id.clone().unwrap_or_default()
        }
        _ => req
            .lambda_context_ref()
            .map(|c| c.request_id.clone())
            .unwrap_or_default(),
    }
}

/// Handles one request. Never panics on input and never answers 500 for a client's mistake.
pub async fn handle(app: &App, endpoint: Endpoint, req: Request) -> Response<Body> {
    let started = Instant::now();
    let now = Millis(chrono::Utc::now().timestamp_millis());
    let result = answer(app, endpoint, &req, now).await;
    let response = match &result {
        Ok(data) => json_response(200, &json!({"success": true, "data": data})),
        Err(e) => error_response(e),
    };
    tracing::info!(
        endpoint = endpoint.name(),
        status = response.status().as_u16(),
        request_id = %request_id(&req),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}

/// The Lambda entry point of a read function.
pub async fn run(endpoint: Endpoint) -> Result<(), lambda_http::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let clients = Clients::from_env(&config, None).await;
    let app = App::new(Reads::new(clients.store, config));
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

    /// An app whose store points nowhere: the requests here must be answered before any
    /// DynamoDB call (validation), so nothing is ever sent.
    fn offline_app() -> App {
        let conf = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .build();
        let store = Store::new(aws_sdk_dynamodb::Client::from_conf(conf), "unused");
        App::new(Reads::new(
            store,
            Config::from_env().expect("default config"),
        ))
    }

    async fn answer_of(endpoint: Endpoint, fixture: &str) -> (u16, Value) {
        let req = lambda_http::request::from_str(fixture).expect("an API Gateway v2 event");
        let resp = handle(&offline_app(), endpoint, req).await;
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

    #[test]
    fn paths_map_to_endpoints() {
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
