//! The errors of `spec/api.md`: status, code and message, and the JSON response of each.

use crate::reads::ReadError;
use c360_domain::access::{redact_text, Denied};
use c360_dynamodb::store::StoreError;
use lambda_http::{Body, Response};
use serde_json::{json, Value};

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
    #[error("No saved segment `{0}`; GET /api/v1/customer360/segments lists them.")]
    SegmentNotFound(String),
    #[error("{0}")]
    NoRoute(String),
    /// The message, and the methods the path takes as the `Allow` header lists them
    /// (`GET`, `GET, POST`).
    #[error("{0}")]
    MethodNotAllowed(String, &'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("A service this answer depends on is unavailable; try again shortly.")]
    Unavailable,
    /// An erasure refused before it started: the answer cache could not be reached, so the
    /// answers it holds about the customer could not be dropped.
    #[error("The answer cache cannot be reached, so cached answers about this customer could not be dropped; nothing was erased. Try again shortly.")]
    CacheUnreachable,
    #[error("Something went wrong on our side; it has been logged.")]
    Internal,
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            ApiError::InvalidParameter(_) => 400,
            ApiError::Unauthenticated(_) => 401,
            ApiError::Forbidden(_) => 403,
            ApiError::NotFound(_) | ApiError::SegmentNotFound(_) | ApiError::NoRoute(_) => 404,
            ApiError::MethodNotAllowed(..) => 405,
            ApiError::Conflict(_) => 409,
            ApiError::Unavailable | ApiError::CacheUnreachable => 503,
            ApiError::Internal => 500,
        }
    }
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidParameter(_) => "INVALID_PARAMETER",
            ApiError::Unauthenticated(_) => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::NotFound(_) => "CUSTOMER_NOT_FOUND",
            ApiError::SegmentNotFound(_) => "SEGMENT_NOT_FOUND",
            ApiError::NoRoute(_) => "NOT_FOUND",
            ApiError::MethodNotAllowed(..) => "METHOD_NOT_ALLOWED",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::Unavailable | ApiError::CacheUnreachable => "UNAVAILABLE",
            ApiError::Internal => "INTERNAL",
        }
    }
}

/// Longest echo of a caller's value in an error message, in characters.
const MAX_ECHOED_CHARS: usize = 32;

/// A value the caller sent, as an error message echoes it (`got `...``): its first
/// [`MAX_ECHOED_CHARS`] characters. Enough to spot the mistake; a value of kilobytes would
/// otherwise come back whole, in a message meant to be read by a person.
pub(crate) fn echoed(value: &str) -> String {
    value.chars().take(MAX_ECHOED_CHARS).collect()
}

pub(crate) fn json_response(status: u16, body: &Value) -> Response<Body> {
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
/// emails in them are masked like everywhere else. A 405 carries the `Allow` header, which
/// RFC 9110 (section 15.5.6) requires of it, so a client can tell what the path takes.
pub fn error_response(err: &ApiError) -> Response<Body> {
    let message = redact_text(&err.to_string(), true, true);
    let mut resp = json_response(
        err.status(),
        &json!({"success": false, "error": {"code": err.code(), "message": message}}),
    );
    if let ApiError::MethodNotAllowed(_, allow) = err {
        resp.headers_mut()
            .insert("allow", lambda_http::http::HeaderValue::from_static(allow));
    }
    resp
}

pub(super) fn read_error(err: ReadError, kind: &'static str) -> ApiError {
    match err {
        ReadError::NotFound => ApiError::NotFound(kind),
        ReadError::BadCursor => ApiError::InvalidParameter("Parameter `cursor` is not a cursor from this timeline; use `next_cursor` from the previous page.".into()),
        ReadError::Store(e) => store_error(e),
    }
}

pub(crate) fn store_error(err: StoreError) -> ApiError {
    match err {
        StoreError::Unavailable(e) => {
            tracing::error!(error = %e, "dependency unavailable");
            ApiError::Unavailable
        }
        // Busy, not broken: the caller's retry will do.
        e @ StoreError::Contended(_) => {
            tracing::warn!(error = %e, "request gave up on a contended customer");
            ApiError::Unavailable
        }
        e => {
            tracing::error!(error = %e, "request failed");
            ApiError::Internal
        }
    }
}

pub(crate) fn denied(d: Denied) -> ApiError {
    ApiError::Forbidden(d.to_string())
}
