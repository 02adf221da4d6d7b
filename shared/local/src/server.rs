//! A local HTTP server that mounts the read functions' own handler under the seed's paths:
//! each request becomes the `lambda_http::Request` the Lambda would get, so what answers
//! here is what answers behind API Gateway.

use axum::extract::{RawQuery, State};
use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use c360_api::http::{error_response, handle, ApiError, App, Endpoint};
use lambda_http::{Body, RequestExt};
use std::collections::HashMap;
use std::sync::Arc;

fn to_axum(resp: lambda_http::Response<Body>) -> Response {
    let (parts, body) = resp.into_parts();
    let bytes: Vec<u8> = match body {
        Body::Text(t) => t.into_bytes(),
        Body::Binary(b) => b,
        _ => Vec::new(),
    };
    (parts.status, parts.headers, bytes).into_response()
}

async fn route(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: axum::http::HeaderMap,
    RawQuery(query): RawQuery,
    body: axum::body::Bytes,
) -> Response {
    let segments = uri.path().starts_with(c360_api::segments::PATH);
    let endpoint = Endpoint::from_path(uri.path());
    if endpoint.is_none() && !segments {
        let paths: Vec<String> = Endpoint::ALL.iter().map(|e| e.path()).collect();
        let mut resp = to_axum(error_response(&ApiError::InvalidParameter(format!(
            "No such path `{}`; try one of {}, {}.",
            uri.path(),
            paths.join(", "),
            c360_api::segments::PATH
        ))));
        *resp.status_mut() = axum::http::StatusCode::NOT_FOUND;
        return resp;
    }
    if let Some(endpoint) = endpoint.filter(|e| method.as_str() != e.method()) {
        let mut resp = to_axum(error_response(&ApiError::InvalidParameter(format!(
            "{} takes {} only.",
            endpoint.path(),
            endpoint.method()
        ))));
        *resp.status_mut() = axum::http::StatusCode::METHOD_NOT_ALLOWED;
        return resp;
    }
    let pairs: Vec<(String, String)> =
        match serde_urlencoded::from_str(query.as_deref().unwrap_or("")) {
            Ok(p) => p,
            Err(_) => {
                return to_axum(error_response(&ApiError::InvalidParameter(
                    "The query string is not valid URL encoding.".into(),
                )))
            }
        };
    let mut params: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in pairs {
        params.entry(k).or_default().push(v);
    }
    let body = if body.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(body.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Binary(e.into_bytes()),
        }
    };
    let mut req = lambda_http::Request::new(body);
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.headers_mut() = headers;
    let req = req.with_query_string_parameters(params);
    match endpoint {
        Some(endpoint) => to_axum(handle(&app, endpoint, req).await),
        None => to_axum(c360_api::segments::handle(&app, req).await),
    }
}

pub fn router(app: App) -> axum::Router {
    axum::Router::new()
        .fallback(route)
        .with_state(Arc::new(app))
}
